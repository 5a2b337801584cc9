import FascicoloCrypto
import FascicoloStorage

/// The `stream_heads` table: the stream-head map as of the latest checkpoint, one row per
/// stream, `key(stream)` (32) → version (8) ‖ position (8) ‖ stream name. It is written in the
/// checkpoint's own transaction, so a read snapshot's table and latest checkpoint always agree.
enum StreamHeadTable {
    static let name = "stream_heads"

    struct Row {
        let key: Digest
        let head: StreamHead
    }

    static func value(head: StreamHead, stream: some Collection<UInt8>) -> [UInt8] {
        var value = BigEndian.bytes(head.version)
        value.reserveCapacity(16 + stream.count)
        BigEndian.append(head.position, to: &value)
        value.append(contentsOf: stream)
        return value
    }

    /// Parses a row; a row that is not what `value` writes is damage.
    static func row(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(DamagedData) -> (Row, stream: UnsafeRawBufferPointer)
    {
        guard key.count == Digest.byteCount, value.count > 16 else {
            throw DamagedData(table: name, what: "a row is not a stream key and its head")
        }
        let stream = UnsafeRawBufferPointer(rebasing: value[16...])
        let rowKey = Digest(bytes: key)
        guard StreamHeadMap.key(stream: stream) == rowKey else {
            throw DamagedData(table: name, what: "a row's key is not its stream's")
        }
        let head = StreamHead(
            version: BigEndian.read(UInt64.self, from: value, at: 0), position: BigEndian.read(UInt64.self, from: value, at: 8))
        return (Row(key: rowKey, head: head), stream)
    }

    /// Every row in key order (which is the map's bit order).
    static func rows(in txn: ReadTransaction, table: Table) throws -> [Row] {
        try txn.withCursor(table) { cursor in
            var rows: [Row] = []
            var record = try cursor.first()
            while let current = record {
                rows.append(try row(key: current.key, value: current.value).0)
                record = try cursor.next()
            }
            return rows
        }
    }
}

/// The map computed from its leaves sorted by key, in one pass: for proofs from a read
/// snapshot (O(streams) hashes, no state kept between requests) and for `verify`'s check of the
/// stored table. The writer and `verify`'s replay keep a `StreamHeadTree` instead.
struct SortedStreamHeads {
    let rows: [StreamHeadTable.Row]

    var root: Digest { hash(rows.indices, depth: 0) }

    /// The shortest proof for `key` (Formats.md, "A head proof").
    func proof(key: Digest) -> StreamHeadProof {
        var range = rows.indices
        var depth = 0
        var siblings: [Digest] = []
        while range.count > 1 {
            let split = firstOne(in: range, depth: depth)
            if StreamHeadMap.bit(key, depth) == 0 {
                siblings.append(hash(split..<range.upperBound, depth: depth + 1))
                range = range.lowerBound..<split
            } else {
                siblings.append(hash(range.lowerBound..<split, depth: depth + 1))
                range = split..<range.upperBound
            }
            depth += 1
        }
        guard let index = range.first else { return StreamHeadProof(head: nil, siblings: siblings, terminal: .empty) }
        let row = rows[index]
        if row.key == key { return StreamHeadProof(head: row.head, siblings: siblings, terminal: .head) }
        return StreamHeadProof(head: nil, siblings: siblings, terminal: .otherStream(key: row.key, head: row.head))
    }

    private func hash(_ range: Range<Int>, depth: Int) -> Digest {
        switch range.count {
        case 0: return StreamHeadMap.empty
        case 1: return StreamHeadMap.leafHash(key: rows[range.lowerBound].key, head: rows[range.lowerBound].head)
        default:
            let split = firstOne(in: range, depth: depth)
            return StreamHeadMap.nodeHash(
                hash(range.lowerBound..<split, depth: depth + 1), hash(split..<range.upperBound, depth: depth + 1))
        }
    }

