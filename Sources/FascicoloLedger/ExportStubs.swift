// TEMPORARY (branch h18-export): stand-ins for the lead's issue-18 ledger API
// (/work/briefs/ledger-api18.md), so that the export compiles before it lands. Deleted at
// `git merge main`. Not a map: heads are read from the current stream table, and the proofs are
// not proofs.
import FascicoloCrypto
import FascicoloStorage

public struct StreamHead: Sendable, Equatable {
    public let version: UInt64
    public let position: UInt64
}

public enum StreamHeadMap {
    public static let empty = Digest([UInt8](repeating: 0, count: 32))!
    public static func key(stream: some Collection<UInt8>) -> Digest {
        var hash = SHA256()
        hash.update(Array(stream))
        return hash.finalize()
    }
    public static func leafHash(key: Digest, head: StreamHead) -> Digest {
        var hash = SHA256()
        hash.update(byte: 2)
        hash.update(key)
        hash.update(BigEndian.bytes(head.version))
        hash.update(BigEndian.bytes(head.position))
        return hash.finalize()
    }
    public static func nodeHash(_ left: Digest, _ right: Digest) -> Digest {
        var hash = SHA256()
        hash.update(byte: 3)
        hash.update(left)
        hash.update(right)
        return hash.finalize()
    }
}

public struct StreamHeadProof: Sendable, Equatable {
    public enum Terminal: Sendable, Equatable { case head, empty, otherStream(key: Digest, head: StreamHead) }
    public let head: StreamHead?
    public let siblings: [Digest]
    public let terminal: Terminal
    public func root(stream: some Collection<UInt8>) -> Digest? {
        guard let head else { return StreamHeadMap.empty }
        return StreamHeadMap.leafHash(key: StreamHeadMap.key(stream: stream), head: head)
    }
}

extension Checkpoint {
    public var streamHeadsRoot: Digest? { nil }
}

extension LedgerSnapshot {
    public func latestCheckpoint() throws -> Checkpoint? {
        let note = try transaction.withCursor(store.checkpoints) { cursor in
            try cursor.last().map { String(decoding: $0.value, as: UTF8.self) }
        }
        guard let note else { return nil }
        let lines = note.split(separator: "\n", omittingEmptySubsequences: false)
        return Checkpoint(
            origin: String(lines[0]), size: UInt64(lines[1])!, root: Digest(Base64.decode(String(lines[2]))!)!,
            timestampSeconds: nil, note: note)
    }

    public func inclusionProof(position: UInt64, treeSize: UInt64) throws -> [Digest] {
        try MerkleTree(transaction: transaction, table: store.merkle).inclusionProof(index: position, size: treeSize)
    }

    public func streamHeadProof(stream: String) throws -> StreamHeadProof {
        let version = try streamVersion(stream)
        guard version > 0, let position = try position(ofStream: Array(stream.utf8), version: version) else {
            return StreamHeadProof(head: nil, siblings: [], terminal: .empty)
        }
        return StreamHeadProof(head: StreamHead(version: version, position: position), siblings: [], terminal: .head)
    }
}

extension Ledger {
    public func signCheckpoint() async throws -> Checkpoint {
        let size = self.size
        while true {
            if let latest = try latestCheckpoint(), latest.size >= size { return latest }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
