import Dispatch
import FascicoloStorage
import Foundation
import Synchronization
import Testing

/// A value shared with another thread.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}

@Suite("Map growth")
struct MapGrowthTests {
    static let smallMap = 256 << 10

    /// Writes `count` records of `size` bytes from `first` on, `perTransaction` to a commit.
    static func fill(
        _ environment: Environment, _ table: Table, from first: UInt64 = 0, count: UInt64,
        size: Int, perTransaction: UInt64
    ) throws {
        var next = first
        while next < first + count {
            let end = min(next + perTransaction, first + count)
            try environment.write { txn throws in
                for index in next..<end { try txn.put(table, key: key(index), value: value(index, size: size)) }
            }
            next = end
        }
    }

    /// Whether every record written by `fill` reads back, and the table holds `total` records
    /// (by default only those).
    static func check(_ environment: Environment, _ table: Table, count: UInt64, size: Int, total: Int? = nil) throws {
        try environment.read { txn throws in
            #expect(try txn.count(table) == total ?? Int(count))
            var mismatches: [UInt64] = []
            for index in 0..<count where try txn.get(table, key: key(index)) != value(index, size: size) {
                mismatches.append(index)
            }
            #expect(mismatches.isEmpty, "records that did not read back: \(mismatches.prefix(20))")
        }
    }

