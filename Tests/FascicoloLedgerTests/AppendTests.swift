import FascicoloCrypto
import FascicoloLedger
import Glibc
import Testing

@Suite struct AppendTests {
    @Test func appendAssignsGlobalPositionsAndStreamVersions() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            defer { ledger.close() }
            let first = try await ledger.append(AppendRequest(stream: "case-a", events: [event("1"), event("2")], author: "uid:1/app"))
            let second = try await ledger.append(AppendRequest(stream: "case-b", events: [event("3")], author: "uid:1/app"))
            let third = try await ledger.append(AppendRequest(stream: "case-a", events: [event("4")], author: "uid:1/app"))
            #expect(first.positions == 0...1 && first.streamVersions == 1...2 && !first.deduplicated)
            #expect(second.positions == 2...2 && second.streamVersions == 1...1)
            #expect(third.positions == 3...3 && third.streamVersions == 3...3)
            #expect(ledger.size == 4)

            let entry = try #require(try ledger.entry(at: 3))
            #expect(entry.stream == "case-a" && entry.streamVersion == 3 && entry.eventType == "TestEvent")
            #expect(entry.payload == payload("4") && entry.author == "uid:1/app")
            #expect(entry.leafHash == third.leafHashes[0])
            #expect(ledger.publicKey.isValidSignature(entry.signature, for: Array(entry.signedBytes)))

            let forwards = try ledger.readStream("case-a", limit: 10)
            #expect(forwards.map(\.streamVersion) == [1, 2, 3])
            let backwards = try ledger.readStream("case-a", backwards: true, limit: 2)
            #expect(backwards.map(\.streamVersion) == [3, 2])
            let fromTwoBack = try ledger.readStream("case-a", from: 2, backwards: true, limit: 10)
            #expect(fromTwoBack.map(\.streamVersion) == [2, 1])
            let fromTwo = try ledger.readStream("case-a", from: 2, limit: 1)
            #expect(fromTwo.map(\.payload) == [payload("2")])
            #expect(try ledger.readStream("case-c", limit: 10).isEmpty)
            #expect(try ledger.readStream("case", limit: 10).isEmpty)  // a prefix of another name is not that stream
            #expect(try ledger.entries(from: 1, limit: 2).map(\.position) == [1, 2])
            #expect(try ledger.streamVersion("case-a") == 3)

