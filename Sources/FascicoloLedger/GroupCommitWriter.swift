import Dispatch
import FascicoloConcurrency
import FascicoloCrypto
import FascicoloStorage
import Glibc
import Logging

/// The ledger's single writer: a dedicated thread that drains the queue of pending appends into
/// one LMDB write transaction (a group commit), signs the entries on all cores, commits durably,
/// and only then answers each caller.
///
/// Appends never wait for one another's fsync: whatever arrives while a commit is on its way to
/// disk goes into the next one, so the fsync cost is shared by everything in a batch.
final class GroupCommitWriter: @unchecked Sendable {
    // @unchecked: `queue` and `state` are guarded by `lock`; `tree` and the checkpoint deadline
    // are touched only by the writer thread (and read by `init` before the thread starts).

    private struct Pending {
        let request: AppendRequest
        let contentDigest: Digest?
        let continuation: CheckedContinuation<AppendResult, any Error>
        /// Set for a key rotation (`Ledger.rotateKey`): the request is its `KeyRotated` entry,
        /// committed alone, signed by the current key, and this key signs from the next entry on.
        var rotation: SigningKey? = nil
    }

    private enum State { case running, draining, stopped }

    private let store: LedgerStore
    /// The key that signs the next entry, and its key ID: writer-thread state, changed only by a
    /// rotation's commit.
    private var key: SigningKey
    private var keyID: [UInt8]
    /// Seals the idempotency table's rows (see IdempotencyTable.swift); derived from the signing
    /// key, so a rotation seals the table again in its own commit. Guarded by `lock`: readers
    /// check rows with it.
    var seal: TableSealKey { lock.withLock { sealUnlocked } }
    private var sealUnlocked: TableSealKey
    /// The log's keys so far; guarded by `lock`.
    var keyChain: KeyChain { lock.withLock { chainUnlocked } }
    private var chainUnlocked: KeyChain
    private let checkpointFile: CheckpointFile.Appender
    /// Whether new entries may be signed now (follower, fenced, waiting for replicas): asked when
    /// a request is queued and again just before each batch commits.
    let authority = WriteAuthority()
    private let origin: String
    private let configuration: LedgerConfiguration
    private let logger: Logger
    private let signingThreads: Int
    /// The entries' `recordedAt` and the checkpoints' timestamps.
    private let wallClock: WallClock
    /// Deadlines and the commit timings (the lock's deadlines are on this clock too).
    private let monotonic = MonotonicClock.system

    private let lock = ConditionLock()
    private var queue: [Pending] = []
    /// Batches of a primary's signed entries waiting to be stored (follower mode); guarded by `lock`.
    private var replicatedQueue: [ReplicatedPending] = []
    private var state = State.running
    /// Whether the disk takes writes (see `StorageHealth`); guarded by `lock`.
    private var healthUnlocked = StorageHealth.writable
    private var retryBackoffMilliseconds: UInt64 = 0
    /// Notified when entries commit, the disk's health changes, or the writer stops: wakes the
    /// tasks waiting for one of those (subscriptions, the daemon's storage watch).
    let changed = ChangeSignal()

    // Writer-thread state.
    private var tree: MerkleFrontier
    private var lastRecordedAt: Int64
    private var lastCheckpointSize: UInt64
    /// Monotonic time of the first commit not yet covered by a checkpoint.
    private var uncoveredSince: UInt64?
    /// Time spent signing in the current group commit (its write closure may run twice).
    private var signingNanoseconds: UInt64 = 0
    /// The stream-head map of every committed entry, and the heads committed since the last
    /// checkpoint (the rows its table gets at the next one). `heads` is updated and hashed after
    /// each commit has answered, so that a checkpoint's commit only hashes its own batch's
    /// changes. `headsAhead` is set while `heads` holds changes of a commit that has not
    /// succeeded yet: the map is then built again from its table and `pendingHeads` before use.
    private var heads = StreamHeadTree()
    private var pendingHeads: [[UInt8]: StreamHead] = [:]
    private var headsAhead = false
    /// A checkpoint asked for by `Ledger.signCheckpoint`; guarded by `lock`.
    private var checkpointRequestedUnlocked = false

    init(
        store: LedgerStore, key: SigningKey, chain: KeyChain, configuration: LedgerConfiguration, wallClock: WallClock,
        logger: Logger, follower: Bool = false
    ) throws {
        // A follower's key (none, or a standby's copy of its primary's) signs nothing while it follows.
        precondition(follower || chain.current == key.publicKey)
        let origin = chain.origin
        self.store = store
        self.key = key
        self.chainUnlocked = chain
        self.sealUnlocked = TableSealKey(signingKey: key)
        self.checkpointFile = try CheckpointFile.Appender(directory: store.directory)
        self.origin = origin
        self.keyID = SignedNote.keyID(name: origin, publicKey: key.publicKey)
        self.configuration = configuration
        self.logger = logger
        self.wallClock = wallClock
        self.signingThreads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        (tree, lastRecordedAt, lastCheckpointSize) = try store.environment.read { txn in
            let size = try store.size(in: txn)
            let tree = try MerkleFrontier(size: size, tree: MerkleTree(transaction: txn, table: store.merkle))
            let lastRecordedAt =
                try size == 0
                ? 0
                : txn.withValue(in: store.entries, key: BigEndian.bytes(size - 1)) {
                    try EntryView(record: $0).recordedAtMilliseconds
                } ?? 0
            let lastCheckpointSize = try txn.withCursor(store.checkpoints) { cursor in
                try cursor.last().map { last throws -> UInt64 in
                    guard last.key.count == 8 else { throw DamagedData(table: "checkpoints", what: "a key is not a tree size") }
                    return BigEndian.read(UInt64.self, from: last.key, at: 0)
                } ?? 0
            }
            return (tree, lastRecordedAt, lastCheckpointSize)
        }
        if tree.size > lastCheckpointSize { uncoveredSince = monotonic.nanoseconds() }
        (heads, pendingHeads) = try Self.loadHeads(store: store, chain: chain, size: tree.size, logger: logger)
        for (stream, head) in pendingHeads { heads.set(stream: stream, head: head) }
        committedSizeUnlocked = tree.size
        checkpointSizeUnlocked = lastCheckpointSize
        // The side table that decides answers is checked before anything is answered from it.
        _ = try store.checkIdempotencySeal(sealUnlocked, migrate: !store.environment.options.readOnly && !follower)
        signingPublicKeyUnlocked = key.publicKey
        startThread { [self] in run() }
    }

