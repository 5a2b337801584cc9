import Dispatch
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import Hummingbird

/// The fascicolo sociale's endpoints, on top of the generic stream API.
///
/// A person is named by the `person` member of a body or the `Fascicolo-Person` header — never
/// in a URL, which proxies and access logs keep. Reads of a person's data are recorded (a
/// RecordAccessed entry in `access:<pseudonym>`) before they are served.
extension APIRoutes {
    static let personHeader = HTTPFields.Element.Name("Fascicolo-Person")!
    static let purposeHeader = HTTPFields.Element.Name("Fascicolo-Purpose")!
    static let operatorHeader = HTTPFields.Element.Name("Fascicolo-Operator")!

    func registerDomain(on groups: RouteGroups) {
        groups.writers.post("v1/persons/events") { request, context in try await recordPersonEvents(request, context) }
        groups.everyRole.get("v1/persons/case-file") { request, context in
            let peer = try caller(context)
            let person = try personFromHeader(request)
            let reader = try reader(request, peer)
            let from: UInt64 = try query(request, "from") ?? 1
            // Without a limit, the whole case file up to the configured page size.
            let limit: Int? = try query(request, "limit")
            let limitMax = caseFiles.limits.entriesPerReadMax
            if let limit, !(1...limitMax).contains(limit) { throw Self.invalidParameter("limit", "limit is 1 to \(limitMax)") }
            do {
                let file = try await caseFiles.caseFile(for: person, reader: reader, from: from, limit: limit)
                return json(status: .ok, Render.caseFile(file))
            } catch { throw Self.problem(for: error) }
        }
        groups.admins.post("v1/persons/erasure") { request, context in
            let peer = try caller(context)
            let body: JSON
            do { body = try JSON.parse(try await jsonBody(request, bytesMax: 16 << 10)) } catch let error as JSON.Malformed {
                throw Problem.badRequest("\(error)")
            }
            for member in body.members ?? [] where !["person", "legalGround", "reference"].contains(member.key) {
                throw Problem.badRequest("an unknown member (the members are person, legalGround, reference)")
            }
            let person = try personIdentifier(body["person"]?.string, field: "person")
            guard let ground = body["legalGround"]?.string, let reference = body["reference"]?.string else {
                throw Problem(
                    .unprocessableContent, code: "schema_violation", detail: "legalGround and reference are required",
                    field: body["legalGround"]?.string == nil ? "legalGround" : "reference")
            }
            do {
                let result = try await caseFiles.erase(
                    person, legalGround: ground, reference: reference,
                    author: policy.author(uid: peer.uid))
                return json(status: .created, Render.recordResult(result))
            } catch { throw Self.problem(for: error) }
        }
        // Retention (issue 21): who is due for erasure on a day, and the erasure of a batch.
        groups.auditors.get("v1/retention/due") { request, _ in
            let date = try retentionDate(request.uri.queryParameters.get("date"))
            let skip: Int = try parameter(request, "from") ?? 0
            let scan: Int = try parameter(request, "scan") ?? 10_000
            guard skip >= 0 else { throw Self.invalidParameter("from", "from is 0 or more") }
            guard (1...100_000).contains(scan) else { throw Self.invalidParameter("scan", "scan is 1 to 100000") }
            do {
                let result = try caseFiles.retentionDue(on: date, skip: skip, scanMax: scan)
                return json(status: .ok, Render.retentionDue(result, date: date))
            } catch { throw Self.problem(for: error) }
        }
        groups.admins.post("v1/retention/erasures") { request, context in
            let peer = try caller(context)
            let body: JSON
            do { body = try JSON.parse(try await jsonBody(request, bytesMax: 4 << 10)) } catch let error as JSON.Malformed {
                throw Problem.badRequest("\(error)")
            }
            for member in body.members ?? [] where !["date", "from", "scan"].contains(member.key) {
                throw Problem.badRequest("an unknown member (the members are date, from, scan)")
            }
            let date = try retentionDate(body["date"]?.string)
            let skip = body["from"]?.int ?? 0
            let scan = body["scan"]?.int ?? 1_000
            guard skip >= 0, (1...10_000).contains(scan) else {
                throw Problem(
                    .unprocessableContent, code: "schema_violation", detail: "from is 0 or more, scan 1 to 10000",
                    field: skip < 0 ? "from" : "scan")
            }
            do {
                let batch = try await caseFiles.applyRetention(on: date, skip: skip, scanMax: scan, author: policy.author(uid: peer.uid))
                return json(status: .ok, Render.retentionBatch(batch, date: date, schedule: caseFiles.retentionSchedule?.version ?? ""))
            } catch { throw Self.problem(for: error) }
        }
        registerPersonExport(on: groups)
        groups.everyRole.get("v1/catalogue") { _, _ in
            return json(status: .ok, CatalogueDocument.bytes)
        }
    }