    /// The first row of `range` whose bit `depth` is 1 (rows share their first `depth` bits and are sorted).
    private func firstOne(in range: Range<Int>, depth: Int) -> Int {
        var low = range.lowerBound
        var high = range.upperBound
        while low < high {
            let middle = (low + high) / 2
            if StreamHeadMap.bit(rows[middle].key, depth) == 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

extension LedgerSnapshot {
    /// The newest stored checkpoint, its signatures checked with the log's key; nil when none was signed.
    public func latestCheckpoint() throws -> Checkpoint? {
        guard let note = try transaction.withCursor(store.checkpoints, { try $0.last().map { String(decoding: $0.value, as: UTF8.self) } })
        else { return nil }
        return try chain().verify(note: note)
    }

    /// The stored checkpoint of exactly `size` entries, if one was signed.
    public func checkpoint(size: UInt64) throws -> Checkpoint? {
        guard let note = try transaction.get(store.checkpoints, key: BigEndian.bytes(size)) else { return nil }
        return try chain().verify(note: String(decoding: note, as: UTF8.self))
    }

    /// The keys as of this snapshot: the ledger's chain, unless a rotation this snapshot sees
    /// is not in it yet (read just as it committed), when the snapshot's own entries give them.
    public func signingKeys() throws -> KeyChain { try chain() }

    /// The chain the log's rotations give, each checked; nil when the key never changed.
    public func keyRotations() throws -> KeyChain? {
        try KeyChain.loadRotations(txn: transaction, store: store, origin: store.origin(in: transaction))
    }

    /// The log's keys as this snapshot holds them, trusted from `anchor`: the first key, or a
    /// later one of the chain (for a `LedgerReader`'s snapshot, which holds no chain).
    public func signingKeys(anchor: PublicKey) throws -> KeyChain {
        try KeyChain.load(txn: transaction, store: store, origin: store.origin(in: transaction), anchor: anchor)
    }

    func chain() throws -> KeyChain {
        guard let keyChain else { throw SnapshotWithoutKey() }
        guard try streamVersion(KeyRotation.stream) > UInt64(keyChain.rotations.count) else { return keyChain }
        return try KeyChain.loadRotations(txn: transaction, store: store, origin: keyChain.origin) ?? keyChain
    }

    /// The RFC 9162 inclusion proof of the entry at `position` in the tree of `treeSize` entries.
    public func inclusionProof(position: UInt64, treeSize: UInt64) throws -> [Digest] {
        let current = try entryCount()
        guard treeSize <= current else {
            throw MerkleTree.Failure.outOfRange("tree size \(treeSize) is beyond the log's \(current) entries")
        }
        return try MerkleTree(transaction: transaction, table: store.merkle).inclusionProof(index: position, size: treeSize)
    }

    /// The proof of `stream`'s head in the map that this snapshot's latest checkpoint commits to.
    public func streamHeadProof(stream: String) throws -> StreamHeadProof {
        try streamHeadProofs(streams: [stream])[0]
    }

    /// The proofs of several streams' heads, reading the map once: each proof reads the whole
    /// `stream_heads` table and hashes it (no node is stored): 91 ms for 200,000 streams
    /// (`fascicolo-bench stream-heads`, release, 2 cores), so one read for both of a person.
    public func streamHeadProofs(streams: [String]) throws -> [StreamHeadProof] {
        let rows = try store.streamHeads.map { try StreamHeadTable.rows(in: transaction, table: $0) } ?? []
        let map = SortedStreamHeads(rows: rows)
        return streams.map { map.proof(key: StreamHeadMap.key(stream: $0.utf8)) }
    }
}

/// A checkpoint was asked of a snapshot opened without the log's key (`LedgerReader`): read
/// checkpoints through `Ledger.read`, or check them with `Checkpoint.verify` and a key.
public struct SnapshotWithoutKey: Error, CustomStringConvertible {
    public var description: String { "this snapshot has no key to check checkpoints with" }
}
