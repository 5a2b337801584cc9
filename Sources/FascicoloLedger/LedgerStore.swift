import FascicoloCrypto
import FascicoloStorage
import Glibc

/// The tables of a data directory's LMDB environment and the key material next to it.
///
/// | table          | key                                   | value                                              |
/// |----------------|---------------------------------------|----------------------------------------------------|
/// | `meta`         | UTF-8 name                            | UTF-8 value (`format`, `origin`)                   |
/// | `entries`      | position (u64 BE)                     | record: signed bytes ‖ signature                  |
/// | `merkle`       | post-order node number (u64 BE)       | 32-byte hash                                       |
/// | `streams`      | stream name                           | current version (u64 BE)                           |
/// | `stream_index` | stream name ‖ 0x00 ‖ version (u64 BE) | position (u64 BE)                                  |
/// | `idempotency`  | idempotency key                       | content digest (32) ‖ first position (u64 BE) ‖ first version (u64 BE) ‖ count (u32 BE) |
/// | `checkpoints`  | tree size (u64 BE)                    | the signed note (UTF-8)                            |
///
/// Internal to the ledger: the layers above read through `LedgerSnapshot` (`Ledger.read`,
/// `LedgerReader`), so that the key encodings live here only.
@usableFromInline
struct LedgerStore: Sendable {
    public static let formatVersion = "1"

    public let directory: String
    public let environment: Environment
    public let meta: Table
    @usableFromInline let entries: Table
    let merkle: Table
    @usableFromInline let streams: Table
    @usableFromInline let streamIndex: Table
    public let idempotency: Table
    public let checkpoints: Table
    /// The stream-head map at the latest checkpoint (StreamHeadTable); nil only in a store
    /// opened read-only that was written before the table existed.
    let streamHeads: Table?

    /// The log's own tables, in the order `open` opens them; every other table of the
    /// environment is a side table (`SideTable`).
    static let tableNames = ["meta", "entries", "merkle", "streams", "stream_index", "idempotency", "checkpoints", StreamHeadTable.name]

    typealias OpenError = LedgerOpenError

    /// Opens the data directory. Writable opens create it (mode 0700) and its tables; read-only
    /// opens require an existing one and are safe next to a running daemon.
    public static func open(
        directory: String, readOnly: Bool, origin: String = "fascicolo.invalid/ledger",
        mapSizeBytes: Int = 64 << 20, unsafeNoSync: Bool = false, journal: Environment.JournalOptions? = nil
    ) throws -> LedgerStore {
        if readOnly {
            guard access(directory + "/data.mdb", R_OK) == 0 else { throw OpenError.notADataDirectory(directory) }
        } else if access(directory, F_OK) != 0 {
            guard mkdir(directory, 0o700) == 0 else { throw OpenError.cannotCreate(path: directory, errno: errno) }
        }
        // A journal left by a crash: its saved meta pages go back before anything reads the
        // file (a read-only open refuses it: the file may be behind, or ahead of its pages).
        if readOnly {
            try Journal.refuseUnapplied(directory: directory)
        } else {
            try Journal.restoreLastSyncedSnapshot(directory: directory)
        }
        // A truncated file or broken meta pages would make LMDB fault on its first read.
        try StoreStructure.checkFile(directory: directory, forWriting: !readOnly)
        var options = Environment.Options()
        options.readOnly = readOnly
        options.mapSizeBytes = mapSizeBytes
        options.unsafeNoSync = unsafeNoSync
        if !readOnly { options.journal = journal }
        let environment = try Environment(path: directory, options: options)
        let names = tableNames
        let tables: [Table]
        let streamHeads: Table?
        if readOnly {
            // A store written before issue 18 has no stream_heads table: its checkpoints have no
            // stream-heads line either, and verify says so.
            let present = try environment.read { txn in try txn.tableNames() }
            // Every store has the log's tables from its first open: one missing from the catalog
            // is damage to report (verify: exit 1), not a store it cannot read.
            if let missing = names.first(where: { $0 != StreamHeadTable.name && !present.contains($0) }) {
                throw DamagedData(table: missing, what: "the table is missing from the store's catalog")
            }
            tables = try environment.openTables(names.filter { $0 != StreamHeadTable.name })
            streamHeads = present.contains(StreamHeadTable.name) ? try environment.openTable(StreamHeadTable.name) : nil
        } else {
            tables = try environment.write { txn in
                let created = try names.map { try txn.createTable($0) }
                // A new store gets its format and origin; a store with entries but without them
                // is damaged, and must not be given new ones (a default origin would not be its own).
                let hasEntries = try txn.withCursor(created[1]) { try $0.first() != nil }
                if try txn.get(created[0], key: Array("format".utf8)) == nil, !hasEntries {
                    try txn.put(created[0], key: Array("format".utf8), value: Array(formatVersion.utf8))
                    try txn.put(created[0], key: Array("origin".utf8), value: Array(origin.utf8))
                }
                return created
            }
            streamHeads = tables[7]
        }
        let store = LedgerStore(
            directory: directory, environment: environment, meta: tables[0], entries: tables[1],
            merkle: tables[2], streams: tables[3], streamIndex: tables[4],
            idempotency: tables[5], checkpoints: tables[6], streamHeads: streamHeads)
        guard let format = try store.metaValue("format") else { throw DamagedData(table: "meta", what: "the format row is missing") }
        guard format == formatVersion else { throw OpenError.unsupportedFormat(format) }
        return store
    }

