import FascicoloCrypto
import FascicoloLedger
import FascicoloStorage
import FascicoloTesting
import Foundation
import Glibc
import Testing

@testable import FascicoloDomain

/// Every table of the data directory, every row kind, key and value: a change made behind the
/// daemon's back (a flipped byte, a renamed, dropped or added row) is found by `fascicolo
/// verify`, which exits 1 and names the table — signed tables and side tables alike.
@Suite struct SideTableTamperTests {
    static let reference = CaseFilesTests.reference
    /// tools/verify-offline.py can run (tools/bootstrap installs its modules).
    static let pythonVerifier = (try? runProcess("/usr/bin/env", ["python3", "-c", "import lmdb, nacl"]).status) == 0

    /// A store with what every table holds: registrations, a provisional record linked to a
    /// codice fiscale (an alias), an erased person, idempotency keys (generic and domain), checkpoints.
    static func buildStore(_ data: String) async throws {
        let ledger = try Ledger.open(directory: data)
        defer { ledger.close() }
        let caseFiles = try CaseFiles.open(ledger: ledger, directory: data, reference: reference)
        for (index, person) in ["RSSMRA85T10A562S", "VRDLGU70A41F052O", "BNCGNN90C50F052B"].enumerated() {
            let body =
                #"{"person":"\#(person)","actor":\#(CaseFilesTests.actor),"events":[\#(ErasureForensicTests.registration)],"idempotencyKey":"reg-\#(index)"}"#
            _ = try await caseFiles.record(RecordRequest.parse(Array(body.utf8), eventsMax: 100), author: "uid:1/test")
        }
        let provisional =
            #"{"person":"provisional:walk-in-7","actor":\#(CaseFilesTests.actor),"events":[\#(ErasureForensicTests.registration),{"type":"IdentityLinked","occurredAt":"2026-01-11","data":{"codiceFiscale":"MRTMTT25D09F205Z","source":"anagrafe"}}]}"#
        _ = try await caseFiles.record(RecordRequest.parse(Array(provisional.utf8), eventsMax: 100), author: "uid:1/test")
        _ = try await caseFiles.erase(
            PersonIdentifier(parsing: "BNCGNN90C50F052B"), legalGround: "art17_request", reference: "r", author: "uid:0/a")
        for index in 0..<12 {
            _ = try await ledger.append(
                AppendRequest(
                    stream: "case-\(index % 3)", events: [NewEvent(type: "X", payload: Array("{\"n\":\(index)}".utf8))],
                    idempotencyKey: "generic-\(index)", author: "uid:1/test"))
        }
    }

    enum Change: String, CaseIterable, CustomStringConvertible {
        case flipValue = "a flipped value byte"
        case flipKey = "a renamed row"
        case drop = "a dropped row"
        case add = "an added row"
        var description: String { rawValue }
    }

    struct Tamper: CustomStringConvertible {
        var table: String
        var change: Change
        /// Which row: the first whose key passes.
        var row: ([UInt8]) -> Bool = { _ in true }
        /// What the report must name.
        var named: String
        var description: String { "\(change) in \(table)" }
    }

    static var tampers: [Tamper] {
        var list: [Tamper] = []
        for table in ["entries", "merkle", "stream_index", "checkpoints"] {
            list.append(Tamper(table: table, change: .flipValue, named: ""))
            list.append(Tamper(table: table, change: .drop, named: ""))
        }
        for change in Change.allCases {
            list.append(Tamper(table: "streams", change: change, named: "stream"))
            list.append(Tamper(table: "idempotency", change: change, named: "idempotency"))
            list.append(Tamper(table: PersonKeys.tableName, change: change, named: PersonKeys.tableName))
            list.append(Tamper(table: "person_aliases", change: change, named: "person_aliases"))
            // A dropped codice fiscale is not found: persons registered before the table have none.
            if change != .drop { list.append(Tamper(table: PersonIdentities.tableName, change: change, named: PersonIdentities.tableName)) }
        }
        for row in ["origin", "format", "pseudonym_key_check", "records_key_check", "idempotency_seal"] {
            list.append(Tamper(table: "meta", change: .flipKey, row: { $0 == Array(row.utf8) }, named: ""))
        }
        for row in ["pseudonym_key_check", "records_key_check", "idempotency_seal", "origin"] {
            list.append(Tamper(table: "meta", change: .flipValue, row: { $0 == Array(row.utf8) }, named: ""))
        }
        return list
    }

    /// Applies `tamper` to the store in `data` with LMDB itself (as someone with the file would).
    static func apply(_ tamper: Tamper, to data: String) throws {
        let environment = try Environment(path: data)
        defer { environment.close() }
        try environment.write { txn in
            let table = try txn.openTable(tamper.table)
            let found = try txn.withCursor(table) { cursor -> (key: [UInt8], value: [UInt8])? in
                var record = try cursor.first()
                while let current = record {
                    if tamper.row(Array(current.key)) { return (Array(current.key), Array(current.value)) }
                    record = try cursor.next()
                }
                return nil
            }
            let (key, value) = try #require(found, "\(tamper): no such row")
            switch tamper.change {
            case .flipValue:
                var changed = value
                changed[changed.count / 2] ^= 0x01
                try txn.put(table, key: key, value: changed)
            case .flipKey:
                var renamed = key
                renamed[renamed.count - 1] ^= 0x01
                _ = try txn.delete(table, key: key)
                try txn.put(table, key: renamed, value: value)
            case .drop:
                _ = try txn.delete(table, key: key)
            case .add:
                var added = key
                added.append(0x2D)
                try txn.put(table, key: added, value: value)
            }
        }
    }

    @Test func everyChangeToEveryTableIsFoundAndNamed() async throws {
        try await withTemporaryDirectory { directory in
            let original = directory + "/original"
            try await Self.buildStore(original)
            let fascicolo = productsDirectory() + "/fascicolo"
            let clean = try runProcess(fascicolo, ["verify", original])
            #expect(clean.status == 0, "\(clean.output)")
            #expect(clean.output.contains("4 case files: 3 data keys and 1 identity links match the log"), "\(clean.output)")
            var missed: [String] = []
            for tamper in Self.tampers {
                let copy = directory + "/copy"
                try? FileManager.default.removeItem(atPath: copy)
                try FileManager.default.copyItem(atPath: original, toPath: copy)
                unlink(copy + "/lock.mdb")
                try Self.apply(tamper, to: copy)
                let result = try runProcess(fascicolo, ["verify", copy])
                if result.status != 1 || !result.output.contains("FAILED")
                    || !(tamper.named.isEmpty || result.output.contains(tamper.named))
                {
                    missed.append("\(tamper): exit \(result.status): \(result.output.suffix(300))")
                }
                // The independent verifier, written from Formats.md, finds the log's own tables' changes too.
                if Self.pythonVerifier, !["person_keys", "person_aliases", PersonIdentities.tableName].contains(tamper.table),
                    !(tamper.table == "meta" && tamper.change == .flipValue && !tamper.row(Array("idempotency_seal".utf8)))
                {
                    let independent = try runProcess("/usr/bin/env", ["python3", packageDirectory() + "/tools/verify-offline.py", copy])
                    if independent.status != 1 || !independent.output.contains("FAILED") {
                        missed.append("\(tamper): the independent verifier: exit \(independent.status): \(independent.output.suffix(300))")
                    }
                }
            }
            #expect(
                missed.isEmpty,
                "\(missed.count) of \(Self.tampers.count) changes not found or not named:\n\(missed.joined(separator: "\n"))")
        }
    }
}
