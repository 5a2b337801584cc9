import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloProjections
import FascicoloTesting
import Glibc
import Testing

@Suite struct SiussRegisterTests {
    /// After two exports (the second after voids), each prestazione's and plan's row says what a
    /// fold of the SiussExported entries, done here, says; a rebuild gives the same rows.
    @Test func theRegisterAgreesWithTheExportsInTheLog() async throws {
        try await withCaseFiles { _, ledger, files in
            let engine = try makeEngine(ledger)
            try engine.start()
            defer { engine.stop() }
            try await applyWorkload(files, seed: 0x5155, persons: 80)
            let layout = try #require(referenceData.siuss)
            let admin = Reader(author: "uid:0/root", role: "admin", purpose: SiussExport.purpose, operatorID: nil)
            let first = try await files.exportToSiuss(
                from: CalendarDate("2024-01-01")!, to: CalendarDate("2026-06-30")!, layout: layout, reader: admin)
            #expect(first.insertions > 0)
            let second = try await files.exportToSiuss(
                from: CalendarDate("2024-01-01")!, to: CalendarDate("2026-06-30")!, layout: layout, reader: admin)
            #expect(second.insertions == 0 && second.cancellations == 0)
            try await waitFor(engine, "catch-up", caughtUp(ledger))

            // The fold, from the log: per source position, standing ids, insertions, cancellations, last export.
            var standing: [UInt64: Set<String>] = [:]
            var inserted: [UInt64: Int] = [:]
            var cancelled: [UInt64: Int] = [:]
            var last: [UInt64: UInt64] = [:]
            var fileDigest: [UInt64: String] = [:]
            var fileDigests: [String: String] = [:]
            for entry in try ledger.readStream(SiussExport.stream, limit: 10_000) {
                let data = try JSON.parse(entry.payload)["data"]
                if data?["part"]?.int == 1 {
                    fileDigests = [:]
                    for file in data?["files"]?.array?.compactMap(\.string) ?? [] {
                        let parts = file.split(separator: " ").map(String.init)
                        fileDigests[parts[0]] = parts[2]
                    }
                }
                for item in data?["sent"]?.array?.compactMap(\.string) ?? [] {
                    let parts = item.split(separator: " ").map(String.init)
                    let source = UInt64(parts[2].dropFirst().prefix { $0 != "M" })!
                    if parts[0] == "I" {
                        standing[source, default: []].insert(parts[2])
                        inserted[source, default: 0] += 1
                        last[source] = entry.position
                        fileDigest[source] = fileDigests[parts[1]]
                    } else {
                        standing[source]?.remove(parts[2])
                        cancelled[source, default: 0] += 1
                    }
                }
            }
            let rows = try await engine.query(SiussRegister.name) { view in try SiussRegister.rows(view, limit: 1_000_000) }
            #expect(rows.contains { $0.lastExport != nil } && rows.contains { $0.lastExport == nil })
            for row in rows {
                #expect(row.standing == UInt32(standing[row.position]?.count ?? 0), "position \(row.position)")
                #expect(row.insertions == UInt32(inserted[row.position] ?? 0) && row.cancellations == UInt32(cancelled[row.position] ?? 0))
                #expect(row.lastExport == last[row.position] && row.fileSHA256 == fileDigest[row.position])
            }
            #expect(Set(rows.map(\.position)).isSuperset(of: inserted.keys))
            let sentOnly = try await engine.query(SiussRegister.name) { view in try SiussRegister.rows(view, sent: true, limit: 1_000_000) }
            #expect(sentOnly.count == rows.filter { $0.lastExport != nil }.count)
        }
    }
}
