import Dispatch
import FascicoloConcurrency
import FascicoloCrypto
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloProjections
import Glibc
import Hummingbird
import NIOCore
import Synchronization

/// The HTTP API (version 1). `OpenAPIDocument` describes it; `GET /v1/openapi.yaml` serves it.
///
/// Every route is registered in one of the `RouteGroups`, whose middleware refuses (403) a
/// caller without one of the group's roles, derived from the connection's peer credentials,
/// before the handler runs; a peer with no role gets 403 whatever it asks.
public struct APIRoutes: Sendable {
    public typealias Role = AccessPolicy.Role

    let ledger: Ledger
    let caseFiles: CaseFiles
    /// The read models behind /v1/projections, /v1/persons/timeline, /v1/caseload and the like.
    let projections: ProjectionEngine
    let policy: AccessPolicy
    let metrics: ServerMetrics
    let openAPIDocument: String
    let version: String
    let subscriptions: SubscriptionSettings
    let subscriptionSlots: SubscriptionSlots
    /// What the unusual-access report flags by default (`[compliance]`).
    let unusualAccess: UnusualAccessRules
    /// The largest request body accepted (413 beyond it), whatever the per-event limits allow.
    let requestBytesMax: Int
    /// Set when shutdown begins: new requests get 503 while in-flight ones finish.
    let shutdown: ShutdownSwitch
    /// The witnesses' cosignatures, served with the checkpoints they cosigned.
    let cosignatures: WitnessCosignatures
    /// A follower's replication (nil on a primary).
    let replication: ReplicationMonitor?

    public init(
        caseFiles: CaseFiles, projections: ProjectionEngine, policy: AccessPolicy, metrics: ServerMetrics, openAPIDocument: String,
        version: String,
        subscriptions: SubscriptionSettings = SubscriptionSettings(), requestBytesMax: Int = 16 << 20,
        unusualAccess: UnusualAccessRules = UnusualAccessRules(), cosignatures: WitnessCosignatures? = nil,
        replication: ReplicationMonitor? = nil, shutdown: ShutdownSwitch
    ) {
        self.replication = replication
        self.cosignatures = cosignatures ?? WitnessCosignatures(path: nil)
        self.subscriptions = subscriptions
        self.unusualAccess = unusualAccess
        self.subscriptionSlots = SubscriptionSlots(max: subscriptions.concurrentMax)
        self.requestBytesMax = requestBytesMax
        self.ledger = caseFiles.ledger
        self.caseFiles = caseFiles
        self.projections = projections
        self.policy = policy
        self.metrics = metrics
        self.openAPIDocument = openAPIDocument
        self.version = version
        self.shutdown = shutdown
    }

    /// Health, version, keys, the OpenAPI document and stream reads: every role.
    static let anyRole: Set<Role> = [.writer, .auditor, .admin]
    static let auditors: Set<Role> = [.auditor, .admin]

