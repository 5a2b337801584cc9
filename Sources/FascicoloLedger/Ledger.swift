import FascicoloConcurrency
import FascicoloCrypto
import FascicoloStorage
import Glibc
import Logging
import Synchronization

/// The signed, append-only log of one data directory.
///
/// Appends go through a group-committing writer thread and return once durable. Reads run in
/// their own LMDB read transactions, on the caller's thread, and never wait for the writer.
/// Open one `Ledger` per data directory per process; the daemon also holds a lock file so that a
/// second process does not open it for writing.
public final class Ledger: Sendable {
    let store: LedgerStore
    public let configuration: LedgerConfiguration
    /// The checkpoint origin, also the name of the signing key.
    public let origin: String
    /// The time of day for this log and the layers above it: the entries' `recordedAt`, the
    /// checkpoints' timestamps, the domain's "today" (see `Ledger.open`).
    public let wallClock: WallClock
    let writer: GroupCommitWriter
    let logger: Logger
    /// Set while a key rotation runs: one at a time.
    let rotating = Mutex(false)
    /// The followers of this log and what they hold (reported by `GET /v1/replication/log`).
    public let followers = FollowerReports()

    /// Opens (creating on first use) the ledger in `directory`. A new directory gets a fresh
    /// signing key in `signing.key` (mode 0600); an existing key file readable by group or others
    /// is refused with `KeyFile.Failure.tooOpen`, which names the file and the fix. `wallClock`
    /// is the system's unless a test fixes the time.
    public static func open(
        directory: String, configuration: LedgerConfiguration = LedgerConfiguration(),
        wallClock: WallClock = .system, logger: Logger = Logger(label: "fascicolo.ledger")
    ) throws -> Ledger {
        if let problem = LedgerConfiguration.originProblem(configuration.origin) {
            throw InvalidOrigin(origin: configuration.origin, reason: problem)
        }
        let store = try LedgerStore.open(
            directory: directory, readOnly: false, origin: configuration.origin,
            mapSizeBytes: configuration.mapSizeBytes,
            unsafeNoSync: configuration.unsafeNoSync)
        let origin = try store.origin()
        try SigningKeyFiles.finishRotation(directory: directory, store: store, origin: origin, logger: logger)
        // A new key may only be made for an empty log: one whose entries were signed by a key
        // that is now missing must not carry on under another (verify would fail from entry 0).
        if access(directory + "/" + KeyFile.secretName, F_OK) != 0 {
            let entries = try store.environment.read { txn in try store.size(in: txn) }
            guard entries == 0 else { throw KeyFile.Failure.missing(path: directory + "/" + KeyFile.secretName, entries: entries) }
        }
        let key = try KeyFile.loadOrCreate(directory: directory, name: origin)
        let chain = try store.environment.read { txn in
            try KeyChain.load(txn: txn, store: store, origin: origin, anchor: key.publicKey)
        }
        guard chain.current == key.publicKey else { throw SigningKeyFiles.NotCurrent(keyIDs: chain.keys.map { chain.keyID($0) }) }
        var published = try KeyFile.loadVerifierKey(directory: directory)
        if published.publicKey != key.publicKey && chain.keys.contains(published.publicKey) {
            // A rotation's swap stopped before signing.pub was written anew.
            try KeyFile.writePublic(directory: directory, name: origin, key: key.publicKey)
            published = (origin, key.publicKey)
        }
        guard published.publicKey == key.publicKey, published.name == origin else {
            throw KeyFile.Failure.malformed(
                path: directory + "/" + KeyFile.publicName,
                reason: "it does not match signing.key; delete it to have it written again")
        }
        try checkNotRolledBack(store: store, directory: directory, chain: chain, logger: logger)
        return try Ledger(store: store, key: key, chain: chain, configuration: configuration, wallClock: wallClock, logger: logger)
    }

