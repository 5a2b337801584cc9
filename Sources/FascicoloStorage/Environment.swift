import CLMDB
import Glibc

/// One LMDB environment (one data directory), opened once per process.
///
/// LMDB's rules, which this type enforces or relies on:
/// - one write transaction at a time (LMDB serialises writers itself);
/// - transactions are scoped, synchronous closures: nothing may `await` inside one, and no
///   pointer into the map may escape its closure;
/// - the environment is opened with `MDB_NOTLS`, so a read transaction is not tied to a thread;
/// - the map grows by itself: when a write fills it, the transaction is aborted, the map is
///   doubled and the closure runs again. `MDB_MAP_FULL` never reaches a caller.
/// - commits are durable by default (no `MDB_NOSYNC`, no `MDB_NOMETASYNC`). A commit flushes
///   twice, in order: the tree's pages (fdatasync), then the meta page that points at them
///   (O_DSYNC write). `MDB_NOMETASYNC` leaves the meta page to the next commit's flush, which
///   does not shorten an acknowledgement's wait — it still needs two flushes, its own and the
///   next — and `MDB_NOSYNC` with syncs deferred is unsafe on its own: a power cut can leave a
///   meta page on disk ahead of its pages. With `Options.journal` a commit is flushed once, in
///   the commit journal, and LMDB's syncs are deferred safely (see `Journal`; measurements in
///   docs/benchmarks.md, "Against PostgreSQL").
public final class Environment: @unchecked Sendable {
    // @unchecked: the MDB_env handle is thread-safe for the operations used here; the only state
    // that needs exclusion (the map size) is guarded by `resizeLock`.

    public struct Options: Sendable {
        /// The initial map size; it grows by doubling when a write fills it.
        public var mapSizeBytes: Int = 64 << 20
        /// The largest the map may grow to; a write beyond it fails with `mapFull`.
        public var mapSizeBytesMax: Int = 1 << 40
        /// How many named tables the environment may hold (the log's, the domain's, and two
        /// generations of every projection's).
        public var tablesMax: UInt32 = 128
        /// Concurrent read transactions allowed across all processes.
        public var readersMax: UInt32 = 254
        /// Open without write access: `read` only, safe next to a running writer.
        public var readOnly = false
        /// Commits without fsync. Only for throwaway data (tests of logic, not of durability).
        public var unsafeNoSync = false
        /// The commit journal (`Journal`): one flush per commit. Nil: LMDB's durable commit,
        /// two flushes. A writable open applies a journal left in the directory either way.
        public var journal: JournalOptions?
        /// For a read-only open that only checks the file's structure (the daemon's start check,
        /// after `Journal.restoreLastSyncedSnapshot`): open even with an unapplied journal, and
        /// read the last synced snapshot. Every other read-only open refuses such a directory.
        public var readLastSyncedSnapshot = false

        public init() {}
    }

    /// The journal's size and checkpoint interval.
    public struct JournalOptions: Sendable {
        /// The journal file's size, preallocated; a checkpoint starts when half of it is used.
        public var capacityBytes = 64 << 20
        /// A checkpoint at the latest this long after the previous one, when something was recorded.
        public var checkpointMilliseconds = 2_000

        public init() {}
    }

    public let path: String
    public let options: Options
    let handle: OpaquePointer
    /// Readers hold it shared for the life of their transaction; a map resize holds it exclusive,
    /// because LMDB forbids `mdb_env_set_mapsize` while this process has a transaction open.
    private let resizeLock: UnsafeMutablePointer<pthread_rwlock_t>
    /// Serialises writers in this process before they reach LMDB's own writer mutex, so that a
    /// writer waiting for its turn never holds `resizeLock` — and in arrival order, so that a
    /// writer that writes again at once (a projection rebuild) cannot starve another (appends).
    private let writerTurns = TicketLock()
    private var closed = false
    /// The commit journal, when on; used only under `writerTurns`.
    private var journal: Journal?
    /// How many read transactions the current thread has open in this environment: a write
    /// from inside a read could deadlock when the map must grow, so it is refused.
    private let readDepth = ThreadLocalCounter()