    /// The stream-head map as of the latest checkpoint, from its table — checked against that
    /// checkpoint's stream-heads line, so a damaged table is reported instead of signed into
    /// every later checkpoint — and the heads of the entries committed after it.
    private static func loadHeads(
        store: LedgerStore, chain: KeyChain, size: UInt64, logger: Logger
    ) throws -> (StreamHeadTree, [[UInt8]: StreamHead]) {
        guard let table = store.streamHeads else { preconditionFailure("a writable store has a stream_heads table") }
        return try store.environment.read { txn in
            var heads = StreamHeadTree(rows: try StreamHeadTable.rows(in: txn, table: table))
            let latest = try txn.withCursor(store.checkpoints) { cursor in
                try cursor.last().map { try chain.verify(note: String(decoding: $0.value, as: UTF8.self)) }
            }
            let covered: UInt64
            if let latest, let root = latest.streamHeadsRoot {
                guard heads.root() == root else {
                    throw DamagedData(table: StreamHeadTable.name, what: "the map does not match the latest checkpoint's stream-heads line")
                }
                covered = latest.size
            } else {
                // A log whose checkpoints predate the map: it is built once, from every entry.
                guard heads.count == 0 else {
                    throw DamagedData(table: StreamHeadTable.name, what: "it has rows but no checkpoint commits to them")
                }
                covered = 0
            }
            if size - covered > 100_000 {
                logger.notice("building the stream-head map", metadata: ["entries": "\(size - covered)"])
            }
            var pending: [[UInt8]: StreamHead] = [:]
            try txn.withCursor(store.entries) { cursor in
                var record = try cursor.seek(atOrAfter: BigEndian.bytes(covered))
                while let current = record {
                    let view = try EntryView(record: current.value)
                    pending[Array(view.stream)] = StreamHead(version: view.streamVersion, position: view.position)
                    record = try cursor.next()
                }
            }
            return (heads, pending)
        }
    }

    /// The public key of the key that signs appends (changed by a rotation's commit).
    var signingPublicKey: PublicKey? { lock.withLock { signingPublicKeyUnlocked } }
    private var signingPublicKeyUnlocked: PublicKey?

    /// The number of committed entries.
    var committedSize: UInt64 { lock.withLock { committedSizeUnlocked } }
    private var committedSizeUnlocked: UInt64 = 0
    /// The tree size of the latest checkpoint committed.
    var checkpointSize: UInt64 { lock.withLock { checkpointSizeUnlocked } }
    private var checkpointSizeUnlocked: UInt64 = 0
    /// Group commits that stored entries since the ledger was opened (for metrics and benchmarks).
    var commitCount: UInt64 { lock.withLock { timingsUnlocked.commits } }
    /// Where the writer thread's time went, summed over every group commit since the ledger was opened.
    var commitTimings: CommitTimings { lock.withLock { timingsUnlocked } }
    private var timingsUnlocked = CommitTimings()

    func submit(_ request: AppendRequest, contentDigest: Digest?) async throws -> AppendResult {
        try await withCheckedThrowingContinuation { continuation in
            let refusal: LedgerError? = lock.withLock {
                guard state == .running else { return .shutDown }
                if let refusal = authority.refusal { return .notWritable(refusal) }
                // While the disk refuses writes, appends are refused at once until the next
                // retry is due; the first one after that is the probe.
                switch healthUnlocked {
                case .writable: break
                case .failing(_, let reason, let retryAt):
                    if monotonic.nanoseconds() < retryAt { return .unavailable(reason) }
                case .failed(_, let reason):
                    return .unavailable(reason)
                }
                queue.append(Pending(request: request, contentDigest: contentDigest, continuation: continuation))
                lock.broadcast()
                return nil
            }
            if let refusal { continuation.resume(throwing: refusal) }
        }
    }

    /// Queues the `KeyRotated` entry `request` (see `Ledger.rotateKey`): it commits alone, with a
    /// checkpoint of its size signed by the current key and naming `next`, which signs from then on.
    func submitRotation(_ request: AppendRequest, to next: SigningKey) async throws -> AppendResult {
        try await withCheckedThrowingContinuation { continuation in
            let refusal: LedgerError? = lock.withLock {
                guard state == .running else { return .shutDown }
                if let refusal = authority.refusal { return .notWritable(refusal) }
                if case .writable = healthUnlocked {} else { return .unavailable("the disk is not taking writes") }
                queue.append(Pending(request: request, contentDigest: nil, continuation: continuation, rotation: next))
                lock.broadcast()
                return nil
            }
            if let refusal { continuation.resume(throwing: refusal) }
        }
    }

    /// Whether appends are being stored.
    var health: StorageHealth { lock.withLock { healthUnlocked } }

    /// Asks for a checkpoint of everything committed, at the next commit or at once when idle.
    func requestCheckpoint() {
        lock.withLock {
            checkpointRequestedUnlocked = true
            lock.broadcast()
        }
    }

    var isStopped: Bool { lock.withLock { state == .stopped } }