    /// The log must reach, with the same root, every checkpoint kept in checkpoints.log. A record
    /// torn by a crash in the middle of an append is cut off first, so that appends go on after
    /// the last whole one.
    static func checkNotRolledBack(
        store: LedgerStore, directory: String, chain: KeyChain, logger: Logger
    ) throws {
        let (notes, torn) = try CheckpointFile.read(directory: directory)
        if torn > 0 {
            let path = directory + "/" + CheckpointFile.name
            var info = stat()
            if stat(path, &info) == 0 {
                logger.warning("checkpoints.log ends with a torn record (a crash mid-append); cut off", metadata: ["bytes": "\(torn)"])
                truncate(path, info.st_size - off_t(torn))
            }
        }
        guard let latest = try CheckpointFile.largest(notes, chain: chain) else { return }
        try store.environment.read { txn in
            let size = try store.size(in: txn)
            guard latest.size <= size else {
                throw CheckpointFile.RolledBack(logSize: size, checkpointSize: latest.size, differs: false)
            }
            guard try MerkleTree(transaction: txn, table: store.merkle).root(size: latest.size) == latest.root else {
                throw CheckpointFile.RolledBack(logSize: size, checkpointSize: latest.size, differs: true)
            }
        }
    }

    init(
        store: LedgerStore, key: SigningKey, chain: KeyChain, configuration: LedgerConfiguration, wallClock: WallClock,
        logger: Logger, follower: Bool = false
    ) throws {
        self.store = store
        self.configuration = configuration
        self.origin = chain.origin
        self.wallClock = wallClock
        self.logger = logger
        self.writer = try GroupCommitWriter(
            store: store, key: key, chain: chain, configuration: configuration,
            wallClock: wallClock, logger: logger, follower: follower)
        logger.info("ledger open", metadata: ["entries": "\(writer.committedSize)", "origin": "\(origin)"])
    }

    /// The log's keys: the first, and each one a `KeyRotated` entry named since.
    public var keyChain: KeyChain { writer.keyChain }

    /// The key that signs the next entry and checkpoint (the chain's current key).
    public var publicKey: PublicKey { keyChain.current }

    /// The current verifier key string for note tooling: `<origin>+<key id>+<base64 key>`.
    public var verifierKey: String { SignedNote.verifierKey(name: origin, publicKey: publicKey) }

    /// The 4-byte key ID carried in each new entry.
    public var keyID: [UInt8] { SignedNote.keyID(name: origin, publicKey: publicKey) }

    /// Appends the request's events atomically and returns once they are durable.
    ///
    /// Throws `LedgerError`: input problems before anything is queued, version and idempotency
    /// conflicts from the writer. A thrown error means nothing of the request was stored.
    public func append(_ request: AppendRequest) async throws -> AppendResult {
        try AppendValidation.validate(request, limits: configuration.limits)
        // The ledger's own streams (its key rotations) are written by the ledger alone.
        guard !request.stream.hasPrefix(KeyRotation.reservedPrefix) else {
            throw LedgerError.invalidStreamName("streams starting with \(KeyRotation.reservedPrefix) are written by the ledger itself")
        }
        let digest = request.idempotencyKey == nil ? nil : request.idempotencyDigest ?? AppendValidation.contentDigest(request)
        return try await writer.submit(request, contentDigest: digest)
    }

    /// The result of an earlier append stored under `idempotencyKey`, if there was one; throws
    /// `LedgerError.idempotencyConflict` when it was stored for other content. Lets a caller answer
    /// a retry before checking rules that the original append has since changed the answer to.
    public func storedAppend(idempotencyKey: String, digest: Digest) throws -> AppendResult? {
        try store.environment.read { txn -> AppendResult? in
            guard let record = try storedRecord(idempotencyKey: idempotencyKey, in: txn) else { return nil }
            guard record.digest == digest else { throw LedgerError.idempotencyConflict(key: idempotencyKey) }
            let tree = MerkleTree(transaction: txn, table: store.merkle)
            return AppendResult(
                firstPosition: record.firstPosition, firstStreamVersion: record.firstVersion,
                leafHashes: try (0..<UInt64(record.count)).map { try tree.leafHash(record.firstPosition + $0) },
                deduplicated: true)
        }
    }

    /// The positions of the entries an earlier append stored under `idempotencyKey` (whatever
    /// its content), or nil when none was: lets a client name an entry by the key it sent it with.
    public func storedPositions(idempotencyKey: String) throws -> Range<UInt64>? {
        try store.environment.read { txn in
            try storedRecord(idempotencyKey: idempotencyKey, in: txn).map { $0.firstPosition..<($0.firstPosition + UInt64($0.count)) }
        }
    }

