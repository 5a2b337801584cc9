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
                  read(UInt32.self, meta) == Self.magic, read(UInt32.self, meta + 4) == 1 else { return nil }
            let dbs = meta + 24
            pageSize = Int(read(UInt32.self, dbs))
            roots = (read(UInt64.self, dbs + 40), read(UInt64.self, dbs + 48 + 40))
            lastPage = read(UInt64.self, dbs + 96)
            transactionID = read(UInt64.self, dbs + 104)
            guard pageSize >= 512, pageSize <= 65_536, pageSize & (pageSize - 1) == 0 else { return nil }
        }
    }

    /// Step 1: the meta pages and the file's length, without LMDB. Nothing to check when the
    /// file does not exist (a new store).
    public static func checkFile(directory: String) throws(Damage) {
        let path = directory + "/data.mdb"
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return }
        let length = Int(info.st_size)
        func page(at offset: Int, count: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            let read = pread(descriptor, &bytes, count, off_t(offset))
            return read == count ? bytes : []
        }
        guard length > 0 else { throw Damage(problem: "data.mdb is empty") }
        let first = Meta(page(at: 0, count: 256), pageNumber: 0)
        let pageSize = first?.pageSize ?? Int(sysconf(Int32(_SC_PAGESIZE)))
        let second = Meta(page(at: pageSize, count: 256), pageNumber: 1)
        let candidates = [first, second].compactMap { $0 }
        guard let newest = candidates.max(by: { $0.transactionID < $1.transactionID }) else {
            throw Damage(problem: "neither of data.mdb's two meta pages is valid (pages 0 and 1)")
        }
        let needed = (newest.lastPage + 1) * UInt64(newest.pageSize)
        guard UInt64(length) >= needed else {
            throw Damage(problem: "data.mdb is truncated: it has \(length) bytes, and its newest meta page "
                         + "(transaction \(newest.transactionID)) needs \(needed)")
        }
        for (name, root) in [("free list", newest.roots.free), ("main table", newest.roots.main)]
        where root != UInt64.max && root > newest.lastPage {
            throw Damage(problem: "the newest meta page puts the \(name)'s root at page \(root), beyond its last page \(newest.lastPage)")
        }
    }

    /// Step 2: every record of every table, reached through its B-tree. Returns the number of
    /// records per table. `progress` is told each table's name as it starts.
    /// May end the process on damaged pages: run it in a child (`Isolated`).
    public static func walk(_ environment: Environment, progress: (String) -> Void = { _ in }) throws -> [(table: String, records: UInt64)] {
        try environment.read { txn in
            var counts: [(String, UInt64)] = []
            for name in try txn.tableNames() {
                progress(name)
                let table = try txn.openTable(name)
                var records: UInt64 = 0
                var touched: UInt8 = 0
                try txn.withCursor(table) { cursor in
                    var record = try cursor.first()
                    while let current = record {
                        if let first = current.value.first, let last = current.value.last { touched ^= first ^ last }
                        if let first = current.key.first { touched ^= first }
                        records += 1
                        record = try cursor.next()
                    }
                }
                withExtendedLifetime(touched) {}
                counts.append((name, records))
            }
            return counts
        }
    }
}
