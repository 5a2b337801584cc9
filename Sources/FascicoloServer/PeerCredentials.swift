import Glibc
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// The peer's kernel credentials on the Unix socket (SO_PEERCRED). Same layout as Linux
/// `struct ucred`, which Swift's Glibc module does not export.
public struct PeerCredentials: Sendable, Hashable {
    public var pid: Int32 = 0
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0

    public init(pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// Bound for the life of one connection's task: every request of the connection runs in it.
    @TaskLocal static var current: PeerCredentials?
}

/// HTTP/1.1 on a connection whose peer credentials are read once, when it is accepted (on its
/// event loop, so without a hop), and bound for all the requests it carries. Reading them per
/// request would cost an event-loop hop each time (about a quarter of the throughput).
struct PeerCredentialsHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    struct Value: ServerChildChannelValue {
        let base: HTTP1Channel.Value
        let peer: PeerCredentials?
        var channel: any Channel { base.channel }
    }

    let base: HTTP1Channel
    let connections: ConnectionGauge
    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let peer: EventLoopFuture<PeerCredentials?> =
            if let provider = channel as? any SocketOptionProvider {
                provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SO_PEERCRED)
                    .map { (credentials: PeerCredentials) -> PeerCredentials? in credentials }
                    .recover { _ in nil }
            } else {
                channel.eventLoop.makeSucceededFuture(nil)
            }
        return peer.flatMap { peer in
            base.setup(channel: channel, logger: logger).map { Value(base: $0, peer: peer) }
        }
    }

    func handle(value: Value, logger: Logger) async {
        connections.opened()
        defer { connections.closed() }
        await PeerCredentials.$current.withValue(value.peer) {
            await base.handle(value: value.base, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the peer's credentials read once per connection.
    static func http1WithPeerCredentials(connections: ConnectionGauge) -> HTTPServerBuilder {
        .init { responder in
            PeerCredentialsHTTP1Channel(base: HTTP1Channel(responder: responder), connections: connections)
        }
    }
}

/// The request context: Hummingbird's core storage plus the connection's peer credentials.
public struct FascicoloRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Nil only if the kernel would not say (never on a Unix socket).
    public let peer: PeerCredentials?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = PeerCredentials.current
    }
}
