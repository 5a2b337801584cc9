import FascicoloCrypto
import FascicoloLedger
import FascicoloStorage
import FascicoloTesting
import Foundation
import Glibc
import Testing

@testable import FascicoloDomain

/// Erasure as a forensic examiner with a copy of the data directory would test it: every 32-byte
/// window of every file in the directory is tried as a key against what the erased person's data
/// was sealed with — their data key's row (which opens with the records key) and their sealed
/// boxes (which open with the data key). Nothing may open either.
@Suite struct ErasureForensicTests {
    static let reference = CaseFilesTests.reference
    static let erased = "RSSMRA85T10A562S"
    static let kept = "VRDLGU70A41F052O"
    static let registration =
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"F052","givenName":"Mario","familyName":"Rossi","address":"Via Roma 1","phone":"0835 111111"}}"#

    /// What an examiner would try to open: the person's row in `person_keys` and their sealed boxes.
    struct Evidence {
        var person: Pseudonym
        var keyRow: [UInt8]
        var boxes: [(box: [UInt8], associatedData: [UInt8])]
    }

    static func evidence(of identifier: String, in caseFiles: CaseFiles) throws -> Evidence {
        let person = try caseFiles.pseudonym(for: PersonIdentifier(parsing: identifier))
        let row = try caseFiles.ledger.read { log in try log.value(in: caseFiles.keys.table, key: person.bytes) }
        let entries = try caseFiles.ledger.readStream(person.stream, from: 1, limit: 100)
        let boxes = entries.compactMap { entry in
            StoredEvent(payload: entry.payload)?.sealed.map {
                ($0, StoredEvent.sealAssociatedData(stream: person.stream, type: entry.eventType))
            }
        }
        return Evidence(person: person, keyRow: try #require(row), boxes: boxes)
    }

    /// Every offset of every file under `directory` whose 32 bytes open the evidence.
    static func scan(_ directory: String, for evidence: Evidence) throws -> [String] {
        var found: [String] = []
        let files = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []
        for name in files {
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let bytes = FileManager.default.contents(atPath: path).map(Array.init), bytes.count >= 32
            else { continue }
            let rowData = PersonKeys.associatedData(evidence.person)
            for offset in 0...(bytes.count - 32) {
                guard let candidate = SecretKey(bytes: Array(bytes[offset..<(offset + 32)]), guarded: false) else { continue }
                if candidate.open(evidence.keyRow, associatedData: rowData) != nil {
                    found.append("\(name)@\(offset) opens the data key's row")
                }
                for (box, associatedData) in evidence.boxes where candidate.open(box, associatedData: associatedData) != nil {
                    found.append("\(name)@\(offset) opens a sealed box")
                }
            }
        }
        return found
    }

    static func record(_ caseFiles: CaseFiles, _ person: String) async throws {
        let body = #"{"person":"\#(person)","actor":\#(CaseFilesTests.actor),"events":[\#(registration)]}"#
        _ = try await caseFiles.record(RecordRequest.parse(Array(body.utf8), eventsMax: 100), author: "uid:1/test")
    }

    @Test func nothingInTheDirectoryOpensAnErasedPersonsData() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let evidence: Evidence
            do {
                let ledger = try Ledger.open(directory: data)
                defer { ledger.close() }
                let caseFiles = try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference)
                try await Self.record(caseFiles, Self.erased)
                try await Self.record(caseFiles, Self.kept)
                evidence = try Self.evidence(of: Self.erased, in: caseFiles)
                #expect(evidence.boxes.count == 1)
                // The examiner's method works: before the erasure, records.key opens the row.
                #expect(try Self.scan(data, for: evidence).contains { $0.hasPrefix("records.key@0") })
                _ = try await caseFiles.erase(
                    PersonIdentifier(parsing: Self.erased), legalGround: "art17_request",
                    reference: "prot. 1", author: "uid:0/admin")
                #expect(try !caseFiles.keys.rotationDue())
                #expect(access(data + "/" + PersonKeys.nextKeyFileName, F_OK) != 0)
            }
            #expect(try Self.scan(data, for: evidence) == [])
            // The others' data still opens, after a restart too (the new records.key is the one on file).
            let ledger = try Ledger.open(directory: data)
            defer { ledger.close() }
            let caseFiles = try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference)
            let file = try await caseFiles.caseFile(for: PersonIdentifier(parsing: Self.kept), reader: CaseFilesTests.writer)
            #expect(!file.entries.isEmpty && dataText(file).contains("Via Roma 1"))
            let gone = try await caseFiles.caseFile(for: PersonIdentifier(parsing: Self.erased), reader: CaseFilesTests.writer)
            #expect(!dataText(gone).contains("Via Roma 1"))
        }
    }

    /// A daemon killed between the erasure's commit and the rotation: the next start rotates
    /// before anything is served, and a stale records.key.next from a rotation that never
    /// committed is dropped.
    @Test func anInterruptedErasureIsShreddedAtTheNextStart() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let evidence: Evidence
            do {
                let ledger = try Ledger.open(directory: data)
                defer { ledger.close() }
                let caseFiles = try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference)
                try await Self.record(caseFiles, Self.erased)
                try await Self.record(caseFiles, Self.kept)
                evidence = try Self.evidence(of: Self.erased, in: caseFiles)
                // The erasure's commit alone, as if the process died right after it.
                let payload = Array(
                    #"{"schema":1,"occurredAt":"2026-02-01","codeTable":"x","purpose":"accountability","actor":{},"data":{"legalGround":"art17_request","reference":"r"}}"#
                        .utf8)
                _ = try await ledger.append(
                    AppendRequest(
                        stream: evidence.person.stream, events: [NewEvent(type: "ErasureExecuted", payload: payload)],
                        author: "uid:0/admin", attachedWrites: caseFiles.keys.destroy(evidence.person)))
                #expect(try caseFiles.keys.rotationDue())
                #expect(try !Self.scan(data, for: evidence).isEmpty)
            }
            // A leftover next key that sealed nothing.
            _ = try KeyFile.loadOrCreateSecret(directory: data, name: PersonKeys.nextKeyFileName, create: true)
            let ledger = try Ledger.open(directory: data)
            defer { ledger.close() }
            let caseFiles = try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference)
            #expect(try !caseFiles.keys.rotationDue())
            #expect(access(data + "/" + PersonKeys.nextKeyFileName, F_OK) != 0)
            #expect(try Self.scan(data, for: evidence) == [])
            let file = try await caseFiles.caseFile(for: PersonIdentifier(parsing: Self.kept), reader: CaseFilesTests.writer)
            #expect(dataText(file).contains("Via Roma 1"))
        }
    }

    /// A rotation that committed but died before replacing the key file: records.key.next is the
    /// current key and is put in place at the next start.
    @Test func aRotationInterruptedAfterItsCommitIsFinished() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            do {
                let ledger = try Ledger.open(directory: data)
                defer { ledger.close() }
                let caseFiles = try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference)
                try await Self.record(caseFiles, Self.kept)
                try caseFiles.keys.rotateAfterErasure(force: true)
            }
            // Undo the last step by hand: the old key back as records.key, the new one as .next.
            let current = try KeyFile.loadOrCreateSecret(directory: data, name: "records.key", create: false)
            rename(data + "/records.key", data + "/" + PersonKeys.nextKeyFileName)
            _ = try KeyFile.loadOrCreateSecret(directory: data, name: "records.key", create: true)
            let ledger = try Ledger.open(directory: data)
            defer { ledger.close() }
            let caseFiles = try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference)
            let installed = try KeyFile.loadOrCreateSecret(directory: data, name: "records.key", create: false)
            #expect(installed.withBytes { Array($0) } == current.withBytes { Array($0) })
            let file = try await caseFiles.caseFile(for: PersonIdentifier(parsing: Self.kept), reader: CaseFilesTests.writer)
            #expect(dataText(file).contains("Via Roma 1"))
        }
    }
}