            // Three appends one after the other: three group commits of 2, 1 and 1 events.
            let timings = ledger.commitTimings
            #expect(timings.commits == 3 && timings.commits == ledger.commitCount && timings.events == 4)
            #expect(timings.signSeconds > 0 && timings.writeSeconds > 0 && timings.syncSeconds > 0 && timings.waitSeconds >= 0)
        }
    }

    @Test func expectedVersionIsEnforcedAndAConflictStoresNothing() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            defer { ledger.close() }
            _ = try await ledger.append(AppendRequest(stream: "s", events: [event("a")], expectedVersion: .noStream, author: "t"))
            await #expect(throws: LedgerError.wrongExpectedVersion(stream: "s", expected: .noStream, actual: 1)) {
                try await ledger.append(AppendRequest(stream: "s", events: [event("b")], expectedVersion: .noStream, author: "t"))
            }
            await #expect(throws: LedgerError.wrongExpectedVersion(stream: "s", expected: .exactly(0), actual: 1)) {
                try await ledger.append(AppendRequest(stream: "s", events: [event("b")], expectedVersion: .exactly(0), author: "t"))
            }
            await #expect(throws: LedgerError.wrongExpectedVersion(stream: "s", expected: .exactly(2), actual: 1)) {
                try await ledger.append(AppendRequest(stream: "s", events: [event("b")], expectedVersion: .exactly(2), author: "t"))
            }
            #expect(ledger.size == 1)
            let ok = try await ledger.append(
                AppendRequest(stream: "s", events: [event("b"), event("c")], expectedVersion: .exactly(1), author: "t"))
            #expect(ok.streamVersions == 2...3)
            _ = try await ledger.append(AppendRequest(stream: "new", events: [event("x")], expectedVersion: .exactly(0), author: "t"))
            #expect(try ledger.streamVersion("new") == 1)
        }
    }

    @Test func idempotencyKeysReturnTheOriginalPositionsOrConflict() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            let request = AppendRequest(
                stream: "s", events: [event("a"), event("b")], expectedVersion: .noStream,
                idempotencyKey: "req-1", author: "t")
            let original = try await ledger.append(request)
            _ = try await ledger.append(AppendRequest(stream: "s", events: [event("c")], author: "t"))
            // The retry carries the same stale expected version: still the original answer.
            let retry = try await ledger.append(request)
            #expect(retry.deduplicated)
            #expect(retry.positions == original.positions && retry.leafHashes == original.leafHashes)
            #expect(retry.streamVersions == original.streamVersions)
            #expect(ledger.size == 3)
            var changed = request
            changed.events[1] = event("B")
            await #expect(throws: LedgerError.idempotencyConflict(key: "req-1")) { try await ledger.append(changed) }
            var otherStream = request
            otherStream.stream = "other"
            await #expect(throws: LedgerError.idempotencyConflict(key: "req-1")) { try await ledger.append(otherStream) }
            #expect(ledger.size == 3)
            ledger.close()

            // Kept permanently: still answered after a reopen.
            let reopened = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            defer { reopened.close() }
            let afterReopen = try await reopened.append(request)
            #expect(afterReopen == retry)
            #expect(reopened.size == 3)
        }
    }

    @Test func badInputIsRefusedWithATypedErrorAndNothingStored() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(noSync: true)
            configuration.limits.payloadBytesMax = 100
            configuration.limits.eventsPerAppendMax = 3
            configuration.limits.streamNameBytesMax = 20
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            defer { ledger.close() }
            func refused(_ request: AppendRequest, code: String, sourceLocation: SourceLocation = #_sourceLocation) async {
                do {
                    _ = try await ledger.append(request)
                    Issue.record("accepted: \(request.stream)", sourceLocation: sourceLocation)
                } catch let error as LedgerError {
                    #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
                } catch {
                    Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
                }
            }
            let good = event("ok")
            await refused(AppendRequest(stream: "s", events: [], author: "t"), code: "no_events")
            await refused(AppendRequest(stream: "s", events: [NewEvent(type: "T", payload: [])], author: "t"), code: "empty_payload")
            await refused(
                AppendRequest(stream: "s", events: [NewEvent(type: "T", payload: [UInt8](repeating: 65, count: 101))], author: "t"),
                code: "payload_too_large")
            await refused(AppendRequest(stream: "s", events: [good, good, good, good], author: "t"), code: "too_many_events")
            for name in [
                "", "-leading-dash", "has space", "ünïcode", "semi;colon", "has/slash", String(repeating: "x", count: 21), "nul\u{0}byte",
            ] {
                await refused(AppendRequest(stream: name, events: [good], author: "t"), code: "invalid_stream_name")
            }
            for type in ["", "1starts-with-digit", "has space", String(repeating: "T", count: 129)] {
                await refused(
                    AppendRequest(stream: "s", events: [NewEvent(type: type, payload: payload("x"))], author: "t"),
                    code: "invalid_event_type")
            }
            await refused(AppendRequest(stream: "s", events: [good], author: ""), code: "invalid_author")
            await refused(AppendRequest(stream: "s", events: [good], author: "tab\there"), code: "invalid_author")
            await refused(AppendRequest(stream: "s", events: [good], idempotencyKey: "", author: "t"), code: "invalid_idempotency_key")
            await refused(
                AppendRequest(stream: "s", events: [good], idempotencyKey: "has space", author: "t"), code: "invalid_idempotency_key")
            // One bad event spoils the whole append: nothing of it is stored.
            await refused(AppendRequest(stream: "s", events: [good, NewEvent(type: "T", payload: [])], author: "t"), code: "empty_payload")
            #expect(ledger.size == 0)
            #expect(try ledger.streamVersion("s") == 0)
            // The limits are inclusive.
            let edge = try await ledger.append(
                AppendRequest(
                    stream: String(repeating: "x", count: 20), events: [NewEvent(type: "T", payload: [UInt8](repeating: 65, count: 100))],
                    author: "t"))
            #expect(edge.positions == 0...0)
        }
    }

    @Test func checkpointsAreSignedEveryNEntries() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(noSync: true)
            configuration.checkpointEveryEntries = 10
            configuration.checkpointEveryMilliseconds = 3_600_000  // only the count applies here
            configuration.origin = "test.example/log"
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            for index in 0..<12 {
                _ = try await ledger.append(AppendRequest(stream: "s", events: [event("\(index)")], author: "t"))
            }
            let byCount = try #require(try ledger.checkpoint(size: 10))
            #expect(byCount.root == (try ledger.root(size: 10)))
            #expect(byCount.note.hasPrefix("test.example/log\n10\n"))
            #expect(try ledger.latestCheckpoint()?.size == 10)
            // The note verifies with the published verifier key and carries a timestamped cosignature.
            let key = try #require(SignedNote.parseVerifierKey(ledger.verifierKey))
            let parsed = try SignedNote.parse(byCount.note)
            #expect(SignedNote.hasValidSignature(parsed, name: key.name, publicKey: key.publicKey))
            let timestamp = try #require(SignedNote.validCosignatureTimestamp(parsed, name: key.name, publicKey: key.publicKey))
            #expect(abs(Int64(timestamp) - Int64(time(nil))) < 60)
            // Inclusion of entry 7 in the checkpointed tree checks out against its root.
            let entry = try #require(try ledger.entry(at: 7))
            let proof = try ledger.inclusionProof(position: 7, treeSize: 10)
            #expect(MerkleProof.verifyInclusion(leafHash: entry.leafHash, index: 7, treeSize: 10, proof: proof, root: byCount.root))
            let consistency = try ledger.consistencyProof(oldSize: 10, newSize: 12)
            #expect(
                MerkleProof.verifyConsistency(
                    oldSize: 10, newSize: 12, proof: consistency, oldRoot: byCount.root,
                    newRoot: try ledger.root(size: 12)))
            #expect(throws: (any Error).self) { try ledger.inclusionProof(position: 3, treeSize: 13) }
            // Closing signs a checkpoint of everything.
            ledger.close()
            let reopened = try Ledger.open(directory: directory, configuration: configuration)
            #expect(try reopened.latestCheckpoint()?.size == 12)
            reopened.close()
        }
    }

    @Test func aCheckpointFollowsTheIntervalWithoutFurtherAppends() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(noSync: true)
            configuration.checkpointEveryEntries = 1_000_000
            configuration.checkpointEveryMilliseconds = 50
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            defer { ledger.close() }
            for index in 0..<3 {
                _ = try await ledger.append(AppendRequest(stream: "s", events: [event("\(index)")], author: "t"))
            }
            var latest = try ledger.latestCheckpoint()
            for _ in 0..<250 where latest?.size != 3 {
                sleepMilliseconds(20)
                latest = try ledger.latestCheckpoint()
            }
            #expect(latest?.size == 3)
            #expect(latest?.root == (try ledger.root(size: 3)))
        }
    }

    @Test func reopeningKeepsEverythingAndTheLogVerifies() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration())
            for index in 0..<25 {
                _ = try await ledger.append(AppendRequest(stream: "s\(index % 3)", events: [event("\(index)")], author: "t"))
            }
            let root = try ledger.root(size: 25)
            ledger.close()  // signs a final checkpoint
            let reopened = try Ledger.open(directory: directory, configuration: testConfiguration())
            #expect(reopened.size == 25)
            #expect(try reopened.latestCheckpoint()?.size == 25)
            #expect(try reopened.root(size: 25) == root)
            let next = try await reopened.append(AppendRequest(stream: "s0", events: [event("more")], author: "t"))
            #expect(next.positions == 25...25 && next.streamVersions == 10...10)
            reopened.close()
            for fast in [false, true] {
                var options = Verifier.Options()
                options.fast = fast
                options.chunkEntries = 7  // several parallel steps even on a small log
                let report = try Verifier.verify(directory: directory, options: options)
                #expect(report.entries == 26 && report.streams == 3 && report.checkpoints >= 3)
            }
        }
    }

    @Test func appendsAfterCloseAreRefused() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
            ledger.close()
            await #expect(throws: LedgerError.shutDown) {
                try await ledger.append(AppendRequest(stream: "s", events: [event("late")], author: "t"))
            }
        }
    }
}
