import FascicoloCrypto
import FascicoloStorage
import Glibc
import Testing

@testable import FascicoloLedger

/// The stream-head map (Formats.md, "The stream-head map"): its hashing against a reference
/// written from the text, its proofs, the checkpoints that commit to it, and `verify`.
@Suite struct StreamHeadTests {
    // MARK: - The map's definition

    /// The map's root straight from the text: keys as bytes, bits taken from the bytes, the
    /// subtree recursion written out — nothing shared with the ledger's code but SHA-256.
    static func referenceRoot(_ heads: [String: StreamHead]) -> [UInt8] {
        func sha(_ bytes: [UInt8]) -> [UInt8] { SHA256.hash(bytes).bytes }
        func be(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
        let leaves = heads.map { (key: sha(Array($0.key.utf8)), head: $0.value) }
        func bit(_ key: [UInt8], _ index: Int) -> Int { Int(key[index / 8] >> UInt8(7 - index % 8)) & 1 }
        func hash(_ leaves: [(key: [UInt8], head: StreamHead)], depth: Int) -> [UInt8] {
            if leaves.isEmpty { return [UInt8](repeating: 0, count: 32) }
            if leaves.count == 1 {
                return sha([0x02] + leaves[0].key + be(leaves[0].head.version) + be(leaves[0].head.position))
            }
            let left = hash(leaves.filter { bit($0.key, depth) == 0 }, depth: depth + 1)
            let right = hash(leaves.filter { bit($0.key, depth) == 1 }, depth: depth + 1)
            return sha([0x03] + left + right)
        }
        return hash(leaves, depth: 0)
    }

    static func randomHeads(count: Int, seed: UInt64) -> [String: StreamHead] {
        var generator = SeededGenerator(seed: seed)
        var heads: [String: StreamHead] = [:]
        for index in 0..<count {
            heads["stream-\(index)-\(generator.next() % 1000)"] = StreamHead(
                version: generator.next() % 50 + 1, position: generator.next() % 100_000)
        }
        return heads
    }

    @Test(arguments: [0, 1, 2, 3, 17, 300]) func theTreeAndTheSortedPassGiveTheReferenceRoot(count: Int) {
        let heads = Self.randomHeads(count: count, seed: UInt64(count) &+ 7)
        var tree = StreamHeadTree()
        for (stream, head) in heads { tree.set(stream: Array(stream.utf8), head: head) }
        let reference = Self.referenceRoot(heads)
        #expect(tree.root().bytes == reference)
        #expect(Self.sorted(heads).root.bytes == reference)
        if count == 0 { #expect(reference == [UInt8](repeating: 0, count: 32)) }
    }

    /// Changing heads one at a time after the root was computed re-hashes exactly what changed.
    @Test func updatesInPlaceKeepTheRootRight() {
        var heads = Self.randomHeads(count: 200, seed: 42)
        var tree = StreamHeadTree()
        for (stream, head) in heads { tree.set(stream: Array(stream.utf8), head: head) }
        _ = tree.root()
        for (index, stream) in heads.keys.sorted().enumerated() where index % 7 == 0 {
            heads[stream] = StreamHead(version: 1_000 + UInt64(index), position: 500_000 + UInt64(index))
            tree.set(stream: Array(stream.utf8), head: heads[stream]!)
            if index % 3 == 0 { #expect(tree.root().bytes == Self.referenceRoot(heads)) }
        }
        heads["a-new-stream"] = StreamHead(version: 1, position: 9)
        tree.set(stream: Array("a-new-stream".utf8), head: heads["a-new-stream"]!)
        #expect(tree.root().bytes == Self.referenceRoot(heads))
        #expect(tree.count == heads.count)
    }

    static func sorted(_ heads: [String: StreamHead]) -> SortedStreamHeads {
        SortedStreamHeads(
            rows: heads.map { StreamHeadTable.Row(key: StreamHeadMap.key(stream: Array($0.key.utf8)), head: $0.value) }
                .sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) })
    }

    @Test func proofsOfPresenceAndAbsenceVerifyAndForgeriesDoNot() throws {
        let heads = Self.randomHeads(count: 150, seed: 3)
        let map = Self.sorted(heads)
        let root = map.root
        for (stream, head) in heads.prefix(40) {
            let proof = map.proof(key: StreamHeadMap.key(stream: Array(stream.utf8)))
            #expect(proof.head == head && proof.terminal == .head)
            #expect(proof.root(stream: Array(stream.utf8)) == root)
            // Another stream's proof does not prove this one; a forged head does not verify.
            #expect(proof.root(stream: Array((stream + "x").utf8)) != root)
            let forged = StreamHeadProof(
                head: StreamHead(version: head.version + 1, position: head.position), siblings: proof.siblings, terminal: .head)
            #expect(forged.root(stream: Array(stream.utf8)) != root)
            var siblings = proof.siblings
            if !siblings.isEmpty {
                siblings[0].a ^= 1
                #expect(StreamHeadProof(head: head, siblings: siblings, terminal: .head).root(stream: Array(stream.utf8)) != root)
            }
            // Claiming absence of a stream that is there does not verify either way.
            #expect(StreamHeadProof(head: nil, siblings: proof.siblings, terminal: .empty).root(stream: Array(stream.utf8)) != root)
        }
        var absent = 0
        for index in 0..<60 {
            let stream = Array("absent-\(index)".utf8)
            let proof = map.proof(key: StreamHeadMap.key(stream: stream))
            #expect(proof.head == nil)
            #expect(proof.root(stream: stream) == root)
            if case .otherStream = proof.terminal { absent += 1 }
        }
        #expect(absent > 0, "some absence proofs end at another stream's leaf")
        // An empty map proves every stream absent with no sibling.
        let empty = SortedStreamHeads(rows: []).proof(key: StreamHeadMap.key(stream: Array("x".utf8)))
        #expect(empty.siblings.isEmpty && empty.terminal == .empty && empty.root(stream: Array("x".utf8)) == StreamHeadMap.empty)
    }

    // MARK: - The log

    @Test func everyCheckpointCommitsToTheHeadsOfItsEntries() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(noSync: true)
            configuration.checkpointEveryEntries = 7
            configuration.checkpointEveryMilliseconds = 60_000
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            var expected: [String: StreamHead] = [:]
            for index in 0..<50 {
                let stream = "case-\(index % 6)"
                let result = try await ledger.append(AppendRequest(stream: stream, events: [event("n \(index)")], author: "t"))
                expected[stream] = StreamHead(version: result.firstStreamVersion, position: result.firstPosition)
            }
            let checkpoint = try await ledger.signCheckpoint()
            #expect(checkpoint.size == 50)
            #expect(checkpoint.streamHeadsRoot?.bytes == Self.referenceRoot(expected))
            #expect(checkpoint.note.contains("\nfascicolo/stream-heads/v1 "))
            try ledger.read { snapshot in
                #expect(try snapshot.latestCheckpoint() == checkpoint)
                let proof = try snapshot.streamHeadProof(stream: "case-3")
                #expect(proof.head == expected["case-3"])
                #expect(proof.root(stream: Array("case-3".utf8)) == checkpoint.streamHeadsRoot)
                let absent = try snapshot.streamHeadProof(stream: "case-99")
                #expect(absent.head == nil && absent.root(stream: Array("case-99".utf8)) == checkpoint.streamHeadsRoot)
            }
            // Signing again with nothing new returns the same checkpoint.
            #expect(try await ledger.signCheckpoint() == checkpoint)
            ledger.close()
            // Reopened, the writer continues the same map.
            let again = try Ledger.open(directory: directory, configuration: configuration)
            let result = try await again.append(AppendRequest(stream: "case-1", events: [event("after")], author: "t"))
            expected["case-1"] = StreamHead(version: result.firstStreamVersion, position: result.firstPosition)
            let next = try await again.signCheckpoint()
            #expect(next.size == 51 && next.streamHeadsRoot?.bytes == Self.referenceRoot(expected))
            again.close()
            let report = try Verifier.verify(directory: directory)
            #expect(report.checkpoints >= 8)
        }
    }

    /// Entries left uncovered by a crash are put into the map at the next start.
    @Test func entriesAfterTheLastCheckpointReachTheNextOneAfterAReopen() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(noSync: true)
            configuration.checkpointEveryEntries = 1_000
            configuration.checkpointEveryMilliseconds = 60_000
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            _ = try await ledger.append(AppendRequest(stream: "a", events: [event("1")], author: "t"))
            _ = try await ledger.signCheckpoint()
            _ = try await ledger.append(AppendRequest(stream: "b", events: [event("2"), event("3")], author: "t"))
            // Close without the final checkpoint, as a crash would: copy the store aside first.
            let crashed = directory + "/crashed"
            #expect(mkdir(crashed, 0o700) == 0)
            try ledger.copy(to: crashed, compact: false)
            for name in ["signing.key", "signing.pub"] {
                #expect(Glibc.link(directory + "/" + name, crashed + "/" + name) == 0)
            }
            ledger.close()
            let reopened = try Ledger.open(directory: crashed, configuration: configuration)
            let checkpoint = try await reopened.signCheckpoint()
            #expect(checkpoint.size == 3)
            #expect(
                checkpoint.streamHeadsRoot?.bytes
                    == Self.referenceRoot(["a": StreamHead(version: 1, position: 0), "b": StreamHead(version: 2, position: 2)]))
            reopened.close()
            _ = try Verifier.verify(directory: crashed)
        }
    }

    /// A checkpoint re-signed with heads the entries do not give is named by verify.
    @Test func aForgedStreamHeadsLineIsFound() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(noSync: true)
            configuration.checkpointEveryEntries = 5
            configuration.checkpointEveryMilliseconds = 600_000  // checkpoints at 5 and 10 only
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            for index in 0..<10 {
                _ = try await ledger.append(AppendRequest(stream: "s-\(index % 3)", events: [event("\(index)")], author: "t"))
            }
            ledger.close()
            let key = try KeyFile.loadOrCreate(directory: directory, name: "fascicolo.invalid/ledger")
            let store = try LedgerStore.open(directory: directory, readOnly: false)
            try store.environment.write { txn in
                let note = try #require(try txn.get(store.checkpoints, key: bigEndianBytes(5)))
                let genuine = try Checkpoint.verify(
                    note: String(decoding: note, as: UTF8.self), origin: "fascicolo.invalid/ledger", publicKey: key.publicKey)
                var lie = try #require(genuine.streamHeadsRoot)
                lie.d ^= 1
                let forged = Checkpoint.sign(
                    origin: genuine.origin, size: 5, root: genuine.root, streamHeadsRoot: lie, key: key,
                    timestampSeconds: genuine.timestampSeconds ?? 0)
                try txn.put(store.checkpoints, key: bigEndianBytes(5), value: Array(forged.note.utf8))
            }
            store.environment.close()
            // checkpoints.log keeps the genuine note, which the table now lacks: take it away to
            // see the line itself found.
            #expect(unlink(directory + "/" + CheckpointFile.name) == 0)
            do {
                _ = try Verifier.verify(directory: directory)
                Issue.record("verify passed a forged stream-heads line")
            } catch let failure as Verifier.Failure {
                #expect(failure.position == 4)
                #expect(failure.problem.contains("checkpoint of size 5 commits to stream heads"), "\(failure)")
            }
        }
    }

    /// A changed `stream_heads` row is found by verify and refused at the next start.
    @Test func aChangedStreamHeadsRowIsFoundAndNotSigned() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = testConfiguration(noSync: true)
            configuration.checkpointEveryEntries = 5
            configuration.checkpointEveryMilliseconds = 60_000  // checkpoints at 5 and 10 only
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            for index in 0..<10 {
                _ = try await ledger.append(AppendRequest(stream: "s-\(index % 3)", events: [event("\(index)")], author: "t"))
            }
            ledger.close()
            let key = StreamHeadMap.key(stream: Array("s-1".utf8)).bytes
            let (offset, _) = try valueOffset(directory: directory, table: { $0.streamHeads! }, key: key)
            try flipByte(directory: directory, at: offset + 7)  // the version's lowest byte
            do {
                _ = try Verifier.verify(directory: directory)
                Issue.record("verify passed a changed stream_heads row")
            } catch let failure as Verifier.Failure {
                #expect(failure.problem.contains("stream_heads"), "\(failure)")
            }
            #expect(throws: DamagedData.self) { try Ledger.open(directory: directory, configuration: configuration) }
        }
    }
}

/// A small deterministic generator (SplitMix64), so that a failing case can be run again.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
