import AsyncHTTPClient
import FascicoloCrypto
import FascicoloLedger
import FascicoloServer
import FascicoloStorage
import Glibc
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Follower mode (`fascicolod --follow SOURCE`): fetches the primary's log from this log's size
/// on (`GET /v1/replication/log`), has the writer verify and store each run of it at the same
/// positions (`Ledger.replicate`: signatures along the key chain, Merkle root and stream heads
/// against each of the primary's checkpoints), and checks the primary's latest checkpoint
/// against what it holds. A primary whose log is not a continuation of this one — forked, rolled
/// back, or not valid — stops it for good with an alarm (log, `fascicolo_replication_refused`,
/// `GET /v1/replication/status`); nothing it holds is ever overwritten.
///
/// Each request's `from` is the size this follower has committed durably: the primary reads it
/// as this follower's acknowledgement (synchronous replication). `stop()` ends it at a batch
/// boundary and returns the size reached (promotion: stop following, then open the write gate).
public final class Follower: Sendable {
    public let source: ReplicationSource
    /// Sent as `Fascicolo-Follower`: how the primary tells its followers apart.
    public let name: String
    let ledger: Ledger
    public let monitor: ReplicationMonitor
    let http: HTTPClient
    let logger: Logger
    /// How long the primary may hold a request open waiting for new entries.
    let waitMilliseconds: Int
    let entriesPerRequest: Int

    private struct Control {
        var task: Task<Void, Never>?
        var stopRequested = false
    }
    private let control = Mutex(Control())

    public init(
        source: ReplicationSource, name: String, ledger: Ledger, monitor: ReplicationMonitor, http: HTTPClient, logger: Logger,
        waitMilliseconds: Int = 10_000, entriesPerRequest: Int = 1_000
    ) {
        self.source = source
        self.name = name
        self.ledger = ledger
        self.monitor = monitor
        self.http = http
        self.logger = logger
        self.waitMilliseconds = waitMilliseconds
        self.entriesPerRequest = entriesPerRequest
        monitor.update { $0.position = ledger.size }
    }

    /// Follows until `stop()`, cancellation, or a refusal of the primary's log.
    public func run() async {
        let task = Task { await loop() }
        let stopped = control.withLock { control in
            control.task = task
            return control.stopRequested
        }
        if stopped { task.cancel() }
        await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
    }

    /// Stops following — after the batch being stored, if one is — and returns the number of
    /// entries this log holds then (all verified, all covered by a checkpoint of the primary).
    public func stop() async -> UInt64 {
        let task = control.withLock { control in
            control.stopRequested = true
            return control.task
        }
        task?.cancel()
        await task?.value
        monitor.update { if $0.state != .refused { $0.state = .stopped } }
        return ledger.size
    }

    /// Whether replication stopped because the primary's log was refused.
    public var refusal: ReplicationRefused? { monitor.current.refusal }

