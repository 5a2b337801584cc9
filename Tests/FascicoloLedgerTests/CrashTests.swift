import FascicoloLedger
import Glibc
import Testing

/// A child process appends under load and is killed with SIGKILL at random moments, many times
/// over the same data directory. After each kill, every append the child acknowledged (printed
/// after `append` returned, that is after the durable commit) must be present, and the whole log
/// must verify.
@Suite(.serialized) struct CrashTests {
    @Test(arguments: [false, true]) func sigkillDuringAppendsLosesNoAcknowledgedEntry(journal: Bool) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var generator = SeededGenerator(seed: seed)
        let appender = productsDirectory() + "/fascicolo-bench"
        try #require(access(appender, X_OK) == 0, "build fascicolo-bench first (tools/test does)")
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            var acknowledged: [UInt64: (stream: String, version: UInt64)] = [:]
            let rounds = 12
            for round in 0..<rounds {
                let output = directory + "/round-\(round).out"
                let pid = try spawn(
                    appender, ["appender", data, "--appenders", "16"] + (journal ? ["--journal", "--journal-bytes", "\(1 << 20)"] : []),
                    outputFile: output)
                // Wait until the child is appending, then let it run for a random while.
                var ready = false
                for _ in 0..<500 where !ready {
                    sleepMilliseconds(10)
                    ready = readFile(output).contains("ack ")
                }
                #expect(ready, "seed \(seed), round \(round): the appender never acknowledged anything")
                sleepMilliseconds(Int.random(in: 0...300, using: &generator))
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)

                for line in readFile(output).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                    for ack in acknowledgements(in: line) ?? [] { acknowledged[ack.position] = (ack.stream, ack.version) }
                }

                // Everything acknowledged so far is there, and the log verifies after the crash
                // (with the journal: once a writable open applied it, as the daemon's start does).
                if journal { try PowerLossTests.applyJournal(data) }
                let report = try Verifier.verify(directory: data)
                try expectAcknowledgedPresent(in: data, acknowledged, "seed \(seed), round \(round)")
                #expect(report.entries >= UInt64(acknowledged.count), "seed \(seed)")
            }
            #expect(acknowledged.count > rounds, "seed \(seed): too few appends acknowledged to mean anything")
        }
    }
}
