import ArgumentParser
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

    func run() async throws {
        var configuration = LedgerConfiguration()
        configuration.checkpointEveryEntries = checkpointEvery
        configuration.checkpointEveryMilliseconds = 20
        let ledger = try Ledger.open(directory: dataDirectory, configuration: configuration)
        let output = NSLockLike()
        printOut("ready \(ledger.size)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    var index = 0
                    while index < appends {
                        let count = index % 3 + 1
                        let events = (0..<count).map { NewEvent(type: "CrashTest", payload: samplePayload(index * 10 + $0)) }
                        let stream = "crash-\(appender % 4)"
                        let result = try await ledger.append(AppendRequest(stream: stream, events: events, author: "uid:0/crash"))
                        output.withLock {
                            printOut("ack \(stream) \(result.firstPosition) \(count) \(result.firstStreamVersion)")
                        }
                        index += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        ledger.close()
    }
}
