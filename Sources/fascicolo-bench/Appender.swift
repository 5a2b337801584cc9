import ArgumentParser
import FascicoloConcurrency
import FascicoloLedger
import Glibc

/// `fascicolo-bench appender DIR`: appends under load until killed, printing one line per
/// acknowledged append — `ack <stream> <first position> <count> <first version>` — after the
/// append returned (so after its commit was durable). The crash tests SIGKILL it at random
/// moments and then check that every acknowledged entry is present.
struct Appender: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appender", abstract: "Append under load until killed, printing each acknowledgement (for crash tests).")

    @Argument(help: "The data directory.")
    var dataDirectory: String

    @Option(help: "Concurrent appenders.")
    var appenders: Int = 16

    @Option(help: "Stop after this many appends per appender (default: until killed).")
    var appends: Int = .max

    @Option(help: "Checkpoint every N entries.")
    var checkpointEvery: UInt64 = 50

    @Option(help: "After a failed commit, how long appends are refused before the writer tries again (milliseconds).")
    var retryMilliseconds: UInt64 = 250

    @Flag(
        help: """
            Commit without syncing (LMDB's MDB_NOSYNC): acknowledgements then precede durability — only for the \
            power-loss tests' own check that such a log is caught.
            """)
    var unsafeNoSync = false

    @Flag(help: "Commit through the commit journal (one flush per commit; LMDB synced at journal checkpoints).")
    var journal = false

    @Option(help: "The commit journal's size in bytes (small sizes make checkpoints frequent).")
    var journalBytes: Int = 2 << 20

    @Option(help: "The commit journal's checkpoint interval in milliseconds.")
    var journalCheckpointMilliseconds: Int = 50

    @Flag(help: "On a refused append print `fail <code>` and go on (for the fault-injection tests); otherwise stop.")
    var keepGoing = false

    func run() async throws {
        var configuration = LedgerConfiguration()
        configuration.checkpointEveryEntries = checkpointEvery
        configuration.checkpointEveryMilliseconds = 20
        configuration.commitRetryMilliseconds = retryMilliseconds
        configuration.unsafeNoSync = unsafeNoSync
        configuration.journal = journal
        configuration.journalOptions.capacityBytes = journalBytes
        configuration.journalOptions.checkpointMilliseconds = journalCheckpointMilliseconds
        let ledger = try Ledger.open(directory: dataDirectory, configuration: configuration)
        let output = ConditionLock()  // one line at a time
        printOut("ready \(ledger.size)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    var index = 0
                    var refusedInARow = 0
                    while index < appends {
                        let count = index % 3 + 1
                        let events = (0..<count).map { NewEvent(type: "CrashTest", payload: samplePayload(index * 10 + $0)) }
                        let stream = "crash-\(appender % 4)"
                        let result: AppendResult
                        do {
                            result = try await ledger.append(AppendRequest(stream: stream, events: events, author: "uid:0/crash"))
                        } catch let error as LedgerError where keepGoing {
                            output.withLock { printOut("fail \(error.code)") }
                            // While the disk refuses writes, the same append is tried again (for up
                            // to about 2 s, until the writer's retry lets it through); a failed commit
                            // moves on to the next one.
                            refusedInARow += 1
                            // A store LMDB will not write again (as the daemon does, stop: a restart recovers it).
                            if case .failed = ledger.storageHealth {
                                output.withLock { printOut("failed") }
                                return
                            }
                            if case .unavailable = error, refusedInARow < 40 {
                                try await Task.sleep(for: .milliseconds(max(5, Int(retryMilliseconds) / 4)))
                            } else {
                                index += 1
                                refusedInARow = 0
                            }
                            continue
                        }
                        index += 1
                        refusedInARow = 0
                        output.withLock {
                            printOut("ack \(stream) \(result.firstPosition) \(count) \(result.firstStreamVersion)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        ledger.close()
        printOut("done \(ledger.size)")
    }
}
