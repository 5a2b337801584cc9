import Dispatch
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization

/// Limits on the socket's connections (`[connections]`), so that no local peer can take the
/// daemon's descriptors or hold connections for ever: each is decided when the connection is
/// accepted, from its peer credentials and the access policy.
public struct ConnectionSettings: Sendable, Equatable {
    /// Open connections at once, all peers together (admins' reserve included).
    public var max = 1_024
    /// Of `max`, the last slots only admin peers may take: an admin can connect even when
    /// everyone else holds every connection they may.
    public var adminReserved = 16
    /// Open connections of one uid with a role (admins included).
    public var perUIDMax = 128
    /// Open connections of one uid with no role at all (it can only be told 403).
    public var noRolePerUIDMax = 4
    /// Open connections of all peers with no role together.
    public var noRoleMax = 16
    /// A keep-alive connection with no request in progress is closed after this long. A request
    /// being answered (a subscription) is never idle.
    public var idleTimeoutMilliseconds = 30_000
    /// A request's head and body must be received within this long of its first byte; otherwise
    /// it is answered 408 (or, if its answer has begun, the connection is closed).
    public var requestReadTimeoutMilliseconds = 10_000
    /// A connection whose socket has refused writes this long (its peer stopped reading a long
    /// answer) is closed.
    public var responseWriteTimeoutMilliseconds = 30_000
    /// At most one log line about refused connections per this interval.
    public var refusalLogIntervalMilliseconds = 10_000

    public init() {}
}

/// Why a connection was refused at accept: the label of `fascicolo_connections_refused_total`.
public enum ConnectionRefusal: String, Error, Sendable, CaseIterable {
    /// The peer's uid holds `per_uid_max` connections.
    case perUID = "per_uid"
    /// A peer with no role: its uid holds `no_role_per_uid_max`, or all such peers `no_role_max`.
    case noRole = "no_role"
    /// `max` connections are open (`max - admin_reserved` for a peer that is not an admin).
    case total
}

/// Counts connections refused and requests cut off, for `/metrics`.
public final class ConnectionCounters: Sendable {
    private let perUID = Atomic<Int>(0)
    private let noRole = Atomic<Int>(0)
    private let total = Atomic<Int>(0)
    private let readTimeouts = Atomic<Int>(0)

    public init() {}

    func refused(_ reason: ConnectionRefusal) {
        switch reason {
        case .perUID: perUID.add(1, ordering: .relaxed)
        case .noRole: noRole.add(1, ordering: .relaxed)
        case .total: total.add(1, ordering: .relaxed)
        }
    }

    public func refusals(_ reason: ConnectionRefusal) -> Int {
        switch reason {
        case .perUID: perUID.load(ordering: .relaxed)
        case .noRole: noRole.load(ordering: .relaxed)
        case .total: total.load(ordering: .relaxed)
        }
    }

    func readTimedOut() { readTimeouts.add(1, ordering: .relaxed) }
    public var requestReadTimeouts: Int { readTimeouts.load(ordering: .relaxed) }

    private let writeTimeouts = Atomic<Int>(0)
    func writeTimedOut() { writeTimeouts.add(1, ordering: .relaxed) }
    public var responseWriteTimeouts: Int { writeTimeouts.load(ordering: .relaxed) }
}

/// Admits or refuses each connection at accept, and frees its slot when it closes.
final class ConnectionLimiter: Sendable {
    enum Class: Sendable { case admin, role, noRole }

    /// A connection's slot, held until the connection closes.
    struct Admission: Sendable {
        let uid: UInt32
        let peerClass: Class
    }

    private struct State {
        var open = 0
        var openWithoutRole = 0
        var byUID: [UInt32: Int] = [:]
        // For the rate-limited log line.
        var lastLogNanoseconds: UInt64?
        var unlogged: [ConnectionRefusal: Int] = [:]
    }

    let settings: ConnectionSettings
    private let policy: AccessPolicy
    let counters: ConnectionCounters
    private let logger: Logger
    private let state = Mutex(State())
    /// Refused connections still being answered.
    let graceSlots = GraceSlots()

