import FascicoloConcurrency
import Synchronization

/// Whether this ledger may append now: one per open `Ledger` (`ledger.writeAuthority`).
///
/// A daemon that follows a primary, a primary that has lost (or not yet taken) its lease, and
/// a primary waiting for its synchronous followers must not store new entries. Every write
/// that signs something new — appends (and so every route that records: person events, reads,
/// erasures, holds, SIUSS exports), key rotations, checkpoints of new sizes — is refused while
/// `refusal` is set. The writer thread asks again just before it commits each batch, so once
/// `refuse` has returned no batch that was not already being written can commit: the fencing
/// argument (a primary stops before its lease can expire) rests on that.
///
/// A new ledger opens with appends allowed.
public final class WriteAuthority: Sendable {
    /// Why appends are refused. The server answers 503 with `code`.
    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        /// This daemon follows a primary; where that primary is, when configured (never a client's text).
        case follower(primary: String?)
        /// The lease that makes this daemon the primary is not held (lost, expired, or not yet taken).
        case fenced
        /// Synchronous replication is configured and fewer followers than required answer.
        case replicasUnavailable

        /// Stable, for APIs and metrics.
        public var code: String {
            switch self {
            case .follower: "not_primary"
            case .fenced: "fenced"
            case .replicasUnavailable: "replicas_unavailable"
            }
        }

        public var description: String {
            switch self {
            case .follower: "this daemon follows a primary and stores only the primary's entries; append to the primary"
            case .fenced: "this daemon does not hold the primary's lease; nothing was stored, try again shortly"
            case .replicasUnavailable: "fewer synchronous followers answer than configured; nothing was stored, try again shortly"
            }
        }
    }

    private let state = Mutex<Refusal?>(nil)
    /// The lease's part (`[failover]`), apart from `refuse`/`allow`, which the follower mode and
    /// synchronous replication use: neither may open what the other closed.
    private let lease = Mutex(LeaseGate())
    /// Notified at every change, for whoever waits for the gate to open or close.
    public let changed = ChangeSignal()

    public init() {}

    /// Nil while appends are allowed: nothing refused, and the lease (when one is needed) held
    /// until a deadline not yet passed.
    public var refusal: Refusal? {
        if let refusal = state.withLock({ $0 }) { return refusal }
        return lease.withLock { $0.refusal }
    }

    /// The lease keeper holds the lease: appends may go on until `deadline` on `clock`, and are
    /// refused from then on without anyone having to say so — the deadline is read at every
    /// check, the writer's last one before a commit included.
    public func holdLease(until deadline: UInt64, on clock: MonotonicClock) {
        lease.withLock { $0 = LeaseGate(required: true, deadline: deadline, clock: clock) }
        changed.notify()
    }

    /// The lease is not held (lost, or not yet taken): appends are refused — `not_primary`
    /// naming `holder`, the location of the node that holds it, when known; `fenced` otherwise.
    public func loseLease(holder: String?) {
        let changedNow = lease.withLock { gate -> Bool in
            defer { gate = LeaseGate(required: true, holder: holder) }
            return gate.required == false || gate.clock != nil || gate.holder != holder
        }
        if changedNow { changed.notify() }
    }

    private struct LeaseGate: Sendable {
        var required = false
        var deadline: UInt64 = 0
        var clock: MonotonicClock?
        var holder: String?

        var refusal: Refusal? {
            guard required else { return nil }
            if let clock, clock.nanoseconds() < deadline { return nil }
            return holder.map { .follower(primary: $0) } ?? .fenced
        }
    }

    /// Appends are allowed from now on.
    public func allow() { set(nil) }

    /// Appends are refused from now on; a batch the writer has not begun to commit will not commit.
    public func refuse(_ refusal: Refusal) { set(refusal) }

    /// Sets `new` only if the gate is `expected` now, and says whether it did: synchronous
    /// replication closes a gate nothing else closed, and opens only a gate it closed itself.
    public func replace(_ expected: Refusal?, with new: Refusal?) -> Bool {
        let replaced = state.withLock { current -> Bool in
            guard current == expected else { return false }
            current = new
            return true
        }
        if replaced && expected != new { changed.notify() }
        return replaced
    }

    private func set(_ new: Refusal?) {
        let changedNow = state.withLock { current -> Bool in
            defer { current = new }
            return current != new
        }
        if changedNow { changed.notify() }
    }
}
