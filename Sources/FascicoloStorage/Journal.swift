import CLMDB
import COpenSSLHash
import Glibc

/// The commit journal (`data.journal`, Formats.md "The commit journal"): one flush per commit
/// instead of LMDB's two.
///
/// With the journal on, every write transaction of the environment is recorded as the list of
/// its changes (puts, deletes, tables created, emptied or dropped), written to the journal and
/// flushed with one `fdatasync` *before* LMDB commits it without syncing (`MDB_NOSYNC`): a
/// commit is visible to readers only once its record is durable. LMDB's own files are synced
/// at a journal checkpoint (when the journal is half full, after `checkpointMilliseconds`,
/// at close, and when an erasure asks for it), which starts a new generation of the journal.
///
/// Why LMDB stays recoverable: without its syncs, a power cut can leave on disk a meta page
/// that points at pages never written. So a checkpoint, after syncing the data file, keeps a
/// copy of both meta pages in the journal's header, and keeps a read transaction open on that
/// snapshot until the next checkpoint, so that LMDB reuses none of its pages (pages are reused
/// only once no reader can see them). After a crash with records in the journal, the saved meta
/// pages are written back — the file is then that synced snapshot, whole — and the records are
/// applied again, in order, each in its own transaction, under the same kind of pin.
///
/// A record is checked by SHA-256 over a random salt chosen at each checkpoint, its header and
/// its changes: a record of an earlier generation, or bytes of a client's payload that look
/// like a record, never pass. Replay stops at the first record that does not.
public final class Journal {
    static let fileName = "data.journal"
    /// Two header slots, each 4 KiB of fields followed by room for two meta pages of the largest
    /// page size LMDB allows; records start after both.
    static let slotBytes = 4096 + 2 * 65_536
    static let recordsStart = 2 * slotBytes
    static let slotMagic = Array("FSCJRNL1".utf8)
    static let recordMagic: UInt32 = 0x4A52_4543  // "JREC" little-endian
    static let recordHeaderBytes = 24
    static let recordOverhead = recordHeaderBytes + 32

    /// What a slot holds.
    struct Header {
        var generation: UInt64
        var salt: [UInt8]
        var pageSize: Int
        /// Both meta pages of the last synced snapshot, as they are on disk.
        var metaPages: [UInt8]
    }

    /// One change of a write transaction, as recorded.
    enum Operation: UInt8 {
        case put = 1
        case delete = 2
        case empty = 3
        case create = 4
        case drop = 5
    }

    let path: String
    let descriptor: Int32
    let capacity: Int
    private(set) var header: Header
    private(set) var nextOffset = Journal.recordsStart
    private(set) var nextSequence: UInt64 = 0
    /// How far records may have been written in this file (its whole length until the first wipe).
    private var highWater: Int
    /// The read transaction that keeps the last synced snapshot's pages from being reused.
    private var pin: OpaquePointer?
    private(set) var lastCheckpointNanoseconds: UInt64 = 0

    // MARK: - Reading a journal file

    /// The newest valid header and the valid records after it (their bodies), or nil header
    /// when the file has none (a new or wiped journal).
    static func read(descriptor: Int32, length: Int) -> (Header?, [[UInt8]]) {
        var best: Header?
        for slot in 0..<2 {
            guard let header = readSlot(descriptor: descriptor, at: slot * slotBytes) else { continue }
            if header.generation > (best?.generation ?? 0) { best = header }
        }
        guard let header = best else { return (nil, []) }
        var records: [[UInt8]] = []
        var offset = recordsStart
        var sequence: UInt64 = 0
        while offset + recordOverhead <= length {
            var head = [UInt8](repeating: 0, count: recordOverhead)
            guard preadAll(descriptor, &head, offset: offset) else { break }
            guard LE.u32(head, 0) == recordMagic else { break }
            let bodyLength = Int(LE.u32(head, 4))
            guard LE.u64(head, 8) == sequence, LE.u64(head, 16) == header.generation,
                offset + recordOverhead + bodyLength <= length
            else { break }
            var body = [UInt8](repeating: 0, count: bodyLength)
            guard preadAll(descriptor, &body, offset: offset + recordOverhead) else { break }
            guard checksum(salt: header.salt, head: head[0..<recordHeaderBytes], body: body) == Array(head[recordHeaderBytes...])
            else { break }
            records.append(body)
            offset += recordOverhead + bodyLength
            sequence += 1
        }
        return (header, records)
    }

