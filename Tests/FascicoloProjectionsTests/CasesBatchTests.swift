import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloProjections

/// Cases writes a person's `persons` row once per batch (`finishBatch`). When one of the
/// person's entries fails mid-batch, the row must be the state after the entries before it —
/// what the engine's checkpoint says was applied — and no row appears for a person whose first
/// entry failed.
@Suite("Cases batches")
struct CasesBatchTests {
    static let seed: UInt64 = 0x5eed_ca5e

    @Test func aFailedEntryLeavesThePersonsRowAsOfTheEntriesBefore() async throws {
        try await withCaseFiles { directory, ledger, files in
            try await applyWorkload(files, seed: Self.seed, persons: 6)
            let persons = try (0..<ledger.size).compactMap { try ledger.entry(at: $0)?.stream }.filter {
                $0.hasPrefix(Pseudonym.personPrefix)
            }
            let long = try persons.filter { try ledger.streamVersion($0) >= 8 }
            let stream = try #require(long.first, "seed \(Self.seed): no person with 8 entries")
            let person = try #require(Pseudonym.owning(stream: stream))
            #expect(mkdir(directory + "/rows", 0o700) == 0)
            let environment = try Environment(path: directory + "/rows")
            defer { environment.close() }
            let tables = try environment.openTables(Cases.tables, create: true)

            /// The person's row after applying versions 1…`applied` in one batch, then (if
            /// `failing`) version `applied + 1` with its stream version damaged, which Cases refuses.
            func personsRow(applied: UInt64, failing: Bool) throws -> [UInt8]? {
                try environment.read { txn in
                    try ledger.read { snapshot in
                        let log = LogSnapshot(ledger: snapshot, reference: referenceData)
                        var rows = ProjectionRows(transaction: txn, tables: tables, log: log)
                        let cases = Cases()
                        let positions = try log.positions(of: stream, from: 0, below: ledger.size, limit: .max)
                        for position in positions.prefix(Int(applied)) {
                            rows.beginEntry()
                            try cases.apply(try #require(try log.event(at: position)), to: &rows)
                        }
                        if failing {
                            var record = try #require(try snapshot.withEntry(at: positions[Int(applied)]) { Array($0.record) })
                            record.replaceSubrange(20..<28, with: BigEndian.bytes(applied + 3))  // the stream version field
                            let damaged = try record.withUnsafeBytes {
                                ProjectedEvent(try EntryView(record: $0), reference: referenceData, detail: .applying)
                            }
                            rows.beginEntry()
                            #expect(throws: ProjectionFailure.self) { try cases.apply(damaged, to: &rows) }
                            rows.rollBackEntry()
                        }
                        try cases.finishBatch(&rows)
                        return rows.changes[Cases.persons][RowKey(person.bytes)] ?? nil
                    }
                }
            }

            for applied: UInt64 in [1, 3, 6] {
                let expected = try #require(try personsRow(applied: applied, failing: false))
                #expect(try personsRow(applied: applied, failing: true) == expected, "seed \(Self.seed), \(applied) applied")
            }
            #expect(try personsRow(applied: 0, failing: true) == nil, "a person whose first entry failed has no row")
            #expect(
                try personsRow(applied: 6, failing: false) != personsRow(applied: 1, failing: false),
                "the rows compared must differ from one another for the check to mean anything")
        }
    }
}
