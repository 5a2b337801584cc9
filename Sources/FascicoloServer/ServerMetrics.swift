import FascicoloLedger
import FascicoloProjections
import Synchronization

/// Counts open connections (a gauge for /metrics).
public final class ConnectionGauge: Sendable {
    private let count = Atomic<Int>(0)
    public init() {}
    func opened() { count.add(1, ordering: .relaxed) }
    func closed() { count.subtract(1, ordering: .relaxed) }
    public var value: Int { count.load(ordering: .relaxed) }
}

/// The daemon's metrics, rendered in the Prometheus text format at `GET /metrics`. Created once;
/// labels are stable codes only — never a stream, a person or a payload.
public final class ServerMetrics: Sendable {
    /// Upper bounds of the append latency histogram, in seconds.
    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1]

    private struct State {
        var appends = 0
        var eventsAppended = 0
        var rejections: [String: Int] = [:]
        var latencyCounts = [Int](repeating: 0, count: ServerMetrics.latencyBuckets.count)
        var latencySum = 0.0
        var latencyCount = 0
    }

    private let state = Mutex(State())
    public let connections = ConnectionGauge()
    /// Connections refused at accept, requests cut off by the read deadline.
    public let connectionCounters = ConnectionCounters()

    public init() {}

    func recordAppend(events: Int, seconds: Double) {
        state.withLock { state in
            state.appends += 1
            state.eventsAppended += events
            state.latencySum += seconds
            state.latencyCount += 1
            if let bucket = Self.latencyBuckets.firstIndex(where: { seconds <= $0 }) { state.latencyCounts[bucket] += 1 }
        }
    }

    func recordRejection(code: String) {
        state.withLock { $0.rejections[code, default: 0] += 1 }
    }

    func render(ledger: Ledger, checkpointAgeSeconds: Double?, projections: [ProjectionStatus] = []) -> String {
        let snapshot = state.withLock { $0 }
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for (labels, value) in samples { lines.append("\(name)\(labels) \(value)") }
        }
        metric("fascicolo_appends_total", "counter", "Append requests stored (deduplicated retries included).", [("", "\(snapshot.appends)")])
        metric("fascicolo_events_appended_total", "counter", "Events in stored append requests.", [("", "\(snapshot.eventsAppended)")])
        metric("fascicolo_commits_total", "counter", "Group commits that stored entries since start; events per commit = events / commits.",
               [("", "\(ledger.commitCount)")])
        let timings = ledger.commitTimings
        metric("fascicolo_commit_seconds_total", "counter",
               "The writer thread's time in group commits, by phase: wait (for LMDB's write lock), sign (and hash), write (checks, puts), sync (LMDB's commit and fdatasync).",
               [("{phase=\"wait\"}", "\(timings.waitSeconds)"), ("{phase=\"sign\"}", "\(timings.signSeconds)"), ("{phase=\"write\"}", "\(timings.writeSeconds)"),
                ("{phase=\"sync\"}", "\(timings.syncSeconds)")])
        metric("fascicolo_rejections_total", "counter", "Requests refused, by problem code.",
               snapshot.rejections.sorted { $0.key < $1.key }.map { ("{code=\"\($0.key)\"}", "\($0.value)") })
        var cumulative = 0
        var buckets: [(String, String)] = []
        for (index, bound) in Self.latencyBuckets.enumerated() {
            cumulative += snapshot.latencyCounts[index]
            buckets.append(("_bucket{le=\"\(bound)\"}", "\(cumulative)"))
        }
        buckets.append(("_bucket{le=\"+Inf\"}", "\(snapshot.latencyCount)"))
        buckets.append(("_sum", "\(snapshot.latencySum)"))
        buckets.append(("_count", "\(snapshot.latencyCount)"))
        metric("fascicolo_append_latency_seconds", "histogram", "Time from receiving an append to its durable commit.", buckets)
        metric("fascicolo_log_entries", "gauge", "Entries in the log (the tree size).", [("", "\(ledger.size)")])
        metric("fascicolo_storage_writable", "gauge",
               "1 while the disk takes the log's writes; 0 while commits fail (appends refused with 503 storage_unavailable).",
               [("", ledger.storageHealth.isWritable ? "1" : "0")])
        metric("fascicolo_commit_failures_total", "counter", "Group commits that failed (nothing of them acknowledged).",
               [("", "\(ledger.commitFailures)")])
        if let age = checkpointAgeSeconds {
            metric("fascicolo_checkpoint_age_seconds", "gauge", "Seconds since the latest checkpoint was signed.", [("", "\(age)")])
        }
        metric("fascicolo_connections", "gauge", "Open connections on the socket.", [("", "\(connections.value)")])
        metric("fascicolo_connections_refused_total", "counter",
               "Connections refused at accept (503 too_many_connections), by the limit reached: per_uid, no_role, total.",
               ConnectionRefusal.allCases.map { ("{reason=\"\($0.rawValue)\"}", "\(connectionCounters.refusals($0))") })
        metric("fascicolo_request_read_timeouts_total", "counter",
               "Requests whose head and body were not received within connections.request_read_timeout_milliseconds (cut off).",
               [("", "\(connectionCounters.requestReadTimeouts)")])
        // One series per projection (a handful, named in the code): never per person or stream.
        func label(_ status: ProjectionStatus) -> String { "{projection=\"\(status.name)\"}" }
        metric("fascicolo_projection_position", "gauge", "Entries the projection's serving generation has applied.",
               projections.map { (label($0), "\($0.position)") })
        metric("fascicolo_projection_lag_entries", "gauge", "Entries committed to the log that the projection has not applied yet.",
               projections.map { (label($0), "\($0.lag)") })
        metric("fascicolo_projection_failed", "gauge", "1 when the projection stopped at an entry it could not apply.",
               projections.map { (label($0), $0.state == .failed ? "1" : "0") })
        metric("fascicolo_projection_build_position", "gauge", "Entries a (re)build in progress has applied.",
               projections.compactMap { status in status.build.map { (label(status), "\($0.position)") } })
        return lines.joined(separator: "\n") + "\n"
    }
}