    /// The origin, read in `txn`.
    func origin(in txn: ReadTransaction) throws -> String {
        guard let origin = try txn.get(meta, key: Array("origin".utf8)) else {
            throw DamagedData(table: "meta", what: "the origin row is missing")
        }
        return String(decoding: origin, as: UTF8.self)
    }

    public func metaValue(_ name: String) throws -> String? {
        try environment.read { txn in
            try txn.get(meta, key: Array(name.utf8)).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// The checkpoint origin (also the signing key's name), fixed at creation.
    public func origin() throws -> String {
        guard let origin = try metaValue("origin") else {
            throw DamagedData(table: "meta", what: "the origin row is missing")
        }
        return origin
    }

    /// Every row `meta` may hold (Formats.md, "Data directory"): the ledger's, then the domain's.
    public static let metaRows: Set<String> = [
        "format", "origin", "idempotency_seal",
        "pseudonym_key_check", "records_key_check", "records_key_generation", "records_key_rotation_due",
    ]
    /// The `meta` rows the ledger itself writes; the others are the domain's (`SideTableWriter.setMeta`).
    static let ledgerMetaRows: Set<String> = ["format", "origin", "idempotency_seal"]

    /// The number of entries (the tree size) in the snapshot `txn` sees.
    public func size(in txn: ReadTransaction) throws -> UInt64 {
        try txn.withCursor(entries) { cursor in
            guard let last = try cursor.last() else { return 0 }
            // Keys are 8-byte positions; anything else is a damaged file, not a size.
            let damaged = StorageError(code: .corrupted, operation: "read the last entry's position")
            guard last.key.count == 8 else { throw damaged }
            let position = BigEndian.read(UInt64.self, from: last.key, at: 0)
            guard position < .max else { throw damaged }
            return position + 1
        }
    }

    @usableFromInline
    static func streamIndexKey(stream: [UInt8], version: UInt64) -> [UInt8] {
        var key = stream
        key.reserveCapacity(stream.count + 9)
        key.append(0)
        BigEndian.append(version, to: &key)
        return key
    }
}

/// Why a data directory could not be opened.
public enum LedgerOpenError: Error, CustomStringConvertible, Sendable {
    case notADataDirectory(String)
    case unsupportedFormat(String)
    case cannotCreate(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .notADataDirectory(let path): "\(path) is not a Fascicolo data directory (no data.mdb)"
        case .unsupportedFormat(let version):
            "data directory format \(version) is not supported (this build reads \(LedgerStore.formatVersion))"
        case .cannotCreate(let path, let code): "cannot create \(path): errno \(code)"
        }
    }
}
