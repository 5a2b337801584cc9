import FascicoloLedger
import FascicoloStorage
import Glibc
import Testing

/// The disk fails under the writer — EIO, ENOSPC, short writes, failed syncs — at seeded
/// moments, through `tools/faults/faultshim.c` (an LD_PRELOAD library built here) in a child
/// appending under load. The rules: an append is acknowledged only if durable (every
/// acknowledged entry is there after reopening, and the log verifies); a failed commit is never
/// acknowledged and never half-applied; after a transient failure the writer retries and
/// appends are acknowledged again.
@Suite(.serialized) struct FaultInjectionTests {
    /// Builds the shim once per test; nil (with an issue recorded) when no C compiler is there.
    static func buildShim(in directory: String) throws -> String {
        let shim = directory + "/faultshim.so"
        let built = try runProcess(
            "/usr/bin/env",
            [
                "cc", "-shared", "-fPIC", "-O1", "-o", shim,
                packageDirectory() + "/tools/faults/faultshim.c", "-ldl",
            ])
        try #require(built.status == 0, "cc could not build the fault shim (tools/bootstrap installs gcc): \(built.output)")
        return shim
    }

    @Test func appendsAreAcknowledgedOnlyWhenDurableWhateverTheDiskDoes() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SeededGenerator(seed: seed)
        let appender = productsDirectory() + "/fascicolo-bench"
        try #require(access(appender, X_OK) == 0, "build fascicolo-bench first (tools/test does)")
        try withTemporaryDirectory { directory in
            let shim = try Self.buildShim(in: directory)
            var totals: [String: Int] = [:]
            let runs = 120
            for run in 0..<runs {
                let data = directory + "/run-\(run)"
                let operation = ["pwrite", "writev", "fdatasync", "pwrite", "writev", "fdatasync", "pread"].randomElement(using: &random)!
                let errnoName = ["EIO", "ENOSPC"].randomElement(using: &random)!
                let at = operation == "pread" ? Int.random(in: 1...3, using: &random) : Int.random(in: 3...30, using: &random)
                let count = [1, 1, 2, 5].randomElement(using: &random)!
                let short = Bool.random(using: &random) ? "1" : "0"
                let fault = "seed \(seed), run \(run): \(operation) #\(at) ×\(count) \(errnoName) short=\(short)"
                let output = directory + "/run-\(run).out"
                let pid = try spawn(
                    "/usr/bin/env",
                    [
                        "LD_PRELOAD=\(shim)", "FAULT_OPS=\(operation)", "FAULT_AT=\(at)", "FAULT_COUNT=\(count)",
                        "FAULT_ERRNO=\(errnoName)", "FAULT_SHORT=\(short)",
                        appender, "appender", data, "--appenders", "4", "--appends", "12", "--checkpoint-every", "7", "--keep-going",
                        "--retry-milliseconds", "20",
                    ], outputFile: output)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                let text = readFile(output)
                #expect(status & 0x7F == 0, "\(fault): the appender died of signal \(status & 0x7F): \(text.suffix(400))")
                let exitCode = (status >> 8) & 0xFF
                // A fault during the first open is refused there (exit 1); anything else ends normally.
                #expect(exitCode == 0 || (exitCode == 1 && !text.contains("ack ")), "\(fault): exit \(exitCode): \(text.suffix(400))")
                // A fault in the very first open leaves no log (perhaps an empty data.mdb, which the
                // next open starts afresh): nothing to check.
                guard access(data + "/signing.pub", F_OK) == 0 else {
                    #expect(!text.contains("ack "), "\(fault): acknowledged without a log")
                    continue
                }

                var acknowledged: [UInt64: (stream: String, version: UInt64)] = [:]
                var sawFailure = false
                var ackAfterFailure = false
                for line in text.split(separator: "\n") {
                    let fields = line.split(separator: " ")
                    if fields.first == "fail" {
                        sawFailure = true
                        totals["refused", default: 0] += 1
                        #expect(["storage_failure", "storage_unavailable"].contains(String(fields.last ?? "")), "\(fault): \(line)")
                    }
                    guard let acks = acknowledgements(in: line) else { continue }
                    if sawFailure { ackAfterFailure = true }
                    totals["acknowledged", default: 0] += 1
                    for ack in acks { acknowledged[ack.position] = (ack.stream, ack.version) }
                }
                if text.contains("faultshim:") { totals["faults fired", default: 0] += 1 }
                if sawFailure && ackAfterFailure { totals["recovered", default: 0] += 1 }
                if sawFailure && !ackAfterFailure { totals["no append after the fault", default: 0] += 1 }

                // Reopened without the shim: the log verifies and holds everything acknowledged.
                do {
                    _ = try Verifier.verify(directory: data)
                } catch {
                    Issue.record("\(fault): the log does not verify after the fault: \(error)")
                    continue
                }
                try expectAcknowledgedPresent(in: data, acknowledged, fault)
            }
            print("fault injection (seed \(seed), \(runs) runs): \(totals.sorted { $0.key < $1.key })")
            #expect((totals["faults fired"] ?? 0) > runs / 2, "seed \(seed): too few faults fired to mean anything")
            #expect((totals["recovered"] ?? 0) > 0, "seed \(seed): no run acknowledged appends again after a transient fault")
        }
    }
}