    /// After a failed commit: LMDB marks its environment unusable when the meta page could not
    /// be written (MDB_PANIC) — then only a restart recovers, from the last good meta page; any
    /// other failure (EIO, ENOSPC on a data page or a sync) left the store as it was, and writes
    /// are tried again after a backoff (`commitRetryMilliseconds`, doubling up to 20×).
    private func recordFailure(_ error: any Error) {
        let reason = (error as? StorageError).map { "\($0.code) (errno-level code \($0.code.rawValue))" } ?? "\(error)"
        // A failed meta-page write answers EIO, not MDB_PANIC, but leaves the environment
        // poisoned: then even a read transaction cannot begin.
        let poisoned: Bool
        do {
            try store.environment.read { _ in }
            poisoned = false
        } catch let probe as StorageError {
            poisoned = probe.code == .panic
        } catch {
            poisoned = false
        }
        let fatal = (error as? StorageError)?.code == .panic || poisoned
        lock.withLock {
            let since = healthUnlocked.since ?? wallClock.millisecondsSinceEpoch
            if fatal {
                healthUnlocked = .failed(since: since, reason: reason)
            } else {
                let first = max(configuration.commitRetryMilliseconds, 1)
                retryBackoffMilliseconds = min(max(retryBackoffMilliseconds * 2, first), first * 20)
                healthUnlocked = .failing(
                    since: since, reason: reason,
                    retryAt: monotonic.nanoseconds() + retryBackoffMilliseconds * 1_000_000)
            }
            commitFailuresUnlocked += 1
        }
        changed.notify()
    }

    private func recordSuccess() {
        let recovered = lock.withLock {
            if case .writable = healthUnlocked { return false }
            healthUnlocked = .writable
            retryBackoffMilliseconds = 0
            return true
        }
        if recovered { changed.notify() }
    }

    /// Group commits that failed since the ledger was opened.
    var commitFailures: UInt64 { lock.withLock { commitFailuresUnlocked } }
    private var commitFailuresUnlocked: UInt64 = 0

    /// Returns once the log holds more than `size` entries, the writer stops, `timeout` passes
    /// (nil: never) or the task is cancelled — whichever comes first. The commit that grows the
    /// log wakes every waiter at once.
    func waitForCommit(beyond size: UInt64, timeout: Duration?) async {
        while !Task.isCancelled {
            let seen = changed.generation
            if lock.withLock({ committedSizeUnlocked > size || state != .running }) { return }
            if let timeout {
                await changed.wait(after: seen, timeout: timeout)
                return
            }
            await changed.wait(after: seen)
        }
    }

