import FascicoloLedger
import Synchronization

/// A follower's replication, as the daemon's follower loop reports it and the API shows it
/// (`GET /v1/replication/status`, the metrics): nil on a primary.
public final class ReplicationMonitor: Sendable {
    public enum State: String, Sendable {
        /// Not yet in touch with the primary, or the connection was lost (it retries).
        case connecting
        /// Storing what the primary sent; behind it.
        case following
        /// Holding everything the primary has checkpointed.
        case caughtUp = "caught_up"
        /// Stopped for good: the primary's log is not a continuation of this one (the alarm).
        case refused
        /// Stopped (promoted to primary, or shutting down).
        case stopped
    }

    public struct Status: Sendable, Equatable {
        /// Where the primary is, as configured (a socket path or a URL without credentials).
        public var source: String
        public var state = State.connecting
        /// Entries this follower holds (all verified, all at a checkpoint of the primary).
        public var position: UInt64 = 0
        /// The primary's size at its last answer.
        public var primarySize: UInt64 = 0
        /// The recordedAt of the primary's last entry, and of this follower's (milliseconds).
        public var primaryLastRecordedAt: Int64 = 0
        public var lastRecordedAt: Int64 = 0
        /// The size of the latest checkpoint of the primary verified and stored.
        public var verifiedCheckpointSize: UInt64 = 0
        /// Entries stored since start, and the seconds spent verifying and storing them.
        public var appliedEntries: UInt64 = 0
        public var applySeconds: Double = 0
        /// Why replication stopped, when the primary's log was refused.
        public var refusal: ReplicationRefused?
        /// The last transport failure (cleared by the next answer); never a client's value.
        public var lastError: String?

        public init(source: String) { self.source = source }

        /// Entries the primary holds that this follower does not.
        public var lagEntries: UInt64 { primarySize > position ? primarySize - position : 0 }
        /// How much older this follower's newest entry is than the primary's (0 when caught up).
        public var lagSeconds: Double {
            lagEntries == 0 ? 0 : Double(max(0, primaryLastRecordedAt - lastRecordedAt)) / 1000
        }
    }

    private let status: Mutex<Status>

    public init(source: String) { status = Mutex(Status(source: source)) }

    public var current: Status { status.withLock { $0 } }

    public func update(_ body: (inout Status) -> Void) { status.withLock { body(&$0) } }

    /// The replication gauges, in Prometheus' text format.
    func prometheusText() -> String {
        let status = current
        var text = ""
        func gauge(_ name: String, _ help: String, _ value: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(value)\n"
        }
        gauge("fascicolo_replication_lag_entries", "Entries the primary holds that this follower does not.", "\(status.lagEntries)")
        gauge(
            "fascicolo_replication_lag_seconds", "How much older this follower's newest entry is than the primary's.",
            "\(status.lagSeconds)")
        gauge(
            "fascicolo_replication_verified_checkpoint_size", "The size of the primary's latest checkpoint verified and stored.",
            "\(status.verifiedCheckpointSize)")
        gauge(
            "fascicolo_replication_refused",
            "1 when replication stopped because the primary's log forked, was rolled back or did not verify (the alarm).",
            status.refusal == nil ? "0" : "1")
        gauge(
            "fascicolo_replication_connected", "1 while the follower is in touch with its primary.", status.state == .connecting ? "0" : "1"
        )
        text += "# HELP fascicolo_replication_applied_entries_total Entries verified and stored since start.\n"
        text += "# TYPE fascicolo_replication_applied_entries_total counter\n"
        text += "fascicolo_replication_applied_entries_total \(status.appliedEntries)\n"
        return text
    }
}
