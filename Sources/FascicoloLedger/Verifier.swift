import Dispatch
import FascicoloConcurrency
import FascicoloCrypto
import FascicoloStorage
import Glibc

/// Offline, read-only verification of a data directory — safe while the daemon runs, because it
/// reads one LMDB snapshot and writes nothing.
///
/// Full mode checks, for every entry: the record parses, its position is its key and follows the
/// previous one, its key ID is the signing key's, its Ed25519 signature verifies, its stream
/// version follows the stream's previous one and `recordedAt` never goes back; every stored
/// Merkle node equals the one recomputed from the entries; every checkpoint's signature verifies
/// and its root equals the recomputed root at its size; the stream index maps exactly each
/// (stream, version) to its entry; the streams table holds each stream's last version.
/// Fast mode skips the entries' signatures (the dominant cost) and checks everything else.
///
/// A log checks against itself, so entries removed from its end together with their Merkle
/// nodes and later checkpoints would go unseen. Checkpoints kept elsewhere (`trustedCheckpoints`,
/// e.g. saved by an auditor from `GET /v1/checkpoints/latest`) close that gap: each must be
/// signed by the key, and the log must reach its size and produce its root there.
public struct Verifier {
    public struct Options: Sendable {
        /// Skip the entries' Ed25519 signatures; hashes, indexes and checkpoint signatures are still checked.
        public var fast = false
        /// Threads for hashing and signature checks (default: the number of online cores).
        public var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        /// Entries handled per parallel step.
        public var chunkEntries = 8_192
        /// Signed checkpoint notes kept outside the data directory: the log must contain each.
        public var trustedCheckpoints: [String] = []
        /// Receipts a client kept from append answers (`?receipts=true`): each must be signed by the
        /// key and its entry must be in the log at its position — else it was acknowledged but is absent.
        public var receipts: [Receipt] = []
        /// Follow every table's B-tree to every record first (`StoreStructure.walk`), so that a
        /// damaged page ends the (isolated) process before any check trusts it.
        public var walkStructure = true
        public init() {}
    }

    public struct Progress: Sendable {
        public let entriesChecked: UInt64
        public let entriesTotal: UInt64
        public let elapsedSeconds: Double
    }

    public struct Report: Sendable {
        public let entries: UInt64
        public let checkpoints: Int
        public let streams: Int
        /// Idempotency rows checked against the entries (and their seals, when `sealsChecked`).
        public let idempotencyRows: UInt64
        /// Whether the side tables' seals were checked: it takes `signing.key` (the secret), from
        /// the directory; without it the rows are still checked against the entries.
        public let sealsChecked: Bool
        public let elapsedSeconds: Double
        public let fast: Bool
        /// The keys followed, from the first (one when the key never changed).
        public var keys: KeyChain? = nil
    }

    /// An append's receipt: the entry's record as the daemon signed it (`signedBytes` ‖ `signature`).
    public struct Receipt: Sendable {
        public let record: [UInt8]
        public init(signedBytes: [UInt8], signature: [UInt8]) { record = signedBytes + signature }
    }

    /// The verifier key given is not `<name>+<key id>+<base64 key>`: a usage error, not a
    /// verification failure.
    public struct InvalidVerifierKey: Error, CustomStringConvertible, Sendable {
        public var description: String { "the verifier key is not '<name>+<key id>+<base64 key>' with a matching key id" }
    }

    /// What is wrong, and the first position concerned when there is one.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let position: UInt64?
        public let problem: String

        public init(position: UInt64?, problem: String) {
            self.position = position
            self.problem = problem
        }

