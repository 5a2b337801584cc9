import FascicoloCrypto
import FascicoloStorage

/// A table of the data directory's environment that is not part of the signed log, owned by a
/// layer above the ledger (the domain's `person_keys` and `person_aliases`). Its rows are read
/// through a `LedgerSnapshot`, and written by `AttachedWrite`s of an append or in
/// `Ledger.writeSideTables`.
public struct SideTable: Sendable, Hashable, CustomStringConvertible {
    let table: Table
    public var name: String { table.name }
    public var description: String { table.description }
}

/// One consistent, read-only view of the log and of its side tables, valid only inside the
/// closure that received it (`Ledger.read`, `LedgerReader.read`). Byte buffers handed to its
/// closures point into the memory map and are valid only until those closures return.
///
/// The key encodings of the log's tables stay here: callers name entries by position and
/// streams by name and version.
public struct LedgerSnapshot {
    // Inlinable reads: the projections' replay calls them once or more per entry.
    @usableFromInline let transaction: ReadTransaction
    @usableFromInline let store: LedgerStore
    /// The log's keys, to check the checkpoints read (nil in a `LedgerReader`'s snapshot).
    let keyChain: KeyChain?

    @usableFromInline
    init(transaction: ReadTransaction, store: LedgerStore, keyChain: KeyChain? = nil) {
        self.transaction = transaction
        self.store = store
        self.keyChain = keyChain
    }

    // MARK: - The log

    /// The number of entries (the next position, and the tree size).
    public func entryCount() throws -> UInt64 {
        try store.size(in: transaction)
    }

    /// The entry at `position`, or nil beyond the end.
    public func entry(at position: UInt64) throws -> Entry? {
        try withEntry(at: position) { Entry($0) }
    }

    /// Calls `body` with the entry at `position` (without copying it), or returns nil beyond the end.
    @inlinable
    public func withEntry<T>(at position: UInt64, _ body: (EntryView) throws -> T) throws -> T? {
        try transaction.withValue(in: store.entries, key: BigEndian.bytes(position)) { try body(try EntryView(record: $0)) }
    }

    /// Calls `body` with each entry from `position` on, in order, until it returns false or the log ends.
    @inlinable
    public func forEachEntry(from position: UInt64 = 0, _ body: (EntryView) throws -> Bool) throws {
        try transaction.withCursor(store.entries) { cursor in
            var record = try cursor.seek(atOrAfter: BigEndian.bytes(position))
            while let current = record, try body(try EntryView(record: current.value)) {
                record = try cursor.next()
            }
        }
    }

    /// The current version of `stream` (its number of entries; 0 when it does not exist).
    @inlinable
    public func streamVersion(_ stream: [UInt8]) throws -> UInt64 {
        let stored: UInt64?? = try transaction.withValue(in: store.streams, key: stream) { BigEndian.uint64($0) }
        return (stored ?? nil) ?? 0
    }

    public func streamVersion(_ stream: String) throws -> UInt64 {
        try streamVersion(Array(stream.utf8))
    }

    /// The log position of `stream`'s entry at `version` (1-based), from the stream index.
    @inlinable
    public func position(ofStream stream: [UInt8], version: UInt64) throws -> UInt64? {
        let key = LedgerStore.streamIndexKey(stream: stream, version: version)
        let found: UInt64?? = try transaction.withValue(in: store.streamIndex, key: key) { BigEndian.uint64($0) }
        return found ?? nil
    }

    /// Calls `body` with the name and version of each stream whose name starts with `prefix`, in
    /// name order, until it returns false.
    public func forEachStream(withPrefix prefix: String, _ body: (_ name: UnsafeRawBufferPointer, _ version: UInt64) throws -> Bool) throws
    {
        let prefix = Array(prefix.utf8)
        try transaction.withCursor(store.streams) { cursor in
            var row = try cursor.seek(atOrAfter: prefix)
            while let current = row, current.key.starts(with: prefix) {
                guard let version = BigEndian.uint64(current.value) else {
                    throw DamagedData(table: "streams", what: "a stream's version is not 8 bytes")
                }
                guard try body(current.key, version) else { return }
                row = try cursor.next()
            }
        }
    }

    /// The number of streams.
    public func streamCount() throws -> Int {
        try transaction.count(store.streams)
    }

