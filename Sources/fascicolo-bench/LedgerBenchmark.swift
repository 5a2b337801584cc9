import ArgumentParser
import Dispatch
import FascicoloConcurrency
import FascicoloCrypto
import FascicoloLedger
import FascicoloStorage
import Glibc
import Synchronization

/// `fascicolo-bench ledger`: durable appends through the library against the ceiling measured in
/// the same run, verify rates, and append cost on a large log versus an empty one.
struct LedgerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Durable append throughput and latency, the LMDB+signing ceiling, verify rates, append cost at size.")

    @Option(help: "Seconds per append scenario.")
    var seconds: Double = 3

    @Option(help: "Entries in the large log used for verify rates and append cost at size.")
    var entries: Int = 1_000_000

    @Option(help: "Keep the large log in this directory and reuse it on later runs (default: a temporary one).")
    var largeLog: String?

    @Flag(help: "Skip the append scenarios: only the large log's append cost and verify rates.")
    var skipAppendScenarios = false

    @Flag(help: "Skip the large log: only the append scenarios.")
    var skipLargeLog = false

    @Flag(
        help: """
            Append each call to a stream of its own (every entry a new stream), the worst case for the \
            stream-head map that checkpoints commit to; by default each appender keeps to one stream.
            """)
    var newStreamPerAppend = false

    func run() async throws {
        printOut("fascicolo-bench ledger — \(ProcessInfo.cores) cores, \(format(seconds, 1)) s per scenario, durable (fsync) commits")
        if !skipAppendScenarios { try await appendScenarios() }
        if !skipLargeLog { try await largeLogFigures() }
    }

    func appendScenarios() async throws {
        printOut("")
        printOut(newStreamPerAppend ? "every append to a new stream" : "each appender to its own stream")
        printOut("appenders  events/append  events/s   appends/s  p50 ms  p99 ms  events/commit  ceiling events/s  ratio")
        for appenders in [1, 8, 64] {
            for batch in [1, 100] {
                let directory = temporaryDirectory("append")
                defer { removeDirectory(directory) }
                let ledger = try Ledger.open(directory: directory, logger: quietLogger)
                let result = try await measureAppends(
                    ledger: ledger, appenders: appenders, batch: batch, seconds: seconds, newStreamPerAppend: newStreamPerAppend)
                let perCommit = result.events / max(1, Double(result.commits))
                ledger.close()
                let ceiling = try measureCeiling(eventsPerCommit: max(1, Int(perCommit.rounded())), seconds: min(seconds, 2))
                printOut(
                    pad("\(appenders)", 9) + pad("\(batch)", 15) + pad(format(result.eventsPerSecond), 10)
                        + pad(format(result.appendsPerSecond), 12) + pad(format(result.latency.p50, 2), 8)
                        + pad(format(result.latency.p99, 2), 8) + pad(format(perCommit, 1), 15)
                        + pad(format(ceiling), 18) + pad(format(result.eventsPerSecond / ceiling * 100) + "%", 7))
            }
        }

    }

    func largeLogFigures() async throws {
        printOut("")
        let directory = largeLog ?? temporaryDirectory("large")
        defer { if largeLog == nil { removeDirectory(directory) } }
        let emptyDirectory = temporaryDirectory("empty")
        defer { removeDirectory(emptyDirectory) }
        let empty = try Ledger.open(directory: emptyDirectory, logger: quietLogger)
        let emptyCost = try await measureAppends(ledger: empty, appenders: 8, batch: 1, seconds: seconds)
        empty.close()
        let ledger = try Ledger.open(directory: directory, logger: quietLogger)
        if ledger.size < entries {
            printOut("Building a log of \(entries) entries (batches of 1,000 over 16 appenders)…")
            let start = monotonic.nanoseconds()
            try await fill(ledger: ledger, count: entries - Int(ledger.size))
            printOut("  filled in \(format(Double(monotonic.nanoseconds() - start) / 1e9, 1)) s")
        }
        let largeCost = try await measureAppends(ledger: ledger, appenders: 8, batch: 1, seconds: seconds)
        ledger.close()
        printOut(
            "append cost, 8 appenders × single events: on an empty log \(format(emptyCost.eventsPerSecond)) events/s, "
                + "p50 \(format(emptyCost.latency.p50, 2)) ms; on a log of \(largeCost.sizeAtStart) entries "
                + "\(format(largeCost.eventsPerSecond)) events/s, p50 \(format(largeCost.latency.p50, 2)) ms "
                + "(ratio \(format(largeCost.eventsPerSecond / emptyCost.eventsPerSecond * 100))%)")

        let rawVerify = measureRawVerify(seconds: 5)
        printOut("libsodium raw Ed25519 verify on \(ProcessInfo.cores) cores: \(format(rawVerify)) signatures/s")
        for fast in [false, true] {
            var options = Verifier.Options()
            options.fast = fast
            let report = try Verifier.verify(directory: directory, options: options)
            let rate = Double(report.entries) / report.elapsedSeconds
            let comparison = fast ? "" : " (\(format(rate / rawVerify * 100))% of raw verify)"
            printOut(
                "verify\(fast ? " --fast" : ""): \(report.entries) entries in \(format(report.elapsedSeconds, 2)) s, "
                    + "\(format(rate)) entries/s\(comparison)")
        }
    }

    struct AppendRun {
        let events: Double
        let appends: Double
        let elapsed: Double
        let commits: UInt64
        let latency: Percentiles
        let sizeAtStart: UInt64
        var eventsPerSecond: Double { events / elapsed }
        var appendsPerSecond: Double { appends / elapsed }
    }

    /// `appenders` tasks, each appending `batch` events per call to its own stream until the time is up.
    func measureAppends(
        ledger: Ledger, appenders: Int, batch: Int, seconds: Double, newStreamPerAppend: Bool = false
    ) async throws -> AppendRun {
        let sizeAtStart = ledger.size
        let commitsAtStart = ledger.commitCount
        let start = monotonic.nanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        let latencies = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    var samples: [UInt64] = []
                    var index = 0
                    while monotonic.nanoseconds() < deadline {
                        let events = (0..<batch).map { NewEvent(type: "BenchmarkEvent", payload: samplePayload(index + $0)) }
                        let stream = newStreamPerAppend ? "bench-\(appender)-\(index)" : "bench-\(appender)"
                        index += batch
                        let begin = monotonic.nanoseconds()
                        _ = try await ledger.append(AppendRequest(stream: stream, events: events, author: "uid:0/bench"))
                        samples.append(monotonic.nanoseconds() - begin)
                    }
                    return samples
                }
            }
            var all: [UInt64] = []
            for try await samples in group { all += samples }
            return all
        }
        let elapsed = Double(monotonic.nanoseconds() - start) / 1e9
        return AppendRun(
            events: Double(latencies.count * batch), appends: Double(latencies.count), elapsed: elapsed,
            commits: ledger.commitCount - commitsAtStart, latency: Percentiles(latencies), sizeAtStart: sizeAtStart)
    }

    func fill(ledger: Ledger, count: Int) async throws {
        let perAppend = 1_000
        let appends = count / perAppend
        let next = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for appender in 0..<16 {
                group.addTask {
                    while true {
                        let index = next.increment()
                        guard index < appends else { return }
                        let events = (0..<perAppend).map {
                            NewEvent(type: "BenchmarkEvent", payload: samplePayload(index * perAppend + $0))
                        }
                        _ = try await ledger.append(
                            AppendRequest(stream: "fill-\(appender)-\(index % 50)", events: events, author: "uid:0/bench"))
                        if index % 100 == 99 {
                            Terminal.progress("  \(min(count, (index + 1) * perAppend))/\(count)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        Terminal.progress("")
    }

    /// The ceiling for commits of `eventsPerCommit` records: sign them on all cores, put them with
    /// MDB_APPEND, commit durably, in a loop — the same bytes and the same fsync, with none of the
    /// ledger's work (validation, Merkle tree, indexes, queueing).
    func measureCeiling(eventsPerCommit: Int, seconds: Double) throws -> Double {
        let directory = temporaryDirectory("ceiling")
        defer { removeDirectory(directory) }
        let environment = try Environment(path: directory)
        defer { environment.close() }
        let table = try environment.openTable("records", create: true)
        let key = SigningKey()
        let cores = ProcessInfo.cores
        var position: UInt64 = 0
        var records = 0
        let start = monotonic.nanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        while monotonic.nanoseconds() < deadline {
            let messages = (0..<eventsPerCommit).map { samplePayload(Int(position) + $0) + [UInt8](repeating: 0, count: 40) }
            var signatures = [UInt8](repeating: 0, count: messages.count * 64)
            let threads = eventsPerCommit >= 16 ? min(cores, eventsPerCommit / 8) : 1
            messages.withUnsafeBufferPointer { messages in
                signatures.withUnsafeMutableBytes { signatures in
                    let shared = UnsafeTransfer((messages, signatures))
                    let chunk = (messages.count + threads - 1) / threads
                    let work = { @Sendable (slice: Int) in
                        let (messages, signatures) = shared.value
                        for index in (slice * chunk)..<min(messages.count, (slice + 1) * chunk) {
                            messages[index].withUnsafeBytes {
                                key.sign($0, into: UnsafeMutableRawBufferPointer(rebasing: signatures[(index * 64)..<(index * 64 + 64)]))
                            }
                        }
                    }
                    if threads == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
                }
            }
            try environment.write { txn in
                for (index, message) in messages.enumerated() {
                    try txn.put(
                        table, key: BigEndian.bytes(position + UInt64(index)),
                        value: message + signatures[(index * 64)..<(index * 64 + 64)], options: .append)
                }
            }
            position += UInt64(eventsPerCommit)
            records += eventsPerCommit
        }
        return Double(records) / (Double(monotonic.nanoseconds() - start) / 1e9)
    }

    /// Ed25519 verifications per second on all cores, straight through libsodium: one loop per
    /// core on Dispatch's worker threads (as the verifier uses them), over messages of the size of
    /// the benchmark's entries.
    func measureRawVerify(seconds: Double) -> Double {
        let key = SigningKey()
        let messages = (0..<1_024).map { samplePayload($0) + [UInt8](repeating: 7, count: 100) }
        let signatures = messages.map { key.sign($0) }
        let cores = ProcessInfo.cores
        let counts = SendableCounterArray(count: cores)
        let start = monotonic.nanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        let group = DispatchGroup()
        for core in 0..<cores {
            DispatchQueue.global().async(group: group) {
                var done = 0
                while monotonic.nanoseconds() < deadline {
                    for index in 0..<messages.count where key.publicKey.isValidSignature(signatures[index], for: messages[index]) {
                        done += 1
                    }
                }
                counts.set(core, done)
            }
        }
        group.wait()
        return Double(counts.total) / (Double(monotonic.nanoseconds() - start) / 1e9)
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() -> Int {
        value.withLock { value in
            defer { value += 1 }
            return value
        }
    }
}

final class SendableCounterArray: Sendable {
    private let values: Mutex<[Int]>
    init(count: Int) { values = Mutex(Array(repeating: 0, count: count)) }
    func set(_ index: Int, _ value: Int) { values.withLock { $0[index] = value } }
    var total: Int { values.withLock { $0.reduce(0, +) } }
}

enum ProcessInfo {
    static let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

enum Terminal {
    static func progress(_ line: String) {
        guard isatty(STDERR_FILENO) == 1 else { return }
        let text = "\r\u{1B}[2K" + line
        _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }
}
