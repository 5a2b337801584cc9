import FascicoloLedger
import FascicoloProjections
import Metrics
import Prometheus
import Synchronization

/// Counts open connections (the `fascicolo_connections` gauge).
public final class ConnectionGauge: Sendable {
    private let count = Atomic<Int>(0)
    public init() {}
    func opened() { count.add(1, ordering: .relaxed) }
    func closed() { count.subtract(1, ordering: .relaxed) }
    public var value: Int { count.load(ordering: .relaxed) }
}

/// The daemon's metrics, in a Prometheus registry rendered in the text format at `GET /metrics`.
/// The server's own events (appends, refusals) are counted as they happen; the ledger's,
/// the connections' and the projections' totals are copied in at each scrape. Labels are
/// stable codes, projection names and route patterns only — never a stream, a person, a
/// payload or a concrete URL.
///
/// Hummingbird's `MetricsMiddleware` records per-route request metrics through swift-metrics,
/// into `requestRegistry` (`http_server_request_duration`…, labelled with the route's pattern,
/// `/v1/entries/{position}`).
public final class ServerMetrics: Sendable {
    /// Upper bounds of the append latency histogram, in seconds.
    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1]

    public let registry: PrometheusCollectorRegistry
    public let connections = ConnectionGauge()
    /// Connections refused at accept, requests cut off by the read deadline.
    public let connectionCounters = ConnectionCounters()

    private let appends: Prometheus.Counter
    private let eventsAppended: Prometheus.Counter
    private let appendLatency: ValueHistogram
    private let copied: Mutex<CopiedTotals>

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        appends = registry.counter("fascicolo_appends_total", "Append requests stored (deduplicated retries included).")
        eventsAppended = registry.counter("fascicolo_events_appended_total", "Events in stored append requests.")
        appendLatency = registry.histogram(
            "fascicolo_append_latency_seconds", "Time from receiving an append to its durable commit.",
            buckets: Self.latencyBuckets)
        copied = Mutex(CopiedTotals(registry: registry))
        _ = Self.requestRegistry  // the backend is in place before the first request
    }

    /// Hummingbird's request metrics go through swift-metrics, whose backend is one per process
    /// (a second bootstrap traps): this registry, made the backend on first use. Every
    /// `ServerMetrics` renders it after its own — in the daemon there is one of each.
    static let requestRegistry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // OpenTelemetry-style names (`http.server.request.duration`) made Prometheus names.
        factory.nameAndLabelSanitizer = { name, labels in
            (ServerMetrics.prometheusName(name), labels.map { (ServerMetrics.prometheusName($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    static func prometheusName(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    func recordAppend(events: Int, seconds: Double) {
        appends.increment()
        eventsAppended.increment(by: Int64(events))
        appendLatency.record(seconds)
    }

    func recordRejection(code: String) {
        registry.counter("fascicolo_rejections_total", "Requests refused, by problem code.", labels: [("code", code)]).increment()
    }

    /// The Prometheus text exposition of every metric, after copying in the current totals.
    func render(ledger: Ledger, projections: [ProjectionStatus] = []) -> [UInt8] {
        copied.withLock { $0.update(ledger: ledger, connections: connections, counters: connectionCounters, projections: projections) }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        Self.requestRegistry.emit(into: &buffer)
        return buffer
    }
}

/// The metrics whose source of truth is elsewhere (the ledger's writer, the connection
/// handlers, the projection engine), brought up to date at each scrape. A counter only goes
/// up, so each scrape adds what its source gained since the last one.
private struct CopiedTotals {
    let registry: PrometheusCollectorRegistry
    let commits: CopiedCounter
    let commitSeconds: [(phase: String, counter: CopiedCounter, seconds: (CommitTimings) -> Double)]
    let commitFailures: CopiedCounter
    let refusals: [(reason: ConnectionRefusal, counter: CopiedCounter)]
    let readTimeouts: CopiedCounter
    let writeTimeouts: CopiedCounter
    let logEntries: Prometheus.Gauge
    let storageWritable: Prometheus.Gauge
    let openConnections: Prometheus.Gauge
    /// The latest checkpoint seen; read again (and verified) only once the log has grown past it.
    var checkpoint: (size: UInt64, gauge: Prometheus.Gauge)?
    var buildPositions: [String: Prometheus.Gauge] = [:]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        commits = CopiedCounter(
            registry.counter(
                "fascicolo_commits_total", "Group commits that stored entries since start; events per commit = events / commits."))
        let phases =
            "The writer thread's time in group commits, by phase: wait (for LMDB's write lock), sign (and hash), "
            + "write (checks, puts), sync (LMDB's commit and fdatasync)."
        func phase(_ name: String, _ seconds: @escaping (CommitTimings) -> Double) -> (String, CopiedCounter, (CommitTimings) -> Double) {
            (name, CopiedCounter(registry.counter("fascicolo_commit_seconds_total", phases, labels: [("phase", name)])), seconds)
        }
        commitSeconds = [
            phase("wait", \.waitSeconds), phase("sign", \.signSeconds), phase("write", \.writeSeconds),
            phase("sync", \.syncSeconds),
        ]
        commitFailures = CopiedCounter(
            registry.counter(
                "fascicolo_commit_failures_total", "Group commits that failed (nothing of them acknowledged)."))
        refusals = ConnectionRefusal.allCases.map { reason in
            (
                reason,
                CopiedCounter(
                    registry.counter(
                        "fascicolo_connections_refused_total",
                        "Connections refused at accept (503 too_many_connections), by the limit reached: per_uid, no_role, total.",
                        labels: [("reason", reason.rawValue)]))
            )
        }
        readTimeouts = CopiedCounter(
            registry.counter(
                "fascicolo_request_read_timeouts_total",
                "Requests whose head and body were not received within connections.request_read_timeout_milliseconds (cut off)."))
        writeTimeouts = CopiedCounter(
            registry.counter(
                "fascicolo_response_write_timeouts_total",
                "Connections closed because their socket refused writes for connections.response_write_timeout_milliseconds (a peer that stopped reading)."
            ))
        logEntries = registry.gauge("fascicolo_log_entries", "Entries in the log (the tree size).")
        storageWritable = registry.gauge(
            "fascicolo_storage_writable",
            "1 while the disk takes the log's writes; 0 while commits fail (appends refused with 503 storage_unavailable).")
        openConnections = registry.gauge("fascicolo_connections", "Open connections on the socket.")
    }

    mutating func update(ledger: Ledger, connections: ConnectionGauge, counters: ConnectionCounters, projections: [ProjectionStatus]) {
        let size = ledger.size
        commits.copy(Double(ledger.commitCount))
        let timings = ledger.commitTimings
        for phase in commitSeconds { phase.counter.copy(phase.seconds(timings)) }
        commitFailures.copy(Double(ledger.commitFailures))
        for refusal in refusals { refusal.counter.copy(Double(counters.refusals(refusal.reason))) }
        readTimeouts.copy(Double(counters.requestReadTimeouts))
        writeTimeouts.copy(Double(counters.responseWriteTimeouts))
        logEntries.set(to: Double(size))
        storageWritable.set(to: ledger.storageHealth.isWritable ? 1 : 0)
        openConnections.set(to: Double(connections.value))
        updateCheckpoint(ledger: ledger, size: size)
        updateProjections(projections)
    }

    /// `fascicolo_checkpoint_timestamp_seconds`: when the latest checkpoint was signed (alert on
    /// `time() - fascicolo_checkpoint_timestamp_seconds`). A checkpoint covering the whole log
    /// stays the latest until the log grows, so an idle daemon's scrapes verify no signature.
    private mutating func updateCheckpoint(ledger: Ledger, size: UInt64) {
        if let checkpoint, checkpoint.size >= size { return }
        guard let latest = try? ledger.latestCheckpoint(), let signed = latest.timestampSeconds else { return }
        let gauge =
            checkpoint?.gauge
            ?? registry.gauge("fascicolo_checkpoint_timestamp_seconds", "Unix time at which the latest checkpoint was signed.")
        gauge.set(to: Double(signed))
        checkpoint = (latest.size, gauge)
    }

    /// One series per projection (a handful, named in the code): never per person or stream.
    private mutating func updateProjections(_ projections: [ProjectionStatus]) {
        for status in projections {
            let label = [("projection", status.name)]
            registry.gauge("fascicolo_projection_position", "Entries the projection's serving generation has applied.", labels: label)
                .set(to: Double(status.position))
            registry.gauge(
                "fascicolo_projection_lag_entries", "Entries committed to the log that the projection has not applied yet.",
                labels: label
            ).set(to: Double(status.lag))
            registry.gauge("fascicolo_projection_failed", "1 when the projection stopped at an entry it could not apply.", labels: label)
                .set(to: status.state == .failed ? 1 : 0)
            // Present only while a (re)build runs.
            if let build = status.build {
                let gauge =
                    buildPositions[status.name]
                    ?? registry.gauge("fascicolo_projection_build_position", "Entries a (re)build in progress has applied.", labels: label)
                gauge.set(to: Double(build.position))
                buildPositions[status.name] = gauge
            } else if let gauge = buildPositions.removeValue(forKey: status.name) {
                registry.unregisterGauge(gauge)
            }
        }
    }
}

/// A Prometheus counter that follows a total kept elsewhere (used under `CopiedTotals`' lock).
private final class CopiedCounter {
    private let counter: Prometheus.Counter
    private var copied: Double = 0

    init(_ counter: Prometheus.Counter) { self.counter = counter }

    func copy(_ total: Double) {
        guard total > copied else { return }
        if total == total.rounded(), copied == copied.rounded() {
            counter.increment(by: Int64(total - copied))  // whole counts stay integers in the text format
        } else {
            counter.increment(by: total - copied)
        }
        copied = total
    }
}

extension PrometheusCollectorRegistry {
    /// The metric of this name and labels, created on first use. Names are whole Prometheus
    /// names (`fascicolo_appends_total`); `help` is the same for every label set of a name.
    func counter(_ name: String, _ help: String, labels: [(String, String)] = []) -> Prometheus.Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    func gauge(_ name: String, _ help: String, labels: [(String, String)] = []) -> Prometheus.Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    func histogram(_ name: String, _ help: String, buckets: [Double]) -> ValueHistogram {
        makeValueHistogram(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), buckets: buckets)
    }
}
