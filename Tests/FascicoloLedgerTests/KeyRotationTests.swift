import FascicoloCrypto
import FascicoloStorage
import Glibc
import Testing

@testable import FascicoloLedger

/// `Ledger.rotateKey`: a `KeyRotated` entry signed by the old key names the new one, which signs
/// everything after it; `verify` follows the chain from the first key and refuses what breaks it.
@Suite struct KeyRotationTests {
    func append(_ ledger: Ledger, _ count: Int, from start: Int = 0) async throws {
        for index in start..<(start + count) {
            _ = try await ledger.append(AppendRequest(stream: "case-\(index % 3)", events: [event("entry \(index)")], author: "t"))
        }
    }

    func firstKey(of directory: String) throws -> String {
        try SignedNote.verifierKey(
            name: KeyFile.loadVerifierKey(directory: directory).name, publicKey: KeyFile.loadVerifierKey(directory: directory).publicKey)
    }

    @Test func theNewKeySignsEverythingAfterTheRotationAndVerifyFollowsTheChain() async throws {
        try await withTemporaryDirectory { directory in
            let first = try Ledger.open(directory: directory, configuration: testConfiguration())
            try await append(first, 25)
            let retried = try await first.append(
                AppendRequest(stream: "case-0", events: [event("once")], idempotencyKey: "retry-me", author: "t"))
            let oldKeyID = first.keyID
            let firstVerifierKey = first.verifierKey
            let rotation = try await first.rotateKey(author: "admin", retire: .keep)
            #expect(rotation.position == 26)
            #expect(rotation.previousVerifierKey == firstVerifierKey)
            #expect(first.verifierKey == rotation.newVerifierKey)
            #expect(first.keyID != oldKeyID)
            // The idempotency table was sealed again with the new key: a retry is still answered.
            let again = try await first.append(
                AppendRequest(stream: "case-0", events: [event("once")], idempotencyKey: "retry-me", author: "t"))
            #expect(again.deduplicated && again.firstPosition == retried.firstPosition)
            try await append(first, 15, from: 100)
            let checkpoint = try #require(try first.checkpoint(size: 27))
            #expect(checkpoint.nextKey == first.publicKey)
            first.close()

            // Files: the new key is signing.key (0600), the old one kept in retired-keys/ (0600).
            let retired = try #require(rotation.retiredKeyPath)
            #expect(fileMode(retired) == 0o600 && fileMode(directory + "/signing.key") == 0o600)
            #expect(try firstKey(of: directory) == rotation.newVerifierKey)
            #expect(access(directory + "/" + SigningKeyFiles.nextName, F_OK) != 0)

            // Entries up to the rotation carry the old key ID, the ones after it the new.
            let reader = try LedgerReader.open(directory: directory)
            let (rotationEntry, after) = try reader.read { log in (try log.entry(at: 26), try log.entry(at: 28)) }
            #expect(rotationEntry?.keyID == oldKeyID && rotationEntry?.stream == KeyRotation.stream)
            #expect(after?.keyID != oldKeyID)
            reader.close()

            // From the first key, and from the current one (signing.pub).
            let report = try Verifier.verify(directory: directory, verifierKey: firstVerifierKey)
            #expect(report.entries == 42)
            _ = try Verifier.verify(directory: directory)

            // Reopened, it goes on with the new key.
            let reopened = try Ledger.open(directory: directory, configuration: testConfiguration())
            #expect(reopened.verifierKey == rotation.newVerifierKey)
            try await append(reopened, 3, from: 200)
            #expect(reopened.keyChain.keys.count == 2)
            reopened.close()
            _ = try Verifier.verify(directory: directory, verifierKey: firstVerifierKey)
        }
    }

