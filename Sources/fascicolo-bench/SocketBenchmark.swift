import ArgumentParser
import FascicoloConcurrency
import FascicoloLedger
import Glibc

/// `fascicolo-bench socket`: the load generator over the Unix socket. Starts the real daemon
/// (the `fascicolod` next to this binary), drives it with 1, 8 and 64 keep-alive clients
/// appending single events and batches of 100, with a subscriber following the log, and runs the
/// ledger in-process with the same concurrency and batch in the same invocation for the ratio.
struct SocketBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socket",
        abstract: "Appends over the daemon's socket (events/s, p50/p99/p999) with a subscriber's lag, against the in-process rate.")

    @Option(help: "Seconds per scenario.")
    var seconds: Double = 3

    @Option(help: "The fascicolod binary (default: the one next to this benchmark).")
    var daemon: String?

    @Option(help: "Client counts to run (default 1, 8 and 64).")
    var clients: [Int] = [1, 8, 64]

    @Option(help: "Events per append to run (default 1 and 100).")
    var batch: [Int] = [1, 100]

    func run() async throws {
        let binary = daemon ?? (executableDirectory() + "/fascicolod")
        printOut(
            "fascicolo-bench socket — \(ProcessInfo.cores) cores, \(format(seconds, 1)) s per scenario, durable commits, "
                + "daemon \(binary)")
        printOut("")
        printOut(
            "clients  events/append  events/s  appends/s  p50 ms  p99 ms  p999 ms  sub lag p50/p99/max ms  daemon cpu  in-process ev/s  ratio"
        )
        var ceilings: [String] = []
        var writers: [String] = []
        for clients in clients {
            let ceiling = try runCeiling(binary: binary, clients: clients)
            ceilings.append(
                pad("\(clients)", 7) + pad(format(ceiling.appendsPerSecond), 10) + pad(format(ceiling.latency.p50, 2), 8)
                    + pad(format(ceiling.latency.p99, 2), 8) + pad(format(ceiling.latency.p999, 2), 9)
                    + pad(format(ceiling.daemonCores * 100) + "%", 12))
            for batch in batch {
                let run = try runScenario(binary: binary, clients: clients, batch: batch)
                let directory = temporaryDirectory("inprocess")
                defer { removeDirectory(directory) }
                let ledger = try Ledger.open(directory: directory, logger: quietLogger)
                let inProcess = try await LedgerBenchmark().measureAppends(
                    ledger: ledger, appenders: clients, batch: batch, seconds: seconds)
                ledger.close()
                printOut(
                    pad("\(clients)", 7) + pad("\(batch)", 15) + pad(format(run.eventsPerSecond), 10)
                        + pad(format(run.appendsPerSecond), 11) + pad(format(run.latency.p50, 2), 8)
                        + pad(format(run.latency.p99, 2), 8) + pad(format(run.latency.p999, 2), 9)
                        + pad("\(format(run.lag.p50, 1))/\(format(run.lag.p99, 1))/\(format(run.lagMax, 1))", 24)
                        + pad(format(run.daemonCores * 100) + "%", 12)
                        + pad(format(inProcess.eventsPerSecond), 17)
                        + pad(format(run.eventsPerSecond / inProcess.eventsPerSecond * 100) + "%", 7))
                writers.append(
                    pad("\(clients)", 7) + pad("\(batch)", 15) + pad(format(run.writer.commits / seconds), 11)
                        + run.writerColumns(seconds: seconds))
            }
        }
        printOut("")
        printOut(
            "the writer thread, per group commit (from /metrics): waiting for LMDB's write lock, signing and hashing on all cores, "
                + "the rest of the write, LMDB's commit with its syncs")
        printOut(
            "clients  events/append  commits/s  events/commit  wait ms  sign ms  write ms  sync ms  writer busy  projections' lag at the end"
        )
        writers.forEach(printOut)
        printOut("")
        printOut("the HTTP stack's own ceiling: GET /v1/health/live (no body, no store), same clients, same daemon build")
        printOut("clients  req/s     p50 ms  p99 ms  p999 ms  daemon cpu")
        ceilings.forEach(printOut)
    }

    /// The same keep-alive clients asking for the cheapest route: what the HTTP server, the
    /// socket and the load generator cost on these cores before any append work.
    func runCeiling(binary: String, clients: Int) throws -> Run {
        try SocketLoad(binary: binary, seconds: seconds, reference: nil).run(clients: clients, subscribe: false) { _ in
            SocketLoad.ClientPlan(setup: [], method: "GET", path: "/v1/health/live", body: [], events: 1, expectedStatus: 200)
        }
    }

    struct Run {
        let eventsPerSecond: Double
        let appendsPerSecond: Double
        let latency: Percentiles
        let lag: Percentiles
        let lagMax: Double
        /// Cores the daemon kept busy on average (user + system time / wall time).
        let daemonCores: Double
        let writer: WriterProfile

        /// Per group commit: events, then the writer's milliseconds waiting for the write lock,
        /// signing, writing and syncing; how busy it was; the projections' lag at the end.
        func writerColumns(seconds: Double) -> String {
            pad(format(writer.commits > 0 ? eventsPerSecond * seconds / writer.commits : 0, 1), 15)
                + pad(format(writer.perCommit(writer.wait), 2), 9) + pad(format(writer.perCommit(writer.sign), 2), 9)
                + pad(format(writer.perCommit(writer.write), 2), 10) + pad(format(writer.perCommit(writer.sync), 2), 9)
                + pad(format((writer.wait + writer.sign + writer.write + writer.sync) / seconds * 100) + "%", 13)
                + pad(format(writer.projectionLag), 29)
        }
    }

    func runScenario(binary: String, clients: Int, batch: Int) throws -> Run {
        try SocketLoad(binary: binary, seconds: seconds, reference: nil).run(clients: clients, subscribe: true) { client in
            // Built once: the load generator shares the two cores with the daemon, so it should
            // spend them on sending, not on building bodies.
            var body = Array("{\"events\":[".utf8)
            for offset in 0..<batch {
                if offset > 0 { body.append(UInt8(ascii: ",")) }
                body += Array("{\"type\":\"BenchmarkEvent\",\"data\":".utf8) + samplePayload(client * 1_000 + offset) + [UInt8(ascii: "}")]
            }
            body += Array("]}".utf8)
            return SocketLoad.ClientPlan(setup: [], path: "/v1/streams/bench-\(client)/events", body: body, events: batch)
        }
    }
}

