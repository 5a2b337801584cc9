import FascicoloCrypto
import FascicoloStorage
import Glibc

/// What a witness remembers of each log: the latest checkpoint it cosigned (tlog-witness: "For
/// each log, uniquely identified by its origin line, the witness is only required to keep track
/// of the latest checkpoint it observed and verified"), in an LMDB environment of its own.
///
/// Table `cosigned`: key = the origin's UTF-8 bytes; value = tree size (8 bytes, big-endian) ‖
/// root hash (32 bytes) ‖ the checkpoint's note text (kept as the record of what was cosigned).
/// Commits are durable (LMDB's default sync), and `update` checks and writes in one write
/// transaction: LMDB admits one writer at a time, across processes too, so two requests for
/// the same origin can never both pass the check against the same old state.
public final class WitnessState: Sendable {
    public struct Record: Sendable, Equatable {
        public let size: UInt64
        public let root: Digest
        public let text: String
    }

    let environment: Environment
    let cosigned: Table

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
    }

    public func close() { environment.close() }

    /// The latest cosigned checkpoint of `origin`, if any.
    public func record(origin: String) throws -> Record? {
        try environment.read { txn in try txn.get(cosigned, key: Array(origin.utf8)).map(Self.decode) }
    }

    /// Runs `decide` on the stored record of `origin` inside the write transaction; a record it
    /// returns is written and committed durably before `update` returns. What `decide` throws
    /// aborts the transaction (nothing written) and is rethrown.
    public func update<T>(origin: String, _ decide: (Record?) throws -> (Record?, T)) throws -> T {
        try environment.write { txn in
            let key = Array(origin.utf8)
            let stored = try txn.get(cosigned, key: key).map(Self.decode)
            let (new, result) = try decide(stored)
            if let new, new != stored { try txn.put(cosigned, key: key, value: Self.encode(new)) }
            return result
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
