import FascicoloStorage
import Glibc
import Testing

/// The commit journal (`Environment.Options.journal`): every commit recorded and flushed there
/// first, LMDB synced at checkpoints; after a crash the last synced snapshot is put back and the
/// records applied again.
@Suite("Commit journal", .serialized)
struct JournalTests {
    static func options(capacity: Int = 2 << 20, checkpointMilliseconds: Int = 600_000) -> Environment.Options {
        var options = Environment.Options()
        options.mapSizeBytes = 1 << 20
        var journal = Environment.JournalOptions()
        journal.capacityBytes = capacity
        journal.checkpointMilliseconds = checkpointMilliseconds
        options.journal = journal
        return options
    }

    /// Copies what a SIGKILL would leave of `source` (the page cache: every file as it is now)
    /// into `destination`.
    static func copyAsCrashed(_ source: String, to destination: String) throws {
        mkdir(destination, 0o700)
        for name in ["data.mdb", "data.journal"] {
            let input = open(source + "/" + name, O_RDONLY)
            try #require(input >= 0)
            defer { close(input) }
            let output = open(destination + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            try #require(output >= 0)
            defer { close(output) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                _ = buffer.withUnsafeBytes { write(output, $0.baseAddress, count) }
            }
        }
    }

    /// Meta pages that name pages never written: garbage in both (only the journal's saved ones
    /// make the file readable again).
    static func spoilMetaPages(_ directory: String) throws {
        let data = open(directory + "/data.mdb", O_WRONLY)
        try #require(data >= 0)
        let garbage = [UInt8](repeating: 0xA5, count: 2 * 4096)
        #expect(pwrite(data, garbage, garbage.count, 16) == garbage.count)
        close(data)
    }

    /// Commits after the last checkpoint, with data.mdb's meta pages then made garbage (a power
    /// cut that kept neither, or a meta page written ahead of its pages): the open puts the
    /// synced snapshot's meta pages back and applies every record — nothing committed is lost.
    @Test func aCrashLeavesEveryCommitToReplay() throws {
        try withTemporaryDirectory { directory in
            let live = directory + "/live"
            mkdir(live, 0o700)
            let environment = try Environment(path: live, options: Self.options())
            defer { environment.close() }
            #expect(environment.hasJournal)
            let table = try environment.openTable("things", create: true)
            for index in 0..<200 as Range<UInt64> {
                try environment.write { txn in
                    try txn.put(table, key: key(index), value: value(index, size: 300))
                    if index % 10 == 9 { try txn.delete(table, key: key(index - 5)) }
                }
            }
            let crashed = directory + "/crashed"
            try Self.copyAsCrashed(live, to: crashed)
            // The copy is not applied yet: a read-only open refuses it, with what to do.
            var readOnly = Environment.Options()
            readOnly.readOnly = true
            #expect(throws: StorageError.self) { try Environment(path: crashed, options: readOnly) }
            #expect(throws: Journal.Unapplied.self) { try Journal.refuseUnapplied(directory: crashed) }
            try Self.spoilMetaPages(crashed)

            let reopened = try Environment(path: crashed, options: Self.options())
            defer { reopened.close() }
            try reopened.read { txn in
                let table = try txn.openTable("things")
                for index in 0..<200 as Range<UInt64> {
                    let deleted = index % 10 == 4
                    #expect(try txn.get(table, key: key(index)) == (deleted ? nil : value(index, size: 300)), "row \(index)")
                }
            }
        }
    }

    /// The test above can fail: without its records, the copy has none of the commits since the
    /// last checkpoint (its data file's pages were never synced, nor read back here).
    @Test func withoutTheJournalTheCommitsAreNotThere() throws {
        try withTemporaryDirectory { directory in
            let live = directory + "/live"
            mkdir(live, 0o700)
            let environment = try Environment(path: live, options: Self.options())
            defer { environment.close() }
            let table = try environment.openTable("things", create: true)
            try environment.write { txn in try txn.put(table, key: key(1), value: value(1, size: 100)) }
            let crashed = directory + "/crashed"
            try Self.copyAsCrashed(live, to: crashed)
            // The journal's last record unmade: its commit must not appear.
            let journal = open(crashed + "/data.journal", O_RDWR)
            try #require(journal >= 0)
            let zeros = [UInt8](repeating: 0, count: 64)
            let recordsStart = 2 * (4096 + 2 * 65_536)
            // Two records: the table's creation, then the put. Find the second by reading the first's length.
            var head = [UInt8](repeating: 0, count: 8)
            _ = pread(journal, &head, 8, off_t(recordsStart))
            let firstLength = Int(head[4]) | Int(head[5]) << 8 | Int(head[6]) << 16 | Int(head[7]) << 24
            #expect(pwrite(journal, zeros, zeros.count, off_t(recordsStart + 56 + firstLength)) == zeros.count)
            close(journal)
            let reopened = try Environment(path: crashed, options: Self.options())
            defer { reopened.close() }
            try reopened.read { txn in
                let table = try txn.openTable("things")
                #expect(try txn.get(table, key: key(1)) == nil)
            }
        }
    }

    /// A clean close applies everything (nothing left to replay), and an open with the journal
    /// off applies a journal left behind and removes it.
    @Test func aCleanCloseLeavesNothingToApplyAndTurningItOffRemovesIt() throws {
        try withTemporaryDirectory { directory in
            do {
                let environment = try Environment(path: directory, options: Self.options())
                let table = try environment.openTable("things", create: true)
                try environment.write { txn in try txn.put(table, key: key(1), value: [1]) }
                environment.close()
            }
            try Journal.refuseUnapplied(directory: directory)
            var readOnly = Environment.Options()
            readOnly.readOnly = true
            let reader = try Environment(path: directory, options: readOnly)
            try reader.read { txn in
                let table = try txn.openTable("things")
                #expect(try txn.get(table, key: key(1)) == [1])
            }
            reader.close()
            var off = Environment.Options()
            off.mapSizeBytes = 1 << 20
            let plain = try Environment(path: directory, options: off)
            #expect(!plain.hasJournal)
            plain.close()
            #expect(access(directory + "/data.journal", F_OK) != 0)
        }
    }

    /// Checkpoints when the journal fills: many commits through a small journal, all there after
    /// a crash copy (the records of each generation replace the last's).
    @Test func aFullJournalStartsAGenerationAndLosesNothing() throws {
        try withTemporaryDirectory { directory in
            let live = directory + "/live"
            mkdir(live, 0o700)
            let environment = try Environment(path: live, options: Self.options(capacity: 1 << 20))
            defer { environment.close() }
            let table = try environment.openTable("things", create: true)
            for index in 0..<3_000 as Range<UInt64> {
                try environment.write { txn in try txn.put(table, key: key(index), value: value(index, size: 1_000)) }
            }
            // One larger than the whole journal: LMDB's own durable commit.
            try environment.write { txn in
                for index in 10_000..<12_000 as Range<UInt64> { try txn.put(table, key: key(index), value: value(index, size: 1_000)) }
            }
            try environment.write { txn in try txn.put(table, key: key(20_000), value: [2]) }
            let crashed = directory + "/crashed"
            try Self.copyAsCrashed(live, to: crashed)
            let reopened = try Environment(path: crashed, options: Self.options(capacity: 1 << 20))
            defer { reopened.close() }
            try reopened.read { txn in
                let table = try txn.openTable("things")
                #expect(try txn.count(table) == 5_001)
                #expect(try txn.get(table, key: key(2_999)) == value(2_999, size: 1_000))
                #expect(try txn.get(table, key: key(20_000)) == [2])
            }
        }
    }

    /// A second process's commits are found after a crash, however many generations the first
    /// one went through: generations go on from the file's, never start again below it.
    @Test func generationsGoOnAcrossOpens() throws {
        try withTemporaryDirectory { directory in
            let live = directory + "/live"
            mkdir(live, 0o700)
            do {
                let first = try Environment(path: live, options: Self.options())
                let table = try first.openTable("things", create: true)
                try first.write { txn in try txn.put(table, key: key(1), value: [1]) }
                try first.wipeJournal()  // checkpoints: generations 2, 3, then 4 at close
                try first.wipeJournal()
                first.close()
            }
            let second = try Environment(path: live, options: Self.options())
            defer { second.close() }
            let table = try second.openTable("things")
            try second.write { txn in try txn.put(table, key: key(2), value: [2]) }
            let crashed = directory + "/crashed"
            try Self.copyAsCrashed(live, to: crashed)
            try Self.spoilMetaPages(crashed)
            let reopened = try Environment(path: crashed, options: Self.options())
            defer { reopened.close() }
            let rows = try reopened.read { txn in
                let table = try txn.openTable("things")
                return (try txn.get(table, key: key(1)), try txn.get(table, key: key(2)))
            }
            #expect(rows.0 == [1] && rows.1 == [2])
        }
    }

    /// After an erasure the journal is wiped: no record keeps a deleted value's bytes.
    @Test func wipingLeavesNoCopyOfAValueInTheJournal() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: Self.options())
            defer { environment.close() }
            let table = try environment.openTable("keys", create: true)
            let secret = Array("a data key that an erasure destroys".utf8)
            try environment.write { txn in try txn.put(table, key: key(1), value: secret) }
            _ = try environment.write { txn in try txn.delete(table, key: key(1)) }
            func journalHoldsSecret() -> Bool {
                let bytes = readFileBytes(directory + "/data.journal")
                guard bytes.count >= secret.count else { return false }
                return (0...(bytes.count - secret.count)).contains { start in
                    bytes[start] == secret[0] && Array(bytes[start..<(start + secret.count)]) == secret
                }
            }
            #expect(journalHoldsSecret(), "the put's record holds the value (else this test proves nothing)")
            try environment.wipeJournal()
            #expect(!journalHoldsSecret())
            let row = try environment.read { txn in try txn.get(table, key: key(1)) }
            #expect(row == nil)
        }
    }
}

private func readFileBytes(_ path: String) -> [UInt8] {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return [] }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += buffer[0..<count]
    }
    return bytes
}