        public var description: String {
            if let position { return "position \(position): \(problem)" }
            return problem
        }
    }

    /// Verifies the data directory against the verifier key in its `signing.pub`, or against
    /// `verifierKey` (`<name>+<id>+<key>`) when given — the stronger check, since it does not trust
    /// a file inside the directory being verified.
    ///
    /// Run it in a process that does not have the directory open (LMDB forbids opening one
    /// environment twice in a process); next to a daemon in another process it is safe.
    public static func verify(
        directory: String, verifierKey: String? = nil, options: Options = Options(),
        progress: ((Progress) -> Void)? = nil
    ) throws -> Report {
        let key: (name: String, publicKey: PublicKey)
        if let verifierKey {
            guard let parsed = SignedNote.parseVerifierKey(verifierKey) else { throw InvalidVerifierKey() }
            key = parsed
        } else {
            key = try KeyFile.loadVerifierKey(directory: directory)
        }
        do {
            // The notes the daemon kept in checkpoints.log are checked like those given with
            // --checkpoint. Read before the snapshot: a note is appended only after its commit,
            // so every note read now is of a size the snapshot reaches unless entries were lost.
            let kept = try CheckpointFile.read(directory: directory).notes
            var options = options
            options.trustedCheckpoints += kept
            let store = try LedgerStore.open(directory: directory, readOnly: true)
            defer { store.environment.close() }
            if options.walkStructure {
                _ = try StoreStructure.walk(store.environment) { table in IsolatedReader.report("it was walking table \(table)") }
            }
            let origin = try store.origin()
            guard origin == key.name else {
                throw Failure(position: nil, problem: "the log's origin \(origin) is not the verifier key's name \(key.name)")
            }
            // The seals of the side tables need the secret key; a copy without it (a backup without
            // --include-secret-keys) is still checked in every other way.
            let signingKey = try? KeyFile.load(path: directory + "/" + KeyFile.secretName)
            return try store.environment.read { txn in
                // The keys follow the log's KeyRotated entries from the first; the key given
                // must be one of them (Formats.md, "Key rotation").
                let chain: KeyChain
                do { chain = try KeyChain.load(txn: txn, store: store, origin: origin, anchor: key.publicKey) } catch let invalid
                    as KeyRotation.Invalid
                { throw Failure(position: invalid.position, problem: "\(invalid)") }
                let seal = signingKey.flatMap { $0.publicKey == chain.current ? TableSealKey(signingKey: $0) : nil }
                var run = VerificationRun(
                    store: store, txn: txn, chain: chain,
                    // The directory's own signing.pub vouches for nothing beyond the directory:
                    // the chain is then followed from the first key the log names.
                    anchor: verifierKey == nil ? chain.first : key.publicKey, options: options, seal: seal, kept: Set(kept))
                return try run.verify(progress: progress)
            }
        } catch let error as StorageError where error.code.meansDamagedData {
            // Bytes changed or cut off below the records: the data is not what was signed.
            throw Failure(position: nil, problem: "the store is damaged (\(error))")
        } catch let damage as StoreStructure.Damage {
            throw Failure(position: nil, problem: "\(damage)")
        } catch let damage as DamagedData {
            throw Failure(position: nil, problem: "\(damage)")
        }
    }
}

/// One pass over one snapshot.
///
/// Entries are read in chunks. The checks that need only the entry itself (parsing, key ID,
/// signature, leaf hash, the entry's contribution to the index hash) run on all threads; the
/// checks that follow the log's order (Merkle nodes, checkpoints, time order) run on this thread
/// for the previous chunk meanwhile, so neither waits for the other.
private struct VerificationRun {
    let store: LedgerStore
    let txn: ReadTransaction
    let origin: String
    let chain: KeyChain
    /// The key the verifier was given: the first key, or a later one of the chain.
    let anchor: PublicKey
    let options: Verifier.Options
    let seal: TableSealKey?
    /// The notes of checkpoints.log: each must also be in the checkpoints table (it is written
    /// there first), so a row dropped from the table shows.
    let kept: Set<String>

    var tree = MerkleFrontier()
    var lastRecordedAt: Int64 = .min
    /// A multiset hash of (stream, version, position) over all entries, compared with the same
    /// over the stream index: equal sums and counts mean the index is exactly right without a
    /// random lookup per entry. (Hasher is seeded per process, so nobody can aim a collision.)
    var indexDigest = 0
    /// The stream-head map replayed from the entries, compared with each checkpoint's stream-heads line.
    var heads = StreamHeadTree()
    /// The size of a checkpoint with a stream-heads line, once one is met: every later one must have it.
    var firstWithStreamHeads: UInt64?
    /// The size of the newest stored checkpoint: the `stream_heads` table is checked there.
    var latestStoredSize: UInt64 = 0

    init(
        store: LedgerStore, txn: ReadTransaction, chain: KeyChain, anchor: PublicKey, options: Verifier.Options,
        seal: TableSealKey?, kept: Set<String>
    ) {
        self.seal = seal
        self.kept = kept
        self.store = store
        self.txn = txn
        self.origin = chain.origin
        self.chain = chain
        self.anchor = anchor
        self.options = options
    }

