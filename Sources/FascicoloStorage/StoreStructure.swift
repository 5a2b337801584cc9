import CLMDB
import Glibc

/// LMDB trusts its file: on a damaged B-tree page it may trip an assertion (`IS_LEAF(mp)`),
/// follow a wild pointer (SIGSEGV) or touch a page past the end of a truncated file (SIGBUS) —
/// all of which end the process instead of returning an error. So the store's structure is
/// checked before it is trusted, in two steps:
///
/// 1. `checkFile` reads LMDB's two meta pages with plain reads (no map), picks the newest valid
///    one as LMDB would, and checks that the file is long enough for the pages it names;
/// 2. `walk` follows every table's B-tree to every record, touching each value's first and last
///    byte (so overflow pages are reached too). Run it in a child process (`Isolated`): if the
///    child dies, the parent reports the damage instead of dying of it.
public enum StoreStructure {
    /// Damage found: what, and where when known.
    public struct Damage: Error, CustomStringConvertible, Sendable {
        public let problem: String
        public var description: String { "the store's structure is damaged: \(problem)" }
        public init(problem: String) { self.problem = problem }
    }

    /// LMDB's file layout on 64-bit Linux (lmdb.h / mdb.c, format version 1): a page header of
    /// 16 bytes (mp_pgno u64, mp_pad u16, mp_flags u16, mp_lower u16, mp_upper u16), then for a
    /// meta page MDB_meta: mm_magic u32, mm_version u32, mm_address u64, mm_mapsize u64,
    /// mm_dbs[2] (48 bytes each: md_pad u32 — the page size in the free-list entry —, md_flags
    /// u16, md_depth u16, md_branch_pages, md_leaf_pages, md_overflow_pages, md_entries,
    /// md_root u64), mm_last_pg u64, mm_txnid u64. Little-endian.
    struct Meta {
        static let magic: UInt32 = 0xBEEF_C0DE
        static let pageFlagMeta: UInt16 = 0x08
        var pageSize: Int
        var lastPage: UInt64
        var transactionID: UInt64
        var roots: (free: UInt64, main: UInt64)

