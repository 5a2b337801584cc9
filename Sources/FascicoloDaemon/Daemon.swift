import AsyncHTTPClient
import FascicoloConcurrency
import FascicoloDomain
import FascicoloLedger
import FascicoloProjections
import FascicoloServer
import Glibc
import Hummingbird
import Logging
import ServiceLifecycle

/// The daemon's life: take the data directory's lock, open the ledger (creating the directory and
/// its signing key on first start), clear a stale socket, then serve the API until SIGTERM or
/// SIGINT. Shutdown answers 503 to new requests, lets in-flight ones finish, stops the server,
/// commits what the writer has queued, signs a final checkpoint, closes the store and removes the
/// socket file.
public final class Daemon: Sendable {
    public let configuration: DaemonConfiguration
    public let ledger: Ledger
    public let caseFiles: CaseFiles
    /// The read models; they follow the log from `run` until shutdown.
    public let projections: ProjectionEngine
    /// `configuration.connections`, with `max` lowered if the descriptor limit is lower.
    public let connections: ConnectionSettings
    /// Follower mode (`--follow`): what follows the primary, and what it reports; nil on a primary.
    public let follower: Follower?
    public let replication: ReplicationMonitor?
    private let followerClient: HTTPClient?
    private let lock: DataDirectoryLock
    private let logger: Logger
    public static let version = "0.1.0"

    public struct SocketInUse: Error, CustomStringConvertible, Sendable {
        public let path: String
        public var description: String { "another process is serving on \(path)" }
    }