    /// The number of signed checkpoints stored, and the newest one's note (not verified here).
    public func checkpoints() throws -> (count: Int, latestNote: String?) {
        let latest = try transaction.withCursor(store.checkpoints) { cursor in
            try cursor.last().map { String(decoding: $0.value, as: UTF8.self) }
        }
        return (try transaction.count(store.checkpoints), latest)
    }

    /// Calls `body` with the tree size and note (not verified here) of each stored checkpoint of
    /// `size` entries or more, in increasing size, until it returns false.
    /// Up to `limit` stored checkpoints of fewer than `size` entries, newest first.
    public func checkpointNotes(below size: UInt64, limit: Int) throws -> [(size: UInt64, note: String)] {
        try transaction.withCursor(store.checkpoints) { cursor in
            var result: [(size: UInt64, note: String)] = []
            var row = try cursor.seek(atOrAfter: BigEndian.bytes(size))
            row = try row == nil ? cursor.last() : cursor.previous()
            while let current = row, result.count < limit {
                guard let stored = BigEndian.uint64(current.key) else {
                    throw DamagedData(table: "checkpoints", what: "a key is not a tree size")
                }
                result.append((stored, String(decoding: current.value, as: UTF8.self)))
                row = try cursor.previous()
            }
            return result
        }
    }

    public func forEachCheckpoint(from size: UInt64, _ body: (_ size: UInt64, _ note: String) throws -> Bool) throws {
        try transaction.withCursor(store.checkpoints) { cursor in
            var row = try cursor.seek(atOrAfter: BigEndian.bytes(size))
            while let current = row {
                guard let size = BigEndian.uint64(current.key) else {
                    throw DamagedData(table: "checkpoints", what: "a key is not a tree size")
                }
                guard try body(size, String(decoding: current.value, as: UTF8.self)) else { return }
                row = try cursor.next()
            }
        }
    }

    /// Whether any stream's name starts with `prefix`.
    public func hasStream(withPrefix prefix: String) throws -> Bool {
        let prefix = Array(prefix.utf8)
        return try transaction.withCursor(store.streams) { cursor in
            try cursor.seek(atOrAfter: prefix).map { $0.key.starts(with: prefix) } ?? false
        }
    }

    // MARK: - Side tables

    /// The `meta` row `name` (see `LedgerStore.metaRows`), if it is stored.
    public func metaValue(_ name: String) throws -> [UInt8]? {
        try transaction.get(store.meta, key: Array(name.utf8))
    }

    /// The row of `table` under `key`, if there is one.
    public func value(in table: SideTable, key: [UInt8]) throws -> [UInt8]? {
        try transaction.get(table.table, key: key)
    }

    /// Calls `body` with each row of `table`, in key order, until it returns false.
    public func forEachRow(in table: SideTable, _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool)
        throws
    {
        try transaction.withCursor(table.table) { cursor in
            var row = try cursor.first()
            while let current = row, try body(current.key, current.value) {
                row = try cursor.next()
            }
        }
    }
}

/// A write transaction over the side tables and the `meta` rows of the layers above the ledger
/// (never the log's own tables, nor the ledger's own `meta` rows). It commits when the closure
/// that received it returns, and is not part of any append.
public struct SideTableWriter {
    let transaction: WriteTransaction
    let store: LedgerStore

    /// What this transaction sees, its own writes included.
    public var snapshot: LedgerSnapshot { LedgerSnapshot(transaction: transaction, store: store) }

    public func put(_ table: SideTable, key: [UInt8], value: [UInt8]) throws {
        try transaction.put(table.table, key: key, value: value)
    }

    /// Removes the row; false when there was none.
    @discardableResult
    public func delete(_ table: SideTable, key: [UInt8]) throws -> Bool {
        try transaction.delete(table.table, key: key)
    }

    /// Puts (or, with nil, deletes) the `meta` row `name`, one of the rows of the layers above the ledger.
    public func setMeta(_ name: String, _ value: [UInt8]?) throws {
        precondition(
            LedgerStore.metaRows.contains(name) && !LedgerStore.ledgerMetaRows.contains(name),
            "meta row \(name) is not one a layer above the ledger writes")
        if let value {
            try transaction.put(store.meta, key: Array(name.utf8), value: value)
        } else {
            _ = try transaction.delete(store.meta, key: Array(name.utf8))
        }
    }
}