    /// Returns once a checkpoint of more than `size` entries is committed, the writer stops,
    /// `timeout` passes or the task is cancelled — whichever comes first.
    func waitForCheckpoint(beyond size: UInt64, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while !Task.isCancelled {
            let seen = changed.generation
            if lock.withLock({ checkpointSizeUnlocked > size || state != .running }) { return }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return }
            await changed.wait(after: seen, timeout: left)
        }
    }

    /// Returns the reason once the disk has failed for good (see `recordFailure`), or nil when
    /// the writer stops or the task is cancelled first.
    func waitForFatalFailure() async -> String? {
        while !Task.isCancelled {
            let seen = changed.generation
            let (health, stopped) = lock.withLock { (healthUnlocked, state == .stopped) }
            if case .failed(_, let reason) = health { return reason }
            if stopped { return nil }
            await changed.wait(after: seen)
        }
        return nil
    }

    /// Refuses new appends, commits everything already queued, signs a final checkpoint if entries
    /// are not yet covered by one, and returns once the writer thread has stopped.
    func shutdown() {
        lock.withLock {
            if state == .running { state = .draining }
            lock.broadcast()
            while state != .stopped { lock.wait() }
        }
    }

    // MARK: - The writer thread

    private func run() {
        while true {
            if let replicated = takeReplicated() {
                commitReplicated(replicated)
                continue
            }
            let (batch, draining) = takeBatch()
            if !batch.isEmpty {
                commit(batch)
            } else if draining {
                if tree.size > lastCheckpointSize { commitCheckpointOnly() }
                refuseReplicatedAtStop()
                lock.withLock {
                    state = .stopped
                    lock.broadcast()
                }
                changed.notify()
                return
            } else if !hasReplicatedWaiting {
                commitCheckpointOnly()
            }
        }
    }

    /// Waits for work; returns a batch (up to `commitEventsMax` events), or an empty batch when a
    /// time-based checkpoint is due or the writer is draining an empty queue.
    private func takeBatch() -> ([Pending], Bool) {
        lock.withLock {
            while queue.isEmpty && state == .running {
                if checkpointRequestedUnlocked || !replicatedQueue.isEmpty { return ([], false) }
                if let since = uncoveredSince {
                    let deadline = since + UInt64(configuration.checkpointEveryMilliseconds) * 1_000_000
                    if monotonic.nanoseconds() >= deadline { return ([], false) }
                    lock.wait(untilMonotonicNanoseconds: deadline)
                } else {
                    lock.wait(untilMonotonicNanoseconds: nil)
                }
            }
            var events = 0
            var count = 0
            while count < queue.count {
                events += queue[count].request.events.count
                if count > 0 && events > configuration.commitEventsMax { break }
                // A rotation commits alone: what comes after it is signed by the new key.
                if count > 0 && queue[count].rotation != nil { break }
                count += 1
                if queue[count - 1].rotation != nil { break }
            }
            let batch = Array(queue[..<count])
            queue.removeFirst(count)
            return (batch, state != .running)
        }
    }

    /// What one group commit wrote, applied to the writer's state only after the commit succeeded
    /// (the write closure may run twice when the map grows).
    private struct BatchOutcome {
        var tree: MerkleFrontier
        var results: [Result<AppendResult, LedgerError>]
        var lastRecordedAt: Int64
        var checkpoint: (size: UInt64, note: String)?
        /// The head of each stream this commit appended to.
        var heads: [[UInt8]: StreamHead]
        /// The key, seal and chain that take over once this commit (a rotation) succeeded.
        var rotated: (key: SigningKey, seal: TableSealKey, chain: KeyChain)? = nil
    }

    private func commit(_ batch: [Pending]) {
        // Asked again here, not only when queued: once `refuse` has returned, nothing that was
        // still waiting in the queue commits (a fenced primary must stop before its lease expires).
        if let refusal = authority.refusal {
            for pending in batch { pending.continuation.resume(throwing: LedgerError.notWritable(refusal)) }
            return
        }
        let outcome: BatchOutcome
        let began = monotonic.nanoseconds()
        var opened = began
        var written = began
        signingNanoseconds = 0
        let checkpointRequested = lock.withLock { checkpointRequestedUnlocked }
        do {
            outcome = try store.environment.write { txn in
                if opened == began { opened = monotonic.nanoseconds() }
                defer { written = monotonic.nanoseconds() }
                return try write(batch, checkpointRequested: checkpointRequested, in: txn)
            }
        } catch let damage as DamagedData {
            // Damaged data met while writing (a side table's seal): not the disk failing.
            logger.error("damaged data", metadata: ["table": "\(damage.table)", "problem": "\(damage.what)"])
            for pending in batch { pending.continuation.resume(throwing: LedgerError.damaged(.init(damage))) }
            return
        } catch {
            logger.error(
                "group commit failed; nothing of it was acknowledged", metadata: ["error": "\(error)", "appends": "\(batch.count)"])
            recordFailure(error)
            for pending in batch { pending.continuation.resume(throwing: LedgerError.storage(.init(error))) }
            return
        }
        recordSuccess()
        let grew = outcome.tree.size > tree.size
        tree = outcome.tree
        lastRecordedAt = outcome.lastRecordedAt
        if let size = outcome.checkpoint?.size {
            lastCheckpointSize = size
            uncoveredSince = nil
            pendingHeads = [:]
            headsAhead = false
        } else {
            pendingHeads.merge(outcome.heads) { _, newer in newer }
            if grew && uncoveredSince == nil { uncoveredSince = monotonic.nanoseconds() }
        }
        let committed = monotonic.nanoseconds()
        if let rotated = outcome.rotated {
            key = rotated.key
            keyID = rotated.chain.keyID(rotated.key.publicKey)
            logger.notice("signing key rotated", metadata: ["position": "\(tree.size - 1)", "key_id": "\(Hex.encode(keyID))"])
        }
        lock.withLock {
            if let rotated = outcome.rotated {
                signingPublicKeyUnlocked = rotated.key.publicKey
                sealUnlocked = rotated.seal
                chainUnlocked = rotated.chain
            }
            committedSizeUnlocked = tree.size
            if let size = outcome.checkpoint?.size { checkpointSizeUnlocked = size }
            if outcome.checkpoint != nil && checkpointRequested { checkpointRequestedUnlocked = false }
            guard grew else { return }
            timingsUnlocked.add(
                events: batch.reduce(0) { $0 + $1.request.events.count }, wait: opened - began, sign: signingNanoseconds,
                write: written - opened - signingNanoseconds, sync: committed - written)
        }
        for (pending, result) in zip(batch, outcome.results) { pending.continuation.resume(with: result) }
        if grew || outcome.checkpoint != nil { changed.notify() }
        if let note = outcome.checkpoint?.note { keep(note) }
        // Put into the map and hashed now, once the callers have their answers, rather than all
        // inside the next checkpoint's commit. (A checkpoint's commit put its own batch in already.)
        if outcome.checkpoint == nil && !outcome.heads.isEmpty {
            for (stream, head) in outcome.heads { heads.set(stream: stream, head: head) }
            _ = heads.root()
        }
    }

    /// An accepted append of a batch; its result is filled in once its entries are signed and hashed.
    private struct Plan {
        let result: Int
        let firstRecord: Int
        let firstVersion: UInt64
        let count: Int
        let deduplicated: Bool
    }

    /// The body of a group commit: checks each append against the stream and idempotency tables
    /// (plus what earlier appends of the same batch did), builds and signs the entries, and writes
    /// entries, Merkle nodes, stream index, stream versions, idempotency records and, when due, a
    /// checkpoint.
    private func write(_ batch: [Pending], checkpointRequested: Bool, in txn: WriteTransaction) throws -> BatchOutcome {
        let base = self.tree.size
        var tree = self.tree
        let recordedAt = max(wallClock.millisecondsSinceEpoch, lastRecordedAt)
        var streamVersions: [[UInt8]: UInt64] = [:]
        var records: [[UInt8]] = []
        var results: [Result<AppendResult, LedgerError>] = []
        var plans: [Plan] = []
        // Idempotency keys first used in this batch: content digest and the index of their plan.
        var newIdempotency: [String: (digest: Digest, plan: Int)] = [:]
        let merkleTree = MerkleTree(transaction: txn, table: store.merkle)
        // A placeholder, replaced by the append's result before anything is answered.
        let notYetCommitted = Result<AppendResult, LedgerError>.failure(.shutDown)
        let seal = lock.withLock { sealUnlocked }

        for pending in batch {
            let request = pending.request
            if let idempotencyKey = request.idempotencyKey, let digest = pending.contentDigest {
                if let earlier = newIdempotency[idempotencyKey] {
                    if earlier.digest == digest {
                        let original = plans[earlier.plan]
                        results.append(notYetCommitted)
                        plans.append(
                            Plan(
                                result: results.count - 1, firstRecord: original.firstRecord,
                                firstVersion: original.firstVersion, count: original.count, deduplicated: true))
                    } else {
                        results.append(.failure(.idempotencyConflict(key: idempotencyKey)))
                    }
                    continue
                }
                let rowKey = Array(idempotencyKey.utf8)
                if let stored = try txn.get(store.idempotency, key: rowKey) {
                    // A damaged row fails this request alone, never answered from and never overwritten.
                    let record: IdempotencyRecord
                    do throws(DamagedData) {
                        record = try IdempotencyRecord(sealed: stored, key: rowKey, seal: seal)
                        guard record.firstPosition + UInt64(record.count) <= base else {
                            throw DamagedData(table: "idempotency", what: "a row points beyond the log")
                        }
                    } catch {
                        logger.error("damaged data", metadata: ["table": "idempotency", "problem": "\(error.what)"])
                        results.append(.failure(.damaged(.init(error))))
                        continue
                    }
                    if record.digest == digest {
                        let hashes = try (0..<UInt64(record.count)).map { try merkleTree.leafHash(record.firstPosition + $0) }
                        results.append(
                            .success(
                                AppendResult(
                                    firstPosition: record.firstPosition,
                                    firstStreamVersion: record.firstVersion,
                                    leafHashes: hashes, deduplicated: true)))
                    } else {
                        results.append(.failure(.idempotencyConflict(key: idempotencyKey)))
                    }
                    continue
                }
            }
            let stream = Array(request.stream.utf8)
            let current =
                try streamVersions[stream]
                ?? txn.get(store.streams, key: stream).flatMap { BigEndian.uint64($0) } ?? 0
            guard request.expectedVersion.isSatisfied(by: current) else {
                results.append(
                    .failure(
                        .wrongExpectedVersion(
                            stream: request.stream, expected: request.expectedVersion,
                            actual: current)))
                continue
            }
            let firstRecord = records.count
            let author = Array(request.author.utf8)
            for (offset, event) in request.events.enumerated() {
                let position = base + UInt64(firstRecord + offset)
                // A rotation's payload names the position, which only the writer knows.
                let payload =
                    pending.rotation.map {
                        KeyRotation.payload(origin: origin, position: position, previous: key.publicKey, next: $0)
                    } ?? event.payload
                records.append(
                    EntryFormat.signedBytes(
                        position: position, recordedAtMilliseconds: recordedAt,
                        streamVersion: current + 1 + UInt64(offset), keyID: keyID, stream: stream,
                        eventType: Array(event.type.utf8), author: author, payload: payload))
            }
            streamVersions[stream] = current + UInt64(request.events.count)
            for attached in request.attachedWrites { try attached.apply(in: txn, store: store) }
            results.append(notYetCommitted)
            plans.append(
                Plan(
                    result: results.count - 1, firstRecord: firstRecord, firstVersion: current + 1,
                    count: request.events.count, deduplicated: false))
            if let idempotencyKey = request.idempotencyKey, let digest = pending.contentDigest {
                newIdempotency[idempotencyKey] = (digest, plans.count - 1)
            }
        }

        let leafHashes = signAndHash(&records)
        var batchHeads: [[UInt8]: StreamHead] = [:]
        for (record, leaf) in zip(records, leafHashes) {
            let view = try record.withUnsafeBytes { bytes in try EntryView(record: bytes) }
            batchHeads[Array(view.stream)] = StreamHead(version: view.streamVersion, position: view.position)
            let positionKey = BigEndian.bytes(view.position)
            try txn.put(store.entries, key: positionKey, value: record, options: .append)
            try tree.append(leaf: leaf) { number, hash in
                try txn.put(store.merkle, key: BigEndian.bytes(number), value: hash.bytes, options: .append)
            }
            let indexKey = LedgerStore.streamIndexKey(stream: Array(view.stream), version: view.streamVersion)
            try txn.put(store.streamIndex, key: indexKey, value: positionKey, options: .noOverwrite)
        }
        for (stream, version) in streamVersions {
            try txn.put(store.streams, key: stream, value: BigEndian.bytes(version))
        }
        if !newIdempotency.isEmpty {
            var aggregate =
                try txn.get(store.meta, key: TableAggregate.metaKey)
                .map { value throws(DamagedData) in try TableAggregate(sealed: value, seal: seal) } ?? TableAggregate()
            for (idempotencyKey, record) in newIdempotency {
                let plan = plans[record.plan]
                let rowKey = Array(idempotencyKey.utf8)
                let value = IdempotencyRecord(
                    digest: record.digest, firstPosition: base + UInt64(plan.firstRecord),
                    firstVersion: plan.firstVersion, count: UInt32(plan.count)
                ).sealed(key: rowKey, seal: seal)
                aggregate.add(mac: Array(value[IdempotencyRecord.recordByteCount...]))
                try txn.put(store.idempotency, key: rowKey, value: value, options: .noOverwrite)
            }
            try txn.put(store.meta, key: TableAggregate.metaKey, value: aggregate.sealed(seal))
        }
        for plan in plans {
            results[plan.result] = .success(
                AppendResult(
                    firstPosition: base + UInt64(plan.firstRecord), firstStreamVersion: plan.firstVersion,
                    leafHashes: Array(leafHashes[plan.firstRecord..<(plan.firstRecord + plan.count)]),
                    deduplicated: plan.deduplicated, records: Array(records[plan.firstRecord..<(plan.firstRecord + plan.count)])))
        }

        var checkpoint: (size: UInt64, note: String)?
        var rotated: (key: SigningKey, seal: TableSealKey, chain: KeyChain)?
        if let next = batch.first?.rotation, batch.count == 1, case .success = results.first ?? .failure(.shutDown),
            let record = records.first
        {
            // The rotation's checkpoint, signed by the key it replaces, names the new key; the
            // side table sealed with a key derived from the old one is sealed again.
            let rotation = try record.withUnsafeBytes { bytes in
                let view = try EntryView(record: bytes)
                return try KeyRotation.parse(payload: view.payload, origin: origin, position: view.position, previous: key.publicKey)
            }
            let nextSeal = TableSealKey(signingKey: next)
            try store.resealIdempotency(from: seal, to: nextSeal, in: txn)
            checkpoint = (tree.size, try writeCheckpoint(tree: tree, batchHeads: batchHeads, nextKey: next.publicKey, in: txn))
            rotated = (next, nextSeal, keyChain.appending(rotation))
        } else {
            let due = tree.size - lastCheckpointSize >= configuration.checkpointEveryEntries
            if tree.size > lastCheckpointSize && (due || checkpointRequested) {
                checkpoint = (tree.size, try writeCheckpoint(tree: tree, batchHeads: batchHeads, in: txn))
            }
        }
        return BatchOutcome(
            tree: tree, results: results, lastRecordedAt: recordedAt, checkpoint: checkpoint, heads: batchHeads, rotated: rotated)
    }

    /// Records per slice of signing work (about 0.5 ms of it).
    static let signingSliceRecords = 16

    /// Appends each record's Ed25519 signature and returns its Merkle leaf hash — on all cores
    /// when the batch is large enough, since signing is the dominant cost of an append.
    private func signAndHash(_ records: inout [[UInt8]]) -> [Digest] {
        let began = monotonic.nanoseconds()
        defer { signingNanoseconds += monotonic.nanoseconds() - began }
        let count = records.count
        var leaves = [Digest](repeating: MerkleHash.empty, count: count)
        guard count > 0 else { return leaves }
        // Small slices, taken in turn by whichever thread is free: the cores are shared with
        // the API's handlers and the projections, and a thread that loses its core must not
        // hold the whole commit back with half of the batch.
        let chunk = Self.signingSliceRecords
        let slices = (count + chunk - 1) / chunk
        let threads = count >= 16 ? min(signingThreads, slices) : 1
        records.withUnsafeMutableBufferPointer { records in
            leaves.withUnsafeMutableBufferPointer { leaves in
                // Each slice touches only its own records and leaves.
                let shared = UnsafeTransfer((records, leaves))
                let work = { @Sendable [key] (slice: Int) in
                    let (records, leaves) = shared.value
                    var signature = [UInt8](repeating: 0, count: Signature.byteCount)
                    for index in (slice * chunk)..<min(count, (slice + 1) * chunk) {
                        records[index].withUnsafeBytes { message in
                            signature.withUnsafeMutableBytes { key.sign(message, into: $0) }
                        }
                        records[index].append(contentsOf: signature)
                        leaves[index] = MerkleHash.leaf(records[index])
                    }
                }
                if threads == 1 {
                    for slice in 0..<slices { work(slice) }
                } else {
                    DispatchQueue.concurrentPerform(iterations: slices, execute: work)
                }
            }
        }
        return leaves
    }

    /// Signs and stores the checkpoint of `tree`: the stream-head map is the committed one plus
    /// `batchHeads` (this transaction's), and the table gets the rows of every head changed since
    /// the last checkpoint, in the same transaction.
    private func writeCheckpoint(
        tree: MerkleFrontier, batchHeads: [[UInt8]: StreamHead], nextKey: PublicKey? = nil, in txn: WriteTransaction
    ) throws -> String {
        guard let table = store.streamHeads else { preconditionFailure("a writable store has a stream_heads table") }
        if headsAhead {
            // A commit that changed the map did not succeed (or its closure runs again): start
            // from what the table holds in this transaction and the heads committed since.
            heads = StreamHeadTree(rows: try StreamHeadTable.rows(in: txn, table: table))
            for (stream, head) in pendingHeads { heads.set(stream: stream, head: head) }
        }
        headsAhead = true
        for (stream, head) in batchHeads { heads.set(stream: stream, head: head) }
        for (stream, head) in pendingHeads.merging(batchHeads, uniquingKeysWith: { _, newer in newer }) {
            let key = StreamHeadMap.key(stream: stream)
            try txn.put(table, key: key.bytes, value: StreamHeadTable.value(head: head, stream: stream))
        }
        let checkpoint = Checkpoint.sign(
            origin: origin, size: tree.size, root: tree.root, streamHeadsRoot: heads.root(), nextKey: nextKey, key: key,
            timestampSeconds: UInt64(wallClock.millisecondsSinceEpoch / 1000))
        try txn.put(store.checkpoints, key: BigEndian.bytes(tree.size), value: Array(checkpoint.note.utf8), options: .append)
        return checkpoint.note
    }

    /// After the commit that stored it: the note goes to checkpoints.log too (see CheckpointFile).
    /// A failure is logged, not fatal: the commit is durable and acknowledged; only the
    /// rollback check at the next start has one checkpoint less to go by.
    private func keep(_ note: String) {
        do { try checkpointFile.append(note) } catch {
            logger.error("cannot append the checkpoint to checkpoints.log", metadata: ["error": "\(error)"])
        }
    }

    /// Signs a checkpoint of the current tree on its own, when entries have waited
    /// `checkpointEveryMilliseconds` without one.
    private func commitCheckpointOnly() {
        guard tree.size > lastCheckpointSize else {
            uncoveredSince = nil
            lock.withLock { checkpointRequestedUnlocked = false }
            changed.notify()
            return
        }
        if authority.refusal != nil {
            // A follower stores its primary's checkpoints and a fenced primary signs nothing new;
            // looked at again after another interval, not in a loop.
            lock.withLock { checkpointRequestedUnlocked = false }
            uncoveredSince = monotonic.nanoseconds()
            return
        }
        let requested = lock.withLock { checkpointRequestedUnlocked }
        do {
            let note = try store.environment.write { txn in try writeCheckpoint(tree: tree, batchHeads: [:], in: txn) }
            keep(note)
            lastCheckpointSize = tree.size
            uncoveredSince = nil
            pendingHeads = [:]
            headsAhead = false
            lock.withLock {
                checkpointSizeUnlocked = tree.size
                if requested { checkpointRequestedUnlocked = false }
            }
            changed.notify()
        } catch {
            logger.error("checkpoint failed", metadata: ["error": "\(error)", "size": "\(tree.size)"])
            // Asked again by the waiter (`Ledger.signCheckpoint`), not retried in a loop here.
            lock.withLock { checkpointRequestedUnlocked = false }
            uncoveredSince = monotonic.nanoseconds()  // try again after another interval
        }
    }
}