    init(settings: ConnectionSettings, policy: AccessPolicy, counters: ConnectionCounters, logger: Logger) {
        self.settings = settings
        self.policy = policy
        self.counters = counters
        self.logger = logger
    }

    /// A slot for this peer, or why there is none. A peer whose credentials are unknown counts
    /// as a peer with no role.
    func admit(_ peer: PeerCredentials?) -> Result<Admission, ConnectionRefusal> {
        let roles = peer.map { policy.roles(uid: $0.uid, gid: $0.gid) } ?? []
        let peerClass: Class = roles.contains(.admin) ? .admin : roles.isEmpty ? .noRole : .role
        let uid = peer?.uid ?? UInt32.max
        let settings = settings
        let result: Result<Admission, ConnectionRefusal> = state.withLock { state in
            let ofUID = state.byUID[uid, default: 0]
            switch peerClass {
            case .admin:
                guard state.open < settings.max else { return .failure(.total) }
                guard ofUID < settings.perUIDMax else { return .failure(.perUID) }
            case .role:
                guard state.open < settings.max - settings.adminReserved else { return .failure(.total) }
                guard ofUID < settings.perUIDMax else { return .failure(.perUID) }
            case .noRole:
                guard state.open < settings.max - settings.adminReserved else { return .failure(.total) }
                guard ofUID < settings.noRolePerUIDMax, state.openWithoutRole < settings.noRoleMax else { return .failure(.noRole) }
                state.openWithoutRole += 1
            }
            state.open += 1
            state.byUID[uid] = ofUID + 1
            return .success(Admission(uid: uid, peerClass: peerClass))
        }
        if case .failure(let reason) = result { refused(reason) }
        return result
    }

    func release(_ admission: Admission) {
        state.withLock { state in
            state.open -= 1
            if admission.peerClass == .noRole { state.openWithoutRole -= 1 }
            let remaining = state.byUID[admission.uid, default: 1] - 1
            state.byUID[admission.uid] = remaining > 0 ? remaining : nil
        }
    }

    /// Open connections now (admitted, not yet closed).
    var open: Int { state.withLock { $0.open } }

    /// Counts a refusal, and logs one line for the refusals since the last line at most once per
    /// `refusalLogIntervalMilliseconds` — so that a peer knocking in a loop cannot flood the log.
    /// The line names reasons and counts only: no uid, no pid, nothing a client sent.
    private func refused(_ reason: ConnectionRefusal) {
        counters.refused(reason)
        let now = DispatchTime.now().uptimeNanoseconds
        let interval = UInt64(settings.refusalLogIntervalMilliseconds) * 1_000_000
        let due: ([ConnectionRefusal: Int], Int)? = state.withLock { state in
            state.unlogged[reason, default: 0] += 1
            if let last = state.lastLogNanoseconds, now - last < interval { return nil }
            state.lastLogNanoseconds = now
            defer { state.unlogged = [:] }
            return (state.unlogged, state.open)
        }
        guard let (counts, open) = due else { return }
        var metadata: Logger.Metadata = ["open": "\(open)", "max": "\(settings.max)"]
        for reason in ConnectionRefusal.allCases { metadata["refused_" + reason.rawValue] = "\(counts[reason, default: 0])" }
        logger.warning(
            "connections refused at accept (counts since the last such line; fascicolo_connections_refused_total has them all)",
            metadata: metadata)
    }

    /// The answer to a refused connection, written straight to the socket before it is closed.
    static func refusalResponse(_ reason: ConnectionRefusal) -> ByteBuffer {
        let detail =
            switch reason {
            case .perUID: "this uid holds as many open connections as it may (connections.per_uid_max): close one or retry later"
            case .noRole: "a peer with no role may hold only a few connections (connections.no_role_per_uid_max, connections.no_role_max)"
            case .total: "the daemon holds as many connections as it may (connections.max): retry later"
            }
        return rawProblem(status: 503, reason: "Service Unavailable", code: "too_many_connections", detail: detail, retryAfterSeconds: 5)
    }

