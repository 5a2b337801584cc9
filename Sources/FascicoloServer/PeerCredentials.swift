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
///
/// The credentials also decide, there and then, whether the connection is admitted at all
/// (`ConnectionLimiter`): a refused one gets no HTTP handlers, only `ConnectionRefuser`, which
/// answers 503 `too_many_connections` as soon as the channel is active and closes it (within
/// 250 ms), so its descriptor is freed at once. An admitted one holds its slot until it closes.
///
/// (This runs before NIO registers the channel, which it does only when setup succeeds: a
/// failed setup would leave the socket open, so a refusal is a successful setup too.)
struct PeerCredentialsHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    struct Value: ServerChildChannelValue {
        /// Nil for a refused connection: there is nothing to handle.
        let base: HTTP1Channel.Value?
        let peer: PeerCredentials?
        let channel: any Channel
    }

    let base: HTTP1Channel
    let connections: ConnectionGauge
    let limiter: ConnectionLimiter
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
        let (base, limiter) = (base, limiter)
        return peer.flatMap { peer in
            switch limiter.admit(peer) {
            case .failure(let reason):
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionRefuser(response: ConnectionLimiter.refusalResponse(reason), graceSlots: limiter.graceSlots))
                    return Value(base: nil, peer: peer, channel: channel)
                }
            case .success(let admission):
                channel.closeFuture.whenComplete { _ in limiter.release(admission) }
                return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
                    // The request deadline (added by the HTTP channel after the decoder) learns
                    // of each request's first byte from a handler at the front.
                    let operations = channel.pipeline.syncOperations
                    let deadline = try operations.handler(type: RequestReadDeadline.self)
                    try operations.addHandler(RequestFirstByte(deadline: deadline), position: .first)
                    try operations.addHandler(
                        ResponseWriteStall(
                            timeout: .milliseconds(Int64(limiter.settings.responseWriteTimeoutMilliseconds)),
                            counters: limiter.counters),
                        position: .first)
                    return Value(base: value, peer: peer, channel: channel)
                }
            }
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard let base = value.base else { return }
        connections.opened()
        defer { connections.closed() }
        await PeerCredentials.$current.withValue(value.peer) {
            await self.base.handle(value: base, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the peer's credentials read once per connection, connections admitted by
    /// `limiter`, the idle timeout and the request read deadline of `limiter.settings`.
    static func http1WithPeerCredentials(
        connections: ConnectionGauge, limiter: ConnectionLimiter,
        counters: ConnectionCounters
    ) -> HTTPServerBuilder {
        let settings = limiter.settings
        let readTimeout = TimeAmount.milliseconds(Int64(settings.requestReadTimeoutMilliseconds))
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestReadDeadline(timeout: readTimeout, counters: counters)],
            idleTimeout: .milliseconds(Int64(settings.idleTimeoutMilliseconds)))
        return .init { responder in
            PeerCredentialsHTTP1Channel(
                base: HTTP1Channel(responder: responder, configuration: configuration),
                connections: connections, limiter: limiter)
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