    mutating func verify(progress: ((Verifier.Progress) -> Void)?) throws -> Verifier.Report {
        let start = MonotonicClock.system.nanoseconds()
        let total = try store.size(in: txn)
        let stored = try loadCheckpoints()
        var trusted: [Checkpoint] = []
        // A note also stored in the table (every one of checkpoints.log's, checked below) was
        // verified and is compared with the entries already: not verified a second time.
        let storedNotes = Set(stored.map(\.note))
        for note in options.trustedCheckpoints where !storedNotes.contains(note) {
            let checkpoint: Checkpoint
            do {
                checkpoint = try Checkpoint.verifyCosigned(
                    note: note, origin: origin, publicKey: chain.key(forCheckpointSize: try Checkpoint.size(ofNote: note)))
            } catch {
                throw Verifier.Failure(position: nil, problem: "a checkpoint given to check against does not verify with the key: \(error)")
            }
            guard checkpoint.size <= total else {
                throw Verifier.Failure(
                    position: nil,
                    problem: "the log has \(total) entries, fewer than the \(checkpoint.size) "
                        + "of a checkpoint given to check against: entries were removed from its end")
            }
            trusted.append(checkpoint)
        }
        let missing = kept.subtracting(stored.map(\.note))
        if let note = missing.first {
            let size = try? Checkpoint.size(ofNote: note)
            throw Verifier.Failure(
                position: size.map { $0 > 0 ? $0 - 1 : 0 },
                problem:
                    "the checkpoints table lacks a checkpoint\(size.map { " of size \($0)" } ?? "") that the daemon signed and kept in \(CheckpointFile.name)"
            )
        }
        // Each is compared with the root recomputed when the log reaches its size.
        try checkRotationCheckpoints(stored: stored)
        let checkpoints = (stored + trusted).sorted { $0.size < $1.size }
        var nextCheckpoint = 0
        latestStoredSize = stored.last?.size ?? 0
        if stored.isEmpty { try checkStreamHeadsTable(size: 0) }

        try txn.withCursor(store.entries) { entries in
            try txn.withCursor(store.merkle) { merkle in
                var node = try merkle.first()
                var record = try entries.first()
                var checked: UInt64 = 0
                var previous: ChunkWork?
                while true {
                    var records: [Cursor.Record] = []
                    records.reserveCapacity(options.chunkEntries)
                    while let current = record, records.count < options.chunkEntries {
                        records.append(current)
                        record = try entries.next()
                    }
                    let current =
                        records.isEmpty
                        ? nil
                        : ChunkWork(
                            records: records, firstPosition: checked + UInt64(previous?.records.count ?? 0),
                            threads: options.threads, chain: chain, checkSignatures: !options.fast)
                    current?.start()
                    if let previous {
                        previous.wait()
                        try checkInOrder(
                            previous, node: &node, merkle: merkle, checkpoints: checkpoints,
                            nextCheckpoint: &nextCheckpoint)
                        checked += UInt64(previous.records.count)
                        IsolatedReader.report("entries before position \(checked) were checked")
                        progress?(
                            Verifier.Progress(
                                entriesChecked: checked, entriesTotal: total,
                                elapsedSeconds: Double(MonotonicClock.system.nanoseconds() - start) / 1e9))
                    }
                    guard let current else { break }
                    previous = current
                }
                if node != nil {
                    throw Verifier.Failure(position: nil, problem: "the Merkle table has nodes beyond the \(checked) entries")
                }
            }
        }
        if nextCheckpoint < checkpoints.count {
            throw Verifier.Failure(position: nil, problem: "checkpoint of size \(checkpoints[nextCheckpoint].size) is beyond the log")
        }
        let streams = try checkStreamIndex(entryCount: total)
        try checkStreamsTable(lastVersions: streams)
        let idempotencyRows = try checkIdempotency(entryCount: total)
        try checkMeta()
        try checkReceipts(entryCount: total)
        return Verifier.Report(
            entries: total, checkpoints: stored.count, streams: streams.count,
            idempotencyRows: idempotencyRows, sealsChecked: seal != nil,
            elapsedSeconds: Double(MonotonicClock.system.nanoseconds() - start) / 1e9, fast: options.fast, keys: chain)
    }