    @Test func aDestroyedKeyLeavesNoFileBehind() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            try await append(ledger, 4)
            let first = ledger.verifierKey
            let rotation = try await ledger.rotateKey(author: "admin", retire: .destroy)
            ledger.close()
            #expect(rotation.retiredKeyPath == nil)
            #expect(access(directory + "/" + SigningKeyFiles.retiredDirectory, F_OK) != 0)
            _ = try Verifier.verify(directory: directory, verifierKey: first)
        }
    }

    /// Right after a rotation on an idle log no checkpoint is signed by the new key yet: verify
    /// with the directory's own signing.pub (the new key) follows the chain from the first key;
    /// given the new key out of band, it says that key has signed nothing that covers the log.
    @Test func verifyRightAfterARotationOnAnIdleLog() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            defer { ledger.close() }
            try await append(ledger, 3)
            _ = try await ledger.rotateKey(author: "admin", retire: .keep)
            _ = try Verifier.verify(directory: directory)
            expectVerifyFails(directory, key: ledger.verifierKey, position: 3, mentioning: "no checkpoint signed by the key given")
        }
    }

    @Test func appendsDuringARotationAreAllKeptAndVerify() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            let first = ledger.verifierKey
            let positions = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var mine: [UInt64] = []
                        for index in 0..<60 {
                            let result = try await ledger.append(
                                AppendRequest(stream: "writer-\(writer)", events: [event("w\(writer) \(index)")], author: "t"))
                            mine.append(result.firstPosition)
                        }
                        return mine
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(20))
                    _ = try await ledger.rotateKey(author: "admin", retire: .keep)
                    try await Task.sleep(for: .milliseconds(20))
                    return [try await ledger.rotateKey(author: "admin", retire: .destroy).position]
                }
                var all: [UInt64] = []
                for try await part in group { all += part }
                return all
            }
            ledger.close()
            #expect(Set(positions).count == 481)
            let report = try Verifier.verify(directory: directory, verifierKey: first)
            #expect(report.entries == 482)
        }
    }

    @Test func clientsCannotAppendToTheLedgersStreams() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            defer { ledger.close() }
            await #expect(throws: LedgerError.self) {
                _ = try await ledger.append(
                    AppendRequest(
                        stream: KeyRotation.stream, events: [NewEvent(type: KeyRotation.eventType, payload: payload("{}"))], author: "t"))
            }
            #expect(try ledger.streamVersion(KeyRotation.stream) == 0)
        }
    }

    // MARK: - Forged chains

    func expectVerifyFails(_ directory: String, key: String, position: UInt64?, mentioning words: String) {
        do {
            _ = try Verifier.verify(directory: directory, verifierKey: key)
            Issue.record("verify passed a forged chain")
        } catch let failure as Verifier.Failure {
            #expect(failure.position == position, "\(failure)")
            #expect(failure.problem.contains(words), "\(failure)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func anEntrySignedByTheRetiredKeyAfterTheRotationIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            try await append(ledger, 5)
            let first = ledger.verifierKey
            let rotation = try await ledger.rotateKey(author: "admin", retire: .keep)
            try await append(ledger, 3, from: 10)
            ledger.close()
            let retired = try KeyFile.load(path: try #require(rotation.retiredKeyPath))
            try forgeEntry(directory: directory, payload: payload("late"), key: retired)
            expectVerifyFails(directory, key: first, position: 9, mentioning: "not the key current at its position")
        }
    }

    @Test func aRotationNotSignedByTheKeyItReplacesIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            try await append(ledger, 5)
            let first = ledger.verifierKey
            let current = ledger.publicKey
            ledger.close()
            // A stranger names their own key, with a valid proof, but signs the entry themselves.
            let stranger = SigningKey()
            let origin = try #require(SignedNote.parseVerifierKey(first)).name
            let forged = KeyRotation.payload(origin: origin, position: 5, previous: current, next: stranger)
            try forgeEntry(directory: directory, stream: KeyRotation.stream, type: KeyRotation.eventType, payload: forged, key: stranger)
            expectVerifyFails(directory, key: first, position: 5, mentioning: "not signed by the key it replaces")
            // And the daemon refuses to open it rather than sign on under either key.
            #expect(throws: KeyRotation.Invalid.self) { _ = try Ledger.open(directory: directory, configuration: testConfiguration()) }
        }
    }

    @Test func aRotationNamingAKeyWithoutItsProofIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            try await append(ledger, 2)
            let first = ledger.verifierKey
            ledger.close()
            let key = try KeyFile.load(path: directory + "/signing.key")
            let someoneElse = SigningKey()
            // Signed by the right key, but the proof is made for another position.
            let origin = try #require(SignedNote.parseVerifierKey(first)).name
            let forged = KeyRotation.payload(origin: origin, position: 99, previous: key.publicKey, next: someoneElse)
            try forgeEntry(directory: directory, stream: KeyRotation.stream, type: KeyRotation.eventType, payload: forged, key: key)
            expectVerifyFails(directory, key: first, position: 2, mentioning: "proof does not verify")
        }
    }

    // MARK: - Crashes around the swap of the key files

    @Test func aRotationCommittedButNotSwappedIsFinishedAtTheNextOpen() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            try await append(ledger, 5)
            let firstText = readFile(directory + "/signing.pub")
            let rotation = try await ledger.rotateKey(author: "admin", retire: .keep)
            ledger.close()
            // Put the files back as they were just after the commit, before the swap.
            let retired = try #require(rotation.retiredKeyPath)
            #expect(rename(directory + "/signing.key", directory + "/" + SigningKeyFiles.nextName) == 0)
            #expect(rename(retired, directory + "/signing.key") == 0)
            unlink(directory + "/signing.pub")
            try writeFile(directory + "/signing.pub", firstText)

            let reopened = try Ledger.open(directory: directory, configuration: testConfiguration())
            #expect(reopened.verifierKey == rotation.newVerifierKey)
            try await append(reopened, 2, from: 50)
            reopened.close()
            #expect(try firstKey(of: directory) == rotation.newVerifierKey)
            #expect(access(retired, F_OK) == 0)
            _ = try Verifier.verify(directory: directory, verifierKey: rotation.previousVerifierKey)
        }
    }

    @Test func aNewKeyWhoseRotationNeverCommittedIsRemoved() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            try await append(ledger, 3)
            let key = ledger.verifierKey
            ledger.close()
            try SigningKey().withSeed { seed in try KeyFile.writeNewSecret(path: directory + "/" + SigningKeyFiles.nextName, bytes: seed) }
            let reopened = try Ledger.open(directory: directory, configuration: testConfiguration())
            #expect(reopened.verifierKey == key)
            reopened.close()
            #expect(access(directory + "/" + SigningKeyFiles.nextName, F_OK) != 0)
        }
    }
}

func fileMode(_ path: String) -> mode_t {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
}
