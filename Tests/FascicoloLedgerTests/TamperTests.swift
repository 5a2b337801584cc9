import FascicoloCrypto
import FascicoloStorage
import Glibc
import Testing

@testable import FascicoloLedger

/// Flipping one byte of a live record inside `data.mdb` makes `verify` fail and name the position,
/// in full and in fast mode, through the library and through the `fascicolo verify` command.
@Suite struct TamperTests {
    /// Builds a log of 40 entries over 4 streams with checkpoints every 10, and closes it.
    func buildLog(in directory: String) async throws {
        let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
        for index in 0..<40 {
            _ = try await ledger.append(AppendRequest(stream: "case-\(index % 4)", events: [event("payload number \(index)")], author: "t"))
        }
        ledger.close()
    }

    func expectFailure(
        directory: String, position: UInt64?, fast: Bool, mentioning words: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var options = Verifier.Options()
        options.fast = fast
        do {
            _ = try Verifier.verify(directory: directory, options: options)
            Issue.record("verify\(fast ? " --fast" : "") passed a tampered log", sourceLocation: sourceLocation)
        } catch let failure as Verifier.Failure {
            #expect(failure.position == position, "\(failure)", sourceLocation: sourceLocation)
            #expect(failure.problem.contains(words), "\(failure)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [0, 17, 39]) func aFlippedEntryByteIsFoundAtItsPosition(position: Int) async throws {
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            _ = try Verifier.verify(directory: directory)
            let (offset, count) = try valueOffset(directory: directory, table: \.entries, key: bigEndianBytes(UInt64(position)))
            // A payload byte (inside the signed bytes, before the 64-byte signature).
            try flipByte(directory: directory, at: offset + count - 64 - 3)
            expectFailure(directory: directory, position: UInt64(position), fast: false, mentioning: "signature")
            expectFailure(directory: directory, position: UInt64(position), fast: true, mentioning: "Merkle leaf")
        }
    }