    /// The checks that follow the log's order, for one chunk whose parallel checks are done.
    private mutating func checkInOrder(
        _ chunk: ChunkWork, node: inout Cursor.Record?, merkle: borrowing Cursor,
        checkpoints: [Checkpoint], nextCheckpoint: inout Int
    ) throws {
        let failureIndex = chunk.failures.compactMap { $0 }.first.map { Int($0.position! - chunk.firstPosition) }
        indexDigest &+= chunk.indexSums.reduce(0, &+)
        for offset in 0..<chunk.records.count {
            let position = chunk.firstPosition + UInt64(offset)
            if offset == failureIndex { throw chunk.failures.compactMap { $0 }.first! }
            guard chunk.recordedAt[offset] >= lastRecordedAt else {
                throw Verifier.Failure(position: position, problem: "recordedAt goes back in time")
            }
            lastRecordedAt = chunk.recordedAt[offset]
            heads.set(key: chunk.streamKeys[offset], head: chunk.heads[offset], leafHash: chunk.headHashes[offset])
            var expectedNumber = MerkleNodeIndex.count(treeSize: position)
            try tree.append(leaf: chunk.leaves[offset]) { number, hash in
                guard let stored = node, number == expectedNumber, stored.key.count == 8,
                    BigEndian.read(UInt64.self, from: stored.key, at: 0) == number,
                    stored.value.count == Digest.byteCount, Digest(bytes: stored.value) == hash
                else {
                    throw Verifier.Failure(
                        position: position,
                        problem: number == MerkleNodeIndex.count(treeSize: position)
                            ? "the stored Merkle leaf hash does not match the entry"
                            : "the stored Merkle node \(number) covering this entry does not match the entries")
                }
                expectedNumber += 1
                node = try merkle.next()
            }
            var checkedTable = false
            while nextCheckpoint < checkpoints.count && checkpoints[nextCheckpoint].size == tree.size {
                let checkpoint = checkpoints[nextCheckpoint]
                guard checkpoint.root == tree.root else {
                    throw Verifier.Failure(
                        position: position,
                        problem: "the checkpoint of size \(tree.size) has a root that the entries do not produce")
                }
                try checkStreamHeads(of: checkpoint, position: position)
                if tree.size == latestStoredSize && !checkedTable {
                    try checkStreamHeadsTable(size: tree.size, committed: checkpoint.streamHeadsRoot != nil)
                    checkedTable = true
                }
                nextCheckpoint += 1
            }
        }
    }

    /// A checkpoint's stream-heads line must give the root of the map replayed from its entries;
    /// once a checkpoint has the line, every later one must.
    private mutating func checkStreamHeads(of checkpoint: Checkpoint, position: UInt64) throws {
        guard let committed = checkpoint.streamHeadsRoot else {
            if let first = firstWithStreamHeads {
                throw Verifier.Failure(
                    position: position,
                    problem: "the checkpoint of size \(checkpoint.size) has no stream-heads line, "
                        + "though the checkpoint of size \(first) had one")
            }
            return
        }
        if firstWithStreamHeads == nil { firstWithStreamHeads = checkpoint.size }
        guard committed == heads.root() else {
            throw Verifier.Failure(
                position: position,
                problem: "the checkpoint of size \(checkpoint.size) commits to stream heads that the entries do not produce")
        }
    }

    /// The `stream_heads` table holds the map at the newest checkpoint (`size`): exactly one row
    /// per stream of its entries, with its head — or no row when no checkpoint commits to heads.
    private mutating func checkStreamHeadsTable(size: UInt64, committed: Bool = false) throws {
        let rows = try store.streamHeads.map { try StreamHeadTable.rows(in: txn, table: $0) } ?? []
        let damaged = { (what: String) in
            Verifier.Failure(position: nil, problem: "\(DamagedData(table: StreamHeadTable.name, what: what))")
        }
        guard committed else {
            guard rows.isEmpty else { throw damaged("it has rows but no checkpoint commits to stream heads") }
            return
        }
        guard rows.count == heads.count else {
            throw damaged("it has \(rows.count) streams, the \(size) entries of the newest checkpoint \(heads.count)")
        }
        for row in rows where heads.head(key: row.key) != row.head {
            throw damaged("a stream's head is not the one the newest checkpoint's entries give")
        }
    }

