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
    /// Notified at every change, for whoever waits for the gate to open or close.
    public let changed = ChangeSignal()

    public init() {}

    /// Nil while appends are allowed.
    public var refusal: Refusal? { state.withLock { $0 } }

    /// Appends are allowed from now on.
    public func allow() { set(nil) }

    /// Appends are refused from now on; a batch the writer has not begun to commit will not commit.
    public func refuse(_ refusal: Refusal) { set(refusal) }

    private func set(_ new: Refusal?) {
        let changedNow = state.withLock { current -> Bool in
            defer { current = new }
            return current != new
        }
        if changedNow { changed.notify() }
    }
}