    /// A whole HTTP/1.1 problem response that closes the connection, as raw bytes: for answers
    /// written outside the HTTP pipeline (before it exists, or when a request is cut off).
    static func rawProblem(status: Int, reason: String, code: String, detail: String, retryAfterSeconds: Int? = nil) -> ByteBuffer {
        let body = Problem.body(status: status, title: reason, code: code, detail: detail)
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/problem+json\r\nContent-Length: \(body.count)\r\n"
        if let retryAfterSeconds { head += "Retry-After: \(retryAfterSeconds)\r\n" }
        head += "Connection: close\r\n\r\n"
        var buffer = ByteBuffer()
        buffer.writeString(head)
        buffer.writeBytes(body)
        return buffer
    }
}

/// Cuts off a request whose head and body are not all received within `timeout` of its first
/// byte (a body trickled a byte at a time would otherwise hold the connection for ever: the
/// idle timeout restarts with every byte). Sits after the HTTP decoder, where it sees where
/// requests end; `RequestFirstByte`, at the front of the pipeline, tells it when bytes arrive.
///
/// When the time is up and no answer to the request has begun, it writes 408 `request_timeout`
/// straight to the socket; either way it closes the connection. A request pipelined behind one
/// still being answered gets its time from when that answer ends (until then the connection
/// does not read it), and never a 408 that could pass for the earlier request's answer.
final class RequestReadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private let counters: ConnectionCounters
    private var context: ChannelHandlerContext?
    /// The front handler's context: what is written through it goes to the socket as it is.
    var rawContext: ChannelHandlerContext?
    /// At most one timer per connection, left to run when a request ends in time (cheaper than
    /// scheduling and cancelling one per request): when it fires it checks the request being
    /// received then, if any, and schedules itself again for that request's deadline.
    private var timer: Scheduled<Void>?
    /// When the request being received must be whole.
    private var deadline = NIODeadline.distantFuture
    /// A request is being received (its first byte came, its end not yet).
    private var receiving = false
    /// ...and its head has come.
    private var headReceived = false
    /// Requests whose head came and whose answer has not ended (the one being received included).
    private var unanswered = 0
    /// The answer to the request being received has begun.
    private var answered = false

    init(timeout: TimeAmount, counters: ConnectionCounters) {
        self.timeout = timeout
        self.counters = counters
    }

    /// Requests before the one being received still waiting for the end of their answer.
    private var earlierUnanswered: Int { max(0, unanswered - (receiving && headReceived ? 1 : 0)) }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
        rawContext = nil
    }

    /// Bytes arrived: if no request is being received, a new one starts now.
    func bytesArrived() {
        guard !receiving else { return }
        start()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            if !receiving { start() }
            headReceived = true
            unanswered += 1
        case .body:
            break
        case .end:
            receiving = false
            headReceived = false
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head:
            if receiving && earlierUnanswered == 0 { answered = true }
        case .body:
            break
        case .end:
            unanswered = max(0, unanswered - 1)
            // The connection is free for the request behind: its time starts now.
            if receiving && earlierUnanswered == 0 && !answered { arm() }
        }
        context.write(data, promise: promise)
    }

    /// Bytes that are not HTTP/1.1: answered, like every other refusal, with a problem document
    /// (400 `malformed_request`) rather than Hummingbird's empty 400 — unless an earlier request
    /// is still being answered, when a second answer could be taken for its own: then the error
    /// goes on and the connection is closed as before.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError, earlierUnanswered == 0, !answered, let rawContext else {
            context.fireErrorCaught(error)
            return
        }
        answered = true
        receiving = false
        let response = ConnectionLimiter.rawProblem(
            status: 400, reason: "Bad Request", code: "malformed_request",
            detail: "the request is not valid HTTP/1.1")
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        rawContext.writeAndFlush(NIOAny(response)).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    private func start() {
        receiving = true
        headReceived = false
        answered = false
        arm()
    }

    private func arm() {
        deadline = .now() + timeout
        if timer == nil { schedule(at: deadline) }
    }

    private func schedule(at deadline: NIODeadline) {
        guard let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) { loopBound.value.fired() }
    }

    private func fired() {
        timer = nil
        guard receiving, let context else { return }
        guard NIODeadline.now() >= deadline, earlierUnanswered == 0 else {
            // Not yet, or an earlier request is still being answered (its end re-arms this).
            if earlierUnanswered == 0 { schedule(at: deadline) }
            return
        }
        counters.readTimedOut()
        if !answered, let rawContext {
            let seconds = Double(timeout.nanoseconds) / 1e9
            let response = ConnectionLimiter.rawProblem(
                status: 408, reason: "Request Timeout", code: "request_timeout",
                detail: "the request's head and body were not received within \(seconds) s (connections.request_read_timeout_milliseconds)")
            // Closed once the answer is out: a close would drop a write still pending.
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            rawContext.writeAndFlush(NIOAny(response)).whenComplete { _ in loopBound.value.close(promise: nil) }
            return
        }
        context.close(promise: nil)
    }
}