    /// Each rotation's checkpoint (of the size that ends with it, naming the new key) must be
    /// stored: it is how witnesses and clients learn the key. A verifier given a later key than
    /// the first trusts the entries before that key through the checkpoints it signed: one must
    /// exist beyond the rotation that named it.
    private func checkRotationCheckpoints(stored: [Checkpoint]) throws {
        let sizes = Set(stored.map(\.size))
        for rotation in chain.rotations where !sizes.contains(rotation.position + 1) {
            throw Verifier.Failure(
                position: rotation.position,
                problem: "the key rotation at this position has no checkpoint of its size (which names the new key)")
        }
        if let index = chain.keys.firstIndex(of: anchor), index > 0 {
            let named = chain.rotations[index - 1].position
            guard let last = stored.last, last.size > named + 1 else {
                throw Verifier.Failure(
                    position: named,
                    problem: "no checkpoint signed by the key given covers the log: verify with the log's first key")
            }
        }
    }

    /// Every stored checkpoint, signature checked, in size order.
    private func loadCheckpoints() throws -> [Checkpoint] {
        try txn.withCursor(store.checkpoints) { cursor in
            var result: [Checkpoint] = []
            var record = try cursor.first()
            while let current = record {
                let size = current.key.count == 8 ? BigEndian.read(UInt64.self, from: current.key, at: 0) : 0
                let checkpoint: Checkpoint
                do {
                    checkpoint = try chain.verify(note: String(decoding: current.value, as: UTF8.self))
                } catch {
                    throw Verifier.Failure(position: size > 0 ? size - 1 : nil, problem: "checkpoint of size \(size): \(error)")
                }
                guard checkpoint.timestampSeconds != nil else {
                    throw Verifier.Failure(
                        position: size > 0 ? size - 1 : nil,
                        problem: "checkpoint of size \(size) has no cosignature/v1 timestamp by the log's key")
                }
                guard checkpoint.size == size, size > 0 else {
                    throw Verifier.Failure(
                        position: size > 0 ? size - 1 : nil,
                        problem: "checkpoint stored under size \(size) says size \(checkpoint.size)")
                }
                result.append(checkpoint)
                record = try cursor.next()
            }
            return result
        }
    }

    /// One sequential scan of the stream index: each stream's versions run 1, 2, 3 … at increasing
    /// positions, and the multiset hash of its rows equals the entries'. Together these prove the
    /// index maps exactly each entry's (stream, version) to its position, and that every stream's
    /// versions follow one another in log order. When the hash disagrees, a second pass finds the
    /// first entry whose row is wrong. Returns each stream's last version, in name order.
    private func checkStreamIndex(entryCount: UInt64) throws -> [(name: [UInt8], version: UInt64)] {
        var digest = 0
        var rows: UInt64 = 0
        var streams: [(name: [UInt8], version: UInt64)] = []
        var lastPosition: UInt64 = 0
        var continuityFailure: Verifier.Failure?
        try txn.withCursor(store.streamIndex) { cursor in
            var record = try cursor.first()
            while let current = record {
                let key = current.key
                let position = current.value.count == 8 ? BigEndian.read(UInt64.self, from: current.value, at: 0) : UInt64.max
                digest &+= indexHash(key: key, position: position)
                rows += 1
                if key.count >= 10, key[key.count - 9] == 0, continuityFailure == nil {
                    let name = UnsafeRawBufferPointer(rebasing: key[..<(key.count - 9)])
                    let version = BigEndian.read(UInt64.self, from: key, at: key.count - 8)
                    if let last = streams.last, last.name.elementsEqual(name) {
                        if version != last.version + 1 || position <= lastPosition {
                            continuityFailure = Verifier.Failure(
                                position: position,
                                problem: "stream version \(version) does not follow version \(last.version) in log order")
                        }
                        streams[streams.count - 1].version = version
                    } else {
                        if version != 1 {
                            continuityFailure = Verifier.Failure(position: position, problem: "a stream starts at version \(version)")
                        }
                        streams.append((Array(name), version))
                    }
                    lastPosition = position
                }
                record = try cursor.next()
            }
        }
        if digest == indexDigest && rows == entryCount {
            if let continuityFailure { throw continuityFailure }
            return streams
        }
        try txn.withCursor(store.entries) { cursor in
            var record = try cursor.first()
            while let current = record {
                let view = try EntryView(record: current.value)
                let key = LedgerStore.streamIndexKey(stream: Array(view.stream), version: view.streamVersion)
                let stored = try txn.get(store.streamIndex, key: key)
                guard let stored, BigEndian.uint64(stored) == view.position else {
                    throw Verifier.Failure(
                        position: view.position,
                        problem: "the stream index row for this entry is missing or points elsewhere")
                }
                record = try cursor.next()
            }
        }
        throw Verifier.Failure(
            position: nil,
            problem: "the stream index has \(rows) rows for \(entryCount) entries, "
                + "including rows that point at no entry")
    }

