import ArgumentParser
import FascicoloDomain
import FascicoloLedger
import FascicoloWorkload

/// `fascicolo-bench retention` (issue 21): a population generated over ten simulated years, who
/// is due for erasure on a day, their erasure in batches (persons/s), and `verify` of the log
/// after the mass erasure.
struct RetentionBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Retention on a generated population: due persons, erasure rate (persons/s), verify after mass erasure.")

    @Option(help: "Persons generated (paths from 2016-01-01 to 2026-06-30).")
    var persons = 100_000

    @Option(help: "Concurrent drivers building the log (one generator each, disjoint persons by seed).")
    var drivers = 4

    @Option(help: "Workload seed.")
    var seed: UInt64 = 0x2E7E_2026

    @Option(help: "The day asked about: periods ended on or before it are due.")
    var date = "2040-01-01"

    @Option(help: "Persons looked at per erasure batch (as fascicolo retention apply --batch).")
    var batch = 1_000

    @Option(help: "Keep the generated log in this directory (default: a temporary one, removed after).")
    var data: String?

    @Option(help: "The reference data directory.")
    var reference = "Config/reference"

    func run() async throws {
        guard let day = CalendarDate(date) else { throw ValidationError("--date is YYYY-MM-DD") }
        let referencePath = reference.hasPrefix("/") ? reference : DomainBenchmark.currentDirectory() + "/" + reference
        let referenceData = try ReferenceData.load(directory: referencePath)
        let directory = data ?? temporaryDirectory("retention-log")
        defer { if data == nil { removeDirectory(directory) } }
        var configuration = LedgerConfiguration()
        configuration.unsafeNoSync = true  // the population is throwaway; the erasures below sync as the daemon's do
        let clock = ContinuousClock()
        var ledger = try Ledger.open(directory: directory, configuration: configuration, logger: quietLogger)
        var files = try CaseFiles.open(ledger: ledger, directory: directory, reference: referenceData, logger: quietLogger)

        // 1. The population.
        let started = clock.now
        let driverCount = max(1, drivers)
        let total = persons
        let refused = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<driverCount {
                let share = total / driverCount + (index < total % driverCount ? 1 : 0)
                let files = files
                let seed = seed &+ UInt64(index) &* 0x9E37_79B9
                group.addTask {
                    var generator = PathGenerator(seed: seed, persons: share, reference: referenceData.current, firstDay: "2016-01-01")
                    generator.readProbability = 0
                    generator.collectsPersonalValues = false
                    // Each erasure on request rotates records.key over every person: quadratic
                    // at this size. Retention's own erasures below are the mass erasure measured.
                    generator.erasesOnRequest = false
                    let driver = WorkloadDriver(files: files, author: "uid:1000/bench-\(index)")
                    var refused = 0
                    while let step = generator.next() {
                        do { try await driver.apply(step) } catch { refused += 1 }
                    }
                    return refused
                }
            }
            return try await group.reduce(0, +)
        }
        try ledger.syncToDisk()
        printOut(
            "population: \(total) persons, \(ledger.size) entries in \(format(seconds(clock.now - started), 1)) s; steps refused: \(refused)"
        )

        // 2. Who is due. Reopened first, so that the histories are read from the log, not the cache.
        ledger.close()
        configuration.unsafeNoSync = false
        ledger = try Ledger.open(directory: directory, configuration: configuration, logger: quietLogger)
        files = try CaseFiles.open(ledger: ledger, directory: directory, reference: referenceData, logger: quietLogger)
        let scanStarted = clock.now
        var due = 0
        var held = 0
        var byRule: [String: Int] = [:]
        var found: [String: Bool] = [:]
        var from: Int? = 0
        while let skip = from {
            let scan = try files.retentionDue(on: day, skip: skip, scanMax: 10_000)
            due += scan.due.count
            held += scan.due.filter { $0.heldBy != nil }.count
            for row in scan.due {
                byRule[row.rule.scope, default: 0] += 1
                found[row.person.description] = row.heldBy != nil
            }
            from = scan.next
        }
        let scanSeconds = seconds(clock.now - scanStarted)
        printOut(
            "due on \(date): \(due) persons (\(held) held) by rule \(byRule.sorted { $0.key < $1.key }); "
                + "scanned \(total) persons in \(format(scanSeconds, 2)) s (\(format(Double(total) / scanSeconds)) persons/s)")
        // The same question answered from the entries' payloads, not from CaseState.
        guard let schedule = referenceData.retention else { throw ValidationError("the reference data have no retention schedule") }
        let independent = try IndependentRetention.due(ledger, files: files, schedule: schedule, on: day)
        let differing = Set(found.keys).union(independent.keys).filter { found[$0] != independent[$0] }.count
        printOut(
            "independent computation: \(independent.count) due (\(independent.values.count { $0 }) held): "
                + (differing == 0 ? "matches" : "DIFFERS for \(differing) persons"))

        // 3. Erasure in batches, durable, records.key rotated once per batch.
        let eraseStarted = clock.now
        var erased = 0
        var batches = 0
        from = 0
        while let skip = from {
            let result = try await files.applyRetention(on: day, skip: skip, scanMax: batch, author: "uid:0/retention-bench")
            erased += result.erased.count
            batches += 1
            from = result.next
        }
        let eraseSeconds = seconds(clock.now - eraseStarted)
        printOut(
            "erased \(erased) persons in \(batches) batches in \(format(eraseSeconds, 1)) s: "
                + "\(format(Double(erased) / eraseSeconds, 1)) persons/s (scan, erasure and one records.key rotation per batch)")
        let again = try await files.applyRetention(on: day, skip: 0, scanMax: 100_000, author: "uid:0/retention-bench")
        printOut("run again: \(again.erased.count) erased (idempotent), \(again.held) held")
        // Holds block erasure: every held person is still due (not erased), and nobody else is.
        let after = try IndependentRetention.due(ledger, files: files, schedule: schedule, on: day)
        let heldBefore = Set(independent.filter(\.value).keys)
        printOut(
            "holds: \(heldBefore.count) held persons due, \(heldBefore.subtracting(after.keys).count) of them erased; "
                + "\(after.filter { !$0.value }.count) unheld persons still due")
        ledger.close()

        // 4. The log after the mass erasure.
        let verifyStarted = clock.now
        let report = try Verifier.verify(directory: directory)
        printOut(
            "verify after mass erasure: ok, \(report.entries) entries, \(report.streams) streams in \(format(seconds(clock.now - verifyStarted), 1)) s"
        )
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