    /// The idempotency row of `idempotencyKey`, its seal checked and its positions in the log.
    private func storedRecord(idempotencyKey: String, in txn: ReadTransaction) throws -> IdempotencyRecord? {
        // Checked as an append would: LMDB refuses an empty or an over-long key outright.
        try AppendValidation.validateIdempotencyKey(idempotencyKey, limits: configuration.limits)
        let rowKey = Array(idempotencyKey.utf8)
        guard let stored = try txn.get(store.idempotency, key: rowKey) else { return nil }
        let record: IdempotencyRecord
        do throws(DamagedData) {
            record = try IdempotencyRecord(sealed: stored, key: rowKey, seal: writer.seal)
        } catch { throw LedgerError.damaged(.init(error)) }
        guard record.firstPosition + UInt64(record.count) <= (try store.size(in: txn)) else {
            throw LedgerError.damaged(.init(DamagedData(table: "idempotency", what: "a row points beyond the log")))
        }
        return record
    }

    /// Whether new entries may be appended now (see `WriteAuthority`): a follower, a primary
    /// without its lease and one waiting for its synchronous followers close it.
    public var writeAuthority: WriteAuthority { writer.authority }

    /// Whether the disk takes the log's writes (health, metrics).
    public var storageHealth: StorageHealth { writer.health }
    /// Group commits that failed (nothing of them acknowledged) since the ledger was opened.
    public var commitFailures: UInt64 { writer.commitFailures }

    /// The number of durable entries (the next position, and the current tree size).
    public var size: UInt64 { writer.committedSize }

    /// Waits until the log holds more than `size` entries or `timeout` passes (or the ledger
    /// closes, or the task is cancelled); returns the size then. For subscriptions: they read the
    /// new entries themselves, so a slow reader never holds anything back.
    public func waitForEntries(beyond size: UInt64, timeout: Duration) async -> UInt64 {
        await writer.waitForCommit(beyond: size, timeout: timeout)
        return self.size
    }

    /// Waits, without a timeout, until the log holds more than `size` entries (or the ledger
    /// closes, or the task is cancelled); returns the size then.
    public func waitForEntries(beyond size: UInt64) async -> UInt64 {
        await writer.waitForCommit(beyond: size, timeout: nil)
        return self.size
    }

    /// The tree size of the latest checkpoint signed (0 before the first).
    public var checkpointSize: UInt64 { writer.checkpointSize }

    /// Waits until a checkpoint of more than `size` entries is signed, `timeout` passes, the
    /// ledger closes or the task is cancelled; returns the latest checkpoint's size then. For the
    /// witnesses' submitter: it wakes per checkpoint, not per commit.
    public func waitForCheckpoint(beyond size: UInt64, timeout: Duration) async -> UInt64 {
        await writer.waitForCheckpoint(beyond: size, timeout: timeout)
        return writer.checkpointSize
    }

    /// Returns the reason once the disk has failed in a way only a restart recovers from
    /// (`StorageHealth.failed`); nil if the ledger closes or the task is cancelled first.
    public func waitForStorageFailure() async -> String? {
        await writer.waitForFatalFailure()
    }

    /// Signs a checkpoint now if entries are not yet covered by one, and returns the checkpoint
    /// covering every entry committed before the call (a person export must be covered by the
    /// checkpoint it is proven against). Waits for the writer: at once when it is idle, with
    /// its next group commit under load. Throws `LedgerError.shutDown` when the ledger closes first.
    public func signCheckpoint() async throws -> Checkpoint {
        let size = self.size
        while true {
            let seen = writer.changed.generation
            if let latest = try latestCheckpoint(), latest.size >= size { return latest }
            if size == 0 { throw LedgerError.unavailable("the log is empty: there is nothing to sign") }
            if let refusal = writeAuthority.refusal { throw LedgerError.notWritable(refusal) }
            if writer.isStopped || Task.isCancelled { throw LedgerError.shutDown }
            switch writer.health {
            case .writable: break
            case .failing(_, let reason, _), .failed(_, let reason): throw LedgerError.unavailable(reason)
            }
            writer.requestCheckpoint()
            await writer.changed.wait(after: seen, timeout: .seconds(1))
        }
    }

    /// Group commits that stored entries since this ledger was opened.
    public var commitCount: UInt64 { writer.commitCount }
    /// Where the writer's time went since the ledger was opened (see `CommitTimings`).
    public var commitTimings: CommitTimings { writer.commitTimings }

    /// Stops accepting appends, commits those already queued, signs a final checkpoint, and
    /// closes the store. Appends after this throw `LedgerError.shutDown`.
    public func close() {
        writer.shutdown()
        store.environment.close()
    }
}