    /// Every idempotency row names one append: `count` entries from `firstPosition`, all of one
    /// stream and one author, recorded in one commit (same time), at stream versions from
    /// `firstVersion` on. With the signing key, every row's seal and the table's aggregate too
    /// (a renamed, changed, dropped or added row). Returns the number of rows.
    private func checkIdempotency(entryCount: UInt64) throws -> UInt64 {
        IsolatedReader.report("checking the idempotency table")
        var rows: UInt64 = 0
        let check = { (record: IdempotencyRecord) throws in
            rows += 1
            let end = record.firstPosition.addingReportingOverflow(UInt64(record.count))
            guard record.count >= 1, !end.overflow, end.partialValue <= entryCount else {
                throw Verifier.Failure(position: nil, problem: "an idempotency row points beyond the log's \(entryCount) entries")
            }
            var first: (stream: [UInt8], author: [UInt8], recordedAt: Int64)?
            for offset in 0..<UInt64(record.count) {
                let position = record.firstPosition + offset
                let matches =
                    try txn.withValue(in: store.entries, key: BigEndian.bytes(position)) { value -> Bool in
                        let view = try EntryView(record: value)
                        if first == nil { first = (Array(view.stream), Array(view.author), view.recordedAtMilliseconds) }
                        return view.streamVersion == record.firstVersion + offset && view.stream.elementsEqual(first!.stream)
                            && view.author.elementsEqual(first!.author) && view.recordedAtMilliseconds == first!.recordedAt
                    } ?? false
                guard matches else {
                    throw Verifier.Failure(
                        position: record.firstPosition,
                        problem: "an idempotency row does not match the \(record.count) entries it names from this position")
                }
            }
        }
        if let seal {
            do {
                _ = try store.checkIdempotencySeal(seal, in: txn) { _, record in try check(record) }
            } catch let damage as DamagedData {
                throw Verifier.Failure(position: nil, problem: "\(damage)")
            }
            return rows
        }
        try txn.withCursor(store.idempotency) { cursor in
            var row = try cursor.first()
            while let current = row {
                guard current.value.count == IdempotencyRecord.sealedByteCount || current.value.count == IdempotencyRecord.recordByteCount
                else {
                    throw Verifier.Failure(
                        position: nil, problem: "\(DamagedData(table: "idempotency", what: "a row has the wrong length"))")
                }
                let record: IdempotencyRecord
                do { record = try IdempotencyRecord(unsealed: current.value) } catch {
                    throw Verifier.Failure(position: nil, problem: "\(error)")
                }
                try check(record)
                row = try cursor.next()
            }
        }
        return rows
    }

    /// Each receipt is the daemon's signature over an entry at a position; that entry must be the
    /// one the log holds there (same leaf hash), or the log lost an acknowledged entry.
    private func checkReceipts(entryCount: UInt64) throws {
        guard !options.receipts.isEmpty else { return }
        let tree = MerkleTree(transaction: txn, table: store.merkle)
        for (index, receipt) in options.receipts.enumerated() {
            let (position, leaf, signed) = try receipt.record.withUnsafeBytes { bytes -> (UInt64, Digest, Bool) in
                let view: EntryView
                do { view = try EntryView(record: bytes) } catch {
                    throw Verifier.Failure(position: nil, problem: "receipt \(index + 1) is not an entry record (\(error))")
                }
                let key = chain.key(forEntryAt: view.position)
                return (
                    view.position, MerkleHash.leaf(bytes),
                    view.keyID.elementsEqual(chain.keyID(key))
                        && key.isValidSignature(view.signature, for: view.signedBytes)
                )
            }
            guard signed else {
                throw Verifier.Failure(position: position, problem: "receipt \(index + 1) is not signed by the log's key")
            }
            guard position < entryCount, try tree.leafHash(position) == leaf else {
                throw Verifier.Failure(
                    position: position,
                    problem: "acknowledged but absent: receipt \(index + 1) shows the daemon "
                        + "signed an entry at this position (leaf hash \(leaf.hex)), and the log "
                        + (position < entryCount ? "holds another entry there" : "ends before it, at \(entryCount) entries"))
            }
        }
    }