/// Closes a connection whose socket has refused the daemon's writes for `timeout`: a peer that
/// asked for a long answer (a subscription, a page of the log) and stopped reading would
/// otherwise hold its connection, the answer's buffers and, for a subscription, a slot for ever —
/// the answer's writer waits for the socket to take more, and neither the idle timeout (a
/// request is in progress) nor the read deadline (the request was whole) applies.
///
/// NIO says when the channel's outbound buffer passes its high-water mark (not writable) and
/// when it drains below the low one (writable again); the clock runs from the first and stops at
/// the second, so a slow reader that keeps reading is never cut off.
final class ResponseWriteStall: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let counters: ConnectionCounters
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount, counters: ConnectionCounters) {
        self.timeout = timeout
        self.counters = counters
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            timer?.cancel()
            timer = nil
        } else if timer == nil {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: timeout) {
                let (stall, context) = loopBound.value
                stall.timer = nil
                guard !context.channel.isWritable else { return }
                stall.counters.writeTimedOut()
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}

/// At the front of the pipeline: tells the request deadline when bytes arrive, so that a
/// request's time runs from its first byte, before its head is whole.
final class RequestFirstByte: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: RequestReadDeadline

    init(deadline: RequestReadDeadline) { self.deadline = deadline }

    func handlerAdded(context: ChannelHandlerContext) { deadline.rawContext = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadline.bytesArrived()
        context.fireChannelRead(data)
    }
}

/// The only handler of a refused connection: once the channel is active, writes the refusal
/// straight to the socket and shuts down its sending side. A client that sent its request at
/// once (curl) then reads the answer rather than a broken connection; the descriptor is freed
/// as soon as the peer closes, and after `grace` at the latest. At most `GraceSlots.max`
/// refused connections wait like this at once: beyond that they are closed right after the
/// answer, so refusals never hold more than a few descriptors.
final class ConnectionRefuser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let grace = TimeAmount.milliseconds(250)

    private let response: ByteBuffer
    private let graceSlots: GraceSlots
    private var refused = false
    private var holdsGraceSlot = false

    init(response: ByteBuffer, graceSlots: GraceSlots) {
        self.response = response
        self.graceSlots = graceSlots
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if holdsGraceSlot { graceSlots.release() }
        holdsGraceSlot = false
    }

    func channelActive(context: ChannelHandlerContext) { refuse(context) }

    /// Whatever the peer sends is dropped.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    private func refuse(_ context: ChannelHandlerContext) {
        guard !refused else { return }
        refused = true
        holdsGraceSlot = graceSlots.reserve()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let linger = holdsGraceSlot
        context.writeAndFlush(wrapOutboundOut(response)).whenComplete { result in
            let context = loopBound.value
            guard linger, case .success = result else {
                context.close(promise: nil)
                return
            }
            context.close(mode: .output, promise: nil)
            context.eventLoop.scheduleTask(in: Self.grace) { loopBound.value.close(promise: nil) }
        }
    }
}

/// Refused connections waiting for their peer to read the answer and close (`ConnectionRefuser`).
final class GraceSlots: Sendable {
    static let max = 32
    private let count = Atomic<Int>(0)

    func reserve() -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < Self.max {
            let (exchanged, actual) = count.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = actual
        }
        return false
    }

    func release() { count.subtract(1, ordering: .relaxed) }
}
