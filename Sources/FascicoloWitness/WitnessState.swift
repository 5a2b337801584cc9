import FascicoloCrypto
import FascicoloStorage
import Glibc

/// What a witness remembers of each log: the latest checkpoint it cosigned (tlog-witness: "For
/// each log, uniquely identified by its origin line, the witness is only required to keep track
/// of the latest checkpoint it observed and verified"), in an LMDB environment of its own.
///
/// Table `cosigned`: key = the origin's UTF-8 bytes; value = tree size (8 bytes, big-endian) ‖
/// root hash (32 bytes) ‖ the checkpoint's note text (kept as the record of what was cosigned).
/// Table `keys`: key = the origin's UTF-8 bytes; value = one 72-byte record per key rotation the
/// witness learnt from a cosigned checkpoint of that origin with a next-key line (Formats.md,
/// "Key rotation"), oldest first: rotation checkpoint size (8 bytes, big-endian) ‖ the key that
/// signed it (32 bytes) ‖ the key it named (32 bytes). A record is written in the same
/// transaction as the `cosigned` record of its checkpoint. No row: the configured key is the
/// one trusted.
/// Commits are durable (LMDB's default sync), and `update` checks and writes in one write
/// transaction: LMDB admits one writer at a time, across processes too, so two requests for
/// the same origin can never both pass the check against the same old state.
public final class WitnessState: Sendable {
    public struct Record: Sendable, Equatable {
        public let size: UInt64
        public let root: Digest
        public let text: String
    }

    /// A key rotation learnt from a cosigned checkpoint of `size` (its last entry the
    /// rotation), signed by `previous` and naming `next` in its next-key line.
    public struct LearntKey: Sendable, Equatable {
        public let size: UInt64
        public let previous: PublicKey
        public let next: PublicKey

        public init(size: UInt64, previous: PublicKey, next: PublicKey) {
            self.size = size
            self.previous = previous
            self.next = next
        }
    }

    let environment: Environment
    let cosigned: Table
    let keys: Table

    /// Opens (creating) the state in `directory`.
    public init(directory: String, mapSizeBytes: Int = 16 << 20) throws {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw StorageError(code: .init(errno), operation: "create the witness data directory \(directory)")
        }
        var options = Environment.Options()
        options.mapSizeBytes = mapSizeBytes
        options.mapSizeBytesMax = 1 << 32
        options.tablesMax = 4
        environment = try Environment(path: directory, options: options)
        cosigned = try environment.openTable("cosigned", create: true)
        keys = try environment.openTable("keys", create: true)
    }

    public func close() { environment.close() }

    /// The latest cosigned checkpoint of `origin`, if any.
    public func record(origin: String) throws -> Record? {
        try environment.read { txn in try txn.get(cosigned, key: Array(origin.utf8)).map(Self.decode) }
    }

    /// The key rotations learnt for `origin`, oldest first.
    public func learntKeys(origin: String) throws -> [LearntKey] {
        try environment.read { txn in try txn.get(keys, key: Array(origin.utf8)).map(Self.decodeKeys) ?? [] }
    }

    /// Runs `decide` on the stored record and learnt keys of `origin` inside the write
    /// transaction; the record it returns, and the rotation it learnt (appended to the keys),
    /// are written and committed durably, together, before `update` returns (nil: unchanged).
    /// What `decide` throws aborts the transaction (nothing written) and is rethrown.
    public func update<T>(
        origin: String, _ decide: (Record?, [LearntKey]) throws -> (Record?, LearntKey?, T)
    ) throws -> T {
        try environment.write { txn in
            let key = Array(origin.utf8)
            let stored = try txn.get(cosigned, key: key).map(Self.decode)
            let learnt = try txn.get(keys, key: key).map(Self.decodeKeys) ?? []
            let (new, rotation, result) = try decide(stored, learnt)
            if let new, new != stored { try txn.put(cosigned, key: key, value: Self.encode(new)) }
            if let rotation {
                precondition(rotation.size > (learnt.last?.size ?? 0), "rotations are learnt in size order")
                try txn.put(keys, key: key, value: (learnt + [rotation]).flatMap { Self.encode($0) })
            }
            return result
        }
    }

    static func encode(_ key: LearntKey) -> [UInt8] { BigEndian.bytes(key.size) + key.previous.bytes + key.next.bytes }

    /// Learnt keys that cannot be read are damage: read as none, the witness would trust the
    /// configured (retired) key again.
    static func decodeKeys(_ bytes: [UInt8]) throws -> [LearntKey] {
        guard !bytes.isEmpty, bytes.count % 72 == 0 else {
            throw DamagedData(table: "keys", what: "a row that is not a sequence of 72-byte rotations")
        }
        return try stride(from: 0, to: bytes.count, by: 72).map { start in
            guard let size = BigEndian.uint64(bytes[start..<start + 8]), let previous = PublicKey(Array(bytes[start + 8..<start + 40])),
                let next = PublicKey(Array(bytes[start + 40..<start + 72]))
            else { throw DamagedData(table: "keys", what: "a rotation that is not size, previous key and next key") }
            return LearntKey(size: size, previous: previous, next: next)
        }
    }

    static func encode(_ record: Record) -> [UInt8] {
        BigEndian.bytes(record.size) + record.root.bytes + Array(record.text.utf8)
    }

    /// A record that cannot be read is damage, never "no record": read as none, it would let
    /// the witness cosign a rollback.
    static func decode(_ bytes: [UInt8]) throws -> Record {
        guard bytes.count >= 40, let size = BigEndian.uint64(bytes[0..<8]), let root = Digest(Array(bytes[8..<40])) else {
            throw DamagedData(table: "cosigned", what: "a record shorter than its size and root hash")
        }
        return Record(size: size, root: root, text: String(decoding: bytes[40...], as: UTF8.self))
    }
}
