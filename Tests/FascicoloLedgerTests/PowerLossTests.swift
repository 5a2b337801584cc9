import FascicoloStorage
import Glibc
import Testing

@testable import FascicoloLedger

/// Power cuts, where `CrashTests` only kills: a SIGKILL loses nothing the process wrote (the page
/// cache keeps it), a power cut loses every write not yet synced. A child appends under load
/// with `tools/faults/powerloss.c` preloaded, which keeps next to data.mdb the image the disk
/// would hold after a power cut (only what an fdatasync, fsync or O_DSYNC write made durable);
/// the child is killed at a random moment and data.mdb replaced by that image, many times over
/// the same directory. Every append acknowledged must be in the image, and the log must verify —
/// so a scheme that answers before its commit is durable (or before the commit that makes it
/// durable) fails here, where the kill-only crash loop would not notice.
@Suite(.serialized) struct PowerLossTests {
    static func buildShim(in directory: String) throws -> String {
        let shim = directory + "/powerloss.so"
        let built = try runProcess(
            "/usr/bin/env",
            ["cc", "-shared", "-fPIC", "-O1", "-o", shim, packageDirectory() + "/tools/faults/powerloss.c", "-ldl", "-lpthread"])
        try #require(built.status == 0, "cc could not build the power-loss shim (tools/bootstrap installs gcc): \(built.output)")
        return shim
    }

    /// Runs the appender with the shim until it has acknowledged something and a random while
    /// more, kills it, and cuts the power: data.mdb becomes its durable image. Returns what it
    /// acknowledged.
    static func appendThenCutPower(
        appender: String, shim: String, data: String, output: String, extraArguments: [String] = [],
        milliseconds: Int
    ) throws -> [UInt64: (stream: String, version: UInt64)] {
        let pid = try spawn(
            "/usr/bin/env",
            ["LD_PRELOAD=\(shim)", appender, "appender", data, "--appenders", "16", "--checkpoint-every", "20"] + extraArguments,
            outputFile: output)
        var ready = false
        for _ in 0..<500 where !ready {
            sleepMilliseconds(10)
            ready = readFile(output).contains("ack ")
        }
        #expect(ready, "the appender never acknowledged anything: \(readFile(output).suffix(400))")
        sleepMilliseconds(milliseconds)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        var acknowledged: [UInt64: (stream: String, version: UInt64)] = [:]
        // The last line may be cut short by the kill.
        for line in readFile(output).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            for ack in acknowledgements(in: line) ?? [] { acknowledged[ack.position] = (ack.stream, ack.version) }
        }
        // No image: the file was not written since the last cut.
        if access(data + "/data.mdb.durable", F_OK) == 0 {
            #expect(rename(data + "/data.mdb.durable", data + "/data.mdb") == 0)
        }
        return acknowledged
    }

    @Test func powerCutDuringAppendsLosesNoAcknowledgedEntry() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var generator = SeededGenerator(seed: seed)
        let appender = productsDirectory() + "/fascicolo-bench"
        try #require(access(appender, X_OK) == 0, "build fascicolo-bench first (tools/test does)")
        try withTemporaryDirectory { directory in
            let shim = try Self.buildShim(in: directory)
            let data = directory + "/data"
            var acknowledged: [UInt64: (stream: String, version: UInt64)] = [:]
            let rounds = 10
            for round in 0..<rounds {
                let context = "seed \(seed), round \(round)"
                acknowledged.merge(
                    try Self.appendThenCutPower(
                        appender: appender, shim: shim, data: data, output: directory + "/round-\(round).out",
                        milliseconds: Int.random(in: 0...300, using: &generator))
                ) { _, newer in newer }
                let report = try Verifier.verify(directory: data)
                try expectAcknowledgedPresent(in: data, acknowledged, context)
                #expect(report.entries >= UInt64(acknowledged.count), "\(context)")
            }
            #expect(acknowledged.count > rounds, "seed \(seed): too few appends acknowledged to mean anything")
        }
    }

    /// The test above can fail: a log that acknowledges before syncing (LMDB's MDB_NOSYNC) loses
    /// acknowledged entries at the first power cut, and this check sees it.
    @Test func aPowerCutIsNoticedWhenAcknowledgementsPrecedeTheSync() throws {
        let appender = productsDirectory() + "/fascicolo-bench"
        try #require(access(appender, X_OK) == 0, "build fascicolo-bench first (tools/test does)")
        try withTemporaryDirectory { directory in
            let shim = try Self.buildShim(in: directory)
            let data = directory + "/data"
            let acknowledged = try Self.appendThenCutPower(
                appender: appender, shim: shim, data: data, output: directory + "/unsafe.out", extraArguments: ["--unsafe-no-sync"],
                milliseconds: 100)
            try #require(!acknowledged.isEmpty)
            var lost = false
            do {
                _ = try Verifier.verify(directory: data)
                let store = try LedgerStore.open(directory: data, readOnly: true)
                defer { store.environment.close() }
                try store.environment.read { txn in
                    for position in acknowledged.keys where try txn.get(store.entries, key: BigEndian.bytes(position)) == nil {
                        lost = true
                    }
                }
            } catch {
                lost = true  // a log that no longer opens or verifies has lost them too
            }
            #expect(lost, "acknowledged before durable, yet nothing was lost at the power cut: the shim keeps too much")
        }
    }
}