/// One scenario against a fresh daemon: `clients` keep-alive connections, each sending its
/// plan's setup requests, then its body again and again for the benchmark's duration.
struct SocketLoad {
    let binary: String
    let seconds: Double
    /// The reference data directory for the daemon (nil: its default).
    let reference: String?
    /// Called with the scenario's directory before the daemon starts: configuration to add,
    /// and what to do once the daemon has stopped (`fascicolo-bench witnessed` starts witnesses).
    var prepare: (@Sendable (String) throws -> (configuration: String, cleanup: @Sendable () -> Void))? = nil
    /// Lines added to the `[storage]` table (e.g. `journal = true`).
    var storageConfiguration = ""

    struct ClientPlan: Sendable {
        /// Requests (path, body) sent once before the timed loop.
        var setup: [(path: String, body: [UInt8])]
        var method = "POST"
        var path: String
        var body: [UInt8]
        var events: Int
        var expectedStatus = 201
    }

    func run(clients: Int, subscribe: Bool, plan: @escaping @Sendable (Int) -> ClientPlan) throws -> SocketBenchmark.Run {
        let directory = temporaryDirectory("socket")
        defer { removeDirectory(directory) }
        let socket = directory + "/api.sock"
        let uid = getuid()
        let prepared = try prepare?(directory)
        defer { prepared?.cleanup() }
        let config = """
            [storage]
            data_directory = "\(directory)/data"
            \(storageConfiguration)
            [socket]
            path = "\(socket)"
            [access]
            admin = "uid:\(uid)"
            [log]
            level = "warning"
            \(reference.map { "[domain]\nreference_directory = \"\($0)\"" } ?? "")
            \(prepared?.configuration ?? "")
            """
        let configPath = directory + "/fascicolod.toml"
        let file = fopen(configPath, "w")
        fputs(config, file)
        fclose(file)
        let daemon = try spawnProcess(binary, ["--config", configPath])
        defer {
            kill(daemon, SIGTERM)
            var status: Int32 = 0
            waitpid(daemon, &status, 0)
        }
        for _ in 0..<500 where access(socket, F_OK) != 0 { usleep(10_000) }
        usleep(50_000)

        let plans = (0..<clients).map(plan)
        let batch = plans.first?.events ?? 1
        // Setup (registrations, opening cases) before the clock starts.
        let ready = runThreads(count: clients) { client -> Bool in
            guard let connection = try? SocketClient(path: socket) else { return false }
            for request in plans[client].setup {
                guard let response = try? connection.request("POST", request.path, body: request.body), response.status == 201 else {
                    return false
                }
            }
            return true
        }
        guard ready.allSatisfy({ $0 }) else { throw SocketClient.Failure(message: "a setup request was refused") }

        let writerAtStart = WriterProfile(socket: socket)
        let cpuAtStart = processCPUSeconds(daemon)
        let deadline = monotonic.nanoseconds() + UInt64(seconds * 1e9)
        // The subscriber follows from position 0 and measures, for each entry, the time from its
        // commit (recordedAt) to its arrival.
        let subscriberLags = UnsafeTransfer(LagCollector())
        let subscriber = startJoinableThread {
            guard subscribe, let client = try? SocketClient(path: socket) else { return }
            try? client.send("GET", "/v1/subscribe?from=0")
            _ = try? client.readHead()
            while monotonic.nanoseconds() < deadline + 500_000_000 {
                guard let line = try? client.readLine() else { return }
                subscriberLags.value.record(line: line)
            }
        }
        let results = runThreads(count: clients) { client -> [UInt64] in
            guard let connection = try? SocketClient(path: socket) else { return [] }
            let plan = plans[client]
            var samples: [UInt64] = []
            while monotonic.nanoseconds() < deadline {
                let begin = monotonic.nanoseconds()
                let response: (status: Int, body: [UInt8])
                do { response = try connection.request(plan.method, plan.path, body: plan.body) } catch {
                    printOut("client \(client): \(error)")
                    return samples
                }
                guard response.status == plan.expectedStatus else {
                    printOut(
                        "client \(client): an append was refused: \(response.status) \(String(decoding: response.body.prefix(300), as: UTF8.self))"
                    )
                    return samples
                }
                samples.append(monotonic.nanoseconds() - begin)
            }
            return samples
        }
        let daemonCores = (processCPUSeconds(daemon) - cpuAtStart) / seconds
        let writer = WriterProfile(socket: socket) - writerAtStart
        joinThread(subscriber)
        let latencies = results.flatMap { $0 }
        let elapsed = seconds
        let lags = subscriberLags.value.lags
        return SocketBenchmark.Run(
            eventsPerSecond: Double(latencies.count * batch) / elapsed, appendsPerSecond: Double(latencies.count) / elapsed,
            latency: Percentiles(latencies), lag: Percentiles(lags), lagMax: Double(lags.max() ?? 0) / 1e6,
            daemonCores: daemonCores, writer: writer)
    }
}

