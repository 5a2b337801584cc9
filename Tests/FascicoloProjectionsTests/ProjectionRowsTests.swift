import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloProjections

struct ProjectionRowsTests {
    /// Counters add up, vanish at zero, and refuse (without changing) a sum beyond 64 bits.
    @Test func countersAddAndRefuseToOverflow() throws {
        try withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory + "/data")
            defer { ledger.close() }
            #expect(mkdir(directory + "/rows", 0o700) == 0)
            let environment = try Environment(path: directory + "/rows")
            defer { environment.close() }
            let tables = try environment.openTables(["counters"], create: true)
            try environment.read { txn in
                try ledger.read { snapshot in
                    let log = LogSnapshot(ledger: snapshot, reference: referenceData)
                    var rows = ProjectionRows(transaction: txn, tables: tables, log: log)
                    let key: [UInt8] = [1, 2, 3]
                    func counters() -> [UInt64]? {
                        (rows.changes[0][RowKey(key)] ?? nil).map { bytes in
                            stride(from: 0, to: bytes.count, by: 8).map { BigEndian.uint64(bytes[$0..<($0 + 8)])! }
                        }
                    }
                    try rows.add(0, key, [5, 7])
                    try rows.add(0, key, [2, -7])
                    #expect(counters() == [7, 0])
                    try rows.add(0, key, [Int64.max - 7, 0])
                    #expect(counters() == [UInt64(Int64.max), 0])
                    #expect(throws: ProjectionFailure.self) { try rows.add(0, key, [1, 0]) }
                    #expect(throws: ProjectionFailure.self) {
                        try rows.add(0, key, [0, Int64.min])
                        try rows.add(0, key, [0, -1])
                    }
                    #expect(counters() == [UInt64(Int64.max), UInt64(bitPattern: Int64.min)])
                    try rows.add(0, key, [-Int64.max, Int64.max])
                    #expect(counters() == [0, UInt64(bitPattern: -1)])
                    try rows.add(0, key, [0, 1])
                    #expect(counters() == nil, "a row whose counters are all zero is deleted")
                }
            }
        }
    }
}
