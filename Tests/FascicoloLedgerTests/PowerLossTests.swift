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
        environment: [String] = [], files: [String] = ["data.mdb"], milliseconds: Int
    ) throws -> [UInt64: (stream: String, version: UInt64)] {
        let pid = try spawn(
            "/usr/bin/env",
            ["LD_PRELOAD=\(shim)", "POWERLOSS_FILE=" + files.map { "/" + $0 }.joined(separator: ":")] + environment
                + [appender, "appender", data, "--appenders", "16", "--checkpoint-every", "20"] + extraArguments,
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
        for file in files where access(data + "/\(file).durable", F_OK) == 0 {
            #expect(rename(data + "/\(file).durable", data + "/" + file) == 0)
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

    static let journalArguments = ["--journal", "--journal-bytes", "\(1 << 20)"]

    /// What the daemon's start does with a journal left by the cut (the saved meta pages back,
    /// the records applied), before the checks read the directory.
    static func applyJournal(_ data: String) throws {
        var options = Environment.JournalOptions()
        options.capacityBytes = 1 << 20
        let store = try LedgerStore.open(directory: data, readOnly: false, journal: options)
        store.environment.close()
    }

    /// The same power cuts with the commit journal on (a small one: checkpoints every few
    /// hundred commits, and every 50 ms): one flush per commit, LMDB synced only at checkpoints —
    /// and still every acknowledged entry is there, and the log verifies, after each cut.
    ///
    /// With `early`, the shim also lets a third of the unsynced writes reach the disk at once, in
    /// any order (the kernel's writeback): LMDB's file then holds meta pages ahead of their pages
    /// and pages written over free ones, and only the journal's saved meta pages and the pinned
    /// snapshot make it whole again.
    @Test(arguments: [false, true]) func powerCutWithTheJournalLosesNoAcknowledgedEntry(early: Bool) throws {
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
                        extraArguments: Self.journalArguments, environment: early ? ["POWERLOSS_WRITEBACK_PERCENT=33"] : [],
                        files: ["data.mdb", "data.journal"], milliseconds: Int.random(in: 0...300, using: &generator))
                ) { _, newer in newer }
                try Self.applyJournal(data)
                let report = try Verifier.verify(directory: data)
                try expectAcknowledgedPresent(in: data, acknowledged, context)
                #expect(report.entries >= UInt64(acknowledged.count), "\(context)")
            }
            #expect(acknowledged.count > rounds, "seed \(seed): too few appends acknowledged to mean anything")
        }
    }

    /// The journal test can fail: when its flushes keep nothing (a disk that lies), acknowledged
    /// entries are lost at the cut and the check above sees it.
    @Test func aPowerCutIsNoticedWhenTheJournalsFlushesKeepNothing() throws {
        let appender = productsDirectory() + "/fascicolo-bench"
        try #require(access(appender, X_OK) == 0, "build fascicolo-bench first (tools/test does)")
        try withTemporaryDirectory { directory in
            let shim = try Self.buildShim(in: directory)
            let data = directory + "/data"
            // A first run with honest syncs creates the log, so that the lying run starts from one.
            _ = try Self.appendThenCutPower(
                appender: appender, shim: shim, data: data, output: directory + "/first.out", extraArguments: Self.journalArguments,
                files: ["data.mdb", "data.journal"], milliseconds: 50)
            try Self.applyJournal(data)
            let acknowledged = try Self.appendThenCutPower(
                appender: appender, shim: shim, data: data, output: directory + "/lying.out", extraArguments: Self.journalArguments,
                environment: ["POWERLOSS_SYNC_KEEPS_NOTHING=1"], files: ["data.mdb", "data.journal"], milliseconds: 100)
            try #require(!acknowledged.isEmpty)
            var lost = false
            do {
                try Self.applyJournal(data)
                let store = try LedgerStore.open(directory: data, readOnly: true)
                defer { store.environment.close() }
                try store.environment.read { txn in
                    for position in acknowledged.keys where try txn.get(store.entries, key: BigEndian.bytes(position)) == nil {
                        lost = true
                    }
                }
            } catch {
                lost = true
            }
            #expect(lost, "the journal's flushes kept nothing, yet nothing acknowledged was lost: the shim does not watch it")
        }
    }

    /// After a crash with commits only in the journal, the offline readers (verify, backup,
    /// stat: every read-only open) refuse the directory and say how to apply it; once a writable
    /// open has applied it, they read every acknowledged entry.
    @Test func offlineReadersRefuseAnUnappliedJournal() throws {
        let appender = productsDirectory() + "/fascicolo-bench"
        try #require(access(appender, X_OK) == 0, "build fascicolo-bench first (tools/test does)")
        try withTemporaryDirectory { directory in
            let data = directory + "/data"
            let output = directory + "/kill.out"
            // A large journal and no timed checkpoint: after the first, everything stays in it.
            let pid = try spawn(
                appender,
                [
                    "appender", data, "--appenders", "4", "--journal", "--journal-bytes", "\(64 << 20)",
                    "--journal-checkpoint-milliseconds", "600000",
                ],
                outputFile: output)
            var ready = false
            for _ in 0..<500 where !ready {
                sleepMilliseconds(10)
                ready = readFile(output).contains("ack ")
            }
            try #require(ready, "the appender never acknowledged anything")
            sleepMilliseconds(100)
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            var acknowledged: [UInt64: (stream: String, version: UInt64)] = [:]
            for line in readFile(output).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                for ack in acknowledgements(in: line) ?? [] { acknowledged[ack.position] = (ack.stream, ack.version) }
            }
            #expect(throws: Journal.Unapplied.self) { try Verifier.verify(directory: data) }
            #expect(throws: Journal.Unapplied.self) { try LedgerReader.open(directory: data) }
            var readOnly = Environment.Options()
            readOnly.readOnly = true
            #expect(throws: StorageError.self) { try Environment(path: data, options: readOnly) }
            try Self.applyJournal(data)
            _ = try Verifier.verify(directory: data)
            try expectAcknowledgedPresent(in: data, acknowledged, "after applying the journal")
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