    /// Opens (and, unless read-only, creates) the environment in the directory `path`.
    public init(path: String, options: Options = Options()) throws(StorageError) {
        self.path = path
        self.options = options
        // Before LMDB reads the file: a journal left by a crash means the file may hold meta
        // pages ahead of their pages (see Journal).
        do {
            if !options.readOnly {
                try Journal.restoreLastSyncedSnapshot(directory: path)
            } else if !options.readLastSyncedSnapshot {
                try Journal.refuseUnapplied(directory: path)
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(code: .init(EAGAIN), operation: "\(error)")
        }
        var env: OpaquePointer?
        try StorageError.check(mdb_env_create(&env), "create environment")
        guard let env else { throw StorageError(code: .panic, operation: "create environment") }
        do throws(StorageError) {
            try StorageError.check(mdb_env_set_maxdbs(env, options.tablesMax), "set table count")
            try StorageError.check(mdb_env_set_maxreaders(env, options.readersMax), "set reader count")
            if !options.readOnly {
                try StorageError.check(mdb_env_set_mapsize(env, options.mapSizeBytes), "set map size")
            }
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if options.unsafeNoSync || (options.journal != nil && !options.readOnly) { flags |= UInt32(MDB_NOSYNC) }
            try StorageError.check(mdb_env_open(env, path, flags, 0o600), "open environment at \(path)")
            // A file shorter than its last page is not damage by itself: LMDB never writes a page
            // it allocates and frees in one transaction, so a healthy file can end early (seen
            // here, two pages short). A truncated file is found by StoreStructure's walk, in a
            // child, before the daemon or an offline command trusts the store.
        } catch {
            mdb_env_close(env)
            throw error
        }
        handle = env
        resizeLock = .allocate(capacity: 1)
        pthread_rwlock_init(resizeLock, nil)
        if !options.readOnly && (options.journal != nil || access(path + "/" + Journal.fileName, F_OK) == 0) {
            do { try openJournal() } catch {
                close()
                throw error
            }
        }
    }

    /// Applies what a journal left in the directory holds, then keeps the journal (when on) from
    /// a first checkpoint, or removes it (when off) once LMDB has synced.
    private func openJournal() throws(StorageError) {
        let journal: Journal
        do { journal = try Journal(directory: path, capacity: options.journal?.capacityBytes ?? 0) } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(code: .init(EAGAIN), operation: "\(error)")
        }
        let (header, records) = journal.leftover()
        if header != nil && !records.isEmpty {
            // Room for the records first: the map may not grow while the snapshot is pinned
            // (LMDB resizes only with no transaction of this process open).
            let needed = usedBytes + 4 * records.reduce(0) { $0 + $1.count } + (1 << 20)
            var size = mapSizeBytes
            while size < needed && size < options.mapSizeBytesMax { size = min(size * 2, options.mapSizeBytesMax) }
            if size > mapSizeBytes { try StorageError.check(mdb_env_set_mapsize(handle, size), "grow map to \(size) bytes") }
            // The last synced snapshot (its meta pages were written back by
            // `restoreLastSyncedSnapshot`) stays pinned while the records are applied, so that
            // a crash meanwhile finds it whole again.
            var pin: OpaquePointer?
            try StorageError.check(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &pin), "pin the synced snapshot")
            defer { mdb_txn_abort(pin) }
            for body in records {
                do { try replayOnce(body) } catch let error as StorageError { throw error } catch {
                    throw StorageError(code: .corrupted, operation: "\(error)")
                }
            }
            try StorageError.check(mdb_env_sync(handle, 1), "sync after applying the journal")
        }
        if options.journal != nil {
            do {
                let kept = try journal.resizeIfNeeded()
                try kept.checkpoint(environment: handle)
                self.journal = kept
            } catch let error as StorageError {
                throw error
            } catch {
                throw StorageError(code: .init(EIO), operation: "\(error)")
            }
        } else {
            journal.close()
            unlink(path + "/" + Journal.fileName)
            let directory = open(path, O_RDONLY | O_CLOEXEC)
            if directory >= 0 {
                fsync(directory)
                Glibc.close(directory)
            }
        }
    }

    private func replayOnce(_ body: [UInt8]) throws {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        var txn: OpaquePointer?
        try StorageError.check(mdb_txn_begin(handle, nil, 0, &txn), "begin a transaction to replay the journal")
        do {
            try Journal.apply(body: body, in: txn!)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try StorageError.check(mdb_txn_commit(txn), "commit a transaction of the journal")
    }

    deinit {
        close()
        pthread_rwlock_destroy(resizeLock)
        resizeLock.deallocate()
    }

    /// Closes the environment. No transaction may be running; later use is a programmer error.
    public func close() {
        guard !closed else { return }
        closed = true
        if let journal {
            // A clean close leaves a journal with nothing to apply (a failed checkpoint leaves
            // its records, applied at the next open).
            writerTurns.lock()
            try? journal.checkpoint(environment: handle)
            journal.close()
            self.journal = nil
            writerTurns.unlock()
        }
        mdb_env_close(handle)
    }

    /// Whether commits go through the journal (one flush each).
    public var hasJournal: Bool { journal != nil }

    /// Makes every commit durable in LMDB's own file and starts the journal anew, when a
    /// checkpoint is due (half of the journal used, or `checkpointMilliseconds` since the
    /// last). Called by the log's writer after it has answered a commit's callers, so that the
    /// syncs are not on their path. Does nothing without a journal.
    public func checkpointJournalIfDue() throws(StorageError) {
        guard let journal, let settings = options.journal else { return }
        writerTurns.lock()
        defer { writerTurns.unlock() }
        let interval = UInt64(settings.checkpointMilliseconds) * 1_000_000
        let due =
            journal.used > (journal.capacity - Journal.recordsStart) / 2
            || (journal.nextSequence > 0 && Journal.monotonicNanoseconds() - journal.lastCheckpointNanoseconds >= interval)
        guard due else { return }
        try journalCheckpoint(journal)
    }

    /// After an erasure: makes every commit durable in LMDB's own file and overwrites the
    /// journal's records with zeros — they hold the changes of earlier transactions, among them
    /// the sealed data key just destroyed. Does nothing without a journal.
    public func wipeJournal() throws(StorageError) {
        guard let journal else { return }
        writerTurns.lock()
        defer { writerTurns.unlock() }
        try journalCheckpoint(journal)
        do { try journal.wipe() } catch let error as StorageError { throw error } catch {
            throw StorageError(code: .init(EIO), operation: "\(error)")
        }
    }

    private func journalCheckpoint(_ journal: Journal) throws(StorageError) {
        do { try journal.checkpoint(environment: handle) } catch let error as StorageError { throw error } catch {
            throw StorageError(code: .init(EIO), operation: "\(error)")
        }
    }

    /// Opens tables, creating missing ones when `create` is set (the environment must be writable).
    /// The handles stay valid for the life of the environment.
    public func openTables(_ names: [String], create: Bool = false) throws -> [Table] {
        if create {
            return try write { txn in try names.map { try txn.openTable($0, create: true) } }
        }
        // A handle opened in a transaction that aborts is closed again, and `read` always aborts:
        // open them in a read-only transaction that commits.
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        var txn: OpaquePointer?
        try StorageError.check(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn), "begin read transaction")
        let transaction = ReadTransaction(handle: txn!)
        do {
            let tables = try names.map { try transaction.openTable($0, create: false) }
            try transaction.commit()
            return tables
        } catch {
            transaction.finish(commit: false)
            throw error
        }
    }

    /// Opens one table; see `openTables`.
    public func openTable(_ name: String, create: Bool = false) throws -> Table {
        try openTables([name], create: create)[0]
    }

    /// Runs `body` in a read transaction: a consistent snapshot, never blocked by the writer.
    /// `body` must not start a write transaction (that is a programmer error, and traps).
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        var txn: OpaquePointer?
        var status = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
        if status == MDB_MAP_RESIZED {
            // Another process grew the map: adopt its size, then begin again.
            pthread_rwlock_unlock(resizeLock)
            adoptGrownMap()
            pthread_rwlock_rdlock(resizeLock)
            status = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
        }
        try StorageError.check(status, "begin read transaction")
        let transaction = ReadTransaction(handle: txn!)
        readDepth.add(1)
        defer {
            readDepth.add(-1)
            transaction.finish(commit: false)
        }
        return try body(transaction)
    }

    /// Runs `body` in the write transaction and commits it durably.
    ///
    /// `body` may run more than once: when the map fills, the transaction is aborted, the map
    /// grows and `body` runs again from the start. It must therefore not have effects outside
    /// the transaction that cannot be repeated. If `body` throws, nothing is written.
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        precondition(!options.readOnly, "write transaction on a read-only environment")
        precondition(readDepth.value == 0, "write transaction inside a read transaction of the same thread")
        writerTurns.lock()
        defer { writerTurns.unlock() }
        while true {
            do {
                return try writeOnce(body)
            } catch let error as StorageError where error.code == .mapFull {
                try growMap()
            }
        }
    }

    private func writeOnce<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        var txn: OpaquePointer?
        var status = mdb_txn_begin(handle, nil, 0, &txn)
        if status == MDB_MAP_RESIZED {
            pthread_rwlock_unlock(resizeLock)
            adoptGrownMap()
            pthread_rwlock_rdlock(resizeLock)
            status = mdb_txn_begin(handle, nil, 0, &txn)
        }
        try StorageError.check(status, "begin write transaction")
        let transaction = WriteTransaction(handle: txn!)
        if journal != nil { transaction.journalBody = [] }
        do {
            let result = try body(transaction)
            if let journal, let record = transaction.journalBody, !record.isEmpty {
                try commitThroughJournal(transaction, record: record, journal: journal)
            } else {
                try transaction.commit()
            }
            return result
        } catch {
            transaction.finish(commit: false)
            throw error
        }
    }

    /// The record first, flushed; then LMDB's commit, without its syncs: readers see the
    /// transaction only once it is durable.
    private func commitThroughJournal(_ transaction: WriteTransaction, record: [UInt8], journal: Journal) throws {
        if !journal.fits(bodyLength: record.count) {
            try journal.checkpoint(environment: handle)
        }
        guard journal.fitsAtAll(bodyLength: record.count) else {
            // Larger than the journal: LMDB's own durable commit, between two checkpoints (with
            // nothing in the journal, a crash finds LMDB's own ordering of flushes).
            mdb_env_set_flags(handle, UInt32(MDB_NOSYNC), 0)
            defer { mdb_env_set_flags(handle, UInt32(MDB_NOSYNC), 1) }
            try transaction.commit()
            try journal.checkpoint(environment: handle)
            return
        }
        try journal.write(body: record)
        do {
            try transaction.commit()
        } catch {
            journal.abandon()
            throw error
        }
        journal.committed(bodyLength: record.count)
    }

    /// Doubles the map, up to `mapSizeBytesMax`. Waits until no read transaction of this process
    /// is open (LMDB requires it); other processes' readers are not affected.
    private func growMap() throws {
        let current = mapSizeBytes
        guard current < options.mapSizeBytesMax else {
            throw StorageError(code: .mapFull, operation: "grow map beyond mapSizeBytesMax \(options.mapSizeBytesMax)")
        }
        let grown = min(current * 2, options.mapSizeBytesMax)
        // LMDB allows a resize only with no transaction of this process open, the journal's pin
        // included: a checkpoint first (the pin is then on the latest commit), the pin released
        // for the resize, and taken again on the same snapshot — no commit can come between.
        if let journal {
            try journal.checkpoint(environment: handle)
            journal.releasePin()
        }
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let status = mdb_env_set_mapsize(handle, grown)
        if let journal { try journal.pinLatest(environment: handle) }
        try StorageError.check(status, "grow map to \(grown) bytes")
    }

    private func adoptGrownMap() {
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        _ = mdb_env_set_mapsize(handle, 0)
    }

    /// The current map size in bytes.
    public var mapSizeBytes: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// Bytes of the map in use (last page written × page size).
    public var usedBytes: Int { Self.usedBytes(handle) }

    private static func usedBytes(_ env: OpaquePointer) -> Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        var stat = MDB_stat()
        mdb_env_stat(env, &stat)
        return (info.me_last_pgno + 1) * Int(stat.ms_psize)
    }

    /// Flushes buffers to disk; only needed after commits made with `unsafeNoSync`.
    public func sync() throws(StorageError) {
        try StorageError.check(mdb_env_sync(handle, 1), "sync environment")
    }

    /// Writes a consistent copy of the environment to the empty directory `path` while writers
    /// carry on (LMDB's hot backup). `compact` omits free pages and renumbers them.
    public func copy(to path: String, compact: Bool) throws(StorageError) {
        try StorageError.check(
            mdb_env_copy2(handle, path, compact ? UInt32(MDB_CP_COMPACT) : 0), "copy environment to \(path)")
    }
}