/// The writer thread's time by phase (`fascicolo_commit_seconds_total`) and its group commits,
/// read from the daemon's `/metrics`.
struct WriterProfile {
    var commits: Double = 0
    var wait: Double = 0
    var sign: Double = 0
    var write: Double = 0
    var sync: Double = 0
    /// The largest lag of a projection behind the log, in entries, when read.
    var projectionLag: Double = 0

    init() {}

    init(socket: String) {
        guard let client = try? SocketClient(path: socket), let response = try? client.request("GET", "/metrics") else { return }
        for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { continue }
            if parts[0].hasPrefix("fascicolo_projection_lag_entries{") { projectionLag = max(projectionLag, value) }
            switch parts[0] {
            case "fascicolo_commits_total": commits = value
            case #"fascicolo_commit_seconds_total{phase="wait"}"#: wait = value
            case #"fascicolo_commit_seconds_total{phase="sign"}"#: sign = value
            case #"fascicolo_commit_seconds_total{phase="write"}"#: write = value
            case #"fascicolo_commit_seconds_total{phase="sync"}"#: sync = value
            default: break
            }
        }
    }

    static func - (end: WriterProfile, start: WriterProfile) -> WriterProfile {
        var delta = WriterProfile()
        delta.commits = end.commits - start.commits
        delta.wait = end.wait - start.wait
        delta.sign = end.sign - start.sign
        delta.write = end.write - start.write
        delta.sync = end.sync - start.sync
        delta.projectionLag = end.projectionLag
        return delta
    }

    /// Milliseconds per group commit.
    func perCommit(_ seconds: Double) -> Double { commits > 0 ? seconds / commits * 1000 : 0 }
}