/// The configured origin cannot name a log.
public struct InvalidOrigin: Error, CustomStringConvertible, Sendable {
    public let origin: String
    public let reason: String
    public var description: String { "invalid origin \(origin): \(reason)" }
}

// MARK: - Reads

extension Ledger {
    /// The entry at `position`, or nil beyond the end.
    public func entry(at position: UInt64) throws -> Entry? {
        try read { log in try log.entry(at: position) }
    }

    /// Up to `limit` entries of the global log from `position` on, in order.
    public func entries(from position: UInt64, limit: Int) throws -> [Entry] {
        guard limit > 0 else { return [] }
        return try read { log in
            var result: [Entry] = []
            try log.forEachEntry(from: position) { view in
                result.append(Entry(view))
                return result.count < limit
            }
            return result
        }
    }

    /// The current version of `stream` (its number of entries; 0 when it does not exist).
    public func streamVersion(_ stream: String) throws -> UInt64 {
        try read { log in try log.streamVersion(stream) }
    }

    /// Up to `limit` entries of `stream`, forwards from `version` (inclusive, 1-based) or
    /// backwards from it (nil: from the newest).
    public func readStream(_ stream: String, from version: UInt64? = nil, backwards: Bool = false, limit: Int) throws -> [Entry] {
        let name = Array(stream.utf8)
        return try store.environment.read { txn in
            try txn.withCursor(store.streamIndex) { cursor in
                var result: [Entry] = []
                let prefix = name + [0]
                func entryFor(_ record: Cursor.Record) throws -> Entry? {
                    guard record.key.count == prefix.count + 8, record.key.starts(with: prefix),
                        let position = BigEndian.uint64(record.value)
                    else { return nil }
                    return try txn.withValue(in: store.entries, key: BigEndian.bytes(position)) { try Entry(EntryView(record: $0)) }
                }
                var record: Cursor.Record?
                if backwards {
                    let newest = try txn.get(store.streams, key: name).flatMap { BigEndian.uint64($0) } ?? 0
                    let startKey = LedgerStore.streamIndexKey(stream: name, version: min(version ?? newest, newest))
                    record = try cursor.seek(atOrAfter: startKey)
                    if record.map({ !$0.key.elementsEqual(startKey) }) ?? true {
                        record = try record == nil ? cursor.last() : cursor.previous()
                    }
                } else {
                    record = try cursor.seek(atOrAfter: LedgerStore.streamIndexKey(stream: name, version: max(version ?? 1, 1)))
                }
                while let current = record, result.count < limit, let entry = try entryFor(current) {
                    result.append(entry)
                    record = try backwards ? cursor.previous() : cursor.next()
                }
                return result
            }
        }
    }

    /// The newest checkpoint, if any.
    public func latestCheckpoint() throws -> Checkpoint? {
        try read { try $0.latestCheckpoint() }
    }

    /// The stored checkpoint of exactly `size` entries, if one was signed.
    public func checkpoint(size: UInt64) throws -> Checkpoint? {
        try read { try $0.checkpoint(size: size) }
    }

    /// The Merkle root of the first `size` entries.
    public func root(size: UInt64) throws -> Digest {
        try withTree(upTo: size) { try $0.root(size: size) }
    }

    /// The RFC 9162 inclusion proof of the entry at `position` in the tree of `treeSize` entries.
    public func inclusionProof(position: UInt64, treeSize: UInt64) throws -> [Digest] {
        try withTree(upTo: treeSize) { try $0.inclusionProof(index: position, size: treeSize) }
    }

    /// The RFC 9162 consistency proof between the trees of `oldSize` and `newSize` entries.
    public func consistencyProof(oldSize: UInt64, newSize: UInt64) throws -> [Digest] {
        try withTree(upTo: newSize) { try $0.consistencyProof(oldSize: oldSize, newSize: newSize) }
    }

    private func withTree<T>(upTo size: UInt64, _ body: (MerkleTree) throws -> T) throws -> T {
        try store.environment.read { txn in
            let current = try store.size(in: txn)
            guard size <= current else {
                throw MerkleTree.Failure.outOfRange("tree size \(size) is beyond the log's \(current) entries")
            }
            return try body(MerkleTree(transaction: txn, table: store.merkle))
        }
    }
}