    @Test("several MB in one transaction grow a 256 KiB map")
    func growsWithinOneTransaction() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing(mapSizeBytes: Self.smallMap))
            defer { environment.close() }
            #expect(environment.mapSizeBytes == Self.smallMap)
            let table = try environment.openTable("big", create: true)

            // 1,500 records of 3,000 bytes (an overflow page each): about 6 MB in a single commit.
            try Self.fill(environment, table, count: 1_500, size: 3_000, perTransaction: 1_500)
            #expect(environment.mapSizeBytes >= 4 * Self.smallMap)
            #expect(environment.usedBytes > 4 << 20)
            #expect(environment.mapSizeBytes >= environment.usedBytes)
            try Self.check(environment, table, count: 1_500, size: 3_000)
        }
    }

    @Test("several MB in many transactions grow a 256 KiB map")
    func growsAcrossTransactions() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing(mapSizeBytes: Self.smallMap))
            defer { environment.close() }
            let table = try environment.openTable("many", create: true)
            var sizes: Set<Int> = [environment.mapSizeBytes]
            for batch in UInt64(0)..<40 {
                try Self.fill(environment, table, from: batch * 100, count: 100, size: 1_000, perTransaction: 100)
                sizes.insert(environment.mapSizeBytes)
            }
            #expect(sizes.count >= 3, "the map grew in several steps: \(sizes.sorted())")
            #expect(environment.mapSizeBytes >= environment.usedBytes)
            try Self.check(environment, table, count: 4_000, size: 1_000)
        }
    }

    @Test func grownMapReopensAndGrowsAgain() throws {
        try withTemporaryDirectory { directory in
            do {
                let environment = try Environment(path: directory, options: .testing(mapSizeBytes: Self.smallMap))
                let table = try environment.openTable("t", create: true)
                try Self.fill(environment, table, count: 1_000, size: 2_000, perTransaction: 250)
                try environment.sync()
                environment.close()
            }
            // Reopened with the small size again: LMDB keeps at least what the data needs.
            let environment = try Environment(path: directory, options: .testing(mapSizeBytes: Self.smallMap))
            defer { environment.close() }
            let table = try environment.openTable("t")
            #expect(environment.mapSizeBytes > Self.smallMap)
            try Self.check(environment, table, count: 1_000, size: 2_000)
            try Self.fill(environment, table, from: 1_000, count: 1_000, size: 2_000, perTransaction: 1_000)
            try Self.check(environment, table, count: 2_000, size: 2_000)
        }
    }

    @Test func growthStopsAtTheMaximum() throws {
        try withTemporaryDirectory { directory in
            var options = Environment.Options.testing(mapSizeBytes: Self.smallMap)
            options.mapSizeBytesMax = 2 * Self.smallMap
            let environment = try Environment(path: directory, options: options)
            defer { environment.close() }
            let table = try environment.openTable("t", create: true)
            #expect(throws: StorageError(code: .mapFull, operation: "")) {
                try Self.fill(environment, table, count: 1_000, size: 2_000, perTransaction: 1_000)
            }
            #expect(environment.mapSizeBytes == 2 * Self.smallMap)
            // The failed transaction left nothing behind, and small writes still work.
            try Self.fill(environment, table, count: 10, size: 100, perTransaction: 10)
            try Self.check(environment, table, count: 10, size: 100)
        }
    }

    /// A read transaction held open on another thread while a write needs the map to grow: the
    /// growth waits for the reader, and neither deadlocks. Both sides run off the test's thread,
    /// so that a deadlock fails the test (after 30 s) instead of hanging it.
    @Test func readerOnAnotherThreadDoesNotDeadlockGrowth() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing(mapSizeBytes: Self.smallMap))
            defer { environment.close() }
            let table = try environment.openTable("t", create: true)
            try environment.write { txn in try txn.put(table, key: Array("first".utf8), value: [1]) }

            let readerStarted = DispatchSemaphore(value: 0)
            let readerDone = DispatchSemaphore(value: 0)
            let writerDone = DispatchSemaphore(value: 0)
            let readerSaw = Shared<[UInt8]?>(nil)
            let readerCount = Shared<Int>(-1)
            let writerError = Shared<String?>(nil)

            DispatchQueue.global().async {
                defer { readerDone.signal() }
                do {
                    try environment.read { txn throws in
                        readerStarted.signal()
                        usleep(200_000)  // hold the snapshot while the writer fills the map
                        readerSaw.value = try txn.get(table, key: Array("first".utf8))
                        readerCount.value = try txn.count(table)
                    }
                } catch {
                    readerSaw.value = [0xde, 0xad]
                }
            }
            readerStarted.wait()
            let before = environment.mapSizeBytes
            DispatchQueue.global().async {
                defer { writerDone.signal() }
                do {
                    try Self.fill(environment, table, from: 0, count: 1_000, size: 2_000, perTransaction: 1_000)
                } catch {
                    writerError.value = "\(error)"
                }
            }
            #expect(writerDone.wait(timeout: .now() + 30) == .success, "the growing writer deadlocked")
            #expect(readerDone.wait(timeout: .now() + 30) == .success, "the reader deadlocked")
            #expect(writerError.value == nil)
            #expect(readerSaw.value == [1])
            #expect(readerCount.value == 1, "the reader kept its snapshot")
            #expect(environment.mapSizeBytes > before)
            try environment.read { txn throws in
                #expect(try txn.get(table, key: Array("first".utf8)) == [1])
                #expect(try txn.count(table) == 1_001)
            }
        }
    }

    /// A read-only environment on the same directory as a writer reads what the writer committed,
    /// including after the writer has grown the map beyond the reader's mapping.
    @Test func readOnlyEnvironmentNextToAWriter() throws {
        try withTemporaryDirectory { directory in
            let writer = try Environment(path: directory, options: .testing(mapSizeBytes: Self.smallMap))
            defer { writer.close() }
            let writerTable = try writer.openTable("t", create: true)
            try writer.write { txn in try txn.put(writerTable, key: Array("a".utf8), value: [1]) }

            var options = Environment.Options()
            options.readOnly = true
            let reader = try Environment(path: directory, options: options)
            defer { reader.close() }
            let table = try reader.openTable("t")
            #expect(try reader.read { try $0.get(table, key: Array("a".utf8)) } == [1])
            #expect(throws: StorageError(code: .notFound, operation: "")) { try reader.openTable("missing") }

            // A later commit is visible to the reader's next transaction.
            try writer.write { txn in try txn.put(writerTable, key: Array("b".utf8), value: [2]) }
            #expect(try reader.read { try $0.get(table, key: Array("b".utf8)) } == [2])

            // The writer grows the map well beyond what the reader mapped.
            let readerMapBefore = reader.mapSizeBytes
            try Self.fill(writer, writerTable, count: 2_000, size: 2_000, perTransaction: 500)
            #expect(writer.mapSizeBytes > readerMapBefore)
            try reader.read { txn throws in
                #expect(try txn.count(table) == 2_002)
                #expect(try txn.get(table, key: key(1_999)) == value(1_999, size: 2_000))
                #expect(try txn.get(table, key: Array("b".utf8)) == [2])
            }
            try Self.check(reader, table, count: 2_000, size: 2_000, total: 2_002)
        }
    }
}
