import FascicoloLedger
import Glibc
import Hummingbird
import Logging
import NIOCore

/// The Hummingbird application serving the API on the Unix socket.
public enum APIServer {
    /// Builds the application. The socket file gets `socketMode` and `socketGroup` as soon as it
    /// is bound (the umask and the daemon's group would otherwise decide who may connect).
    /// Connections are admitted, timed out and cut off as `connections` says.
    public static func application(
        routes: APIRoutes, connections: ConnectionSettings = ConnectionSettings(), socketPath: String, socketMode: UInt32,
        socketGroup: UInt32?, logger: Logger
    ) -> some ApplicationProtocol {
        let router = router(routes: routes)
        let limiter = ConnectionLimiter(
            settings: connections, policy: routes.policy, counters: routes.metrics.connectionCounters,
            logger: logger)
        return Application(
            router: router,
            server: .http1WithPeerCredentials(
                connections: routes.metrics.connections, limiter: limiter,
                counters: routes.metrics.connectionCounters),
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

    /// The routes and their middleware, without a server: `application` serves them on the
    /// socket; tests drive them in process (HummingbirdTesting's `.router`).
    public static func router(routes: APIRoutes) -> Router<FascicoloRequestContext> {
        let router = Router(context: FascicoloRequestContext.self)
        // First, so that refusals by the routes' middleware are counted too. It labels requests
        // with the matched route's pattern (`/v1/entries/{position}`), never the URL.
        router.add(middleware: MetricsMiddleware())
        routes.register(on: router)
        return router
    }
}
