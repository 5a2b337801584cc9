import FascicoloConcurrency
import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import FascicoloWitness
import Glibc
import Testing

/// The witness's checks (C2SP tlog-witness) on a real LMDB state, fed with real ledgers'
/// checkpoints and consistency proofs. The HTTP interface and the process are in WitnessProcessTests.
@Suite struct WitnessTests {
    // MARK: - The specs' examples

    /// tlog-witness's example request body, as printed in the spec: it parses into the old size,
    /// four proof hashes and a checkpoint with two signatures; its origin is not followed (404),
    /// and, followed with a key that did not sign it, it is refused (403).
    @Test func theSpecsExampleRequestParsesAndIsRefusedForUnknownOriginOrKey() throws {
        let body = """
            old 20852014
            PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
            jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
            5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
            /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

            example.com/behind-the-sofa
            20852163
            CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

            — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
            — example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=

            """
        let request = try AddCheckpointRequest(body: Array(body.utf8))
        #expect(request.oldSize == 20_852_014 && request.proof.count == 4)
        #expect(Base64.encode(request.proof[0].bytes) == "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
        #expect(request.body == body, "the body round-trips byte for byte")
        let checkpoint = try CheckpointNote(note: request.note)
        #expect(checkpoint.origin == "example.com/behind-the-sofa" && checkpoint.size == 20_852_163)
        #expect(checkpoint.parsed.signatures.count == 2)

        try withTemporaryDirectory { directory in
            let unknown = try makeWitness(directory + "/a", logs: [LogKey(name: "other.example/log", publicKey: SigningKey().publicKey)])
            #expect(try unknown.addCheckpoint(body: Array(body.utf8)).status == 404)
            let wrongKey = try makeWitness(
                directory + "/b", logs: [LogKey(name: "example.com/behind-the-sofa", publicKey: SigningKey().publicKey)])
            #expect(try wrongKey.addCheckpoint(body: Array(body.utf8)).status == 403)
        }
    }

    /// tlog-cosignature's example: the cosignature line of witness.example.com/w1 carries, after
    /// its 4-byte key ID, the 8-byte big-endian timestamp 1679315147 of the spec's example signed
    /// message; the message this witness signs for that body and time is that example byte for byte.
    @Test func theSpecsCosignatureExampleHasTheFormatThisWitnessWrites() throws {
        let blob = try #require(
            Base64.decode("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="))
        #expect(blob.count == 4 + 8 + 64)
        #expect(blob[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == 1_679_315_147)

