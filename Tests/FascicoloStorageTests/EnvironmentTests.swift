import Dispatch
import FascicoloStorage
import Testing

@Suite("Environment and transactions")
struct EnvironmentTests {
    @Test func writeThenReadRoundTrip() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            let table = try environment.openTable("things", create: true)
            #expect(table.name == "things")

            let returned = try environment.write { txn throws in
                try txn.put(table, key: Array("alpha".utf8), value: [1, 2, 3])
                try txn.put(table, key: Array("beta".utf8), value: [])
                try txn.put(table, key: Array("gamma".utf8), value: value(7, size: 10_000))
                return 42
            }
            #expect(returned == 42)

            try environment.read { txn throws in
                #expect(try txn.get(table, key: Array("alpha".utf8)) == [1, 2, 3])
                #expect(try txn.get(table, key: Array("beta".utf8)) == [])
                #expect(try txn.get(table, key: Array("gamma".utf8)) == value(7, size: 10_000))
                #expect(try txn.get(table, key: Array("delta".utf8)) == nil)
                #expect(try txn.count(table) == 3)
                let length = try txn.withValue(in: table, key: Array("gamma".utf8)) { $0.count }
                #expect(length == 10_000)
                #expect(try txn.withValue(in: table, key: Array("delta".utf8)) { $0.count } == nil)
            }