extension Ledger {
    /// Runs `body` on one consistent snapshot of the log and its side tables, on the caller's
    /// thread (it never waits for the writer).
    public func read<T>(_ body: (LedgerSnapshot) throws -> T) throws -> T {
        try store.environment.read { txn in try body(LedgerSnapshot(transaction: txn, store: store, keyChain: keyChain)) }
    }

    /// The side table `name` (created on first use). Names are the side tables' own: not the
    /// log's tables (`LedgerStore`), nor a projection's.
    public func sideTable(named name: String) throws -> SideTable {
        precondition(!LedgerStore.tableNames.contains(name), "\(name) is one of the log's own tables")
        return SideTable(table: try store.environment.write { txn in try txn.createTable(name) })
    }

    /// Runs `body` in a write transaction of its own over the side tables (see `SideTableWriter`).
    /// Blocking: it waits for the group-commit writer's transaction to end.
    public func writeSideTables<T>(_ body: (SideTableWriter) throws -> T) throws -> T {
        try store.environment.write { txn in try body(SideTableWriter(transaction: txn, store: store)) }
    }

    /// Drops the side tables whose names `matches` selects (a layout of an earlier version);
    /// returns how many were dropped. The log's own tables are never dropped.
    @discardableResult
    public func dropSideTables(where matches: (String) -> Bool) throws -> Int {
        let names = try store.environment.read { txn in try txn.tableNames() }
            .filter { !LedgerStore.tableNames.contains($0) && matches($0) }
        guard !names.isEmpty else { return 0 }
        try store.environment.write { txn in
            for name in names { try txn.drop(try txn.openTable(name)) }
        }
        return names.count
    }

    /// The data directory this ledger was opened on.
    public var directory: String { store.directory }

    /// Forces the log's pages to disk (for stores opened with `unsafeNoSync`, and benchmarks).
    public func syncToDisk() throws {
        try store.environment.sync()
    }

    /// After an erasure: syncs LMDB's file and overwrites the commit journal's records with
    /// zeros, so that no copy of a destroyed data key stays there (nothing without a journal).
    public func wipeJournal() throws {
        try store.environment.wipeJournal()
    }

    /// Copies the environment — the log and its side tables, as of one snapshot — to the
    /// directory `path` (a hot copy; the key files are not copied).
    public func copy(to path: String, compact: Bool) throws {
        try store.environment.copy(to: path, compact: compact)
    }
}

/// A data directory's log opened read-only, for offline tools (verify, stat, backup, benchmarks):
/// safe next to a running daemon. Close it when done.
public struct LedgerReader: Sendable {
    let store: LedgerStore

    /// Opens an existing data directory read-only (throws `LedgerOpenError.notADataDirectory` when there is none).
    public static func open(directory: String) throws -> LedgerReader {
        LedgerReader(store: try LedgerStore.open(directory: directory, readOnly: true))
    }

    public var directory: String { store.directory }

    /// The checkpoint origin (also the signing key's name), fixed at creation.
    public func origin() throws -> String { try store.origin() }

    /// Runs `body` on one consistent snapshot of the log and its side tables.
    public func read<T>(_ body: (LedgerSnapshot) throws -> T) throws -> T {
        try store.environment.read { txn in try body(LedgerSnapshot(transaction: txn, store: store)) }
    }

    /// The side table `name`, or nil when the store has none.
    public func sideTable(named name: String) throws -> SideTable? {
        let names = try store.environment.read { txn in try txn.tableNames() }
        guard names.contains(name), !LedgerStore.tableNames.contains(name) else { return nil }
        return SideTable(table: try store.environment.openTable(name))
    }

    /// Bytes of the memory map in use, and its size.
    public var usedBytes: Int { store.environment.usedBytes }
    public var mapSizeBytes: Int { store.environment.mapSizeBytes }

    /// Copies the environment (a consistent snapshot) to the directory `path`.
    public func copy(to path: String, compact: Bool) throws {
        try store.environment.copy(to: path, compact: compact)
    }

    public func close() { store.environment.close() }

    /// One snapshot's read, then the reader closed.
    public func readingOnce<T>(_ body: (LedgerSnapshot) throws -> T) throws -> T {
        defer { close() }
        return try read(body)
    }
}