        init?(_ bytes: [UInt8], pageNumber: UInt64) {
            guard bytes.count >= 16 + 136 else { return nil }
            func read<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
                var value: T = 0
                for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(bytes[offset + index]) }
                return value
            }
            let meta = 16
            guard read(UInt64.self, 0) == pageNumber, read(UInt16.self, 10) & Self.pageFlagMeta != 0,
                read(UInt32.self, meta) == Self.magic, read(UInt32.self, meta + 4) == 1
            else { return nil }
            let dbs = meta + 24
            pageSize = Int(read(UInt32.self, dbs))
            roots = (read(UInt64.self, dbs + 40), read(UInt64.self, dbs + 48 + 40))
            lastPage = read(UInt64.self, dbs + 96)
            transactionID = read(UInt64.self, dbs + 104)
            guard pageSize >= 512, pageSize <= 65_536, pageSize & (pageSize - 1) == 0 else { return nil }
        }
    }

    /// What step 1 found: the file's length, and the length the newest meta page describes.
    public struct FileSummary: Sendable {
        public let length: UInt64
        public let described: UInt64
        /// Shorter than described. Not damage by itself — LMDB never writes pages it allocates
        /// and frees in one transaction, so a healthy file can end before its last page — but a
        /// reader that then faults (SIGBUS) has met an in-use page beyond the end: truncation.
        public var isShort: Bool { length < described }
    }

    /// Step 1: the meta pages, without LMDB. Nothing to check when the file does not exist (a
    /// new store). Damage: no valid meta page, either page invalid (LMDB refuses the file then),
    /// a root beyond the last page, or transaction ids that are not consecutive with the even one
    /// on page 0 — LMDB writes page (id mod 2) at each commit, so a changed id would make it open
    /// the previous root and silently drop the last commit. A live writer can be caught between
    /// its writes: the pages are read again (5 times, 20 ms apart) before that is reported.
    /// An empty file is a store whose first open did not finish: new, for a writer (LMDB starts
    /// it afresh); damage, for a reader that expects a log.
    @discardableResult
    public static func checkFile(directory: String, forWriting: Bool = false) throws(Damage) -> FileSummary? {
        let path = directory + "/data.mdb"
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        let length = UInt64(info.st_size)
        guard length > 0 else {
            if forWriting { return nil }
            throw Damage(problem: "data.mdb is empty")
        }
        func page(at offset: Int, count: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            let read = pread(descriptor, &bytes, count, off_t(offset))
            return read == count ? bytes : []
        }
        var attempt = 0
        while true {
            attempt += 1
            guard let first = Meta(page(at: 0, count: 256), pageNumber: 0) else {
                throw Damage(problem: "data.mdb's meta page 0 is not valid")
            }
            guard let second = Meta(page(at: first.pageSize, count: 256), pageNumber: 1) else {
                throw Damage(problem: "data.mdb's meta page 1 is not valid")
            }
            let newest = first.transactionID > second.transactionID ? first : second
            for (name, root) in [("free list", newest.roots.free), ("main table", newest.roots.main)]
            where root != UInt64.max && root > newest.lastPage {
                throw Damage(
                    problem: "the newest meta page puts the \(name)'s root at page \(root), beyond its last page \(newest.lastPage)")
            }
            // (Both 0: a file created and never committed to.)
            let consecutive =
                (first.transactionID == 0 && second.transactionID == 0)
                || (first.transactionID % 2 == 0 && second.transactionID % 2 == 1
                    && (first.transactionID == second.transactionID + 1 || second.transactionID == first.transactionID + 1))
            if consecutive {
                return FileSummary(length: length, described: (newest.lastPage + 1) * UInt64(newest.pageSize))
            }
            guard attempt < 5 else {
                throw Damage(
                    problem: "the meta pages' transaction ids (\(first.transactionID) on page 0, \(second.transactionID) on page 1) "
                        + "are not consecutive with the even one on page 0: one was changed, and LMDB would open an older root")
            }
            usleep(20_000)
        }
    }

    /// LMDB's own free-page list (its table 0, which no name reaches): every record is a list of
    /// page numbers — a count, then the pages (64-bit each) — that must lie within the last page.
    /// A damaged one would fault or abort the daemon at the first page it reuses, not here.
    static func walkFreeList(_ txn: ReadTransaction) throws -> UInt64 {
        var info = MDB_envinfo()
        mdb_env_info(mdb_txn_env(txn.handle), &info)
        let lastPage = UInt64(info.me_last_pgno)
        var cursor: OpaquePointer?
        try StorageError.check(mdb_cursor_open(txn.handle, 0, &cursor), "open a cursor on the free-page list")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var value = MDB_val()
        var records: UInt64 = 0
        var status = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
        while status == MDB_SUCCESS {
            let pages = UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
            let width = MemoryLayout<UInt64>.size
            guard pages.count >= width, pages.count % width == 0 else {
                throw Damage(problem: "a record of LMDB's free-page list has a length (\(pages.count)) that is not a page list")
            }
            let count = pages.loadUnaligned(as: UInt64.self)
            guard count == UInt64(pages.count / width - 1) else {
                throw Damage(problem: "a record of LMDB's free-page list counts \(count) pages in \(pages.count / width - 1) slots")
            }
            for index in 1..<max(1, pages.count / width)
            where pages.loadUnaligned(fromByteOffset: index * width, as: UInt64.self) > lastPage {
                throw Damage(problem: "LMDB's free-page list names a page beyond the last page \(lastPage)")
            }
            records += 1
            status = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
        }
        guard status == MDB_NOTFOUND else { throw StorageError(code: .init(status), operation: "walk the free-page list") }
        return records
    }

    /// What a reader's death while reading `directory`'s store means, for the report: a SIGBUS
    /// on a file shorter than its meta page describes is an in-use page cut off — truncation.
    public static func explainDeath(signal: Int32, directory: String) -> String {
        truncation(signal: signal, directory: directory) ?? "reading it ended the reader with \(IsolatedReader.signalName(signal))"
    }

    /// The explanation of a reader's death when it is data.mdb cut short (a SIGBUS on a page
    /// beyond the file's end); nil for any other cause.
    public static func truncation(signal: Int32, directory: String) -> String? {
        guard signal == SIGBUS, let summary = try? checkFile(directory: directory), summary.isShort else { return nil }
        return "data.mdb is truncated: it has \(summary.length) bytes, its newest meta page describes \(summary.described), "
            + "and a page in use lies beyond the end"
    }

    /// Step 2: every record of every table, reached through its B-tree. Returns the number of
    /// records per table. `progress` is told each table's name as it starts.
    /// May end the process on damaged pages: run it in a child (`Isolated`).
    public static func walk(_ environment: Environment, progress: (String) -> Void = { _ in }) throws -> [TableCount] {
        try environment.read { txn in try walk(txn, progress: progress) }
    }

    /// A table's name and how many records the walk reached in it.
    public struct TableCount: Sendable {
        public let table: String
        public let records: UInt64
    }

    static func walk(_ txn: ReadTransaction, progress: (String) -> Void) throws -> [TableCount] {
        progress("(LMDB's free-page list)")
        var counts = [TableCount(table: "(free pages)", records: try walkFreeList(txn))]
        for name in try txn.tableNames() {
            progress(name)
            counts.append(TableCount(table: name, records: try walkTable(txn, try txn.openTable(name))))
        }
        return counts
    }

    /// Every record of `table`, touching each key's first byte and each value's first and last
    /// (so that overflow pages are reached too). LMDB's cursor is used directly, as in
    /// `walkFreeList`: through `withCursor`, the release build's optimizer (Swift 6.3.1) crashed on
    /// this function ("Cannot initialize a nonCopyable type with a guaranteed value").
    static func walkTable(_ txn: ReadTransaction, _ table: Table) throws -> UInt64 {
        var cursor: OpaquePointer?
        try StorageError.check(mdb_cursor_open(txn.handle, table.handle, &cursor), "open a cursor on \(table)")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var value = MDB_val()
        var records: UInt64 = 0
        var touched: UInt8 = 0
        var status = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
        while status == MDB_SUCCESS {
            let bytes = UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
            if let first = bytes.first, let last = bytes.last { touched ^= first ^ last }
            if key.mv_size > 0, let start = key.mv_data { touched ^= start.load(as: UInt8.self) }
            records += 1
            status = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
        }
        guard status == MDB_NOTFOUND else { throw StorageError(code: .init(status), operation: "walk \(table)") }
        // The bytes were read for their side effect (faulting the pages in): keep the reads.
        withExtendedLifetime(touched) {}
        return records
    }
}