/// Where the writer thread's time goes, summed over group commits: waiting for LMDB's write
/// lock (near zero: the projections write to an environment of their own, and only the
/// writer appends), signing and hashing the entries (on all cores), the rest of the write
/// transaction (checks, puts), and LMDB's commit (writing the pages, fdatasync, writing the
/// meta page synchronously).
public struct CommitTimings: Sendable, Equatable {
    public var commits: UInt64 = 0
    public var events: UInt64 = 0
    public var waitSeconds: Double = 0
    public var signSeconds: Double = 0
    public var writeSeconds: Double = 0
    public var syncSeconds: Double = 0

    mutating func add(events: Int, wait: UInt64, sign: UInt64, write: UInt64, sync: UInt64) {
        commits += 1
        self.events += UInt64(events)
        waitSeconds += Double(wait) / 1e9
        signSeconds += Double(sign) / 1e9
        writeSeconds += Double(write) / 1e9
        syncSeconds += Double(sync) / 1e9
    }
}

// MARK: - A primary's signed entries (follower mode)

extension GroupCommitWriter {
    /// A batch of a primary's entries waiting for the writer thread (see `Ledger.replicate`).
    struct ReplicatedPending {
        let batch: ReplicationBatch
        let continuation: CheckedContinuation<UInt64, any Error>
    }

