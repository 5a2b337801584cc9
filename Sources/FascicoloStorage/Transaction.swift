import CLMDB

/// A read transaction: a consistent snapshot of every table.
///
/// Only valid inside the closure that received it. Byte buffers handed to closures point into the
/// memory map and are valid only until that closure returns.
public class ReadTransaction {
    let handle: OpaquePointer
    private var finished = false

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    func finish(commit: Bool) {
        guard !finished else { return }
        finished = true
        mdb_txn_abort(handle)
    }

    fileprivate func markCommitted() { finished = true }

    /// Commits: for a read-only transaction, this keeps the table handles it opened.
    func commit() throws {
        markCommitted()
        try StorageError.check(mdb_txn_commit(handle), "commit")
    }

    /// The names of the environment's tables (LMDB keeps them as the keys of its main database).
    public func tableNames() throws -> [String] {
        var main = MDB_dbi()
        try StorageError.check(mdb_dbi_open(handle, nil, 0, &main), "open the main database")
        var cursor: OpaquePointer?
        try StorageError.check(mdb_cursor_open(handle, main, &cursor), "open cursor on the main database")
        defer { mdb_cursor_close(cursor) }
        var names: [String] = []
        var key = MDB_val()
        var value = MDB_val()
        var status = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
        while status == MDB_SUCCESS {
            names.append(String(decoding: UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size), as: UTF8.self))
            status = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
        }
        guard status == MDB_NOTFOUND else { throw StorageError(code: .init(status), operation: "list tables") }
        return names
    }

    /// Opens a named table; `create` requires the write transaction.
    public func openTable(_ name: String, create: Bool = false) throws -> Table {
        var dbi = MDB_dbi()
        try StorageError.check(mdb_dbi_open(handle, name, create ? UInt32(MDB_CREATE) : 0, &dbi), "open table \"\(name)\"")
        if create, let writer = self as? WriteTransaction { writer.journal(.create, table: name) }
        return Table(name: name, handle: dbi)
    }

    /// Calls `body` with the value stored under `key`, or returns nil when there is none.
    public func withValue<T>(
        in table: Table, key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> T
    ) throws -> T? {
        try key.withUnsafeBytes { keyBytes in
            var keyValue = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var value = MDB_val()
            let status = mdb_get(handle, table.handle, &keyValue, &value)
            if status == MDB_NOTFOUND { return nil }
            try StorageError.check(status, "get from \(table)")
            return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }
    }

    /// A copy of the value stored under `key`, or nil.
    public func get(_ table: Table, key: [UInt8]) throws -> [UInt8]? {
        try withValue(in: table, key: key) { Array($0) }
    }

    /// Opens a cursor on `table`, valid only inside `body`.
    public func withCursor<T>(_ table: Table, _ body: (borrowing Cursor) throws -> T) throws -> T {
        var cursor: OpaquePointer?
        try StorageError.check(mdb_cursor_open(handle, table.handle, &cursor), "open cursor on \(table)")
        defer { mdb_cursor_close(cursor) }
        return try body(Cursor(handle: cursor!, table: table))
    }

    /// The number of entries in `table`.
    public func count(_ table: Table) throws -> Int {
        var stat = MDB_stat()
        try StorageError.check(mdb_stat(handle, table.handle, &stat), "stat \(table)")
        return stat.ms_entries
    }
}

/// The write transaction. Only the environment's `write` creates one.
public final class WriteTransaction: ReadTransaction {
    /// The changes made so far, as the journal records them (`Journal.encode`); nil when the
    /// environment has no journal.
    var journalBody: [UInt8]?

    func journal(
        _ operation: Journal.Operation, table: String, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil
    ) {
        guard journalBody != nil else { return }
        Journal.encode(operation, table: table, key: key, value: value, into: &journalBody!)
    }

    /// Stores `value` under `key`.
    public func put(
        _ table: Table, key: [UInt8], value: [UInt8], options: PutOptions = []
    ) throws {
        let status = key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                var keyValue = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var dataValue = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                return mdb_put(handle, table.handle, &keyValue, &dataValue, options.rawValue)
            }
        }
        try StorageError.check(status, "put into \(table)")
        if journalBody != nil {
            key.withUnsafeBytes { keyBytes in
                value.withUnsafeBytes { valueBytes in journal(.put, table: table.name, key: keyBytes, value: valueBytes) }
            }
        }
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ table: Table, key: [UInt8]) throws -> Bool {
        let status = key.withUnsafeBytes { keyBytes in
            var keyValue = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_del(handle, table.handle, &keyValue, nil)
        }
        if status == MDB_NOTFOUND { return false }
        try StorageError.check(status, "delete from \(table)")
        if journalBody != nil { key.withUnsafeBytes { journal(.delete, table: table.name, key: $0) } }
        return true
    }

    /// Removes every row of `table`, keeping the table and its handle (readers holding an older
    /// snapshot still see the rows; the pages are reused once they finish).
    public func empty(_ table: Table) throws {
        try StorageError.check(mdb_drop(handle, table.handle, 0), "empty \(table)")
        journal(.empty, table: table.name)
    }

    /// Opens a table, creating it when it does not exist.
    public func createTable(_ name: String) throws -> Table {
        try openTable(name, create: true)
    }

    /// Deletes `table`, rows and name; its handle must not be used again.
    public func drop(_ table: Table) throws {
        try StorageError.check(mdb_drop(handle, table.handle, 1), "drop \(table)")
        journal(.drop, table: table.name)
    }
}