    private static func readSlot(descriptor: Int32, at offset: Int) -> Header? {
        var fields = [UInt8](repeating: 0, count: 80)
        guard preadAll(descriptor, &fields, offset: offset), Array(fields[0..<8]) == slotMagic else { return nil }
        let pageSize = Int(LE.u32(fields, 32))
        let metaBytes = Int(LE.u32(fields, 36))
        guard pageSize >= 512, pageSize <= 65_536, metaBytes == 2 * pageSize else { return nil }
        var meta = [UInt8](repeating: 0, count: metaBytes)
        guard preadAll(descriptor, &meta, offset: offset + 4096) else { return nil }
        guard slotChecksum(fields: fields[0..<48], meta: meta) == Array(fields[48..<80]) else { return nil }
        return Header(generation: LE.u64(fields, 8), salt: Array(fields[16..<32]), pageSize: pageSize, metaPages: meta)
    }

    static func checksum(salt: [UInt8], head: ArraySlice<UInt8>, body: [UInt8]) -> [UInt8] {
        var context = SHA256_CTX()
        SHA256_Init(&context)
        salt.withUnsafeBytes { _ = SHA256_Update(&context, $0.baseAddress, $0.count) }
        Array(head).withUnsafeBytes { _ = SHA256_Update(&context, $0.baseAddress, $0.count) }
        body.withUnsafeBytes { if $0.count > 0 { _ = SHA256_Update(&context, $0.baseAddress, $0.count) } }
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { _ = SHA256_Final($0.baseAddress, &context) }
        return digest
    }

    private static func slotChecksum(fields: ArraySlice<UInt8>, meta: [UInt8]) -> [UInt8] {
        checksum(salt: [], head: fields, body: meta)
    }

    // MARK: - Before LMDB opens the file

    /// Why a read-only open refuses a data directory: its journal holds commits not yet applied.
    public struct Unapplied: Error, CustomStringConvertible, Sendable {
        public let directory: String
        public let records: Int
        public var description: String {
            "\(directory)/\(Journal.fileName) holds \(records) commit(s) not yet applied to data.mdb (the daemon stopped "
                + "without a clean shutdown): start fascicolod on this directory once — it applies them at start — "
                + "then run this again"
        }
    }

    /// For read-only opens: throws `Unapplied` when the directory's journal has records and no
    /// process has it open for writing (a running daemon's commits are in data.mdb already,
    /// visible to readers; a stopped one's may not be, and data.mdb may even be unreadable).
    public static func refuseUnapplied(directory: String) throws {
        let path = directory + "/" + fileName
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { Glibc.close(descriptor) }
        guard flock(descriptor, LOCK_SH | LOCK_NB) == 0 else { return }  // a writer has it: live
        defer { flock(descriptor, LOCK_UN) }
        let (header, records) = read(descriptor: descriptor, length: fileLength(descriptor))
        if header != nil && !records.isEmpty { throw Unapplied(directory: directory, records: records.count) }
    }

    /// Why a writable open cannot apply a journal.
    public struct CannotRecover: Error, CustomStringConvertible, Sendable {
        public let problem: String
        public var description: String { "cannot apply \(Journal.fileName): \(problem)" }
    }

