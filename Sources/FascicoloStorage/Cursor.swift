import CLMDB

/// A position in a table, moving in key order. Valid only inside `withCursor`'s closure.
public struct Cursor: ~Copyable {
    let handle: OpaquePointer
    let table: Table

    /// A key and value pointing into the memory map, valid until the cursor moves or the
    /// transaction ends.
    public typealias Record = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    private func move(_ operation: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil) throws -> Record? {
        var keyValue = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var value = MDB_val()
        let status = mdb_cursor_get(handle, &keyValue, &value, operation)
        if status == MDB_NOTFOUND { return nil }
        try StorageError.check(status, "cursor on \(table)")
        return (
            UnsafeRawBufferPointer(start: keyValue.mv_data, count: keyValue.mv_size),
            UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
        )
    }

    public func first() throws -> Record? { try move(MDB_FIRST) }
    public func last() throws -> Record? { try move(MDB_LAST) }
    public func next() throws -> Record? { try move(MDB_NEXT) }
    public func previous() throws -> Record? { try move(MDB_PREV) }

    /// Moves to the first key greater than or equal to `key` (LMDB has no empty keys: an empty
    /// `key` means the first record).
    public func seek(atOrAfter key: [UInt8]) throws -> Record? {
        if key.isEmpty { return try first() }
        return try key.withUnsafeBytes { (pointer) throws -> Record? in
            try move(MDB_SET_RANGE, key: pointer)
        }
    }
}
