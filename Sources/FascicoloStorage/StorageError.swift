import CLMDB

/// An error from LMDB, or from the storage layer's own checks, with what was being done.
///
/// Equality compares the code only, so callers can match on `StorageError.Code` without caring
/// about the message. Messages never contain stored values: they name the operation and the table.
public struct StorageError: Error, Equatable, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The LMDB return code (negative for LMDB's own codes, positive for errno values).
        public let rawValue: Int32
        public init(_ rawValue: Int32) { self.rawValue = rawValue }

        public static let keyExists = Code(MDB_KEYEXIST)
        public static let notFound = Code(MDB_NOTFOUND)
        public static let corrupted = Code(MDB_CORRUPTED)
        public static let pageNotFound = Code(MDB_PAGE_NOTFOUND)
        public static let panic = Code(MDB_PANIC)
        public static let mapFull = Code(MDB_MAP_FULL)
        public static let mapResized = Code(MDB_MAP_RESIZED)
        public static let readersFull = Code(MDB_READERS_FULL)
        public static let badValueSize = Code(MDB_BAD_VALSIZE)

        public var description: String { String(cString: mdb_strerror(rawValue)) }

        /// The file's bytes are not a consistent LMDB database: damaged or cut short, not a
        /// failure to read them.
        public var meansDamagedData: Bool { self == .corrupted || self == .pageNotFound }
    }

    public let code: Code
    /// What the storage layer was doing, e.g. `put into "entries"`.
    public let operation: String

    public init(code: Code, operation: String) {
        self.code = code
        self.operation = operation
    }

    public var description: String { "LMDB error \(code.rawValue) (\(code)) during \(operation)" }

    public static func == (lhs: StorageError, rhs: StorageError) -> Bool { lhs.code == rhs.code }

    /// Throws a `StorageError` when `status` is not `MDB_SUCCESS`.
    @inline(__always)
    static func check(_ status: Int32, _ operation: @autoclosure () -> String) throws(StorageError) {
        if status != MDB_SUCCESS { throw StorageError(code: Code(status), operation: operation()) }
    }
}

/// A stored row that is not what was written: a bad length or count, a seal that does not match,
/// a row missing or present against what the log says. Names the table, never the row's content.
/// Callers answer it as 500 `storage_damaged` and log the table; `fascicolo verify` names it.
public struct DamagedData: Error, CustomStringConvertible, Sendable, Equatable {
    public let table: String
    public let what: String

    public init(table: String, what: String) {
        self.table = table
        self.what = what
    }

    public var description: String { "damaged data in the \(table) table: \(what)" }
}