/// Collects the subscriber's lag per entry (nanoseconds), from the entries' `recordedAt`.
final class LagCollector: @unchecked Sendable {
    // @unchecked: used by the subscriber thread only, read after it is joined.
    private(set) var lags: [UInt64] = []

    func record(line: [UInt8]) {
        // Chunk-size lines and heartbeats have no recordedAt.
        guard let range = find(Array("\"recordedAt\":\"".utf8), in: line) else { return }
        let text = String(decoding: line[range.upperBound..<min(line.count, range.upperBound + 24)], as: UTF8.self)
        guard let committed = parseISO8601Milliseconds(text) else { return }
        let now = wallMilliseconds()
        lags.append(UInt64(max(0, now - committed)) * 1_000_000)
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start..<(start + needle.count) }
        }
        return nil
    }
}

/// "2026-11-23T18:46:44.864Z" → milliseconds since the epoch.
func parseISO8601Milliseconds(_ text: String) -> Int64? {
    let digits = text.unicodeScalars.filter { ("0"..."9").contains($0) }.map { Int32($0.value - 48) }
    guard digits.count >= 17 else { return nil }
    func number(_ range: Range<Int>) -> Int32 { digits[range].reduce(0) { $0 * 10 + $1 } }
    var parts = tm()
    parts.tm_year = number(0..<4) - 1900
    parts.tm_mon = number(4..<6) - 1
    parts.tm_mday = number(6..<8)
    parts.tm_hour = number(8..<10)
    parts.tm_min = number(10..<12)
    parts.tm_sec = number(12..<14)
    return Int64(timegm(&parts)) * 1000 + Int64(number(14..<17))
}

/// User plus system CPU seconds a process has used, from /proc/<pid>/stat (fields 14 and 15).
func processCPUSeconds(_ pid: pid_t) -> Double {
    let text = readText("/proc/\(pid)/stat")
    guard let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func readText(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = fread(&buffer, 1, buffer.count, file)
    return String(decoding: buffer[..<count], as: UTF8.self)
}

func wallMilliseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
}

func executableDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = String(decoding: buffer[..<max(0, count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
}

func spawnProcess(_ executable: String, _ arguments: [String]) throws -> pid_t {
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, nil, nil, argv, environ)
    guard status == 0 else { throw SocketClient.Failure(message: "cannot start \(executable): \(status)") }
    return pid
}

/// Runs `body` on `count` OS threads (blocking clients must not sit on Dispatch's pool) and
/// returns their results in order.
func runThreads<T: Sendable>(count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let results = UnsafeTransfer(ResultSlots<T>(count: count))
    let threads = (0..<count).map { index in startJoinableThread { results.value.set(index, body(index)) } }
    for thread in threads { joinThread(thread) }
    return results.value.values
}

final class ResultSlots<T>: @unchecked Sendable {
    // @unchecked: each thread writes its own slot; read after all are joined.
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: T) { slots[index] = value }
    var values: [T] { slots.compactMap { $0 } }
}

func startJoinableThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    pthread_create(
        &thread, nil,
        { argument in
            Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, box)
    return thread
}

func joinThread(_ thread: pthread_t) {
    pthread_join(thread, nil)
}