    private func loop() async {
        var delay = Duration.milliseconds(250)
        var failing = false
        logger.notice("following", metadata: ["source": "\(source)", "entries": "\(ledger.size)"])
        while !Task.isCancelled {
            do {
                let read = try await fetch(from: ledger.size)
                try await apply(read)
                if failing { logger.notice("in touch with the primary again", metadata: ["source": "\(source)"]) }
                failing = false
                delay = .milliseconds(250)
            } catch let refused as ReplicationRefused {
                alarm(refused)
                return
            } catch {
                if Task.isCancelled { return }
                let text = "\(error)"
                monitor.update {
                    $0.state = .connecting
                    $0.lastError = text
                }
                // Said once when it starts failing, not at every retry.
                if !failing { logger.warning("cannot reach the primary; retrying", metadata: ["source": "\(source)", "error": "\(text)"]) }
                failing = true
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func alarm(_ refused: ReplicationRefused) {
        logger.critical(
            "replication stopped: the primary's log is refused; nothing was overwritten",
            metadata: [
                "kind": "\(refused.kind.rawValue)", "position": "\(refused.position.map(String.init) ?? "-")",
                "reason": "\(refused.reason)", "entries": "\(ledger.size)",
            ])
        monitor.update {
            $0.state = .refused
            $0.refusal = refused
        }
    }

    /// Stores the run the primary sent, then checks the primary's latest checkpoint against the
    /// log held.
    private func apply(_ read: ReplicationFrames.Read) async throws {
        let before = ledger.size
        if let first = read.batch.records.first, BigEndian.uint64(first.dropFirst(4).prefix(8)) != before {
            throw ReplicationRefused(.invalid, at: before, "the primary sent entries that do not start at this log's size")
        }
        let began = ContinuousClock.now
        let size = read.batch.records.isEmpty ? before : try await ledger.replicate(read.batch)
        let elapsed = ContinuousClock.now - began
        try checkHead(read)
        let lastRecordedAt = read.batch.records.last.map { Int64(bitPattern: BigEndian.uint64($0.dropFirst(12).prefix(8)) ?? 0) }
        monitor.update { status in
            status.position = size
            status.primarySize = read.primarySize
            status.primaryLastRecordedAt = read.primaryLastRecordedAt
            if let lastRecordedAt { status.lastRecordedAt = lastRecordedAt }
            if size > before {
                status.verifiedCheckpointSize = size
                status.appliedEntries += size - before
                status.applySeconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
            status.lastError = nil
            status.state = read.primarySize > size ? .following : .caughtUp
        }
    }

    /// The primary's latest checkpoint must cover what this follower holds, with the same root
    /// where it ends at this log's size: a primary that lost entries or signed others is refused.
    private func checkHead(_ read: ReplicationFrames.Read) throws {
        let size = ledger.size
        guard let head = read.head else {
            guard size == 0 else {
                throw ReplicationRefused(.rolledBack, at: 0, "the primary has no checkpoint; this follower holds \(size) entries")
            }
            return
        }
        let headSize: UInt64
        do { headSize = try Checkpoint.size(ofNote: head) } catch {
            throw ReplicationRefused(.invalid, at: nil, "the primary's latest checkpoint is malformed")
        }
        guard headSize >= size, read.primarySize >= size else {
            throw ReplicationRefused(
                .rolledBack, at: min(headSize, read.primarySize),
                "the primary's log (\(read.primarySize) entries, latest checkpoint \(headSize)) is behind the \(size) entries this follower holds"
            )
        }
        guard headSize == size, size > 0 else { return }
        let checkpoint: Checkpoint
        do { checkpoint = try ledger.keyChain.verify(note: head) } catch {
            throw ReplicationRefused(.invalid, at: headSize, "the primary's latest checkpoint does not verify: \(error)")
        }
        guard try checkpoint.root == ledger.root(size: size) else {
            throw ReplicationRefused(.forked, at: size, "the primary's checkpoint of \(size) entries has another root than this log")
        }
        monitor.update { $0.verifiedCheckpointSize = size }
    }

    struct PrimaryAnswered: Error, CustomStringConvertible {
        let status: UInt
        var description: String { "the primary answered HTTP \(status)" }
    }

    private func fetch(from position: UInt64) async throws -> ReplicationFrames.Read {
        var request = HTTPClientRequest(
            url: source.url(path: "/v1/replication/log?from=\(position)&wait=\(waitMilliseconds)&limit=\(entriesPerRequest)"))
        request.headers.add(name: "Fascicolo-Follower", value: name)
        request.headers.add(name: "User-Agent", value: "fascicolod/\(Daemon.version) follower")
        let response = try await http.execute(request, timeout: .milliseconds(Int64(waitMilliseconds) + 60_000))
        guard response.status.code == 200 else { throw PrimaryAnswered(status: response.status.code) }
        let body = try await response.body.collect(upTo: 1 << 30)
        return try ReplicationFrames.decode(Array(buffer: body))
    }
}

/// Where a follower's primary is: its Unix socket, or an `http(s)://` URL of its API (through a
/// TLS-terminating proxy, or a socket forwarded by SSH). A URL carries no credentials: it is
/// logged and shown in the status.
public enum ReplicationSource: Sendable, Equatable, CustomStringConvertible {
    case socket(path: String)
    case url(String)

    public struct Invalid: Error, Sendable {
        public let reason: String
    }

    /// Parses a configured source, or says why it cannot be one.
    public static func parse(_ text: String) -> Result<ReplicationSource, Invalid> {
        if text.hasPrefix("http://") || text.hasPrefix("https://") {
            let rest = text.drop { $0 != "/" }.dropFirst(2)
            let authority = rest.prefix { $0 != "/" }
            guard !authority.isEmpty, !authority.contains("@"), !text.contains("?"), !text.contains("#"), text.utf8.count <= 1_000,
                text.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
            else {
                return .failure(Invalid(reason: "expected http(s)://host[:port][/prefix], without credentials, query or fragment"))
            }
            return .success(.url(text.hasSuffix("/") ? String(text.dropLast()) : text))
        }
        guard text.hasPrefix("/"), text.utf8.count <= 100 else {
            return .failure(Invalid(reason: "expected the primary's socket (an absolute path of at most 100 bytes) or an http(s):// URL"))
        }
        return .success(.socket(path: text))
    }

    public var description: String {
        switch self {
        case .socket(let path): path
        case .url(let url): url
        }
    }

    /// The URL of `path` (with its query) at the primary.
    func url(path: String) -> String {
        switch self {
        case .url(let base): return base + path
        case .socket(let socket):
            // AsyncHTTPClient's http+unix scheme: the socket path, percent-encoded, as the host.
            var host = ""
            for byte in socket.utf8 {
                let unreserved =
                    (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
                host += unreserved ? String(UnicodeScalar(byte)) : "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
            return "http+unix://\(host)\(path)"
        }
    }
}

/// Runs the follower with the daemon's services; it stops at shutdown.
struct FollowerService: Service {
    let follower: Follower

    func run() async throws {
        await cancelWhenGracefulShutdown { await follower.run() }
        _ = await follower.stop()
        // Stopped by a refusal of the primary's log, or by a promotion: the daemon serves on
        // (a service that ends would stop it).
        try? await gracefulShutdown()
    }
}

/// What follower mode needs from the configuration and the data directory.
enum FollowerSetup {
    /// The file a follower keeps the trusted first key of its log in.
    static let trustedKeyFileName = "follow.pub"

    struct NoTrustedKey: Error, CustomStringConvertible {
        let directory: String
        var description: String {
            "follower mode needs the verifier key of the followed log's first key: set replication.trusted_key "
                + "(fascicolo keys list on the primary names it), or start from fascicolo standby init, which keeps it in "
                + "\(directory)/\(trustedKeyFileName)"
        }
    }

    struct OtherTrustedKey: Error, CustomStringConvertible {
        let path: String
        var description: String { "replication.trusted_key is not the key kept in \(path): this data directory follows another log" }
    }

    /// The trusted key: the configured one (kept in follow.pub at first use, and checked against
    /// it afterwards), or the kept one.
    static func trustedKey(_ configuration: DaemonConfiguration) throws -> (name: String, publicKey: PublicKey) {
        let directory = configuration.dataDirectory
        let path = directory + "/" + trustedKeyFileName
        let kept: String? = access(path, R_OK) == 0 ? readTrimmed(path) : nil
        if !configuration.followTrustedKey.isEmpty {
            guard let key = SignedNote.parseVerifierKey(configuration.followTrustedKey) else { throw NoTrustedKey(directory: directory) }
            if let kept {
                guard kept == configuration.followTrustedKey else { throw OtherTrustedKey(path: path) }
            } else {
                if access(directory, F_OK) != 0 { mkdir(directory, 0o700) }
                try writeTrustedKey(configuration.followTrustedKey, directory: directory)
            }
            return key
        }
        guard let kept, let key = SignedNote.parseVerifierKey(kept) else { throw NoTrustedKey(directory: directory) }
        return key
    }

    /// Writes `follow.pub` (0644: a public key), durably.
    static func writeTrustedKey(_ verifierKey: String, directory: String) throws {
        let path = directory + "/" + trustedKeyFileName
        let bytes = Array((verifierKey + "\n").utf8)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { throw KeyFile.Failure.unwritable(path: path, errno: errno) }
        defer { close(descriptor) }
        guard write(descriptor, bytes, bytes.count) == bytes.count, fsync(descriptor) == 0 else {
            throw KeyFile.Failure.unwritable(path: path, errno: errno)
        }
    }

    private static func readTrimmed(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = fread(&buffer, 1, buffer.count, file)
        var text = buffer[..<count]
        while let last = text.last, last == 0x0A || last == 0x0D || last == 0x20 { text = text.dropLast() }
        return String(decoding: text, as: UTF8.self)
    }

    /// `replication.name`, or the host's name made fit for one.
    static func name(_ configuration: DaemonConfiguration) -> String {
        if !configuration.followerName.isEmpty { return configuration.followerName }
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let cleaned = String(
            String.UnicodeScalarView(host.unicodeScalars.map { FollowerReports.isValidName(String($0)) ? $0 : "-" }).prefix(64))
        return FollowerReports.isValidName(cleaned) ? cleaned : "follower"
    }

    /// No redirects; a connect that hangs fails after 10 s; the read timeout is the request's.
    static let httpConfiguration: HTTPClient.Configuration = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: HTTPClient.Configuration.Timeout(connect: .seconds(10)), decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }()
}
