import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloWitness

/// A witness follows a log's key rotation (Formats.md, "Key rotation") through the rotation
/// checkpoint only: signed by the key it trusts, that checkpoint names the next key, which the
/// witness trusts beyond its size from then on — across restarts — while the replaced key gets
/// nothing beyond it cosigned.
@Suite struct WitnessKeyRotationTests {
    /// `checkpoint`'s text signed again by `key` alone: what a holder of a retired key can make.
    func resigned(_ checkpoint: Checkpoint, with key: SigningKey, text: String? = nil) throws -> String {
        let text = try text ?? SignedNote.parse(checkpoint.note).text
        return text + "\n" + SignedNote.signatureLine(text: text, name: testOrigin, key: key)
    }

    func body(old: UInt64, proof: [Digest] = [], note: String) -> [UInt8] {
        Array(AddCheckpointRequest(oldSize: old, proof: proof, note: note).body.utf8)
    }

    @Test func theWitnessLearnsTheNextKeyAndRefusesTheRetiredOneBeyondTheRotation() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let firstKey = logKey(ledger)
            let retired = try KeyFile.load(path: directory + "/log/" + KeyFile.secretName)
            let witnessKey = SigningKey()
            do {
                let witness = try makeWitness(directory, logs: [firstKey], key: witnessKey)
                let before = try await grow(ledger, by: 3, tag: "a")
                #expect(try witness.addCheckpoint(body: request(before, from: 0, ledger: ledger)).status == 200)

                let rotation = try await ledger.rotateKey(author: "admin", retire: .keep)
                let rotationCheckpoint = try #require(try ledger.checkpoint(size: rotation.position + 1))
                #expect(rotationCheckpoint.nextKey == ledger.publicKey)
                #expect(rotationCheckpoint.note.contains("\n" + KeyRotation.lineLabel + " " + rotation.newVerifierKey + "\n"))
                let cosigned = try witness.addCheckpoint(body: request(rotationCheckpoint, from: 3, ledger: ledger))
                #expect(cosigned.status == 200, "\(cosigned)")
                #expect(cosignatureTimestamp(note: rotationCheckpoint.note, line: cosigned.body, witness: witness) != nil)
                #expect(
                    try witness.state.learntKeys(origin: testOrigin)
                        == [WitnessState.LearntKey(size: 4, previous: retired.publicKey, next: ledger.publicKey)])
                // Sent again (a retry), it is cosigned again; with another next key, signed by the
                // replaced key at the same size and root, it is a split view.
                #expect(try witness.addCheckpoint(body: request(rotationCheckpoint, from: 4, ledger: ledger)).status == 200)
                let stranger = SigningKey()
                let otherText = try SignedNote.parse(rotationCheckpoint.note).text.replacingOccurrences(
                    of: rotation.newVerifierKey, with: SignedNote.verifierKey(name: testOrigin, publicKey: stranger.publicKey))
                let otherNextKey = try resigned(rotationCheckpoint, with: retired, text: otherText)
                #expect(try witness.addCheckpoint(body: body(old: 4, note: otherNextKey)).status == 409)

                // The new key signs what follows; the witness verifies it with that key.
                let after = try await grow(ledger, by: 2, tag: "a")
                #expect(try witness.addCheckpoint(body: request(after, from: 4, ledger: ledger)).status == 200)

