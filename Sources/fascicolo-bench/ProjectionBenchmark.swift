import ArgumentParser
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloProjections
import FascicoloStorage
import FascicoloWorkload
import Glibc

/// `fascicolo-bench projections`: the replay rate of each projection alone and of all four
/// together on a generated log (1M entries by default), next to the raw JSON decode rate of the
/// same entries in the same run, and the timeline query latency on that log.
///
/// The log is generated with `PathGenerator` and applied through the domain layer in process
/// (`WorkloadDriver`), so that it holds what the daemon would write: person and access streams,
/// sealed personal fields, corrections, erasures. Each replay starts from a fresh copy of the log
/// (LMDB copy of the data directory made before any projection ran), so every run builds from
/// position 0 on the same bytes and nothing of an earlier run is left in the map.
struct ProjectionBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Projection replay rates (each, and all together) vs raw JSON decode, timeline query latency.")

    @Option(help: "Entries in the generated log.")
    var entries: Int = 1_000_000

    @Option(help: "Keep the generated log in this directory and reuse it when it has enough entries (default: a temporary one).")
    var data: String?

    @Option(help: "Persons generated (default: calibrated so the paths end near --entries).")
    var persons: Int?

    @Option(help: "Workload seed.")
    var seed: UInt64 = 0x5EED_2026

    @Option(help: "Timeline queries to time.")
    var queries: Int = 2_000

    @Option(help: "Concurrent drivers building the log (one generator each, disjoint persons by seed).")
    var drivers: Int = 4

    @Option(help: "Probability that a caseworker reads the file before a write (the generator's maximum is 1: one read per write step).")
    var readProbability: Double = 1.0

    @Option(help: "The reference data directory.")
    var reference = "Config/reference"

    @Flag(help: "Skip the per-projection runs: only all four together and the queries.")
    var skipEach = false

    @Option(help: "Entries per build batch (the daemon's projections.build_batch_entries_max).")
    var buildBatchEntries = ProjectionEngine.Options().buildBatchEntriesMax

    @Option(help: "Replay only this projection, alone, then stop (for profiling one read model).")
    var only: String?

    @Option(
        help:
            "Durable single-event appends per second a service makes while all four are rebuilt (0: one after the other, as fast as they go)."
    )
    var appendsPerSecond = 500

    @Option(help: "Replays of all four together; the summary takes the median (these VMs drift by 20–40% from run to run).")
    var rounds = 1

    static let kinds = ReadModels.all
    static let replayTarget = 200_000.0
    static let queryP99TargetMs = 2.0

    func run() async throws {
        let referencePath = reference.hasPrefix("/") ? reference : DomainBenchmark.currentDirectory() + "/" + reference
        let referenceData = try ReferenceData.load(directory: referencePath)
        let directory = data ?? temporaryDirectory("projections-log")
        defer { if data == nil { removeDirectory(directory) } }
        printOut(
            "fascicolo-bench projections — \(ProcessInfo.cores) cores, target \(entries) entries, seed 0x\(String(seed, radix: 16)), "
                + "load average \(loadAverage()) at start (other work on the machine skews wall-clock rates; cpu s does not)")
        printOut("")

        // 1. The log.
        try await buildLog(directory: directory, reference: referenceData)
        let source = try LedgerReader.open(directory: directory)
        let logSize = try source.read { log in try log.entryCount() }
        let logBytes = source.usedBytes
        let mix = try entryMix(source)
        printOut(
            "log: \(logSize) entries, LMDB map used \(megabytes(logBytes)) MB; "
                + mix.map { "\($0.key) \(format(Double($0.value) / Double(max(1, logSize)) * 100, 1))%" }.joined(separator: ", "))
        printOut("")

        // 2. Decode rates of the same entries, in one read transaction.
        printOut("decode (one read transaction over every entry, same run)   entries/s   µs/entry")
        let decodes = try decodeRates(source, reference: referenceData)
        for (label, rate) in decodes {
            printOut(padRight(label, 58) + pad(format(rate), 11) + pad(format(1e6 / rate, 2), 11))
        }
        printOut("")

        // 3. Replays, each from a fresh copy of the log.
        printOut("replay from position 0, each run on a fresh LMDB copy of the log (durable commits, as the daemon runs)")
        printOut(
            padRight("projections", 22) + pad("seconds", 9) + pad("events/s", 11) + pad("cpu s", 8) + pad("ev/cpu-s", 10)
                + pad("rows MB", 9)
                + pad("projections map used/size MB", 30) + "  engine's lastRebuild.entriesPerSecond")
        if let only {
            guard let kind = Self.kinds.first(where: { $0.name == only }) else {
                throw ValidationError("--only: no projection named \(only) (\(Self.kinds.map { $0.name }.joined(separator: ", ")))")
            }
            for _ in 0..<max(1, rounds) {
                let alone = try await replay([kind], from: source, reference: referenceData, queries: 0)
                printOut(alone.line)
                printOut(alone.cpuLine)
            }
            return
        }
        if !skipEach {
            for kind in Self.kinds {
                printOut(try await replay([kind], from: source, reference: referenceData, queries: 0).line)
            }
        }
        let all = try await replay(Self.kinds, from: source, reference: referenceData, queries: queries)
        printOut(all.line)
        printOut(all.cpuLine)
        var allRates = [all.eventsPerSecond]
        for _ in 1..<max(1, rounds) {
            let again = try await replay(Self.kinds, from: source, reference: referenceData, queries: 0)
            allRates.append(again.eventsPerSecond)
            printOut(again.line)
            printOut(again.cpuLine)
        }
        allRates.sort()
        let replayRate = allRates[allRates.count / 2]
        source.close()
        let appends = all.appendLatencies.sorted()
        if !appends.isEmpty {
            let ms = { (fraction: Double) in format(Double(appends[min(appends.count - 1, Int(Double(appends.count) * fraction))]) / 1e6, 1)
            }
            let pace = appendsPerSecond > 0 ? "at most \(appendsPerSecond)/s" : "one after the other"
            printOut(
                "durable single-event appends meanwhile (\(pace), another stream): \(appends.count), "
                    + "p50 \(ms(0.5)) ms  p99 \(ms(0.99)) ms  max \(format(Double(appends.last!) / 1e6, 1)) ms")
        }
        printOut("")

        // 4. Timeline queries (on the engine that replayed all four, live), unless --queries 0.
        let query = all.query
        if let query {
            printOut(
                "timeline query at \(logSize) entries, \(query.count) random persons, in process, engine live "
                    + "(Timeline.read from version 1, limit 1000):")
            printOut(
                "  p50 \(format(query.percentiles.p50, 3)) ms  p99 \(format(query.percentiles.p99, 3)) ms  "
                    + "p999 \(format(query.percentiles.p999, 3)) ms  max \(format(query.maxMs, 3)) ms  "
                    + "avg rows/timeline \(format(query.averageRows, 1))  (max \(query.maxRows)), \(query.persons) persons in the log")
            if let again = query.repeated {
                printOut(
                    "  the same queries again: p50 \(format(again.p50, 3)) ms  p99 \(format(again.p99, 3)) ms  p999 \(format(again.p999, 3)) ms"
                )
            }
            printOut("")
        }

        // 5. Summary.
        printOut("summary")
        printOut(padRight("figure", 48) + pad("measured", 14) + pad("target", 14) + "  result")
        let roundsNote =
            allRates.count > 1 ? " (median of \(allRates.count) rounds: \(format(allRates.first!))–\(format(allRates.last!)))" : ""
        printOut(
            padRight("replay, all four read models (events/s)", 48) + pad(format(replayRate), 14)
                + pad("≥ " + format(Self.replayTarget), 14) + "  " + (replayRate >= Self.replayTarget ? "met" : "NOT met") + roundsNote)
        if let query {
            printOut(
                padRight("timeline query p99 at \(logSize) entries (ms)", 48) + pad(format(query.percentiles.p99, 3), 14)
                    + pad("≤ " + format(Self.queryP99TargetMs, 1), 14) + "  "
                    + (query.percentiles.p99 <= Self.queryP99TargetMs ? "met" : "NOT met"))
        }
        if let raw = decodes.first(where: { $0.label.hasPrefix("EntryView + JSON.parse") }) {
            printOut(padRight("  (raw JSON decode of the same entries, events/s)", 48) + pad(format(raw.rate), 14))
        }
        printOut("command: " + CommandLine.arguments.joined(separator: " "))
    }

    // MARK: - Building the log

    func buildLog(directory: String, reference: ReferenceData) async throws {
        var configuration = LedgerConfiguration()
        configuration.unsafeNoSync = true  // a throwaway data set: synced once at the end
        configuration.mapSizeBytes = 1 << 30
        let ledger = try Ledger.open(directory: directory, configuration: configuration, logger: quietLogger)
        defer { ledger.close() }
        let existing = ledger.size
        if existing >= entries {
            printOut("reusing the log in \(directory): \(existing) entries (≥ \(entries))")
            return
        }
        let files = try CaseFiles.open(ledger: ledger, directory: directory, reference: reference, logger: quietLogger)
        let wanted = UInt64(entries)
        // A log extended on a later run gets persons of other seeds (a generator replayed would
        // only repeat registrations the path rules refuse).
        let baseSeed = seed &+ existing
        let perPerson = calibrate(reference: reference)
        let totalPersons = persons ?? max(drivers, Int((Double(entries) - Double(existing)) / perPerson * 1.03) + 1)
        printOut(
            "building the log in \(directory) through the domain layer (WorkloadDriver, unsafeNoSync): "
                + "\(drivers) drivers × \(totalPersons / drivers) persons, readProbability \(readProbability) "
                + "(≈ \(format(perPerson, 1)) entries per person by a generator sample)")
        let clock = ContinuousClock()
        let started = clock.now
        let progress = Task {
            var last = (time: clock.now, size: ledger.size)
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                let now = (time: clock.now, size: ledger.size)
                printOut(
                    "  \(now.size) entries, \(format(Double(now.size - last.size) / seconds(now.time - last.time))) entries/s "
                        + "(overall \(format(Double(now.size - existing) / seconds(now.time - started))))")
                last = now
            }
        }
        let readProbability = self.readProbability
        let driverCount = drivers
        let outcome = try await withThrowingTaskGroup(of: (steps: Int, refused: Int, firstRefusal: String?).self) { group in
            for index in 0..<driverCount {
                let driverPersons = totalPersons / driverCount + (index < totalPersons % driverCount ? 1 : 0)
                let driverSeed = baseSeed &+ UInt64(index) &* 0x9E37_79B9
                group.addTask {
                    var generator = PathGenerator(seed: driverSeed, persons: driverPersons, reference: reference.current)
                    generator.readProbability = readProbability
                    generator.collectsPersonalValues = false
                    let driver = WorkloadDriver(files: files, author: "uid:1000/bench-\(index)")
                    var steps = 0
                    var refused = 0
                    var firstRefusal: String?
                    while ledger.size < wanted, let step = generator.next() {
                        steps += 1
                        do {
                            try await driver.apply(step)
                        } catch {
                            refused += 1
                            if firstRefusal == nil { firstRefusal = "\(error)" }
                        }
                    }
                    return (steps, refused, firstRefusal)
                }
            }
            var total = (steps: 0, refused: 0, firstRefusal: String?.none)
            for try await result in group {
                total.steps += result.steps
                total.refused += result.refused
                total.firstRefusal = total.firstRefusal ?? result.firstRefusal
            }
            return total
        }
        progress.cancel()
        try ledger.syncToDisk()
        let elapsed = seconds(clock.now - started)
        let built = ledger.size - existing
        printOut(
            "built \(built) entries from \(outcome.steps) steps in \(format(elapsed, 1)) s "
                + "(\(format(Double(built) / elapsed)) entries/s); steps refused: \(outcome.refused)"
                + (outcome.firstRefusal.map { " (first: \($0))" } ?? ""))
        if ledger.size < wanted {
            printOut("note: the generated paths ended at \(ledger.size) entries, fewer than \(entries); pass a larger --persons")
        }
    }

    /// Entries per person, from the steps a small generator makes (record events, one per read,
    /// one per erasure; retries counted as new, a slight overestimate).
    func calibrate(reference: ReferenceData) -> Double {
        let sample = 500
        var generator = PathGenerator(seed: seed ^ 0xCA11_B8A7E, persons: sample, reference: reference.current)
        generator.readProbability = readProbability
        generator.collectsPersonalValues = false
        var count = 0
        while let step = generator.next() {
            switch step {
            case .record(_, let body): count += (try? RecordRequest.parse(body, eventsMax: 1_000).events.count) ?? 1
            case .read, .erase: count += 1
            }
        }
        return Double(max(1, count)) / Double(sample)
    }

    /// Share of the log by entry type (the five most frequent, and the rest).
    func entryMix(_ source: LedgerReader) throws -> [(key: String, value: Int)] {
        var counts: [String: Int] = [:]
        try source.read { log in
            try log.forEachEntry { view in
                counts[String(decoding: view.eventType, as: UTF8.self), default: 0] += 1
                return true
            }
        }
        let sorted = counts.sorted { $0.value > $1.value }
        var top = Array(sorted.prefix(5))
        let rest = sorted.dropFirst(5).reduce(0) { $0 + $1.value }
        if rest > 0 { top.append(("\(sorted.count - 5) other types", rest)) }
        return top
    }

    // MARK: - Decode

    /// Cursor and entry parsing alone; then the payload's JSON parsed; then the decode the engine
    /// does per entry before applying it (`ProjectedEvent.forApplying`).
    func decodeRates(_ source: LedgerReader, reference: ReferenceData) throws -> [(label: String, rate: Double)] {
        func pass(_ body: (EntryView) -> Int) throws -> Double {
            try source.read { log in
                let start = monotonic.nanoseconds()
                var count = 0
                var sink = 0
                try log.forEachEntry { view in
                    sink &+= body(view)
                    count += 1
                    return true
                }
                let elapsed = Double(monotonic.nanoseconds() - start) / 1e9
                if sink == -1 { printOut("") }  // keeps the work observable
                return Double(count) / elapsed
            }
        }
        var rates: [(String, Double)] = []
        _ = try pass { $0.payload.count }  // warm the page cache
        rates.append(("EntryView only (cursor + entry fields)", try pass { $0.payload.count }))
        rates.append(
            (
                "EntryView + JSON.parse(payload)  [raw JSON decode]",
                try pass { view in
                    guard let json = try? JSON.parse(view.payload) else { return 0 }
                    return json.isObject ? 1 : 0
                }
            ))
        rates.append(
            (
                "EntryView + the engine's decode for applying",
                try pass { view in
                    let event = ProjectedEvent.forApplying(view, reference: reference)
                    return event.fact == nil ? 0 : 1
                }
            ))
        return rates
    }

    // MARK: - Replay

    struct QueryFigures {
        let count: Int
        let persons: Int
        let percentiles: Percentiles
        let maxMs: Double
        let averageRows: Double
        let maxRows: Int
        /// The same queries run again right after.
        let repeated: Percentiles?
    }

    struct ReplayResult {
        let label: String
        let entries: UInt64
        let seconds: Double
        /// Process CPU time (user + system) while the engine replayed.
        let cpuSeconds: Double
        let engineRates: [(String, Int)]
        let rowsBytes: Int
        let usedBytes: Int
        let mapBytes: Int
        var query: QueryFigures?
        /// Durable single-event appends made one after another while all four were built, in ns.
        var appendLatencies: [UInt64] = []
        /// The engine's CPU seconds by phase (decode, apply per projection, write).
        var cpuByPhase: [(phase: String, seconds: Double)] = []

        var eventsPerSecond: Double { Double(entries) / seconds }

        var line: String {
            padRight(label, 22) + pad(format(seconds, 2), 9) + pad(format(eventsPerSecond), 11)
                + pad(format(cpuSeconds, 1), 8) + pad(format(Double(entries) / cpuSeconds), 10)
                + pad(format(Double(rowsBytes) / 1_048_576, 1), 9)
                + pad("\(megabytes(usedBytes))/\(megabytes(mapBytes))", 30)
                + "  " + engineRates.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        }

        var cpuLine: String {
            "  where the CPU went (seconds, the engine's threads): "
                + cpuByPhase.map { "\($0.phase) \(format($0.seconds, 1))" }.joined(separator: ", ")
        }
    }

    /// Copies the log, starts an engine with `kinds` on the copy, waits until every projection is
    /// live at the log's end, and (with `queries` > 0) times timeline queries on it.
    func replay(
        _ kinds: [any Projection.Type], from source: LedgerReader, reference: ReferenceData,
        queries: Int
    ) async throws -> ReplayResult {
        let copy = temporaryDirectory("projections-replay")
        defer { removeDirectory(copy) }
        try source.copy(to: copy, compact: false)
        for name in ["signing.key", "signing.pub"] { try copyFile(source.directory + "/" + name, to: copy + "/" + name) }
        var configuration = LedgerConfiguration()
        configuration.mapSizeBytes = source.mapSizeBytes
        let ledger = try Ledger.open(directory: copy, configuration: configuration, logger: quietLogger)
        defer { ledger.close() }
        // The copy's pages go to disk before the clock starts: a daemon replays a log that is
        // already there, not one the kernel is still writing back behind its syncs.
        try ledger.syncToDisk()
        let size = ledger.size
        var options = ProjectionEngine.Options()
        options.buildBatchEntriesMax = buildBatchEntries
        let engine = try ProjectionEngine(ledger: ledger, reference: reference, projections: kinds, options: options, logger: quietLogger)
        let started = monotonic.nanoseconds()
        let cpuStarted = processCPUSeconds()
        try engine.start()
        // While all four are built, a service appends one event at a time, paced at
        // --appends-per-second (a generic stream: the projections skip it): what a rebuild
        // does to append latency.
        let appender: Task<[UInt64], Never>? =
            kinds.count == Self.kinds.count
            ? Task {
                var latencies: [UInt64] = []
                let interval = appendsPerSecond > 0 ? 1_000_000_000 / UInt64(appendsPerSecond) : 0
                var next = monotonic.nanoseconds()
                while !Task.isCancelled {
                    if interval > 0 {
                        next += interval
                        let now = monotonic.nanoseconds()
                        if next > now { try? await Task.sleep(for: .nanoseconds(next - now)) } else { next = now }
                    }
                    let began = monotonic.nanoseconds()
                    let request = AppendRequest(
                        stream: "bench-during-replay", events: [NewEvent(type: "Tick", payload: Array("{}".utf8))],
                        author: "uid:0/bench")
                    guard (try? await ledger.append(request)) != nil else { break }
                    latencies.append(monotonic.nanoseconds() - began)
                }
                return latencies
            } : nil
        var statuses = engine.statuses()
        while !(statuses.count == kinds.count && statuses.allSatisfy { $0.state == .live && $0.build == nil && $0.position >= size }) {
            if let failed = statuses.first(where: { $0.state == .failed || $0.build?.failure != nil }) {
                engine.stop()
                throw ValidationError("projection \(failed.name) failed: \(String(describing: failed.failure ?? failed.build?.failure))")
            }
            try await Task.sleep(for: .milliseconds(2))
            statuses = engine.statuses()
        }
        let elapsed = Double(monotonic.nanoseconds() - started) / 1e9
        let cpu = processCPUSeconds() - cpuStarted
        appender?.cancel()
        let appendLatencies = await appender?.value ?? []
        // The rows are all the projections' environment holds, with its control rows.
        let used = engine.environment.usedBytes
        var result = ReplayResult(
            label: kinds.count == Self.kinds.count ? "all four together" : kinds.map { $0.name }.joined(separator: ", "),
            entries: size, seconds: elapsed, cpuSeconds: cpu,
            engineRates: statuses.map { ($0.name, $0.lastRebuild?.entriesPerSecond ?? 0) },
            rowsBytes: used, usedBytes: used, mapBytes: engine.environment.mapSizeBytes)
        result.appendLatencies = appendLatencies
        result.cpuByPhase = engine.cpuSecondsByPhase()
        if queries > 0 { result.query = try await timeQueries(engine, count: queries) }
        engine.stop()
        return result
    }

    func timeQueries(_ engine: ProjectionEngine, count: Int) async throws -> QueryFigures {
        let prefix = Pseudonym.personPrefix.utf8.count
        let persons: [Pseudonym] = try engine.ledger.read { log in
            var found: [Pseudonym] = []
            try log.forEachStream(withPrefix: Pseudonym.personPrefix) { name, _ in
                if let person = Pseudonym(hex: String(decoding: name.dropFirst(prefix), as: UTF8.self)) { found.append(person) }
                return true
            }
            return found
        }
        guard !persons.isEmpty else { throw ValidationError("no person stream in the log") }
        var random = WorkloadRandom(seed: seed ^ 0x7155_E11E)
        let picked = (0..<count).map { _ in persons[random.below(persons.count)] }
        var figures: [QueryFigures] = []
        // The same persons twice: first as they come after the replay, then with their pages touched.
        for _ in 0..<2 {
            var samples: [UInt64] = []
            samples.reserveCapacity(count)
            var rows = 0
            var maxRows = 0
            for person in picked {
                let start = monotonic.nanoseconds()
                let page = try await engine.query("timeline") { view in try Timeline.read(view, person: person, from: 1, limit: 1_000) }
                samples.append(monotonic.nanoseconds() - start)
                let found = page?.rows.count ?? 0
                rows += found
                maxRows = max(maxRows, found)
            }
            figures.append(
                QueryFigures(
                    count: count, persons: persons.count, percentiles: Percentiles(samples),
                    maxMs: Double(samples.max() ?? 0) / 1e6, averageRows: Double(rows) / Double(count),
                    maxRows: maxRows, repeated: nil))
        }
        return QueryFigures(
            count: count, persons: persons.count, percentiles: figures[0].percentiles, maxMs: figures[0].maxMs,
            averageRows: figures[0].averageRows, maxRows: figures[0].maxRows, repeated: figures[1].percentiles)
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

private func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

private func loadAverage() -> String {
    var loads = [Double](repeating: 0, count: 3)
    guard getloadavg(&loads, 3) == 3 else { return "unknown" }
    return loads.map { format($0, 2) }.joined(separator: " ")
}

private func megabytes(_ bytes: Int) -> String { format(Double(bytes) / 1_048_576) }

private func padRight(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// Copies a file byte for byte, mode 0600 (the key files).
private func copyFile(_ source: String, to destination: String) throws {
    let input = open(source, O_RDONLY)
    guard input >= 0 else { throw ValidationError("cannot open \(source): errno \(errno)") }
    defer { close(input) }
    let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard output >= 0 else { throw ValidationError("cannot create \(destination): errno \(errno)") }
    defer { close(output) }
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
        guard count > 0 else {
            guard count == 0 else { throw ValidationError("cannot read \(source): errno \(errno)") }
            return
        }
        let written = buffer.withUnsafeBytes { write(output, $0.baseAddress, count) }
        guard written == count else { throw ValidationError("cannot write \(destination): errno \(errno)") }
    }
}
