import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import Glibc
import Testing

/// `Ledger.replicate`: a follower stores a primary's signed entries at the same positions only
/// after checking them, and refuses — storing nothing — what is not a continuation of its log.
@Suite struct ReplicationTests {
    /// Copies everything `primary` has checkpointed into `follower`, a run at a time.
    @discardableResult
    func follow(_ primary: Ledger, into follower: Ledger, entriesMax: Int = 7) async throws -> UInt64 {
        while true {
            let read = try primary.replicationRead(from: follower.size, entriesMax: entriesMax)
            guard !read.batch.records.isEmpty else { return follower.size }
            // The frames carry exactly what was read.
            #expect(try ReplicationFrames.decode(ReplicationFrames.encode(read)) == read)
            _ = try await follower.replicate(read.batch)
        }
    }

    func firstKey(_ ledger: Ledger) -> (name: String, publicKey: PublicKey) { (ledger.origin, ledger.keyChain.first) }

    @Test func aFollowerHoldsTheSameLogAcrossAKeyRotation() async throws {
        try await withTemporaryDirectory { directory in
            let primary = try Ledger.open(directory: directory + "/primary", configuration: testConfiguration())
            defer { primary.close() }
            for index in 0..<23 {
                _ = try await primary.append(AppendRequest(stream: "s-\(index % 3)", events: [event("\(index)")], author: "t"))
            }
            _ = try await primary.rotateKey(author: "t", retire: .keep)
            for index in 0..<9 {
                _ = try await primary.append(AppendRequest(stream: "s-\(index % 4)", events: [event("\(index)")], author: "t"))
            }
            let covered = try await primary.signCheckpoint().size
            let follower = try Ledger.openFollower(directory: directory + "/follower", trustedKey: firstKey(primary))
            defer { follower.close() }
            #expect(try await follow(primary, into: follower) == covered)
            #expect(try follower.root(size: covered) == primary.root(size: covered))
            #expect(try follower.latestCheckpoint() == primary.latestCheckpoint())
            #expect(follower.keyChain == primary.keyChain)
            #expect(try follower.readStream("s-1", limit: 100) == primary.readStream("s-1", limit: 100))
            // It holds no key of the log: it could not take over.
            #expect(!follower.holdsCurrentKey)
        }
    }

    @Test func anAlteredEntryOrARunWithoutItsCheckpointIsRefusedAndNothingIsStored() async throws {
        try await withTemporaryDirectory { directory in
            let primary = try Ledger.open(directory: directory + "/primary", configuration: testConfiguration())
            defer { primary.close() }
            for index in 0..<12 { _ = try await primary.append(AppendRequest(stream: "s", events: [event("\(index)")], author: "t")) }
            _ = try await primary.signCheckpoint()
            let follower = try Ledger.openFollower(directory: directory + "/follower", trustedKey: firstKey(primary))
            defer { follower.close() }
            let read = try primary.replicationRead(from: 0, entriesMax: 100)

            var altered = read.batch
            altered.records[5][40] ^= 1
            await #expect(throws: ReplicationRefused.self) { _ = try await follower.replicate(altered) }
            var cut = read.batch
            cut.notes.removeLast()
            await #expect(throws: ReplicationRefused.self) { _ = try await follower.replicate(cut) }
            var foreign = read.batch
            foreign.records.removeFirst()
            await #expect(throws: ReplicationRefused.self) { _ = try await follower.replicate(foreign) }
            #expect(follower.size == 0)
            #expect(try await follower.replicate(read.batch) == 12)
        }
    }

    @Test func aPrimaryRestoredFromAnOlderCopyAndAppendedToIsRefusedAsAFork() async throws {
        try await withTemporaryDirectory { directory in
            var primary = try Ledger.open(directory: directory + "/primary", configuration: testConfiguration())
            for index in 0..<5 { _ = try await primary.append(AppendRequest(stream: "s", events: [event("\(index)")], author: "t")) }
            _ = try await primary.signCheckpoint()
            primary.close()
            #expect(try runProcess("/bin/cp", ["-a", directory + "/primary", directory + "/older"]).status == 0)
            primary = try Ledger.open(directory: directory + "/primary", configuration: testConfiguration())
            for index in 5..<10 { _ = try await primary.append(AppendRequest(stream: "s", events: [event("\(index)")], author: "t")) }
            _ = try await primary.signCheckpoint()
            let follower = try Ledger.openFollower(directory: directory + "/follower", trustedKey: firstKey(primary))
            defer { follower.close() }
            try await follow(primary, into: follower)
            #expect(follower.size == 10)
            let held = try follower.latestCheckpoint()
            primary.close()

            let restored = try Ledger.open(directory: directory + "/older", configuration: testConfiguration())
            defer { restored.close() }
            for index in 0..<8 { _ = try await restored.append(AppendRequest(stream: "s", events: [event("other \(index)")], author: "t")) }
            _ = try await restored.signCheckpoint()
            let read = try restored.replicationRead(from: follower.size, entriesMax: 100)
            await #expect(throws: ReplicationRefused.self) {
                do { _ = try await follower.replicate(read.batch) } catch let refused as ReplicationRefused {
                    #expect(refused.kind == .forked)
                    throw refused
                }
            }
            #expect(follower.size == 10)
            #expect(try follower.latestCheckpoint() == held)
        }
    }
}