    /// What a replicated commit wrote, applied to the writer's state once it succeeded.
    private struct ReplicatedOutcome {
        var tree: MerkleFrontier
        var lastRecordedAt: Int64
        var chain: KeyChain
        var notes: [String]
        var checkpointSize: UInt64
        var pendingHeads: [[UInt8]: StreamHead]
    }

    /// Queues a batch of the primary's signed entries; returns the log's size once it is durable.
    func submitReplicated(_ batch: ReplicationBatch) async throws -> UInt64 {
        try await withCheckedThrowingContinuation { continuation in
            let refusal: LedgerError? = lock.withLock {
                guard state == .running else { return .shutDown }
                if case .writable = healthUnlocked {} else { return .unavailable("the disk is not taking writes") }
                replicatedQueue.append(ReplicatedPending(batch: batch, continuation: continuation))
                lock.broadcast()
                return nil
            }
            if let refusal { continuation.resume(throwing: refusal) }
        }
    }

    fileprivate func takeReplicated() -> ReplicatedPending? {
        lock.withLock { replicatedQueue.isEmpty ? nil : replicatedQueue.removeFirst() }
    }

    fileprivate var hasReplicatedWaiting: Bool { lock.withLock { !replicatedQueue.isEmpty } }

    fileprivate func refuseReplicatedAtStop() {
        let left = lock.withLock {
            defer { replicatedQueue = [] }
            return replicatedQueue
        }
        for pending in left { pending.continuation.resume(throwing: LedgerError.shutDown) }
    }

