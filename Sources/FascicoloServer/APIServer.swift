import FascicoloLedger
import Glibc
import Hummingbird
import Logging
import NIOCore

/// The Hummingbird application serving the API on the Unix socket.
public enum APIServer {
    /// Builds the application. The socket file gets `socketMode` and `socketGroup` as soon as it
    /// is bound (the umask and the daemon's group would otherwise decide who may connect).
    public static func application(
        routes: APIRoutes, socketPath: String, socketMode: UInt32, socketGroup: UInt32?, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router(context: FascicoloRequestContext.self)
        routes.register(on: router)
        return Application(
            router: router,
            server: .http1WithPeerCredentials(connections: routes.metrics.connections),
            configuration: ApplicationConfiguration(address: .unixDomainSocket(path: socketPath), serverName: "fascicolod"),
            onServerRunning: { _ in
                chmod(socketPath, mode_t(socketMode))
                if let socketGroup, chown(socketPath, uid_t.max, gid_t(socketGroup)) != 0 {
                    logger.error("cannot give the socket to its group", metadata: ["gid": "\(socketGroup)", "errno": "\(errno)"])
                }
                logger.notice("listening", metadata: ["socket": "\(socketPath)", "mode": "\(String(socketMode, radix: 8))"])
            },
            logger: logger)
    }
}
