import ArgumentParser
import FascicoloConcurrency
import FascicoloLedger
import Synchronization

/// `fascicolo-bench rotation`: what a key rotation costs — the one commit that appends the
/// KeyRotated entry, signs its checkpoint and seals the idempotency table again (one row per
/// append made with an idempotency key), and the wait it imposes on appends arriving meanwhile —
/// for an empty table and for one of `--rows` rows, durable (fsync) like the daemon.
struct RotationBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotation", abstract: "The cost of a key rotation: its commit, and the appends waiting for it.")

    @Option(help: "Idempotency rows in the table for the second run.")
    var rows: Int = 200_000

    func run() async throws {
        printOut("fascicolo-bench rotation — \(ProcessInfo.cores) cores; durable commits")
        printOut("idempotency rows | rotation (ms) | slowest append while rotating (ms) | median append before (ms)")
        for count in [0, rows] {
            let directory = temporaryDirectory("rotation")
            defer { removeDirectory(directory) }
            // Filled without syncs (the set-up is not measured), then reopened durable.
            var fill = LedgerConfiguration()
            fill.unsafeNoSync = true
            let filling = try Ledger.open(directory: directory, configuration: fill, logger: quietLogger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<16 {
                    group.addTask {
                        for index in stride(from: task, to: max(count, 16), by: 16) {
                            _ = try await filling.append(
                                AppendRequest(
                                    stream: "fill-\(task)", events: [NewEvent(type: "Fill", payload: samplePayload(index))],
                                    idempotencyKey: index < count ? "key-\(index)" : nil, author: "uid:0/bench"))
                        }
                    }
                }
                try await group.waitForAll()
            }
            filling.close()
            let ledger = try Ledger.open(directory: directory, configuration: LedgerConfiguration(), logger: quietLogger)
            defer { ledger.close() }
            var before: [Double] = []
            for index in 0..<50 {
                let start = MonotonicClock.system.nanoseconds()
                _ = try await ledger.append(
                    AppendRequest(stream: "load", events: [NewEvent(type: "Tick", payload: samplePayload(index))], author: "uid:0/bench"))
                before.append(Double(MonotonicClock.system.nanoseconds() - start) / 1e6)
            }
            let rotating = Atomic(true)
            let slowest = Mutex(0.0)
            let load = Task {
                var index = 0
                while rotating.load(ordering: .relaxed) {
                    let start = MonotonicClock.system.nanoseconds()
                    _ = try await ledger.append(
                        AppendRequest(
                            stream: "load", events: [NewEvent(type: "Tick", payload: samplePayload(index))], author: "uid:0/bench"))
                    let elapsed = Double(MonotonicClock.system.nanoseconds() - start) / 1e6
                    slowest.withLock { $0 = max($0, elapsed) }
                    index += 1
                }
            }
            let start = MonotonicClock.system.nanoseconds()
            _ = try await ledger.rotateKey(author: "uid:0/bench", retire: .destroy)
            let rotation = Double(MonotonicClock.system.nanoseconds() - start) / 1e6
            rotating.store(false, ordering: .relaxed)
            try await load.value
            let median = before.sorted()[before.count / 2]
            printOut(
                "\(String(count).padding(toLength: 16, withPad: " ", startingAt: 0)) | \(format(rotation)) | "
                    + "\(format(slowest.withLock { $0 })) | \(format(median))")
            var options = Verifier.Options()
            options.fast = true
            let report = try Verifier.verify(directory: directory, options: options)
            printOut(
                "  verify --fast after it: \(report.entries) entries, \(report.idempotencyRows) idempotency rows, sealed with the new key: \(report.sealsChecked)"
            )
        }
    }

    private func format(_ milliseconds: Double) -> String { String(format: "%.1f", milliseconds) }
}