    fileprivate func commitReplicated(_ pending: ReplicatedPending) {
        let outcome: ReplicatedOutcome
        let began = monotonic.nanoseconds()
        do {
            outcome = try store.environment.write { txn in try writeReplicated(pending.batch, in: txn) }
        } catch let refused as ReplicationRefused {
            // The transaction was aborted: nothing of the batch is stored.
            pending.continuation.resume(throwing: refused)
            return
        } catch let damage as DamagedData {
            logger.error("damaged data", metadata: ["table": "\(damage.table)", "problem": "\(damage.what)"])
            pending.continuation.resume(throwing: LedgerError.damaged(.init(damage)))
            return
        } catch {
            logger.error("replicated commit failed; nothing of it was stored", metadata: ["error": "\(error)"])
            recordFailure(error)
            pending.continuation.resume(throwing: LedgerError.storage(.init(error)))
            return
        }
        recordSuccess()
        let events = outcome.tree.size - tree.size
        tree = outcome.tree
        lastRecordedAt = outcome.lastRecordedAt
        lastCheckpointSize = outcome.checkpointSize
        uncoveredSince = tree.size > lastCheckpointSize ? monotonic.nanoseconds() : nil
        pendingHeads = outcome.pendingHeads
        headsAhead = false
        let committed = monotonic.nanoseconds()
        lock.withLock {
            chainUnlocked = outcome.chain
            committedSizeUnlocked = tree.size
            checkpointSizeUnlocked = lastCheckpointSize
            timingsUnlocked.add(events: Int(events), wait: 0, sign: 0, write: committed - began, sync: 0)
        }
        pending.continuation.resume(returning: tree.size)
        changed.notify()
        for note in outcome.notes { keep(note) }
    }

