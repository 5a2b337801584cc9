import Dispatch
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import Hummingbird
import NIOCore
import Synchronization

/// Limits of `GET /v1/subscribe`.
public struct SubscriptionSettings: Sendable, Equatable {
    /// A heartbeat line is sent after this long without entries, so clients can tell a quiet log
    /// from a dead connection.
    public var heartbeatMilliseconds = 5_000
    /// A subscriber that has caught up once and then falls this many entries behind is ended
    /// with `too_far_behind`; it can resume from the position it is given.
    public var lagEntriesMax: UInt64 = 100_000
    /// Entries read per step.
    public var batchEntries = 256
    /// Subscriptions open at once; more are refused with 503 `too_many_subscriptions`.
    public var concurrentMax = 64

    public init() {}
}

/// The subscriptions open now, against `SubscriptionSettings.concurrentMax`. A slot is held by
/// the response until it is released (dropped), whether or not its body ever ran.
final class SubscriptionSlots: Sendable {
    private let open = Atomic<Int>(0)
    private let max: Int

    init(max: Int) { self.max = max }

    final class Slot: Sendable {
        private let slots: SubscriptionSlots
        fileprivate init(_ slots: SubscriptionSlots) { self.slots = slots }
        deinit { slots.open.subtract(1, ordering: .relaxed) }
    }

    /// A slot, or nil when `max` are taken.
    func reserve() -> Slot? {
        var current = open.load(ordering: .relaxed)
        while current < max {
            let (exchanged, actual) = open.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return Slot(self) }
            current = actual
        }
        return nil
    }
}

/// `GET /v1/subscribe?from=P`: NDJSON, one entry per line from position P (default: the current
/// end), then new entries as they commit, heartbeats while the log is quiet, and a final line
/// saying why the stream ended: `{"end":"shutting_down"|"too_far_behind","resumeFrom":N}`.
///
/// The subscriber reads the log itself (short LMDB read transactions), so nothing is buffered
/// for it and a slow one never delays appends or other subscribers.
struct Subscription {
    let routes: APIRoutes
    /// Person data withheld, or each person's first entry recorded as read before it is sent.
    let read: RawRead
    var ledger: Ledger { routes.ledger }
    let settings: SubscriptionSettings
    let shutdown: ShutdownSwitch
    /// Released when the response (and with it this) is dropped.
    let slot: SubscriptionSlots.Slot

    func response(from start: UInt64, request: Request) -> Response {
        let (routes, read, ledger, settings, shutdown, slot) = (routes, read, ledger, settings, shutdown, slot)
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                _ = slot
                // Cancelled as soon as the client closes its side of the connection.
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    var position = start
                    var caughtUp = false
                    var recorded = Set<Pseudonym>()
                    let heartbeat = UInt64(settings.heartbeatMilliseconds) * 1_000_000
                    var quietSince = DispatchTime.now().uptimeNanoseconds
                    while !Task.isCancelled {
                        if shutdown.isShuttingDown {
                            try await writer.write(Self.end("shutting_down", resumeFrom: position))
                            break
                        }
                        let size = ledger.size
                        if position < size {
                            if caughtUp && size - position > settings.lagEntriesMax {
                                try await writer.write(Self.end("too_far_behind", resumeFrom: position))
                                break
                            }
                            let entries = try ledger.entries(from: position, limit: settings.batchEntries)
                            try await routes.recordRawRead(of: entries, read, what: "subscribe", recorded: &recorded)
                            var json = JSONBytes(capacity: 700 * entries.count)
                            for entry in entries {
                                Render.entry(entry, withheld: read.withholds(entry), into: &json)
                                json.raw("\n")
                            }
                            try await writer.write(ByteBuffer(bytes: json.bytes))
                            position += UInt64(entries.count)
                            quietSince = DispatchTime.now().uptimeNanoseconds
                            continue
                        }
                        caughtUp = true
                        let now = DispatchTime.now().uptimeNanoseconds
                        if now - quietSince >= heartbeat {
                            try await writer.write(Self.heartbeat(size: size))
                            quietSince = now
                        }
                        // Short waits, so shutdown and heartbeats are noticed promptly.
                        _ = await ledger.waitForEntries(beyond: position, timeout: .milliseconds(200))
                    }
                }
                try await writer.finish(nil)
            })
    }

    /// The last line: why the subscription ends, and where to resume.
    static func end(_ reason: String, resumeFrom position: UInt64) -> ByteBuffer {
        line { json in
            json.member("end", reason)
            json.member("resumeFrom", position)
        }
    }

    static func heartbeat(size: UInt64) -> ByteBuffer {
        line { json in
            json.member("heartbeat", true)
            json.member("size", size)
        }
    }

    static func line(_ members: (inout JSONBytes) -> Void) -> ByteBuffer {
        var json = JSONBytes()
        json.object(members)
        json.raw("\n")
        return ByteBuffer(bytes: json.bytes)
    }
}