    /// Adds the routes, each in the group of the roles that may call it (`RouteGroups`).
    public func register(on router: Router<FascicoloRequestContext>) {
        router.add(middleware: GateMiddleware(routes: self))
        let groups = RouteGroups(router: router, policy: policy)
        groups.everyRole.get("v1/health/live") { _, _ in
            return json(status: .ok, Render.live)
        }
        groups.everyRole.get("v1/health/ready") { _, _ in
            let health = ledger.storageHealth
            let refusal = ledger.writeAuthority.refusal
            return json(
                status: health == .writable && refusal == nil ? .ok : .serviceUnavailable,
                Render.readiness(health, appends: refusal, entries: ledger.size))
        }
        groups.everyRole.get("v1/version") { _, _ in
            return json(status: .ok, Render.version(version))
        }
        registerKeys(on: groups)
        groups.everyRole.get("v1/openapi.yaml") { _, _ in
            var buffer = ByteBuffer()
            buffer.writeString(openAPIDocument)
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: buffer))
        }
        groups.writers.post("v1/streams/:stream/events") { request, context in try await append(request, context) }
        groups.everyRole.get("v1/streams/:stream/events") { request, context in try await readStream(request, context) }
        registerDomain(on: groups)
        registerProjections(on: groups)
        registerSiuss(on: groups)
        groups.auditors.get("v1/log") { request, context in
            let peer = try caller(context)
            let read = try rawRead(request, peer)
            let from: UInt64 = try query(request, "from") ?? 0
            let limit = try limitParameter(request)
            let signed = try booleanParameter(request, "signed")
            let entries = try ledger.entries(from: from, limit: limit)
            var recorded = Set<Pseudonym>()
            try await recordRawRead(of: entries, read, what: "log", recorded: &recorded)
            return json(status: .ok, Render.entries(entries, signed: signed, withholding: read.withholds))
        }
        groups.auditors.get("v1/subscribe") { request, context in
            let peer = try caller(context)
            let read = try rawRead(request, peer)
            let from: UInt64 = try query(request, "from") ?? ledger.size
            guard let slot = subscriptionSlots.reserve() else {
                throw Problem(
                    .serviceUnavailable, code: "too_many_subscriptions",
                    detail: "\(subscriptions.concurrentMax) subscriptions are open (subscriptions.concurrent_max)",
                    retryAfterSeconds: 5)
            }
            return Subscription(routes: self, read: read, settings: subscriptions, shutdown: shutdown, slot: slot)
                .response(from: from, request: request)
        }
        groups.auditors.get("v1/entries/:position") { request, context in
            let peer = try caller(context)
            let read = try rawRead(request, peer)
            guard let position = context.parameters.get("position", as: UInt64.self) else {
                throw Self.invalidParameter("position", "position is a non-negative integer")
            }
            guard let entry = try ledger.entry(at: position) else { throw Problem.notFound("no entry at position \(position)") }
            var recorded = Set<Pseudonym>()
            try await recordRawRead(of: [entry], read, what: "entry", recorded: &recorded)
            return json(status: .ok, Render.entry(entry, detailed: true, withheld: read.withholds(entry)))
        }
        registerCheckpoints(on: groups)
        registerTiles(on: groups)
        registerReplication(on: groups)
        groups.auditors.get("v1/proofs/inclusion") { request, _ in
            let position: UInt64 = try requiredQuery(request, "position")
            let treeSize: UInt64 = try query(request, "treeSize") ?? ledger.size
            guard position < treeSize, treeSize <= ledger.size else {
                throw Problem.notFound("position \(position) is not in a tree of \(treeSize) entries (the log has \(ledger.size))")
            }
            let proof = try ledger.inclusionProof(position: position, treeSize: treeSize)
            let leaf = try ledger.entry(at: position)?.leafHash
            return json(status: .ok, Render.inclusionProof(position: position, treeSize: treeSize, leafHash: leaf, proof: proof))
        }
        groups.auditors.get("v1/proofs/consistency") { request, _ in
            let from: UInt64 = try requiredQuery(request, "from")
            let to: UInt64 = try query(request, "to") ?? ledger.size
            guard from <= to, to <= ledger.size else {
                throw Problem.notFound("no consistency proof from \(from) to \(to) (the log has \(ledger.size) entries)")
            }
            let proof = try ledger.consistencyProof(oldSize: from, newSize: to)
            return json(status: .ok, Render.consistencyProof(from: from, to: to, proof: proof))
        }
        groups.admins.get("metrics") { _, _ in
            let text = metrics.render(ledger: ledger, projections: projections.statuses()) + replicationMetricsText()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
    }

    // MARK: - Appends and stream reads

    func append(_ request: Request, _ context: FascicoloRequestContext) async throws -> Response {
        let peer = try caller(context)
        let start = DispatchTime.now().uptimeNanoseconds
        let limits = ledger.configuration.limits
        // Room for the largest allowed append plus its JSON framing, within the request limit.
        let body = try await jsonBody(
            request,
            bytesMax: min(
                requestBytesMax, limits.eventsPerAppendMax * (limits.payloadBytesMax + limits.eventTypeBytesMax + 64) + 4_096))
        let decoded: AppendBody
        do {
            decoded = try AppendBody.parse(body)
        } catch {
            throw Problem.badRequest(
                "the body is not an append: \(error.reason); expected "
                    + "{\"events\":[{\"type\":…,\"data\":…}], \"expectedVersion\"?, \"idempotencyKey\"?}")
        }
        try IdentifierGate.check(decoded)
        let events = decoded.events.map { NewEvent(type: $0.type, payload: Array($0.data)) }
        let wantsReceipts = try receiptsAsked(request)  // refused before anything is stored
        let stream = context.parameters.get("stream") ?? ""
        try checkGenericAppend(to: stream)
        let result: AppendResult
        do {
            result = try await ledger.append(
                AppendRequest(
                    stream: stream, events: events, expectedVersion: decoded.expectedVersion,
                    idempotencyKey: decoded.idempotencyKey, author: policy.author(uid: peer.uid)))
        } catch let error as LedgerError {
            throw Self.problem(for: error)
        }
        metrics.recordAppend(events: events.count, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return json(
            status: result.deduplicated ? .ok : .created,
            Render.appendResult(result, receipts: wantsReceipts ? try receipts(for: result) : nil))
    }

    /// `?receipts=true|false` (default false); checked before the append, so a bad value stores nothing.
    func receiptsAsked(_ request: Request) throws -> Bool {
        try booleanParameter(request, "receipts")
    }

    /// The query parameter `name`: `true` or `false` (default false); 400 otherwise.
    func booleanParameter(_ request: Request, _ name: String) throws -> Bool {
        guard let asked = request.uri.queryParameters.get(name) else { return false }
        guard asked == "true" || asked == "false" else { throw Self.invalidParameter(name, "\(name) is true or false") }
        return asked == "true"
    }

    /// The records behind `result`, read back from the log for a retry answered from an earlier commit.
    func receipts(for result: AppendResult) throws -> [[UInt8]] {
        if result.records.count == result.leafHashes.count { return result.records }
        return try result.positions.map { position in
            guard let entry = try ledger.entry(at: position) else { throw Problem.notFound("no entry at position \(position)") }
            return Array(entry.signedBytes) + entry.signature
        }
    }

    func readStream(_ request: Request, _ context: FascicoloRequestContext) async throws -> Response {
        let peer = try caller(context)
        let stream = context.parameters.get("stream") ?? ""
        let from: UInt64? = try query(request, "from")
        let direction = request.uri.queryParameters.get("direction") ?? "forwards"
        guard direction == "forwards" || direction == "backwards" else {
            throw Self.invalidParameter("direction", "direction is forwards or backwards")
        }
        let entries = try ledger.readStream(stream, from: from, backwards: direction == "backwards", limit: try limitParameter(request))
        let exists = try !entries.isEmpty || ledger.streamVersion(stream) > 0
        guard exists else {
            throw Problem.notFound("no such stream")
        }
        try await recordGenericRead(of: stream, entries: entries.count, request, peer)
        return json(status: .ok, Render.entries(entries))
    }

    /// The ledger's refusals as problem details: input that breaks a rule is 422 (413 when too
    /// large), a version or idempotency conflict 409, shutting down 503.
    static func problem(for error: LedgerError) -> Problem {
        let status: HTTPResponse.Status =
            switch error {
            case .payloadTooLarge: .contentTooLarge
            // A count beyond a limit is a rule of the request, as on /v1/persons/events: 422, not 413.
            case .tooManyEvents: .unprocessableContent
            case .wrongExpectedVersion, .idempotencyConflict: .conflict
            case .shutDown, .unavailable, .notWritable: .serviceUnavailable
            case .storage, .damaged: .internalServerError
            case .invalidStreamName, .invalidEventType, .invalidAuthor, .invalidIdempotencyKey, .noEvents, .emptyPayload:
                .unprocessableContent
            }
        var problem = Problem(status, code: error.code, detail: error.description)
        switch error {
        case .unavailable: problem.retryAfterSeconds = 5
        case .notWritable(.follower(let primary)): problem.primary = primary
        case .notWritable: problem.retryAfterSeconds = 1
        default: break
        }
        return problem
    }

    // MARK: - Helpers

    /// The request's body, sent as JSON (415 otherwise) and at most `bytesMax` bytes (413 beyond).
    func jsonBody(_ request: Request, bytesMax: Int) async throws -> [UInt8] {
        guard Self.isJSON(request.headers[.contentType]) else {
            throw Problem(.unsupportedMediaType, code: "unsupported_media_type", detail: "send the body as application/json")
        }
        do {
            return Array(buffer: try await request.body.collect(upTo: bytesMax))
        } catch {
            throw Problem(.contentTooLarge, code: "body_too_large", detail: "the request body is larger than \(bytesMax) bytes")
        }
    }

    /// `application/json`, with at most a `charset=utf-8` parameter — not `application/jsonp`,
    /// `application/json-patch+json` or another type that merely starts the same way.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let parts = contentType.lowercased().split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        guard parts.first == "application/json" else { return false }
        return parts.dropFirst().allSatisfy { $0 == "charset=utf-8" || $0 == "charset=\"utf-8\"" }
    }

    /// The caller's credentials. Its roles were checked before the handler ran, by the
    /// `RequireRoles` of the route's group.
    func caller(_ context: FascicoloRequestContext) throws -> PeerCredentials {
        guard let peer = context.peer else { throw Problem.forbidden("the peer's credentials are unknown") }
        return peer
    }

    func limitParameter(_ request: Request) throws -> Int {
        let limit: Int = try query(request, "limit") ?? 100
        guard (1...1_000).contains(limit) else { throw Self.invalidParameter("limit", "limit is 1 to 1000") }
        return limit
    }

    /// The query parameter `name`, nil when absent; 400 when present but not a `T`.
    func query<T: LosslessStringConvertible>(_ request: Request, _ name: String) throws -> T? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = T(text) else { throw Self.invalidParameter(name, "the query parameter \(name) is not valid") }
        return value
    }

    /// The query parameter `name`; 400 when absent or not a `T`.
    func requiredQuery<T: LosslessStringConvertible>(_ request: Request, _ name: String) throws -> T {
        guard let value: T = try query(request, name) else { throw Self.invalidParameter(name, "the query parameter \(name) is required") }
        return value
    }
}

func json(status: HTTPResponse.Status, _ bytes: [UInt8]) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// Flipped when shutdown begins.
public final class ShutdownSwitch: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func begin() { flag.store(true, ordering: .relaxed) }
    public var isShuttingDown: Bool { flag.load(ordering: .relaxed) }
}

/// Answers 503 once shutdown has begun, and counts refusals by code for /metrics.
struct GateMiddleware: RouterMiddleware {
    typealias Context = FascicoloRequestContext
    let routes: APIRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if routes.shutdown.isShuttingDown {
            routes.metrics.recordRejection(code: Problem.shuttingDown.code)
            throw Problem.shuttingDown
        }
        do {
            try IdentifierGate.check(request, personHeader: APIRoutes.personHeader)
            return try await next(request, context)
        } catch let problem as Problem {
            routes.metrics.recordRejection(code: problem.code)
            throw problem
        } catch let error as HTTPError where error.status == .notFound {
            routes.metrics.recordRejection(code: "not_found")
            // The path is the client's text: not repeated.
            throw Problem.notFound("no such endpoint (GET /v1/openapi.yaml lists them)")
        }
    }
}