    /// Stores a primary's entries at the positions they carry, after checking that each one is the
    /// next of this log, signed by the key the chain names for its position (following the
    /// `KeyRotated` entries of the batch), at the next version of its stream; and at each of the
    /// primary's checkpoints in the batch, that the note verifies and that its root and
    /// stream-heads root are the ones of the entries stored. Throws `ReplicationRefused` at the
    /// first difference: the transaction is then aborted.
    private func writeReplicated(_ batch: ReplicationBatch, in txn: WriteTransaction) throws -> ReplicatedOutcome {
        let base = tree.size
        var tree = self.tree
        var chain = lock.withLock { chainUnlocked }
        var lastRecordedAt = self.lastRecordedAt
        let records = batch.records
        guard !records.isEmpty else { throw ReplicationRefused(.invalid, at: base, "the batch holds no entry") }
        var sizes: [UInt64] = []
        for note in batch.notes {
            do { sizes.append(try Checkpoint.size(ofNote: note)) } catch {
                throw ReplicationRefused(.invalid, at: nil, "a checkpoint note is malformed: \(error)")
            }
        }
        let end = base + UInt64(records.count)
        guard let last = sizes.last, last == end, sizes.first! > base, zip(sizes, sizes.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ReplicationRefused(.invalid, at: base, "the batch does not end with a checkpoint of its entries")
        }

        // Each entry's place and key, following the rotations the batch carries.
        var keys: [PublicKey] = []
        keys.reserveCapacity(records.count)
        for (offset, record) in records.enumerated() {
            let position = base + UInt64(offset)
            try record.withUnsafeBytes { bytes in
                let view: EntryView
                do { view = try EntryView(record: bytes) } catch { throw ReplicationRefused(.invalid, at: position, "\(error)") }
                guard view.position == position else {
                    throw ReplicationRefused(.invalid, at: position, "the entry carries position \(view.position)")
                }
                guard view.recordedAtMilliseconds >= lastRecordedAt else {
                    throw ReplicationRefused(.invalid, at: position, "its recordedAt is earlier than the entry before it")
                }
                lastRecordedAt = view.recordedAtMilliseconds
                let key = chain.key(forEntryAt: position)
                guard view.keyID.elementsEqual(chain.keyID(key)) else {
                    throw ReplicationRefused(.invalid, at: position, "its key ID is not the one of the key the log's chain names")
                }
                keys.append(key)
                if view.stream.elementsEqual(KeyRotation.stream.utf8) {
                    guard view.eventType.elementsEqual(KeyRotation.eventType.utf8) else {
                        throw ReplicationRefused(.invalid, at: position, "an entry of \(KeyRotation.stream) is not a key rotation")
                    }
                    do {
                        let rotation = try KeyRotation.parse(
                            payload: view.payload, origin: chain.origin, position: position, previous: chain.current)
                        chain = chain.appending(rotation)
                    } catch { throw ReplicationRefused(.invalid, at: position, "\(error)") }
                }
            }
        }
        let leaves = try verifyAndHash(records, keys: keys, base: base)
        // The primary's checkpoints before anything else of the entries: a root that differs
        // from the one of the entries this log holds followed by the ones sent is a fork.
        var checkpoints: [Checkpoint] = []
        var scratch = tree
        for leaf in leaves {
            scratch.append(leaf: leaf) { _, _ in }
            guard checkpoints.count < sizes.count, sizes[checkpoints.count] == scratch.size else { continue }
            let checkpoint: Checkpoint
            do { checkpoint = try chain.verify(note: batch.notes[checkpoints.count]) } catch {
                throw ReplicationRefused(.invalid, at: scratch.size, "the checkpoint of \(scratch.size) entries does not verify: \(error)")
            }
            guard checkpoint.root == scratch.root else {
                throw ReplicationRefused(
                    .forked, at: scratch.size,
                    "the primary's signed checkpoint of \(scratch.size) entries is not the tree of this log's entries and the ones it sent")
            }
            checkpoints.append(checkpoint)
        }

        if headsAhead {
            guard let table = store.streamHeads else { preconditionFailure("a writable store has a stream_heads table") }
            heads = StreamHeadTree(rows: try StreamHeadTable.rows(in: txn, table: table))
            for (stream, head) in pendingHeads { heads.set(stream: stream, head: head) }
        }
        headsAhead = true
        var pending = pendingHeads
        var streamVersions: [[UInt8]: UInt64] = [:]
        var next = 0
        for (record, leaf) in zip(records, leaves) {
            let view = try record.withUnsafeBytes { bytes in try EntryView(record: bytes) }
            let stream = Array(view.stream)
            let current = try streamVersions[stream] ?? txn.get(store.streams, key: stream).flatMap { BigEndian.uint64($0) } ?? 0
            guard view.streamVersion == current + 1 else {
                throw ReplicationRefused(
                    .invalid, at: view.position, "its stream version is \(view.streamVersion) where \(current + 1) comes next")
            }
            streamVersions[stream] = view.streamVersion
            let positionKey = BigEndian.bytes(view.position)
            try txn.put(store.entries, key: positionKey, value: record, options: .append)
            try tree.append(leaf: leaf) { number, hash in
                try txn.put(store.merkle, key: BigEndian.bytes(number), value: hash.bytes, options: .append)
            }
            let indexKey = LedgerStore.streamIndexKey(stream: stream, version: view.streamVersion)
            try txn.put(store.streamIndex, key: indexKey, value: positionKey, options: .noOverwrite)
            let head = StreamHead(version: view.streamVersion, position: view.position)
            pending[stream] = head
            heads.set(stream: stream, head: head)
            guard next < sizes.count, sizes[next] == tree.size else { continue }
            let note = batch.notes[next]
            let checkpoint = checkpoints[next]
            next += 1
            if let headsRoot = checkpoint.streamHeadsRoot {
                guard let table = store.streamHeads else { preconditionFailure("a writable store has a stream_heads table") }
                for (stream, head) in pending {
                    try txn.put(
                        table, key: StreamHeadMap.key(stream: stream).bytes, value: StreamHeadTable.value(head: head, stream: stream))
                }
                guard heads.root() == headsRoot else {
                    throw ReplicationRefused(
                        .forked, at: tree.size,
                        "the primary's checkpoint of \(tree.size) entries commits to other stream heads than its entries")
                }
                pending = [:]
            }
            try txn.put(store.checkpoints, key: BigEndian.bytes(tree.size), value: Array(note.utf8), options: .append)
        }
        for (stream, version) in streamVersions { try txn.put(store.streams, key: stream, value: BigEndian.bytes(version)) }
        return ReplicatedOutcome(
            tree: tree, lastRecordedAt: lastRecordedAt, chain: chain, notes: batch.notes, checkpointSize: end, pendingHeads: pending)
    }

    /// Checks each record's signature with its key and returns the Merkle leaf hashes — on all
    /// cores for a large batch, as verifying is the dominant cost of storing one.
    private func verifyAndHash(_ records: [[UInt8]], keys: [PublicKey], base: UInt64) throws -> [Digest] {
        let count = records.count
        var leaves = [Digest](repeating: MerkleHash.empty, count: count)
        var valid = [Bool](repeating: false, count: count)
        let chunk = Self.signingSliceRecords
        let slices = (count + chunk - 1) / chunk
        leaves.withUnsafeMutableBufferPointer { leaves in
            valid.withUnsafeMutableBufferPointer { valid in
                // Each slice touches only its own leaves and flags.
                let shared = UnsafeTransfer((leaves, valid))
                let work = { @Sendable (slice: Int) in
                    let (leaves, valid) = shared.value
                    for index in (slice * chunk)..<min(count, (slice + 1) * chunk) {
                        records[index].withUnsafeBytes { record in
                            let signed = record.count - Signature.byteCount
                            valid[index] = keys[index].isValidSignature(
                                UnsafeRawBufferPointer(rebasing: record[signed...]),
                                for: UnsafeRawBufferPointer(rebasing: record[..<signed]))
                            leaves[index] = MerkleHash.leaf(record)
                        }
                    }
                }
                if slices == 1 || signingThreads == 1 {
                    for slice in 0..<slices { work(slice) }
                } else {
                    DispatchQueue.concurrentPerform(iterations: slices, execute: work)
                }
            }
        }
        if let bad = valid.firstIndex(of: false) {
            throw ReplicationRefused(.invalid, at: base + UInt64(bad), "its signature does not verify with the key of its position")
        }
        return leaves
    }
}