    /// For writable opens, before anything reads data.mdb: when the journal has records, writes
    /// its saved meta pages back into data.mdb (synced), so that the file is the last synced
    /// snapshot whole; the records are applied once LMDB has opened it (`Environment.init`).
    /// Doing it twice writes the same bytes twice.
    public static func restoreLastSyncedSnapshot(directory: String) throws {
        let path = directory + "/" + fileName
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { Glibc.close(descriptor) }
        let (header, records) = read(descriptor: descriptor, length: fileLength(descriptor))
        guard let header, !records.isEmpty else { return }
        // A journal in use (this process or another has the environment open for writing) is
        // not left over: its data.mdb is live.
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            throw CannotRecover(problem: "a process has the store open for writing")
        }
        defer { flock(descriptor, LOCK_UN) }
        // LMDB resets its lock file only when no other process has it open; one that did would
        // keep the crashed writer's view of the newest transaction.
        let lockPath = directory + "/lock.mdb"
        let lockDescriptor = open(lockPath, O_RDWR | O_CLOEXEC)
        if lockDescriptor >= 0 {
            defer { Glibc.close(lockDescriptor) }
            var probe = flock()
            probe.l_type = Int16(F_WRLCK)
            probe.l_whence = Int16(SEEK_SET)
            probe.l_start = 0
            probe.l_len = 0
            if fcntl(lockDescriptor, F_GETLK, &probe) == 0 && probe.l_type != Int16(F_UNLCK) {
                throw CannotRecover(problem: "another process (pid \(probe.l_pid)) has the store open; stop it first")
            }
        }
        let dataPath = directory + "/data.mdb"
        let data = open(dataPath, O_RDWR | O_CLOEXEC)
        guard data >= 0 else { throw CannotRecover(problem: "data.mdb cannot be opened (errno \(errno))") }
        defer { Glibc.close(data) }
        // The journal must belong to this file: its snapshot cannot be newer than what the file holds.
        var current = [UInt8](repeating: 0, count: header.metaPages.count)
        guard preadAll(data, &current, offset: 0) else { throw CannotRecover(problem: "data.mdb is shorter than its meta pages") }
        let saved = newestTransaction(header.metaPages, pageSize: header.pageSize)
        let onDisk = newestTransaction(current, pageSize: header.pageSize)
        guard let saved, saved <= (onDisk ?? UInt64.max) else {
            throw CannotRecover(
                problem: "its snapshot (transaction \(saved.map(String.init) ?? "?")) is newer than data.mdb's "
                    + "(\(onDisk.map(String.init) ?? "?")): data.mdb is not the file this journal belongs to")
        }
        guard current != header.metaPages else { return }
        guard pwriteAll(data, header.metaPages, offset: 0), fdatasync(data) == 0 else {
            throw CannotRecover(problem: "writing data.mdb's meta pages failed (errno \(errno))")
        }
    }

    /// The newest transaction ID of two meta pages (`StoreStructure.Meta`'s layout).
    private static func newestTransaction(_ pages: [UInt8], pageSize: Int) -> UInt64? {
        let metas = (0..<2).compactMap { index -> UInt64? in
            let page = Array(pages[(index * pageSize)..<((index + 1) * pageSize)])
            return StoreStructure.Meta(page, pageNumber: UInt64(index))?.transactionID
        }
        return metas.max()
    }

    // MARK: - Open for writing

    /// Opens (creating, zero-filled, when missing or of another size with nothing to apply) the
    /// journal of the environment `handle`, locked against other writers. Records found are
    /// returned for the caller to apply before the first checkpoint.
    init(directory: String, capacity: Int) throws {
        path = directory + "/" + Self.fileName
        self.capacity = max(capacity, Self.recordsStart + (1 << 20))
        var descriptor = open(path, O_RDWR | O_CLOEXEC)
        if descriptor < 0 {
            try Self.create(path: path, capacity: self.capacity)
            descriptor = open(path, O_RDWR | O_CLOEXEC)
            guard descriptor >= 0 else { throw Self.failure("open \(Self.fileName)") }
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(descriptor)
            throw CannotRecover(problem: "another process has \(Self.fileName) open for writing")
        }
        self.descriptor = descriptor
        highWater = Self.fileLength(descriptor)
        // Generations go on from the file's: a checkpoint writes the slot of the next one, and a
        // slot of an older process with a larger generation would otherwise stay the current
        // one, naming records that are no longer there.
        header = Self.read(descriptor: descriptor, length: highWater).0 ?? Header(generation: 0, salt: [], pageSize: 0, metaPages: [])
    }

    /// The records left by the last process (nil header: none), read once at open.
    func leftover() -> (Header?, [[UInt8]]) {
        Self.read(descriptor: descriptor, length: Self.fileLength(descriptor))
    }

    /// After the leftover records are applied and synced: a journal of the wrong size is made
    /// anew (nothing in it is needed any more).
    func resizeIfNeeded() throws -> Journal {
        guard Self.fileLength(descriptor) != capacity else { return self }
        let directory = String(path.dropLast(Self.fileName.count + 1))
        try Self.create(path: path, capacity: capacity)  // renamed over this one
        flock(descriptor, LOCK_UN)
        Glibc.close(descriptor)
        return try Journal(directory: directory, capacity: capacity)
    }

    /// A zero-filled file of `capacity` bytes, synced, renamed into place: later records
    /// overwrite allocated blocks, so their fdatasync has no file size or extent to write.
    private static func create(path: String, capacity: Int) throws {
        let temporary = path + ".new"
        let descriptor = open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("create \(fileName)") }
        defer { Glibc.close(descriptor) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        while offset < capacity {
            let part = min(zeros.count, capacity - offset)
            guard pwriteAll(descriptor, Array(zeros[0..<part]), offset: offset) else { throw failure("fill \(fileName)") }
            offset += part
        }
        guard fsync(descriptor) == 0 else { throw failure("sync \(fileName)") }
        guard rename(temporary, path) == 0 else { throw failure("rename \(fileName)") }
        let directory = open(String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]), O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            Glibc.close(directory)
        }
    }

    func close() {
        if let pin { mdb_txn_abort(pin) }
        pin = nil
        flock(descriptor, LOCK_UN)
        Glibc.close(descriptor)
    }

    // MARK: - Checkpoints and records

    /// Only for a map resize, right after a checkpoint (see `Environment.growMap`).
    func releasePin() {
        if let pin { mdb_txn_abort(pin) }
        pin = nil
    }

    /// Pins the latest commit, which must be the snapshot of the last checkpoint.
    func pinLatest(environment: OpaquePointer) throws {
        var newPin: OpaquePointer?
        try StorageError.check(mdb_txn_begin(environment, nil, UInt32(MDB_RDONLY), &newPin), "pin the synced snapshot")
        pin = newPin
    }

    /// Makes everything LMDB committed durable and starts a new generation: syncs data.mdb,
    /// saves its meta pages in the older header slot (synced), pins the snapshot, and releases
    /// the previous pin. Only under the environment's writer turn.
    func checkpoint(environment: OpaquePointer) throws {
        try StorageError.check(mdb_env_sync(environment, 1), "sync environment for a journal checkpoint")
        var stat = MDB_stat()
        mdb_env_stat(environment, &stat)
        let pageSize = Int(stat.ms_psize)
        var dataDescriptor: Int32 = -1
        try StorageError.check(mdb_env_get_fd(environment, &dataDescriptor), "get the data file's descriptor")
        var meta = [UInt8](repeating: 0, count: 2 * pageSize)
        guard Self.preadAll(dataDescriptor, &meta, offset: 0) else { throw Self.failure("read data.mdb's meta pages") }
        // The snapshot the meta pages describe: no commit can come between (writer turn held).
        var newPin: OpaquePointer?
        try StorageError.check(mdb_txn_begin(environment, nil, UInt32(MDB_RDONLY), &newPin), "pin the synced snapshot")
        var random = SystemRandomNumberGenerator()  // the kernel's (getrandom)
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }
        let next = Header(generation: header.generation + 1, salt: salt, pageSize: pageSize, metaPages: meta)
        var fields = [UInt8](repeating: 0, count: 80)
        fields.replaceSubrange(0..<8, with: Self.slotMagic)
        LE.put(next.generation, into: &fields, at: 8)
        fields.replaceSubrange(16..<32, with: salt)
        LE.put(UInt32(pageSize), into: &fields, at: 32)
        LE.put(UInt32(meta.count), into: &fields, at: 36)
        LE.put(UInt64(Self.recordsStart), into: &fields, at: 40)
        fields.replaceSubrange(48..<80, with: Self.slotChecksum(fields: fields[0..<48], meta: meta))
        let slot = Int(next.generation % 2) * Self.slotBytes
        guard Self.pwriteAll(descriptor, meta, offset: slot + 4096), Self.pwriteAll(descriptor, fields, offset: slot),
            fdatasync(descriptor) == 0
        else {
            mdb_txn_abort(newPin)
            throw Self.failure("write the journal's header")
        }
        if let pin { mdb_txn_abort(pin) }
        pin = newPin
        header = next
        nextOffset = Self.recordsStart
        nextSequence = 0
        lastCheckpointNanoseconds = Self.monotonicNanoseconds()
    }

    /// Bytes of records written in this generation.
    var used: Int { nextOffset - Self.recordsStart }

    /// Whether a record of `bodyLength` bytes fits in an empty generation at all.
    func fitsAtAll(bodyLength: Int) -> Bool { Self.recordsStart + Self.recordOverhead + bodyLength <= capacity }

    /// Whether it fits after what this generation holds.
    func fits(bodyLength: Int) -> Bool { nextOffset + Self.recordOverhead + bodyLength <= capacity }

    /// Writes the record of one transaction and flushes it: once this returns, the transaction
    /// may commit. `committed` or `abandon` must follow.
    func write(body: [UInt8]) throws {
        var record = [UInt8](repeating: 0, count: Self.recordHeaderBytes)
        LE.put(Self.recordMagic, into: &record, at: 0)
        LE.put(UInt32(body.count), into: &record, at: 4)
        LE.put(nextSequence, into: &record, at: 8)
        LE.put(header.generation, into: &record, at: 16)
        record += Self.checksum(salt: header.salt, head: record[0..<Self.recordHeaderBytes], body: body)
        record += body
        guard Self.pwriteAll(descriptor, record, offset: nextOffset), fdatasync(descriptor) == 0 else {
            throw Self.failure("write a journal record")
        }
        highWater = max(highWater, nextOffset + record.count)
    }

    /// The transaction of the last record written committed.
    func committed(bodyLength: Int) {
        nextOffset += Self.recordOverhead + bodyLength
        nextSequence += 1
    }

    /// The transaction of the last record written did not commit: its record is unmade, so
    /// that a replay cannot apply what nobody was told had been stored. (If this fails too the
    /// disk is failing; the next record overwrites it at the same place and sequence.)
    func abandon() {
        let zeros = [UInt8](repeating: 0, count: Self.recordOverhead)
        if Self.pwriteAll(descriptor, zeros, offset: nextOffset) { _ = fdatasync(descriptor) }
    }

    /// Overwrites every record ever written with zeros (after an erasure: records hold the
    /// changes of earlier transactions, sealed data keys among them). Call after a checkpoint.
    func wipe() throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var offset = Self.recordsStart
        let end = min(highWater, capacity)
        while offset < end {
            let part = min(zeros.count, end - offset)
            guard Self.pwriteAll(descriptor, Array(zeros[0..<part]), offset: offset) else { throw Self.failure("wipe the journal") }
            offset += part
        }
        guard fdatasync(descriptor) == 0 else { throw Self.failure("sync the wiped journal") }
        highWater = Self.recordsStart
    }

    // MARK: - Replay

    /// Applies one record's changes in `txn` (a write transaction of the environment).
    static func apply(body: [UInt8], in txn: OpaquePointer) throws {
        var reader = BodyReader(bytes: body)
        var tables: [String: MDB_dbi] = [:]
        func table(_ name: String, create: Bool) throws -> MDB_dbi {
            if let dbi = tables[name] { return dbi }
            var dbi = MDB_dbi()
            try StorageError.check(mdb_dbi_open(txn, name, create ? UInt32(MDB_CREATE) : 0, &dbi), "open table \"\(name)\" to replay")
            tables[name] = dbi
            return dbi
        }
        let damaged = StorageError(code: .corrupted, operation: "read a journal record")
        while !reader.atEnd {
            guard let code = reader.byte(), let operation = Operation(rawValue: code), let name = reader.name() else { throw damaged }
            switch operation {
            case .put:
                guard let key = reader.field(), let value = reader.field() else { throw damaged }
                let dbi = try table(name, create: true)
                let status = key.withUnsafeBytes { keyBytes in
                    value.withUnsafeBytes { valueBytes in
                        var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                        var v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                        return mdb_put(txn, dbi, &k, &v, 0)
                    }
                }
                try StorageError.check(status, "replay a put into \"\(name)\"")
            case .delete:
                guard let key = reader.field() else { throw damaged }
                let dbi = try table(name, create: false)
                let status = key.withUnsafeBytes { keyBytes in
                    var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                    return mdb_del(txn, dbi, &k, nil)
                }
                if status != MDB_NOTFOUND { try StorageError.check(status, "replay a delete from \"\(name)\"") }
            case .empty:
                try StorageError.check(mdb_drop(txn, try table(name, create: false), 0), "replay emptying \"\(name)\"")
            case .create:
                _ = try table(name, create: true)
            case .drop:
                try StorageError.check(mdb_drop(txn, try table(name, create: false), 1), "replay dropping \"\(name)\"")
                tables[name] = nil
            }
        }
    }

    private struct BodyReader {
        let bytes: [UInt8]
        var offset = 0
        var atEnd: Bool { offset >= bytes.count }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func name() -> String? {
            guard offset + 2 <= bytes.count else { return nil }
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            offset += 2
            guard offset + length <= bytes.count else { return nil }
            defer { offset += length }
            return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
        }

        mutating func field() -> [UInt8]? {
            guard offset + 4 <= bytes.count else { return nil }
            let length = Int(LE.u32(bytes, offset))
            offset += 4
            guard offset + length <= bytes.count else { return nil }
            defer { offset += length }
            return Array(bytes[offset..<(offset + length)])
        }
    }

    /// Appends one change to a record body (`WriteTransaction` builds its record with this).
    static func encode(
        _ operation: Operation, table: String, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil,
        into body: inout [UInt8]
    ) {
        body.append(operation.rawValue)
        let name = Array(table.utf8)
        body.append(UInt8(name.count & 0xFF))
        body.append(UInt8(name.count >> 8))
        body += name
        for field in [key, value] {
            guard let field else { continue }
            var length = [UInt8](repeating: 0, count: 4)
            LE.put(UInt32(field.count), into: &length, at: 0)
            body += length
            body.append(contentsOf: field)
        }
    }

    // MARK: - File helpers

    static func fileLength(_ descriptor: Int32) -> Int {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
    }

    static func preadAll(_ descriptor: Int32, _ buffer: inout [UInt8], offset: Int) -> Bool {
        let count = buffer.count
        var done = 0
        while done < count {
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { return false }
            done += read
        }
        return true
    }

    static func pwriteAll(_ descriptor: Int32, _ bytes: [UInt8], offset: Int) -> Bool {
        var done = 0
        while done < bytes.count {
            let wrote = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if wrote < 0 && errno == EINTR { continue }
            guard wrote > 0 else { return false }
            done += wrote
        }
        return true
    }

    static func failure(_ operation: String) -> StorageError {
        StorageError(code: .init(errno == 0 ? EIO : errno), operation: operation)
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// Little-endian fields of the journal's headers.
enum LE {
    static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    static func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    static func put<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<MemoryLayout<T>.size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }
}
