import FascicoloCrypto
import FascicoloStorage
import Glibc
import Testing

@testable import FascicoloLedger

/// `tools/verify-offline.py` was written by someone who read only Formats.md. That it accepts
/// this build's logs, and rejects a tampered one at the same position as `fascicolo verify`,
/// shows that the document is enough to verify a log without this project's code.
@Suite(.enabled(if: pythonVerifierAvailable(), "python3 with the lmdb and pynacl modules (tools/bootstrap installs them)"))
struct IndependentVerifierTests {
    @Test func thePythonVerifierAgreesOnAGoodAndATamperedLog() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            for index in 0..<150 {
                let events = (0...(index % 3)).map { event("entry \(index)/\($0)") }
                _ = try await ledger.append(AppendRequest(stream: "case-\(index % 7)", events: events, author: "uid:1000/test"))
            }
            let size = ledger.size
            ledger.close()

            let good = try runProcess("/usr/bin/env", ["python3", "tools/verify-offline.py", directory])
            #expect(good.status == 0 && good.output.contains("OK:") && good.output.contains("\(size) entries"), "\(good.output)")

            let target: UInt64 = 123
            let (offset, _) = try valueOffset(directory: directory, table: \.entries, key: bigEndianBytes(target))
            try flipByte(directory: directory, at: offset + 40)

            let bad = try runProcess("/usr/bin/env", ["python3", "tools/verify-offline.py", directory])
            #expect(bad.status == 1 && bad.output.contains("FAILED: position \(target):"), "\(bad.output)")
            do {
                _ = try Verifier.verify(directory: directory)
                Issue.record("fascicolo's verifier passed the tampered log")
            } catch let failure as Verifier.Failure {
                #expect(failure.position == target)
            }
        }
    }

    /// A log whose key was rotated: the Python verifier follows the chain from the first key
    /// (and accepts the current one), and names the position of an entry after the rotation that
    /// the retired key signed — the same position as `fascicolo verify`.
    @Test func thePythonVerifierFollowsTheKeyChain() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            for index in 0..<20 {
                _ = try await ledger.append(AppendRequest(stream: "case-\(index % 3)", events: [event("entry \(index)")], author: "t"))
            }
            let first = ledger.verifierKey
            let rotation = try await ledger.rotateKey(author: "admin", retire: .keep)
            for index in 0..<10 {
                _ = try await ledger.append(AppendRequest(stream: "case-\(index % 3)", events: [event("after \(index)")], author: "t"))
            }
            let second = try await ledger.rotateKey(author: "admin", retire: .keep)
            _ = try await ledger.append(AppendRequest(stream: "case-0", events: [event("last")], author: "t"))
            let size = ledger.size
            ledger.close()

            for key in [first, rotation.newVerifierKey, second.newVerifierKey] {
                let good = try runProcess("/usr/bin/env", ["python3", "tools/verify-offline.py", "--key", key, directory])
                #expect(good.status == 0 && good.output.contains("OK: \(size) entries"), "\(good.output)")
            }
            let stranger = SignedNote.verifierKey(name: testConfiguration().origin, publicKey: SigningKey().publicKey)
            let unknown = try runProcess("/usr/bin/env", ["python3", "tools/verify-offline.py", "--key", stranger, directory])
            #expect(unknown.status == 1 && unknown.output.contains("none of the keys"), "\(unknown.output)")

            // The first retired key signs one more entry, after both rotations.
            let retired = try KeyFile.load(path: try #require(rotation.retiredKeyPath))
            try forgeEntry(directory: directory, payload: Array("late".utf8), key: retired)
            let bad = try runProcess("/usr/bin/env", ["python3", "tools/verify-offline.py", "--key", first, directory])
            #expect(
                bad.status == 1 && bad.output.contains("FAILED: position \(size):") && bad.output.contains("key current at its position"),
                "\(bad.output)")
            do {
                _ = try Verifier.verify(directory: directory, verifierKey: first)
                Issue.record("fascicolo's verifier passed an entry signed by a retired key")
            } catch let failure as Verifier.Failure {
                #expect(failure.position == size)
            }
        }
    }

    /// A rotation signed by the key it names instead of the key it replaces: the Python verifier
    /// names its position.
    @Test func thePythonVerifierRefusesARotationNotSignedByTheKeyItReplaces() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            for index in 0..<5 {
                _ = try await ledger.append(AppendRequest(stream: "case-0", events: [event("entry \(index)")], author: "t"))
            }
            let first = ledger.verifierKey
            let current = ledger.publicKey
            ledger.close()
            let stranger = SigningKey()
            let forged = KeyRotation.payload(origin: testConfiguration().origin, position: 5, previous: current, next: stranger)
            try forgeEntry(directory: directory, stream: KeyRotation.stream, type: KeyRotation.eventType, payload: forged, key: stranger)
            let bad = try runProcess("/usr/bin/env", ["python3", "tools/verify-offline.py", "--key", first, directory])
            #expect(
                bad.status == 1 && bad.output.contains("FAILED: position 5:") && bad.output.contains("not signed by the key it replaces"),
                "\(bad.output)")
        }
    }
}

func pythonVerifierAvailable() -> Bool {
    access("tools/verify-offline.py", R_OK) == 0
        && ((try? runProcess("/usr/bin/env", ["python3", "-c", "import lmdb, nacl"]).status) == 0)
}