/// A per-thread integer, for the read-depth check.
final class ThreadLocalCounter: @unchecked Sendable {
    // @unchecked: each thread only touches its own slot.
    private var key = pthread_key_t()

    init() { pthread_key_create(&key, nil) }
    deinit { pthread_key_delete(key) }

    var value: Int { Int(bitPattern: pthread_getspecific(key)) }

    func add(_ delta: Int) {
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: value + delta))
    }
}

/// A lock granted in the order it was asked for (a mutex may let the thread that just released
/// it take it again before a waiting one wakes up).
final class TicketLock: @unchecked Sendable {
    // @unchecked: the counters are only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let turn = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var nextTicket: UInt64 = 0
    private var serving: UInt64 = 0

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(turn, nil)
    }

    deinit {
        pthread_cond_destroy(turn)
        pthread_mutex_destroy(mutex)
        turn.deallocate()
        mutex.deallocate()
    }

    func lock() {
        pthread_mutex_lock(mutex)
        let ticket = nextTicket
        nextTicket += 1
        while serving != ticket { pthread_cond_wait(turn, mutex) }
        pthread_mutex_unlock(mutex)
    }

    func unlock() {
        pthread_mutex_lock(mutex)
        serving += 1
        pthread_cond_broadcast(turn)
        pthread_mutex_unlock(mutex)
    }
}