    /// `meta` holds only the rows Formats.md lists (a renamed row shows as an unknown one and a
    /// missing one); `format` and `origin` are checked when the store is opened.
    private func checkMeta() throws {
        try txn.withCursor(store.meta) { cursor in
            var row = try cursor.first()
            while let current = row {
                guard LedgerStore.metaRows.contains(String(decoding: current.key, as: UTF8.self)) else {
                    throw Verifier.Failure(
                        position: nil, problem: "\(DamagedData(table: "meta", what: "it has a row that is not in the format"))")
                }
                row = try cursor.next()
            }
        }
    }

    /// The streams table must list exactly the streams of the index, each at its last version.
    /// Both are in name order, so one merge pass suffices.
    private func checkStreamsTable(lastVersions streams: [(name: [UInt8], version: UInt64)]) throws {
        var index = 0
        try txn.withCursor(store.streams) { cursor in
            var record = try cursor.first()
            while let current = record {
                let name = String(decoding: current.key, as: UTF8.self)
                guard index < streams.count else {
                    throw Verifier.Failure(position: nil, problem: "the streams table lists stream \(name), which has no entries")
                }
                let expected = streams[index]
                if !expected.name.elementsEqual(current.key) {
                    // Both lists are in byte order: the smaller name is the one the other lacks.
                    let missing = expected.name.lexicographicallyPrecedes(current.key)
                    throw Verifier.Failure(
                        position: nil,
                        problem: missing
                            ? "the streams table has no row for stream \(String(decoding: expected.name, as: UTF8.self))"
                            : "the streams table lists stream \(name), which has no entries")
                }
                guard BigEndian.uint64(current.value) == expected.version else {
                    throw Verifier.Failure(
                        position: nil,
                        problem: "the streams table gives stream \(name) a version other than its last entry's, \(expected.version)")
                }
                index += 1
                record = try cursor.next()
            }
        }
        guard index == streams.count else {
            throw Verifier.Failure(
                position: nil,
                problem: "the streams table has no row for stream "
                    + String(decoding: streams[index].name, as: UTF8.self))
        }
    }
}

/// The hash of one stream-index row (key = stream ‖ 0x00 ‖ version, value = position), summed
/// over all rows or all entries.
@inline(__always)
private func indexHash(key: UnsafeRawBufferPointer, position: UInt64) -> Int {
    var hasher = Hasher()
    hasher.combine(bytes: key)
    hasher.combine(position)
    return hasher.finalize()
}

/// The per-entry checks of one chunk, run on all threads. Each thread writes only its own slice
/// of the result arrays and its own slot of `failures` and `indexSums`.
private final class ChunkWork: @unchecked Sendable {
    let records: [Cursor.Record]
    let firstPosition: UInt64
    let threads: Int
    let chain: KeyChain
    /// The key IDs of the chain's keys, in its order.
    let keyIDs: [[UInt8]]
    let checkSignatures: Bool
    private(set) var leaves: [Digest]
    private(set) var recordedAt: [Int64]
    /// Each entry's stream key, head and head leaf hash in the stream-head map (hashed here, on
    /// every core: set in log order on one thread, they cost `verify --fast` 28% of its rate).
    private(set) var streamKeys: [Digest]
    private(set) var heads: [StreamHead]
    private(set) var headHashes: [Digest]
    private(set) var failures: [Verifier.Failure?]
    private(set) var indexSums: [Int]
    private let done = DispatchGroup()

    init(records: [Cursor.Record], firstPosition: UInt64, threads: Int, chain: KeyChain, checkSignatures: Bool) {
        self.records = records
        self.firstPosition = firstPosition
        self.threads = min(threads, max(1, records.count / 64))
        self.chain = chain
        self.keyIDs = chain.keys.map { chain.keyID($0) }
        self.checkSignatures = checkSignatures
        leaves = [Digest](repeating: MerkleHash.empty, count: records.count)
        recordedAt = [Int64](repeating: 0, count: records.count)
        streamKeys = [Digest](repeating: MerkleHash.empty, count: records.count)
        heads = [StreamHead](repeating: StreamHead(version: 0, position: 0), count: records.count)
        headHashes = [Digest](repeating: MerkleHash.empty, count: records.count)
        failures = [Verifier.Failure?](repeating: nil, count: self.threads)
        indexSums = [Int](repeating: 0, count: self.threads)
    }

