import Hummingbird
import Logging
import NIOCore
import NIOPosix

/// The witness's HTTP interface: `POST /add-checkpoint` (tlog-witness), on TCP. It listens on
/// 127.0.0.1 by default: TLS, a public name and any rate limit belong to a reverse proxy in
/// front of it (tlog-witness lets an operator put "a bastion" in front of the key's machine).
public enum WitnessServer {
    public struct Settings: Sendable, Equatable {
        public var host = "127.0.0.1"
        /// 0: any free port (the bound one is logged).
        public var port = 7380
        /// A request body larger than this is refused with 413. A checkpoint is a few hundred
        /// bytes, 63 proof lines under 3 KiB; signed-note asks verifiers to accept "at least up
        /// to 16 signatures", and 16 Ed25519 lines are under 2 KiB.
        public var bodyBytesMax = 64 << 10
        /// A connection with no byte in either direction for this long is closed.
        public var idleTimeoutMilliseconds = 30_000
        /// A request whose body has not arrived whole by then is answered 408 (a body that
        /// trickles would otherwise hold a connection without limit).
        public var requestTimeoutMilliseconds = 10_000

        public init() {}
    }

    /// The application serving `witness`. `onRunning` gets the bound port once it listens.
    public static func application(
        witness: Witness, settings: Settings, logger: Logger, onRunning: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        // One thread runs every check-and-commit: LMDB serialises writers anyway, and its fsync
        // must not block the event loops or the cooperative pool.
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let router = Router()
        router.post("add-checkpoint") { request, _ -> Response in
            let body = try await withDeadline(milliseconds: settings.requestTimeoutMilliseconds) {
                var request = request
                return try await request.collectBody(upTo: settings.bodyBytesMax)
            }
            let bytes = Array(buffer: body)
            let answer: Witness.Answer
            do {
                answer = try await pool.runIfActive { try witness.addCheckpoint(body: bytes) }
            } catch {
                logger.error("the witness state cannot be written", metadata: ["error": "\(error)"])
                answer = Witness.Answer(
                    status: 500, contentType: "text/plain; charset=utf-8", body: "the witness state cannot be written\n")
            }
            return Response(
                status: HTTPResponse.Status(code: answer.status),
                headers: [.contentType: answer.contentType, .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
        }
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(settings.idleTimeoutMilliseconds)))),
            configuration: ApplicationConfiguration(
                address: .hostname(settings.host, port: settings.port), serverName: "fascicolo-witness"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                logger.notice("listening", metadata: ["host": "\(settings.host)", "port": "\(port)"])
                onRunning(port)
            },
            logger: logger)
    }

    /// Runs `body`, answering 408 Request Timeout when it takes longer than `milliseconds`.
    static func withDeadline<T: Sendable>(milliseconds: Int, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(milliseconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw HTTPError(.requestTimeout) }
            return value
        }
    }
}
