import FascicoloLedger
import Glibc
import Hummingbird
import Logging
import NIOCore

/// The Hummingbird application serving the API on the Unix socket.
public enum APIServer {
    /// Builds the application. The socket file gets `socketMode` as soon as it is bound (the
    /// umask would otherwise decide who may connect).
    public static func application(
        routes: APIRoutes, socketPath: String, socketMode: UInt32, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router(context: FascicoloRequestContext.self)
        routes.register(on: router)
        return Application(
            router: router,
            server: .http1WithPeerCredentials(connections: routes.metrics.connections),
            configuration: ApplicationConfiguration(address: .unixDomainSocket(path: socketPath), serverName: "fascicolod"),
            onServerRunning: { _ in
                chmod(socketPath, mode_t(socketMode))
                logger.notice("listening", metadata: ["socket": "\(socketPath)", "mode": "\(String(socketMode, radix: 8))"])
            },
            logger: logger)
    }
}