    /// A log cut at its end (entries, Merkle nodes and later checkpoints together) still checks
    /// against itself; a checkpoint kept elsewhere shows the cut, and forged ones are refused.
    @Test func aCheckpointKeptElsewhereShowsEntriesCutFromTheEnd() async throws {
        try await withTemporaryDirectory { directory in
            let early = directory + "/early"
            let later = directory + "/later"
            // One log, copied when it had 20 entries, then grown to 40.
            let ledger = try Ledger.open(directory: later, configuration: testConfiguration(noSync: true))
            for index in 0..<40 {
                if index == 20 {
                    #expect(mkdir(early, 0o700) == 0)
                    try ledger.store.environment.copy(to: early, compact: true)
                }
                _ = try await ledger.append(AppendRequest(stream: "case-\(index % 4)", events: [event("payload \(index)")], author: "t"))
            }
            let verifierKey = ledger.verifierKey
            let origin = ledger.origin
            ledger.close()
            let reopened = try Ledger.open(directory: later, configuration: testConfiguration(noSync: true))
            let kept = try #require(try reopened.latestCheckpoint())
            reopened.close()
            #expect(kept.size == 40)

            func verify(_ directory: String, against notes: [String]) throws -> Verifier.Report {
                var options = Verifier.Options()
                options.trustedCheckpoints = notes
                return try Verifier.verify(directory: directory, verifierKey: verifierKey, options: options)
            }
            #expect(try verify(later, against: [kept.note]).entries == 40)
            #expect(try verify(early, against: []).entries == 20, "the shorter log is consistent in itself")
            #expect { try verify(early, against: [kept.note]) } throws: {
                ($0 as? Verifier.Failure)?.problem.contains("entries were removed") == true
            }

            // Checkpoint notes made by hand from Formats.md: a wrong root under the right key, and another key.
            func note(size: UInt64, root: [UInt8], key: SigningKey) -> String {
                let text = "\(origin)\n\(size)\n\(Base64.encode(root))\n"
                return text + "\n" + SignedNote.signatureLine(text: text, name: origin, key: key)
                    + SignedNote.cosignatureLine(text: text, name: origin, key: key, timestampSeconds: 1_800_000_000)
            }
            let signingKey = try KeyFile.load(path: later + "/" + KeyFile.secretName)
            let wrongRoot = note(size: 20, root: [UInt8](repeating: 7, count: 32), key: signingKey)
            #expect { try verify(early, against: [wrongRoot]) } throws: { ($0 as? Verifier.Failure)?.problem.contains("root") == true }
            let stranger = note(size: 20, root: [UInt8](repeating: 7, count: 32), key: SigningKey())
            #expect { try verify(early, against: [stranger]) } throws: {
                ($0 as? Verifier.Failure)?.problem.contains("does not verify") == true
            }
        }
    }

    /// A data file cut short would make LMDB's map fault (SIGBUS) on the first missing page in
    /// use: `fascicolo verify` (which reads in a child) says the store is truncated instead.
    @Test func aTruncatedDataFileIsReportedNotACrash() async throws {
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            // Cut to the two meta pages and one more: pages in use are cut off whatever the commits
            // were (a cut through free pages only would leave a healthy store, which verifies).
            #expect(truncate(directory + "/data.mdb", 3 * 4_096) == 0)
            let result = try runProcess(productsDirectory() + "/fascicolo", ["verify", directory])
            #expect(result.status == 1 && result.output.contains("FAILED") && result.output.contains("damaged"), "\(result.output)")
            #expect(try StoreStructure.checkFile(directory: directory)?.isShort == true)
        }
    }

    @Test func aFlippedSignatureByteIsFoundAtItsPosition() async throws {
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            let (offset, count) = try valueOffset(directory: directory, table: \.entries, key: bigEndianBytes(23))
            try flipByte(directory: directory, at: offset + count - 1)
            expectFailure(directory: directory, position: 23, fast: false, mentioning: "signature")
            expectFailure(directory: directory, position: 23, fast: true, mentioning: "Merkle leaf")
        }
    }

    @Test func aFlippedCheckpointByteIsFound() async throws {
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            // Checkpoints come every 10 entries or 50 ms: take the second one, whatever its size.
            let store = try LedgerStore.open(directory: directory, readOnly: true)
            let sizes = try store.environment.read { txn in
                try txn.withCursor(store.checkpoints) { cursor in
                    var sizes: [UInt64] = []
                    var record = try cursor.first()
                    while let current = record {
                        sizes.append(BigEndian.read(UInt64.self, from: current.key, at: 0))
                        record = try cursor.next()
                    }
                    return sizes
                }
            }
            store.environment.close()
            let size = try #require(sizes.dropFirst().first)
            let (offset, _) = try valueOffset(directory: directory, table: \.checkpoints, key: bigEndianBytes(size))
            // The first character of the root hash line ("<origin>\n<size>\n<root>").
            let origin = "fascicolo.invalid/ledger\n\(size)\n"
            try flipByte(directory: directory, at: offset + origin.utf8.count)
            expectFailure(directory: directory, position: size - 1, fast: false, mentioning: "checkpoint of size \(size)")
            expectFailure(directory: directory, position: size - 1, fast: true, mentioning: "checkpoint of size \(size)")
        }
    }

    @Test func aChangedCosignatureIsFound() async throws {
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            let store = try LedgerStore.open(directory: directory, readOnly: true)
            let size = try store.environment.read { txn in
                try txn.withCursor(store.checkpoints) { cursor in
                    try cursor.first().map { BigEndian.read(UInt64.self, from: $0.key, at: 0) }
                }
            }
            store.environment.close()
            let checkpointSize = try #require(size)
            let (offset, count) = try valueOffset(directory: directory, table: \.checkpoints, key: bigEndianBytes(checkpointSize))
            // A character inside the base64 of the last line (the cosignature), kept valid base64.
            let descriptor = open(directory + "/data.mdb", O_RDWR)
            defer { close(descriptor) }
            var byte: UInt8 = 0
            try #require(pread(descriptor, &byte, 1, off_t(offset + count - 10)) == 1)
            byte = byte == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            try #require(pwrite(descriptor, &byte, 1, off_t(offset + count - 10)) == 1)
            expectFailure(directory: directory, position: checkpointSize - 1, fast: true, mentioning: "cosignature")
        }
    }

    @Test func aFlippedStreamIndexByteIsFoundAtItsPosition() async throws {
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            // case-1 version 3 is position 9 (positions 1, 5, 9 …).
            let key = Array("case-1".utf8) + [0] + bigEndianBytes(3)
            let (offset, count) = try valueOffset(directory: directory, table: \.streamIndex, key: key)
            try #require(count == 8)
            try flipByte(directory: directory, at: offset + 7)
            expectFailure(directory: directory, position: 9, fast: false, mentioning: "stream index")
            expectFailure(directory: directory, position: 9, fast: true, mentioning: "stream index")
        }
    }

    @Test func aFlippedMerkleNodeIsFound() async throws {
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            // Node 6 is the parent of leaves 0…3; leaf 3 completes it.
            let (offset, _) = try valueOffset(directory: directory, table: \.merkle, key: bigEndianBytes(6))
            try flipByte(directory: directory, at: offset)
            expectFailure(directory: directory, position: 3, fast: true, mentioning: "Merkle node 6")
        }
    }

    @Test func theVerifyCommandNamesThePositionAndExitsNonZero() async throws {
        let fascicolo = productsDirectory() + "/fascicolo"
        try #require(access(fascicolo, X_OK) == 0, "build fascicolo first (tools/test does)")
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            let good = try runProcess(fascicolo, ["verify", directory])
            #expect(good.status == 0 && good.output.contains("OK: 40 entries"), "\(good.output)")
            let json = try runProcess(fascicolo, ["verify", "--fast", "--json", directory])
            #expect(json.status == 0 && json.output.contains("\"ok\":true"), "\(json.output)")
            let (offset, count) = try valueOffset(directory: directory, table: \.entries, key: bigEndianBytes(31))
            try flipByte(directory: directory, at: offset + count - 70)
            let bad = try runProcess(fascicolo, ["verify", directory])
            #expect(bad.status == 1 && bad.output.contains("position 31"), "\(bad.output)")
            let missing = try runProcess(fascicolo, ["verify", directory + "/nowhere"])
            #expect(missing.status == 2, "\(missing.output)")
        }
    }
}