            // Overwrite and delete.
            try environment.write { txn throws in
                try txn.put(table, key: Array("alpha".utf8), value: [9])
                #expect(try txn.delete(table, key: Array("beta".utf8)))
                #expect(try !txn.delete(table, key: Array("no such key".utf8)))
                // The write transaction sees its own changes.
                #expect(try txn.get(table, key: Array("alpha".utf8)) == [9])
                #expect(try txn.get(table, key: Array("beta".utf8)) == nil)
            }
            try environment.read { txn throws in
                #expect(try txn.get(table, key: Array("alpha".utf8)) == [9])
                #expect(try txn.get(table, key: Array("beta".utf8)) == nil)
                #expect(try txn.count(table) == 2)
            }
        }
    }

    @Test func dataSurvivesReopening() throws {
        try withTemporaryDirectory { directory in
            do {
                let environment = try Environment(path: directory)  // default options: durable commits
                let table = try environment.openTable("things", create: true)
                try environment.write { txn throws in
                    for index in UInt64(0)..<100 { try txn.put(table, key: key(index), value: value(index, size: 100)) }
                }
                environment.close()
            }
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            // A table opened by name (no create) keeps a usable handle after opening.
            let table = try environment.openTable("things")
            try environment.read { txn throws in
                #expect(try txn.count(table) == 100)
                for index in UInt64(0)..<100 {
                    #expect(try txn.get(table, key: key(index)) == value(index, size: 100))
                }
            }
            // And twice more, in later transactions, with several tables opened together.
            let again = try environment.openTables(["things"])
            #expect(again.count == 1)
            #expect(try environment.read { try $0.count(again[0]) } == 100)
            #expect(try environment.read { try $0.get(table, key: key(5)) } == value(5, size: 100))
        }
    }

    @Test func missingTableIsNotFound() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            #expect(throws: StorageError(code: .notFound, operation: "")) { try environment.openTable("missing") }
            _ = try environment.openTable("present", create: true)
            #expect(throws: Never.self) { try environment.openTable("present") }
        }
    }

    @Test func tablesAreSeparate() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            let tables = try environment.openTables(["a", "b"], create: true)
            try environment.write { txn throws in
                try txn.put(tables[0], key: [1], value: [0xa])
                try txn.put(tables[1], key: [1], value: [0xb])
            }
            #expect(try environment.read { try $0.get(tables[0], key: [1]) } == [0xa])
            #expect(try environment.read { try $0.get(tables[1], key: [1]) } == [0xb])
        }
    }

    @Test func throwingWriteStoresNothing() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            let table = try environment.openTable("things", create: true)
            try environment.write { txn in try txn.put(table, key: [1], value: [1]) }

            #expect(throws: ExpectedFailure()) {
                try environment.write { txn throws in
                    try txn.put(table, key: [1], value: [2])  // an overwrite
                    try txn.put(table, key: [2], value: [2])  // a new key
                    _ = try txn.delete(table, key: [1])
                    try txn.put(table, key: [3], value: value(3, size: 50_000))
                    throw ExpectedFailure()
                }
            }
            try environment.read { txn throws in
                #expect(try txn.get(table, key: [1]) == [1])
                #expect(try txn.get(table, key: [2]) == nil)
                #expect(try txn.get(table, key: [3]) == nil)
                #expect(try txn.count(table) == 1)
            }
            // The environment is still usable afterwards.
            try environment.write { txn in try txn.put(table, key: [4], value: [4]) }
            #expect(try environment.read { try $0.count(table) } == 2)
        }
    }

    @Test func readSeesASnapshot() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            let table = try environment.openTable("things", create: true)
            try environment.write { txn in try txn.put(table, key: [1], value: [1]) }
            try environment.read { txn throws in
                // A commit made (on another thread) while this read transaction is open is not
                // visible to it. (A write from inside a read on the same thread is refused.)
                let done = DispatchGroup()
                DispatchQueue.global().async(group: done) {
                    try? environment.write { writer in try writer.put(table, key: [2], value: [2]) }
                }
                done.wait()
                #expect(try txn.get(table, key: [2]) == nil)
                #expect(try txn.count(table) == 1)
            }
            #expect(try environment.read { try $0.get(table, key: [2]) } == [2])
        }
    }

    @Test func putOptions() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            let table = try environment.openTable("log", create: true)
            try environment.write { txn throws in
                for index in UInt64(1)...3 { try txn.put(table, key: key(index * 10), value: [UInt8(index)], options: .append) }
            }
            // Out of order, and equal to the last key: keyExists, and nothing changes.
            for bad: UInt64 in [0, 5, 10, 25, 30] {
                let error = #expect(throws: StorageError(code: .keyExists, operation: "")) {
                    try environment.write { txn in try txn.put(table, key: key(bad), value: [0xff], options: .append) }
                }
                #expect(error?.code == .keyExists)
                #expect(error?.operation.contains("\"log\"") == true, "the error names the table")
            }
            try environment.read { txn throws in
                #expect(try txn.count(table) == 3)
                #expect(try txn.get(table, key: key(30)) == [3])
                #expect(try txn.get(table, key: key(25)) == nil)
            }
            // In order still works.
            try environment.write { txn in try txn.put(table, key: key(40), value: [4], options: .append) }

            // noOverwrite refuses an existing key and keeps the old value.
            #expect(throws: StorageError(code: .keyExists, operation: "")) {
                try environment.write { txn in try txn.put(table, key: key(20), value: [0xee], options: .noOverwrite) }
            }
            try environment.write { txn in try txn.put(table, key: key(15), value: [15], options: .noOverwrite) }
            try environment.read { txn throws in
                #expect(try txn.get(table, key: key(20)) == [2])
                #expect(try txn.get(table, key: key(15)) == [15])
                #expect(try txn.count(table) == 5)
            }
        }
    }

    @Test func errorsCompareByCode() {
        #expect(StorageError(code: .keyExists, operation: "a") == StorageError(code: .keyExists, operation: "b"))
        #expect(StorageError(code: .keyExists, operation: "a") != StorageError(code: .notFound, operation: "a"))
        let description = StorageError(code: .mapFull, operation: "put into \"x\"").description
        #expect(description.contains("put into \"x\""))
        #expect(description.contains("\(StorageError.Code.mapFull.rawValue)"))
    }
}