    func start() {
        DispatchQueue.global().async(group: done) { [self] in
            let slice = (records.count + threads - 1) / threads
            leaves.withUnsafeMutableBufferPointer { leaves in
                recordedAt.withUnsafeMutableBufferPointer { recordedAt in
                    failures.withUnsafeMutableBufferPointer { failures in
                        indexSums.withUnsafeMutableBufferPointer { indexSums in
                            streamKeys.withUnsafeMutableBufferPointer { streamKeys in
                                heads.withUnsafeMutableBufferPointer { heads in
                                    headHashes.withUnsafeMutableBufferPointer { headHashes in
                                        let shared = UnsafeTransfer(
                                            (leaves, recordedAt, failures, indexSums, MapOutputs(streamKeys, heads, headHashes)))
                                        DispatchQueue.concurrentPerform(iterations: threads) { thread in
                                            let (leaves, recordedAt, failures, indexSums, map) = shared.value
                                            let range = (thread * slice)..<min(records.count, (thread + 1) * slice)
                                            self.check(
                                                range, leaves: leaves, recordedAt: recordedAt, map: map,
                                                failure: &failures[thread], indexSum: &indexSums[thread])
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func wait() { done.wait() }

    /// Where each entry's stream-head map inputs go.
    private struct MapOutputs {
        let streamKeys: UnsafeMutableBufferPointer<Digest>
        let heads: UnsafeMutableBufferPointer<StreamHead>
        let headHashes: UnsafeMutableBufferPointer<Digest>

        init(
            _ streamKeys: UnsafeMutableBufferPointer<Digest>, _ heads: UnsafeMutableBufferPointer<StreamHead>,
            _ headHashes: UnsafeMutableBufferPointer<Digest>
        ) {
            self.streamKeys = streamKeys
            self.heads = heads
            self.headHashes = headHashes
        }
    }

    private func check(
        _ range: Range<Int>, leaves: UnsafeMutableBufferPointer<Digest>,
        recordedAt: UnsafeMutableBufferPointer<Int64>, map: MapOutputs, failure: inout Verifier.Failure?, indexSum: inout Int
    ) {
        var indexKey: [UInt8] = []
        indexKey.reserveCapacity(512)
        for offset in range {
            let position = firstPosition + UInt64(offset)
            let record = records[offset]
            guard record.key.count == 8, BigEndian.read(UInt64.self, from: record.key, at: 0) == position else {
                failure = Verifier.Failure(
                    position: position, problem: "the entries table has no entry at this position (a gap, or a damaged key)")
                return
            }
            let view: EntryView
            do {
                view = try EntryView(record: record.value)
            } catch {
                failure = Verifier.Failure(position: position, problem: "\(error)")
                return
            }
            guard view.position == position else {
                failure = Verifier.Failure(position: position, problem: "the entry says it is at position \(view.position)")
                return
            }
            // The key current at this position: the first until the first rotation (included), …
            var keyIndex = chain.rotations.count
            while keyIndex > 0 && chain.rotations[keyIndex - 1].position >= position { keyIndex -= 1 }
            guard view.keyID.elementsEqual(keyIDs[keyIndex]) else {
                failure = Verifier.Failure(
                    position: position,
                    problem:
                        "the entry names key ID \(Hex.encode(view.keyID)), not the key current at its position (\(Hex.encode(keyIDs[keyIndex])))"
                )
                return
            }
            if checkSignatures, !chain.keys[keyIndex].isValidSignature(view.signature, for: view.signedBytes) {
                failure = Verifier.Failure(position: position, problem: "the entry's signature does not verify")
                return
            }
            leaves[offset] = MerkleHash.leaf(record.value)
            recordedAt[offset] = view.recordedAtMilliseconds
            let key = StreamHeadMap.key(stream: view.stream)
            let head = StreamHead(version: view.streamVersion, position: position)
            map.streamKeys[offset] = key
            map.heads[offset] = head
            map.headHashes[offset] = StreamHeadMap.leafHash(key: key, head: head)
            indexKey.removeAll(keepingCapacity: true)
            indexKey.append(contentsOf: view.stream)
            indexKey.append(0)
            BigEndian.append(view.streamVersion, to: &indexKey)
            indexSum &+= indexKey.withUnsafeBytes { indexHash(key: $0, position: position) }
        }
    }
}