    /// `wallClock` is the time of day for the log, the domain and the routes (tests fix it).
    public init(configuration: DaemonConfiguration, wallClock: WallClock = .system, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        // Every connection holds a descriptor: the soft limit goes up to the hard one, and the
        // connection limit must fit in it with room to spare.
        connections = try DescriptorLimit.fit(
            configuration.connections, descriptors: DescriptorLimit.raise(logger: logger),
            logger: logger)
        if let problem = configuration.failover.problem {
            throw DaemonConfiguration.Invalid(key: "failover", value: "", reason: problem, source: "configuration")
        }
        lock = try DataDirectoryLock(directory: configuration.dataDirectory)
        try Self.clearStaleSocket(configuration.resolvedSocketPath)
        try StoreCheck.atStart(dataDirectory: configuration.dataDirectory, logger: logger)
        let reference = try ReferenceData.load(directory: configuration.referenceDirectory)
        if let source = configuration.follow {
            let trusted = try FollowerSetup.trustedKey(configuration)
            ledger = try Ledger.openFollower(
                directory: configuration.dataDirectory, trustedKey: trusted, configuration: configuration.ledger,
                wallClock: wallClock, logger: logger)
            // Before anything is served: a follower stores its primary's entries only.
            ledger.writeAuthority.refuse(.follower(primary: source.description))
            let monitor = ReplicationMonitor(source: source.description)
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: FollowerSetup.httpConfiguration)
            replication = monitor
            followerClient = client
            follower = Follower(
                source: source, name: FollowerSetup.name(configuration), ledger: ledger, monitor: monitor, http: client,
                logger: logger)
        } else {
            ledger = try Ledger.open(
                directory: configuration.dataDirectory, configuration: configuration.ledger, wallClock: wallClock,
                logger: logger)
            (replication, followerClient, follower) = (nil, nil, nil)
        }
        do {
            caseFiles = try CaseFiles.open(
                ledger: ledger, directory: configuration.dataDirectory, reference: reference,
                limits: configuration.caseFiles, logger: logger)
            projections = try ProjectionEngine(
                ledger: ledger, reference: reference, projections: ReadModels.all,
                options: configuration.projections, personalFields: caseFiles, logger: logger)
        } catch {
            ledger.close()
            throw error
        }
        // With failover, no append before the lease is held (LeaseKeeper opens the gate).
        if configuration.failover.isEnabled { ledger.writeAuthority.loseLease(holder: nil) }
        logger.notice(
            "fascicolod started",
            metadata: [
                "dataDirectory": "\(configuration.dataDirectory)", "entries": "\(ledger.size)",
                "verifierKey": "\(ledger.verifierKey)", "version": "\(Self.version)",
                "referenceData": "\(reference.current.version)",
            ])
    }

    /// Serves until SIGTERM or SIGINT, then shuts down cleanly.
    public func run() async throws {
        let shutdown = ShutdownSwitch()
        do { try projections.start() } catch {
            self.shutdown()
            throw error
        }
        let cosignatures = WitnessCosignatures(path: configuration.dataDirectory + "/" + WitnessCosignatures.fileName)
        // A primary answers 409 not_a_follower.
        let promotion = Promotion()
        if let follower { installPromotion(promotion, follower: follower) }
        let routes = APIRoutes(
            caseFiles: caseFiles, projections: projections, policy: configuration.access, metrics: ServerMetrics(),
            openAPIDocument: OpenAPIDocument.yaml, version: Self.version,
            subscriptions: configuration.subscriptions, requestBytesMax: configuration.requestBytesMax,
            unusualAccess: configuration.unusualAccess, cosignatures: cosignatures,
            replication: replication, promotion: promotion, shutdown: shutdown)
        let socketPath = configuration.resolvedSocketPath
        let application = APIServer.application(
            routes: routes, connections: connections, socketPath: socketPath,
            socketMode: configuration.socketMode, socketGroup: configuration.socketGroup,
            logger: logger)
        // Services stop in reverse order: first the switch (new requests get 503), then the
        // server (in-flight requests finish). A request that would hold shutdown up (a
        // subscriber that stopped reading, a body that trickles) is cancelled after
        // `shutdownGraceSeconds`, before systemd's TimeoutStopSec (30 s) would kill the daemon.
        var services: [any Service] = [application, ShutdownNotice(shutdown: shutdown), StorageWatch(ledger: ledger, logger: logger)]
        // The witnesses get the checkpoints from their own tasks, over their own HTTP client.
        let witnessClient = configuration.witnesses.isEmpty ? nil : HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        if let follower { services.append(FollowerService(follower: follower)) }
        if let witnessClient {
            services.append(
                WitnessSubmitter(
                    ledger: ledger, witnesses: configuration.witnesses, cosignatures: cosignatures, http: witnessClient,
                    timeout: .milliseconds(Int64(configuration.witnessTimeoutMilliseconds)), logger: logger))
        }
        // The lease keeper last: services stop in reverse order, so at shutdown it closes the gate
        // and releases the lease first, while the server still answers (503).
        let etcdClient = configuration.failover.isEnabled ? HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup) : nil
        if let etcdClient {
            let keeper = leaseKeeper(http: etcdClient)
            services.append(keeper)
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(Self.shutdownGraceSeconds)
        // Past this, ServiceLifecycle ends the process (fatalError) so that it exits at all. 5 s
        // was reached on a loaded machine (2 cores, load 10+) by a test cancelling the daemon in
        // process, which took the whole test run down: cancelling is quick when the machine is.
        groupConfiguration.maximumCancellationDuration = .seconds(30)
        defer { unlink(socketPath) }
        // Whether the group ends gracefully, by cancellation or with an error, the projections'
        // threads stop before the ledger closes the store they read, and queued appends commit.
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
            try? await witnessClient?.shutdown()
            try? await followerClient?.shutdown()
            try? await etcdClient?.shutdown()
        } catch {
            try? await witnessClient?.shutdown()
            try? await followerClient?.shutdown()
            try? await etcdClient?.shutdown()
            logger.error("the server stopped with an error", metadata: ["error": "\(error)"])
            self.shutdown()
            throw error
        }
        logger.notice("shutting down: stopping the projections, committing queued appends")
        self.shutdown()
        logger.notice("fascicolod stopped", metadata: ["entries": "\(ledger.size)"])
    }

    /// The lease keeper of `[failover]`: this daemon appends only while it holds the lease. A
    /// primary campaigns at once (unless another node led the log since it did); a follower
    /// only while it is caught up with its primary and holds the key that signs the next entry,
    /// and on winning it stops following.
    func leaseKeeper(http: HTTPClient) -> LeaseKeeper {
        let failover = configuration.failover
        let etcd = EtcdClient(endpoints: failover.etcdEndpoints, http: http, timeout: .milliseconds(failover.etcdTimeoutMilliseconds))
        let candidacy: LeaseKeeper.Candidacy
        if let follower {
            let ledger = ledger
            let logger = logger
            candidacy = LeaseKeeper.Candidacy(
                mayCampaign: { Self.caughtUp(follower.monitor.current) && ledger.holdsCurrentKey },
                takeOver: {
                    let size = await follower.stop()
                    // The follower's own refusal; the lease's part opens once the keeper renews.
                    ledger.writeAuthority.allow()
                    logger.notice("promoted by the lease: this node stopped following and appends", metadata: ["entries": "\(size)"])
                },
                deposed: { _ in }, checksLastLeader: false)
        } else {
            candidacy = LeaseKeeper.Candidacy(mayCampaign: { true }, takeOver: {}, deposed: { _ in })
        }
        return LeaseKeeper(
            settings: failover, etcd: etcd, gate: ledger.writeAuthority, candidacy: candidacy,
            ledMarker: configuration.dataDirectory + "/" + LeaseKeeper.ledMarkerName, logger: logger)
    }

    /// A follower holds everything its primary announced at its last answer, and is still
    /// following (not stopped by a refused log). One that never heard from its primary in this
    /// process knows of nothing to be caught up with, and does not count as caught up.
    static func caughtUp(_ status: ReplicationMonitor.Status) -> Bool {
        status.refusal == nil && status.state != .stopped && status.state != .refused && status.primarySize > 0
            && status.position >= status.primarySize
    }

    /// `fascicolo promote` on a follower: refused where the lease decides (`[failover]`), without
    /// the current signing key, after a refused log, or — unless forced — behind the primary.
    func installPromotion(_ promotion: Promotion, follower: Follower) {
        let ledger = ledger
        let logger = logger
        let managedByLease = configuration.failover.isEnabled
        promotion.install { force in
            if managedByLease { throw Promotion.Refusal.managedByLease }
            let status = follower.monitor.current
            if status.state == .stopped { throw Promotion.Refusal.notAFollower }  // promoted already
            if status.refusal != nil || status.state == .refused { throw Promotion.Refusal.replicationRefused }
            guard ledger.holdsCurrentKey else { throw Promotion.Refusal.noSigningKey }
            if !force && status.primarySize == 0 { throw Promotion.Refusal.notCaughtUp(behind: nil) }
            if !force && status.position < status.primarySize {
                throw Promotion.Refusal.notCaughtUp(behind: status.primarySize - status.position)
            }
            let size = await follower.stop()
            ledger.writeAuthority.allow()
            logger.notice(
                "promoted by hand: this node stopped following and appends", metadata: ["entries": "\(size)", "forced": "\(force)"])
            return size
        }
    }

    /// How long shutdown waits for requests in flight before it cancels them.
    static let shutdownGraceSeconds: Int64 = 20

    /// Stops the projections' threads, then closes the ledger (committing what is queued): in
    /// that order, as the threads read the ledger's store. `run` ends with it; callers that
    /// never ran `run` call it themselves.
    public func shutdown() {
        projections.stop()
        ledger.close()
    }

    /// A socket file left by a crash is removed; one that still accepts connections belongs to a
    /// live process, and starting is refused.
    static func clearStaleSocket(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw SocketInUse(path: path) }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if connected == 0 { throw SocketInUse(path: path) }
        unlink(path)
    }
}

/// The first service to hear of shutdown: from then on new requests get 503.
struct ShutdownNotice: Service {
    let shutdown: ShutdownSwitch

    func run() async throws {
        try? await gracefulShutdown()
        shutdown.begin()
    }
}

/// Ends the daemon (exit 1, so that systemd's Restart=on-failure starts it again) when LMDB will
/// not write again in this process: a failed meta-page write poisons the environment, and only
/// reopening it — at the last good meta page — recovers. Transient failures (a full disk) are
/// the writer's: it refuses appends and retries, and the daemon keeps serving reads.
struct StorageWatch: Service {
    let ledger: Ledger
    let logger: Logger

    struct StoreFailed: Error, CustomStringConvertible {
        let reason: String
        var description: String { "the store cannot be written again by this process (\(reason)); exiting so that it restarts" }
    }

    func run() async throws {
        // Woken by the writer when the disk's health changes; ends quietly at shutdown.
        if let reason = await cancelWhenGracefulShutdown({ await ledger.waitForStorageFailure() }) {
            logger.critical("the store failed", metadata: ["reason": "\(reason)"])
            throw StoreFailed(reason: reason)
        }
    }
}