                // The retired key beyond the rotation: the same checkpoint, and a fork, are forbidden.
                #expect(try witness.addCheckpoint(body: body(old: 6, note: resigned(after, with: retired))).status == 403)
                let later = try await grow(ledger, by: 2, tag: "a")
                let proof = try ledger.consistencyProof(oldSize: 6, newSize: 8)
                #expect(try witness.addCheckpoint(body: body(old: 6, proof: proof, note: resigned(later, with: retired))).status == 403)
                #expect(try witness.addCheckpoint(body: request(later, from: 6, ledger: ledger)).status == 200)
            }

            // Reopened on the same state with the same configuration (the first key), it goes on
            // with the key it learnt, not the configured one.
            let again = try makeWitness(directory, logs: [firstKey], key: witnessKey)
            let latest = try await grow(ledger, by: 3, tag: "a")
            #expect(
                try again.addCheckpoint(
                    body: body(old: 8, proof: ledger.consistencyProof(oldSize: 8, newSize: 11), note: resigned(latest, with: retired))
                ).status == 403)
            #expect(try again.addCheckpoint(body: request(latest, from: 8, ledger: ledger)).status == 200)
        }
    }

    /// The `fascicolo-witness` process killed with SIGKILL right after it cosigned the rotation
    /// checkpoint: restarted with the same configuration (the first key), it trusts the key it
    /// learnt and refuses the retired one beyond the rotation.
    @Test func aKilledWitnessKeepsTheKeyItLearnt() async throws {
        try #require(access(WitnessProcessTests.binary, X_OK) == 0, "build fascicolo-witness first")
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let retired = try KeyFile.load(path: directory + "/log/" + KeyFile.secretName)
            let configuration = try WitnessProcessTests.writeConfiguration(directory, logs: [ledger.verifierKey])
            _ = try runProcess(WitnessProcessTests.binary, ["init", "--config", configuration])
            let before = try await grow(ledger, by: 2, tag: "a")
            let rotation = try await ledger.rotateKey(author: "admin", retire: .destroy)
            let rotationCheckpoint = try #require(try ledger.checkpoint(size: rotation.position + 1))
            let after = try await grow(ledger, by: 2, tag: "a")

            let first = try WitnessProcessTests.serve(configuration, log: directory + "/witness-1.log")
            func post(_ port: Int, _ body: [UInt8]) throws -> TCPClient.Response {
                try TCPClient(port: port).request("POST", "/add-checkpoint", body: body)
            }
            #expect(try post(first.port, request(before, from: 0, ledger: ledger)).status == 200)
            #expect(try post(first.port, request(rotationCheckpoint, from: 2, ledger: ledger)).status == 200)
            _ = WitnessProcessTests.stop(first, signal: SIGKILL)
            #expect(readFile(directory + "/witness-1.log").contains("learnt the log's next key"))

            let second = try WitnessProcessTests.serve(configuration, log: directory + "/witness-2.log")
            defer { _ = WitnessProcessTests.stop(second) }
            let proof = try ledger.consistencyProof(oldSize: 3, newSize: 5)
            let byRetired = try post(second.port, body(old: 3, proof: proof, note: resigned(after, with: retired)))
            #expect(byRetired.status == 403, "\(byRetired.text)")
            #expect(try post(second.port, request(after, from: 3, ledger: ledger)).status == 200)
        }
    }

    /// A witness that never saw the rotation checkpoint cannot verify the new key's notes: it
    /// must be sent the rotation checkpoint first (the daemon's submitter does so).
    @Test func aCheckpointBeyondAnUnseenRotationIsForbiddenUntilTheRotationIsSent() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let witness = try makeWitness(directory, logs: [logKey(ledger)])
            let before = try await grow(ledger, by: 2, tag: "a")
            #expect(try witness.addCheckpoint(body: request(before, from: 0, ledger: ledger)).status == 200)
            let rotation = try await ledger.rotateKey(author: "admin", retire: .destroy)
            let after = try await grow(ledger, by: 3, tag: "a")
            #expect(try witness.addCheckpoint(body: request(after, from: 2, ledger: ledger)).status == 403)
            let rotationCheckpoint = try #require(try ledger.checkpoint(size: rotation.position + 1))
            #expect(try witness.addCheckpoint(body: request(rotationCheckpoint, from: 2, ledger: ledger)).status == 200)
            #expect(try witness.addCheckpoint(body: request(after, from: 3, ledger: ledger)).status == 200)
            // A second rotation is learnt the same way, from the first rotation's key.
            let second = try await ledger.rotateKey(author: "admin", retire: .destroy)
            let secondCheckpoint = try #require(try ledger.checkpoint(size: second.position + 1))
            #expect(try witness.addCheckpoint(body: request(secondCheckpoint, from: 6, ledger: ledger)).status == 200)
            let last = try await grow(ledger, by: 1, tag: "a")
            #expect(try witness.addCheckpoint(body: request(last, from: 7, ledger: ledger)).status == 200)
            // An old checkpoint is still checked with the key of its size: a 409 with the
            // witness's size (what a log needs to hear), not a 403.
            let stale = try witness.addCheckpoint(body: request(before, from: 0, ledger: ledger))
            #expect(stale == Witness.Answer(status: 409, contentType: "text/x.tlog.size", body: "8\n"))
        }
    }

    /// The next-key line is the one extension line a witness reads: at most one, naming an
    /// Ed25519 key of the note's origin, and not the key that signed it. Other extension lines
    /// stay opaque.
    @Test func malformedNextKeyLinesAreBadRequests() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let key = try KeyFile.load(path: directory + "/log/" + KeyFile.secretName)
            let witness = try makeWitness(directory, logs: [logKey(ledger)])
            let checkpoint = try await grow(ledger, by: 2, tag: "a")
            let base = "\(testOrigin)\n2\n\(Base64.encode(checkpoint.root.bytes))\n"
            let next = SigningKey().publicKey
            let label = KeyRotation.lineLabel
            for extensions in [
                ["\(label) \(SignedNote.verifierKey(name: "other.example/log", publicKey: next))"],
                ["\(label) \(SignedNote.verifierKey(name: testOrigin, publicKey: next))", "\(label) \(ledger.verifierKey)"],
                ["\(label) not-a-key"],
                ["\(label) \(ledger.verifierKey)"],
            ] {
                let text = base + extensions.map { $0 + "\n" }.joined()
                let note = text + "\n" + SignedNote.signatureLine(text: text, name: testOrigin, key: key)
                let answer = try witness.addCheckpoint(body: body(old: 0, note: note))
                #expect(answer.status == 400, "\(extensions): \(answer)")
            }
            #expect(try witness.state.learntKeys(origin: testOrigin).isEmpty)
            // The five-line text of a rotation checkpoint, with another log's extension line too.
            let text = base + "example/ext 1\n\(label) \(SignedNote.verifierKey(name: testOrigin, publicKey: next))\n"
            let note = text + "\n" + SignedNote.signatureLine(text: text, name: testOrigin, key: key)
            #expect(try CheckpointNote(note: note).nextKey == next)
            #expect(try witness.addCheckpoint(body: body(old: 0, note: note)).status == 200)
            #expect(try witness.state.learntKeys(origin: testOrigin).map(\.next) == [next])
        }
    }
}