    func recordPersonEvents(_ request: Request, _ context: FascicoloRequestContext) async throws -> Response {
        let peer = try caller(context)
        let start = DispatchTime.now().uptimeNanoseconds
        // Room for the most events a request may carry at the largest payload, plus the person,
        // the actor and the framing: a body is parsed whole, so it is bounded before that.
        let limits = caseFiles.limits
        let body = try await jsonBody(
            request,
            bytesMax: min(
                requestBytesMax, limits.eventsPerRequestMax * (ledger.configuration.limits.payloadBytesMax + 4_096) + 16_384))
        let wantsReceipts = try receiptsAsked(request)  // refused before anything is stored
        do {
            let parsed = try RecordRequest.parse(body, eventsMax: limits.eventsPerRequestMax)
            let result = try await caseFiles.record(
                parsed, author: policy.author(uid: peer.uid), ambiti: policy.ambiti(uid: peer.uid), enti: policy.enti(uid: peer.uid))
            metrics.recordAppend(events: parsed.events.count, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            return json(
                status: result.append.deduplicated ? .ok : .created,
                Render.recordResult(result, receipts: wantsReceipts ? try receipts(for: result.append) : nil))
        } catch { throw Self.problem(for: error) }
    }

    /// Streams that belong to the domain: written only through /v1/persons, and read with a record.
    func checkGenericAppend(to stream: String) throws {
        if stream.hasPrefix(Pseudonym.personPrefix) || stream.hasPrefix(Pseudonym.accessPrefix) {
            throw Problem(
                .unprocessableContent, code: "reserved_stream",
                detail: "person: and access: streams are written through POST /v1/persons/events")
        }
        if stream.hasPrefix(SiussExport.streamPrefix) {
            throw Problem(
                .unprocessableContent, code: "reserved_stream", detail: "siuss: streams are written by the daemon's SIUSS exports only")
        }
    }

    /// A generic read of a person's stream is a read of their data: recorded like a case-file
    /// read. Access streams (who read a file) are for auditors.
    func recordGenericRead(of stream: String, entries: Int, _ request: Request, _ peer: PeerCredentials) async throws {
        guard let person = Pseudonym.owning(stream: stream) else { return }
        if stream.hasPrefix(Pseudonym.accessPrefix) {
            try policy.authorize(peer, Self.auditors)
            return
        }
        do {
            try await caseFiles.recordAccess(to: person, by: try reader(request, peer), what: "stream", entries: entries)
        } catch { throw Self.problem(for: error) }
    }

    func reader(_ request: Request, _ peer: PeerCredentials) throws -> Reader {
        let roles = policy.roles(uid: peer.uid, gid: peer.gid)
        let role = roles.contains(.admin) ? "admin" : roles.contains(.auditor) ? "auditor" : "writer"
        let operatorID = request.headers[Self.operatorHeader]
        if let operatorID, !(1...64).contains(operatorID.utf8.count) || !operatorID.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            throw Problem.badRequest("Fascicolo-Operator is 1 to 64 printable ASCII characters without spaces")
        }
        return Reader(
            author: policy.author(uid: peer.uid), role: role, purpose: request.headers[Self.purposeHeader],
            operatorID: operatorID, ambiti: role == "writer" ? policy.ambiti(uid: peer.uid) : nil)
    }

    func personFromHeader(_ request: Request) throws -> PersonIdentifier {
        try personIdentifier(request.headers[Self.personHeader], field: "Fascicolo-Person")
    }

    func personIdentifier(_ text: String?, field: String) throws -> PersonIdentifier {
        guard let text else {
            throw Problem(
                .badRequest, code: "person_required",
                detail: "\(field) names the person: a codice fiscale, an STP or ENI code, or provisional:<id>", field: field)
        }
        do {
            return try PersonIdentifier(parsing: text)
        } catch {
            throw Problem(.unprocessableContent, code: error.code, detail: error.reason, field: field)
        }
    }

    /// Domain refusals as problem details.
    static func problem(for error: any Error) -> any Error {
        guard let error = error as? DomainError else { return error }
        if case .ledger(let ledgerError) = error.kind, error.code == ledgerError.code { return problem(for: ledgerError) }
        let status: HTTPResponse.Status =
            switch error.kind {
            case .malformed: .badRequest
            case .invalid, .pathRule: .unprocessableContent
            case .conflict: .conflict
            case .notFound: .notFound
            case .forbidden: .forbidden
            case .ledger(let ledgerError): problem(for: ledgerError).status
            }
        return Problem(status, code: error.code, detail: error.message, field: error.field, detailItalian: error.messageItalian)
    }
}

extension APIRoutes {
    /// The day a retention question is asked for: `YYYY-MM-DD`, required.
    func retentionDate(_ text: String?) throws -> CalendarDate {
        guard let text, let date = CalendarDate(text) else { throw Self.invalidParameter("date", "date is a day, YYYY-MM-DD") }
        return date
    }
}