        let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        let specMessage =
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        let key = SigningKey()
        let line = SignedNote.cosignatureLine(text: text, name: "witness.example.com/w1", key: key, timestampSeconds: 1_679_315_147)
        #expect(line.hasPrefix("— witness.example.com/w1 ") && line.hasSuffix("\n"))
        let ours = try #require(Base64.decode(String(line.dropFirst("— witness.example.com/w1 ".count).dropLast())))
        #expect(ours.count == 76 && Array(ours[4..<12]) == Array(blob[4..<12]))
        #expect(Array(ours.prefix(4)) == SignedNote.keyID(name: "witness.example.com/w1", publicKey: key.publicKey, type: 0x04))
        #expect(key.publicKey.isValidSignature(Array(ours.suffix(64)), for: Array(specMessage.utf8)))
        // The vkey a log configures: type 0x04, its key ID computed with 0x04.
        let vkey = WitnessKey.verifierKey(name: "witness.example.com/w1", publicKey: key.publicKey)
        #expect(Base64.decode(String(vkey.split(separator: "+", maxSplits: 2)[2]))?.first == 0x04)
        #expect(WitnessKey.parseVerifierKey(vkey)?.publicKey == key.publicKey)
        #expect(SignedNote.parseVerifierKey(vkey) == nil, "a cosigner vkey is not a log's (type 0x01) vkey")
    }

    @Test func malformedBodiesAreBadRequests() throws {
        try withTemporaryDirectory { directory in
            let witness = try makeWitness(directory, logs: [])
            let note = "o\n1\n\(Base64.encode(MerkleHash.empty.bytes))\n\n— o AAAAAAAA\n"
            for body in [
                "", "old 1\n", "old 01\n\n" + note, "old -1\n\n" + note, "old 1\nnot base64\n\n" + note, "old 1\n" + note,
                "old 1\n\n" + note.replacingOccurrences(of: "\n1\n", with: "\n01\n"), "old 0\n\u{7}\n\n" + note,
                "old 0\n" + String(repeating: Base64.encode(MerkleHash.empty.bytes) + "\n", count: 64) + "\n" + note,
            ] {
                #expect(try witness.addCheckpoint(body: Array(body.utf8)).status == 400, "\(body)")
            }
        }
    }

    // MARK: - A log that grows

    /// Growing checkpoints of a real ledger, each submitted with the proof from the size last
    /// cosigned: every one is cosigned, every cosignature verifies over the whole checkpoint
    /// (its stream-heads extension line included), and the state holds the last.
    @Test func aGrowingLogIsCosignedAtEverySize() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let witness = try makeWitness(directory, logs: [logKey(ledger)])
            var cosigned: UInt64 = 0
            for round in 0..<12 {
                let checkpoint = try await grow(ledger, by: round % 4 + 1, tag: "a")
                let answer = try witness.addCheckpoint(body: request(checkpoint, from: cosigned, ledger: ledger))
                #expect(answer.status == 200, "\(answer)")
                #expect(cosignatureTimestamp(note: checkpoint.note, line: answer.body, witness: witness) == 1_800_000_000)
                // The log's own checks ignore the witness's line.
                _ = try Checkpoint.verifyCosigned(note: checkpoint.note + answer.body, origin: testOrigin, publicKey: ledger.publicKey)
                cosigned = checkpoint.size
            }
            // The same checkpoint again is cosigned again (nothing changes).
            let latest = try #require(try ledger.latestCheckpoint())
            #expect(try witness.addCheckpoint(body: request(latest, from: cosigned, ledger: ledger)).status == 200)
        }
    }

    /// Extension lines are opaque to a witness: another log's (not Fascicolo's stream-heads
    /// line) is accepted, the cosignature covers it (tlog-cosignature: "if present MUST be
    /// included in the cosigned message"), and a note of the same size and root with other
    /// extension lines is cosigned too — the witness asserts nothing about them.
    @Test func extensionLinesAreSignedButAssertNothing() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let key = try KeyFile.load(path: directory + "/log/" + KeyFile.secretName)
            let witness = try makeWitness(directory, logs: [logKey(ledger)])
            let checkpoint = try await grow(ledger, by: 4, tag: "a")
            for (index, extensions) in [["example/ext 1"], ["example/ext 2", "more"], []].enumerated() {
                let text = "\(testOrigin)\n4\n\(Base64.encode(checkpoint.root.bytes))\n" + extensions.map { $0 + "\n" }.joined()
                let note = text + "\n" + SignedNote.signatureLine(text: text, name: testOrigin, key: key)
                let body = AddCheckpointRequest(oldSize: index == 0 ? 0 : 4, proof: [], note: note).body
                let answer = try witness.addCheckpoint(body: Array(body.utf8))
                #expect(answer.status == 200, "\(answer)")
                #expect(cosignatureTimestamp(note: note, line: answer.body, witness: witness) != nil)
                let otherText = note.replacingOccurrences(of: text, with: text + "example/added 1\n")
                #expect(cosignatureTimestamp(note: otherText, line: answer.body, witness: witness) == nil)
            }
        }
    }

    // MARK: - Split views, rollbacks, forks

    /// Two histories signed by the same log key (a second ledger with a copy of the key): the
    /// witness cosigns one and refuses the other however it is presented.
    @Test func aSplitViewIsRefusedWhicheverWayItIsPresented() async throws {
        try await withTemporaryDirectory { directory in
            let honest = try openLedger(directory + "/honest")
            defer { honest.close() }
            let forked = try openLedger(directory + "/forked", keyFrom: directory + "/honest")
            defer { forked.close() }
            let witness = try makeWitness(directory, logs: [logKey(honest)])

            let common = try await grow(honest, by: 5, tag: "a")
            _ = try await grow(forked, by: 5, tag: "b")  // same size, other entries, same key
            let forkedAtFive = try #require(try forked.latestCheckpoint())
            #expect(forkedAtFive.size == common.size && forkedAtFive.root != common.root)
            #expect(try witness.addCheckpoint(body: request(common, from: 0, ledger: honest)).status == 200)

            // The same size with another root: 409, never a second cosignature.
            let sameSize = try witness.addCheckpoint(body: request(forkedAtFive, from: 5, ledger: forked))
            #expect(sameSize.status == 409)
            // A larger checkpoint of the other history, with its own (valid for it) proof: 422.
            let forkedAtNine = try await grow(forked, by: 4, tag: "b")
            let fork = try witness.addCheckpoint(body: request(forkedAtNine, from: 5, ledger: forked))
            #expect(fork.status == 422)
            // Presented as a first sight (old 0): 409 with the size the witness holds.
            let firstSight = try witness.addCheckpoint(body: request(forkedAtNine, from: 0, ledger: forked))
            #expect(firstSight == Witness.Answer(status: 409, contentType: "text/x.tlog.size", body: "5\n"))

            // The honest log goes on; then a rollback to its own older checkpoint is refused.
            let honestAtTwelve = try await grow(honest, by: 7, tag: "a")
            #expect(try witness.addCheckpoint(body: request(honestAtTwelve, from: 5, ledger: honest)).status == 200)
            let rollback = try witness.addCheckpoint(body: request(common, from: 5, ledger: honest))
            #expect(rollback == Witness.Answer(status: 409, contentType: "text/x.tlog.size", body: "12\n"))
            let oldLarger = AddCheckpointRequest(oldSize: 12, proof: [], note: common.note)
            #expect(try witness.addCheckpoint(body: Array(oldLarger.body.utf8)).status == 400, "old > size")
            // The forked history at the honest size: 409, whatever proof comes with it.
            let forkedAtTwelve = try await grow(forked, by: 3, tag: "b")
            #expect(try witness.addCheckpoint(body: request(forkedAtTwelve, from: 12, ledger: forked)).status == 409)
        }
    }

    /// A consistency proof that has the right shape but is wrong (one hash changed) is 422; a
    /// proof for another old size is 422 too.
    @Test func aWrongProofIsUnprocessable() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let witness = try makeWitness(directory, logs: [logKey(ledger)])
            let first = try await grow(ledger, by: 3, tag: "a")
            #expect(try witness.addCheckpoint(body: request(first, from: 0, ledger: ledger)).status == 200)
            let second = try await grow(ledger, by: 6, tag: "a")
            var proof = try ledger.consistencyProof(oldSize: 3, newSize: second.size)
            proof[1] = SHA256.hash(proof[1].bytes)
            let tampered = AddCheckpointRequest(oldSize: 3, proof: proof, note: second.note)
            #expect(try witness.addCheckpoint(body: Array(tampered.body.utf8)).status == 422)
            let otherOld = AddCheckpointRequest(
                oldSize: 3, proof: try ledger.consistencyProof(oldSize: 2, newSize: second.size), note: second.note)
            #expect(try witness.addCheckpoint(body: Array(otherOld.body.utf8)).status == 422)
            #expect(try witness.addCheckpoint(body: request(second, from: 3, ledger: ledger)).status == 200)
        }
    }

    @Test func aCheckpointNotSignedByTheConfiguredKeyIsForbidden() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let impostor = try openLedger(directory + "/impostor")  // same origin, its own key
            defer { impostor.close() }
            let witness = try makeWitness(directory, logs: [logKey(ledger)])
            let checkpoint = try await grow(impostor, by: 2, tag: "x")
            #expect(try witness.addCheckpoint(body: request(checkpoint, from: 0, ledger: impostor)).status == 403)
            // A signature of the trusted key that does not verify (one byte of the body changed).
            let genuine = try await grow(ledger, by: 2, tag: "a")
            let lines = genuine.note.split(separator: "\n", omittingEmptySubsequences: false)
            let flipped = genuine.note.replacingOccurrences(of: String(lines[2]), with: Base64.encode(SHA256.hash([1]).bytes))
            let body = AddCheckpointRequest(oldSize: 0, proof: [], note: flipped).body
            #expect(try witness.addCheckpoint(body: Array(body.utf8)).status == 403)
            #expect(try witness.addCheckpoint(body: request(genuine, from: 0, ledger: ledger)).status == 200)
            #expect(try witness.addCheckpoint(body: request(genuine, from: 0, ledger: ledger)).status == 409, "old 0 after a cosign")
        }
    }

    // MARK: - Atomicity and durability

    /// Requests racing for the same origin from the same old size, half for each of two
    /// histories: exactly one history is cosigned, however the threads interleave.
    @Test func racingConflictingRequestsNeverBothCosign() async throws {
        try await withTemporaryDirectory { directory in
            let honest = try openLedger(directory + "/honest")
            defer { honest.close() }
            let forked = try openLedger(directory + "/forked", keyFrom: directory + "/honest")
            defer { forked.close() }
            let a = try await grow(honest, by: 4, tag: "a")
            let b = try await grow(forked, by: 6, tag: "b")
            for round in 0..<5 {
                let witness = try makeWitness(directory + "/round\(round)", logs: [logKey(honest)])
                let bodies = (0..<16).map {
                    $0 % 2 == 0 ? (try? request(a, from: 0, ledger: honest)) ?? [] : (try? request(b, from: 0, ledger: forked)) ?? []
                }
                let statuses = bodies.map { body in Promise<Int>.onNewThread { try witness.addCheckpoint(body: body).status } }
                let results = try statuses.map { try $0.wait() }
                let cosignedA = results.enumerated().filter { $0.offset % 2 == 0 && $0.element == 200 }.count
                let cosignedB = results.enumerated().filter { $0.offset % 2 == 1 && $0.element == 200 }.count
                #expect((cosignedA == 0) != (cosignedB == 0), "round \(round): \(results)")
                #expect(results.allSatisfy { $0 == 200 || $0 == 409 }, "\(results)")
            }
        }
    }

    /// The state is on disk when the answer is given: a witness opened again on the same
    /// directory refuses what the first one would have.
    @Test func theStateSurvivesReopening() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let checkpoint = try await grow(ledger, by: 3, tag: "a")
            let key = SigningKey()
            do {
                let witness = try makeWitness(directory, logs: [logKey(ledger)], key: key)
                #expect(try witness.addCheckpoint(body: request(checkpoint, from: 0, ledger: ledger)).status == 200)
            }
            let state = try WitnessState(directory: directory + "/state")
            let record = try #require(try state.record(origin: testOrigin))
            #expect(record.size == 3 && record.root == checkpoint.root)
            #expect(record.text == (try SignedNote.parse(checkpoint.note)).text)
            state.close()
            let again = try makeWitness(directory, logs: [logKey(ledger)], key: key)
            #expect(try again.addCheckpoint(body: request(checkpoint, from: 0, ledger: ledger)).body == "3\n")
        }
    }
}