@Suite("Cursors")
struct CursorTests {
    /// Keys 10, 20, …, 100 with value [key / 10].
    func withTenRecords(_ body: (Environment, Table) throws -> Void) throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            let table = try environment.openTable("records", create: true)
            try environment.write { txn throws in
                // Inserted out of order; the cursor returns key order.
                for index in [UInt64(5), 1, 9, 3, 7, 2, 10, 4, 8, 6] {
                    try txn.put(table, key: key(index * 10), value: [UInt8(index)])
                }
            }
            try body(environment, table)
        }
    }

    private func decode(_ record: Cursor.Record?) -> UInt64? {
        record.flatMap { BigEndian.uint64($0.key) }
    }

    @Test func forwardsAndBackwards() throws {
        try withTenRecords { environment, table in
            let (forwards, backwards, values) = try environment.read { txn throws in
                try txn.withCursor(table) { cursor throws in
                    var forwards: [UInt64] = []
                    var values: [UInt8] = []
                    var record = try cursor.first()
                    while let current = record {
                        forwards.append(BigEndian.uint64(current.key)!)
                        values.append(contentsOf: current.value)
                        record = try cursor.next()
                    }
                    var backwards: [UInt64] = []
                    record = try cursor.last()
                    while let current = record {
                        backwards.append(BigEndian.uint64(current.key)!)
                        record = try cursor.previous()
                    }
                    return (forwards, backwards, values)
                }
            }
            #expect(forwards == Array(stride(from: UInt64(10), through: 100, by: 10)))
            #expect(backwards == Array(stride(from: UInt64(100), through: 10, by: -10)))
            #expect(values == Array(1...10))
        }
    }

    @Test func seek() throws {
        try withTenRecords { environment, table in
            try environment.read { txn throws in
                try txn.withCursor(table) { cursor throws in
                    #expect(decode(try cursor.seek(atOrAfter: key(40))) == 40)  // exact
                    #expect(decode(try cursor.next()) == 50)
                    #expect(decode(try cursor.previous()) == 40)
                    #expect(decode(try cursor.previous()) == 30)
                    #expect(decode(try cursor.seek(atOrAfter: key(35))) == 40)  // between keys
                    #expect(try cursor.seek(atOrAfter: key(35))?.value.elementsEqual([4]) == true)
                    #expect(decode(try cursor.seek(atOrAfter: key(0))) == 10)  // before the first
                    #expect(decode(try cursor.seek(atOrAfter: key(100))) == 100)  // the last
                    #expect(decode(try cursor.next()) == nil)  // past the end
                    #expect(try cursor.seek(atOrAfter: key(101)) == nil)  // after the last
                    #expect(decode(try cursor.first()) == 10)
                    #expect(try cursor.previous() == nil)  // before the start
                    #expect(decode(try cursor.last()) == 100)
                    #expect(try cursor.next() == nil)
                }
            }
        }
    }

    @Test func emptyTable() throws {
        try withTemporaryDirectory { directory in
            let environment = try Environment(path: directory, options: .testing())
            defer { environment.close() }
            let table = try environment.openTable("empty", create: true)
            try environment.read { txn throws in
                try txn.withCursor(table) { cursor throws in
                    #expect(try cursor.first() == nil)
                    #expect(try cursor.last() == nil)
                    #expect(try cursor.seek(atOrAfter: key(0)) == nil)
                }
                #expect(try txn.count(table) == 0)
            }
        }
    }

    @Test func cursorInWriteTransactionSeesUncommittedWrites() throws {
        try withTenRecords { environment, table in
            let keys = try environment.write { txn throws in
                try txn.put(table, key: key(55), value: [55])
                return try txn.withCursor(table) { cursor throws in
                    var keys: [UInt64] = []
                    var record = try cursor.seek(atOrAfter: key(50))
                    while let current = record, keys.count < 3 {
                        keys.append(BigEndian.uint64(current.key)!)
                        record = try cursor.next()
                    }
                    return keys
                }
            }
            #expect(keys == [50, 55, 60])
        }
    }
}
