import Dispatch
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
public struct Verifier {
    public struct Options: Sendable {
        /// Skip the entries' Ed25519 signatures; hashes, indexes and checkpoint signatures are still checked.
        public var fast = false
        /// Threads for hashing and signature checks (default: the number of online cores).
        public var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        /// Entries handled per parallel step.
        public var chunkEntries = 8_192
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
        public let elapsedSeconds: Double
        public let fast: Bool
    }

    /// What is wrong, and the first position concerned when there is one.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let position: UInt64?
        public let problem: String

        public var description: String {
            if let position { return "position \(position): \(problem)" }
            return problem
        }
    }

    /// Verifies the data directory against the verifier key in its `signing.pub`, or against
    /// `verifierKey` (`<name>+<id>+<key>`) when given — the stronger check, since it does not trust
    /// a file inside the directory being verified.
    public static func verify(directory: String, verifierKey: String? = nil, options: Options = Options(),
                              progress: ((Progress) -> Void)? = nil) throws -> Report {
        let key: (name: String, publicKey: PublicKey)
        if let verifierKey {
            guard let parsed = SignedNote.parseVerifierKey(verifierKey) else {
                throw Failure(position: nil, problem: "the verifier key is not '<name>+<key id>+<base64 key>'")
            }
            key = parsed
        } else {
            key = try KeyFile.loadVerifierKey(directory: directory)
        }
        let store = try LedgerStore.open(directory: directory, readOnly: true)
        defer { store.environment.close() }
        let origin = try store.origin()
        guard origin == key.name else {
            throw Failure(position: nil, problem: "the log's origin \(origin) is not the verifier key's name \(key.name)")
        }
        return try store.environment.read { txn in
            var run = VerificationRun(store: store, txn: txn, origin: origin, publicKey: key.publicKey, options: options)
            return try run.verify(progress: progress)
        }
    }
}

/// One pass over one snapshot.
private struct VerificationRun {
    let store: LedgerStore
    let txn: ReadTransaction
    let origin: String
    let publicKey: PublicKey
    let keyID: [UInt8]
    let options: Verifier.Options

    var tree = MerkleFrontier()
    var lastVersions: [[UInt8]: UInt64] = [:]
    var lastRecordedAt: Int64 = .min
    /// A multiset hash of (stream, version, position) over all entries, compared with the same
    /// over the stream index: equal sums and counts mean the index is exactly right without a
    /// random lookup per entry. (Hasher is seeded per process, so nobody can aim a collision.)
    var indexDigest = 0

    init(store: LedgerStore, txn: ReadTransaction, origin: String, publicKey: PublicKey, options: Verifier.Options) {
        self.store = store
        self.txn = txn
        self.origin = origin
        self.publicKey = publicKey
        self.keyID = SignedNote.keyID(name: origin, publicKey: publicKey)
        self.options = options
    }

    mutating func verify(progress: ((Verifier.Progress) -> Void)?) throws -> Verifier.Report {
        let start = Clock.monotonicNanoseconds()
        let total = try store.size(in: txn)
        let checkpoints = try loadCheckpoints(size: total)
        var nextCheckpoint = 0

        try txn.withCursor(store.entries) { entries in
            try txn.withCursor(store.merkle) { merkle in
                var expectedNode: UInt64 = 0
                var node = try merkle.first()
                var record = try entries.first()
                var checked: UInt64 = 0
                while record != nil {
                    var chunk: [Cursor.Record] = []
                    chunk.reserveCapacity(options.chunkEntries)
                    while let current = record, chunk.count < options.chunkEntries {
                        chunk.append(current)
                        record = try entries.next()
                    }
                    let checkedChunk = checkInParallel(chunk, firstPosition: checked)
                    for (offset, leaf) in checkedChunk.leaves.enumerated() {
                        let position = checked + UInt64(offset)
                        if let failure = checkedChunk.failure, failure.position == position { throw failure }
                        try checkSequence(chunk[offset].value, position: position)
                        try tree.append(leaf: leaf) { number, hash in
                            guard let stored = node, number == expectedNode,
                                  BigEndian.read(UInt64.self, from: stored.key, at: 0) == number,
                                  stored.value.count == Digest.byteCount, Digest(bytes: stored.value) == hash else {
                                throw Verifier.Failure(position: position, problem: number == MerkleNodeIndex.count(treeSize: position)
                                    ? "the stored Merkle leaf hash does not match the entry"
                                    : "the stored Merkle node \(number) covering this entry does not match the entries")
                            }
                            expectedNode += 1
                            node = try merkle.next()
                        }
                        while nextCheckpoint < checkpoints.count && checkpoints[nextCheckpoint].size == tree.size {
                            guard checkpoints[nextCheckpoint].root == tree.root else {
                                throw Verifier.Failure(position: position,
                                    problem: "the checkpoint of size \(tree.size) has a root that the entries do not produce")
                            }
                            nextCheckpoint += 1
                        }
                    }
                    checked += UInt64(chunk.count)
                    progress?(Verifier.Progress(entriesChecked: checked, entriesTotal: total,
                                                elapsedSeconds: Double(Clock.monotonicNanoseconds() - start) / 1e9))
                }
                if node != nil {
                    throw Verifier.Failure(position: nil, problem: "the Merkle table has nodes beyond the \(checked) entries")
                }
            }
        }
        if nextCheckpoint < checkpoints.count {
            throw Verifier.Failure(position: nil, problem: "checkpoint of size \(checkpoints[nextCheckpoint].size) is beyond the log")
        }
        try checkStreamIndex(entryCount: total)
        try checkStreamsTable()
        return Verifier.Report(entries: total, checkpoints: checkpoints.count, streams: lastVersions.count,
                               elapsedSeconds: Double(Clock.monotonicNanoseconds() - start) / 1e9, fast: options.fast)
    }

    /// Every stored checkpoint, signature checked, in size order.
    private func loadCheckpoints(size: UInt64) throws -> [Checkpoint] {
        try txn.withCursor(store.checkpoints) { cursor in
            var result: [Checkpoint] = []
            var record = try cursor.first()
            while let current = record {
                let size = current.key.count == 8 ? BigEndian.read(UInt64.self, from: current.key, at: 0) : 0
                let checkpoint: Checkpoint
                do {
                    checkpoint = try Checkpoint.verify(note: String(decoding: current.value, as: UTF8.self),
                                                       origin: origin, publicKey: publicKey)
                } catch {
                    throw Verifier.Failure(position: size > 0 ? size - 1 : nil, problem: "checkpoint of size \(size): \(error)")
                }
                guard checkpoint.size == size else {
                    throw Verifier.Failure(position: size > 0 ? size - 1 : nil,
                                           problem: "checkpoint stored under size \(size) says size \(checkpoint.size)")
                }
                result.append(checkpoint)
                record = try cursor.next()
            }
            return result
        }
    }

    struct CheckedChunk {
        var leaves: [Digest]
        /// The failure at the lowest position of the chunk, if any.
        var failure: Verifier.Failure?
    }

    /// Parses, hashes and (in full mode) checks the signature of each record, on all threads.
    private func checkInParallel(_ chunk: [Cursor.Record], firstPosition: UInt64) -> CheckedChunk {
        let count = chunk.count
        var leaves = [Digest](repeating: MerkleHash.empty, count: count)
        let threads = min(options.threads, max(1, count / 64))
        let slice = (count + threads - 1) / threads
        var failures = [Verifier.Failure?](repeating: nil, count: threads)
        let fast = options.fast
        let (publicKey, keyID) = (publicKey, keyID)
        chunk.withUnsafeBufferPointer { chunk in
            leaves.withUnsafeMutableBufferPointer { leaves in
                failures.withUnsafeMutableBufferPointer { failures in
                    // Each slice writes only its own range of `leaves` and its own `failures` slot.
                    let shared = UncheckedSendable((chunk, leaves, failures))
                    let work = { @Sendable (index: Int) in
                        let (chunk, leaves, failures) = shared.value
                        for offset in (index * slice)..<min(count, (index + 1) * slice) {
                            let position = firstPosition + UInt64(offset)
                            let record = chunk[offset]
                            if let problem = Self.checkRecord(record, position: position, keyID: keyID,
                                                              publicKey: fast ? nil : publicKey) {
                                failures[index] = Verifier.Failure(position: position, problem: problem)
                                return
                            }
                            leaves[offset] = MerkleHash.leaf(record.value)
                        }
                    }
                    if threads == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
                }
            }
        }
        return CheckedChunk(leaves: leaves, failure: failures.compactMap { $0 }.first)
    }

    /// The checks of one record that need no other entry.
    private static func checkRecord(_ record: Cursor.Record, position: UInt64, keyID: [UInt8], publicKey: PublicKey?) -> String? {
        guard record.key.count == 8, BigEndian.read(UInt64.self, from: record.key, at: 0) == position else {
            return "the entries table has no entry at this position (a gap, or a damaged key)"
        }
        let view: EntryView
        do {
            view = try EntryView(record: record.value)
        } catch {
            return "\(error)"
        }
        guard view.position == position else { return "the entry says it is at position \(view.position)" }
        guard view.keyID.elementsEqual(keyID) else { return "the entry names key ID \(Hex.encode(view.keyID)), not the log's key" }
        if let publicKey, !publicKey.isValidSignature(view.signature, for: view.signedBytes) {
            return "the entry's signature does not verify"
        }
        return nil
    }

    /// Stream version continuity, time order, and the index multiset hash.
    private mutating func checkSequence(_ record: UnsafeRawBufferPointer, position: UInt64) throws {
        let view = try EntryView(record: record)  // parsed without error in the parallel step
        let stream = Array(view.stream)
        let expected = (lastVersions[stream] ?? 0) + 1
        guard view.streamVersion == expected else {
            throw Verifier.Failure(position: position, problem: "stream version \(view.streamVersion) where \(expected) was due")
        }
        lastVersions[stream] = expected
        guard view.recordedAtMilliseconds >= lastRecordedAt else {
            throw Verifier.Failure(position: position, problem: "recordedAt goes back in time")
        }
        lastRecordedAt = view.recordedAtMilliseconds
        indexDigest &+= Self.indexHash(key: LedgerStore.streamIndexKey(stream: stream, version: expected), position: position)
    }

    private static func indexHash(key: some Sequence<UInt8>, position: UInt64) -> Int {
        var hasher = Hasher()
        for byte in key { hasher.combine(byte) }
        hasher.combine(position)
        return hasher.finalize()
    }

    /// The stream index must hold exactly one row per entry, pointing at it. The multiset hash
    /// proves it in one sequential scan; when it disagrees, a second pass finds the first entry
    /// whose row is wrong (or the row that points nowhere).
    private func checkStreamIndex(entryCount: UInt64) throws {
        var digest = 0
        var rows: UInt64 = 0
        try txn.withCursor(store.streamIndex) { cursor in
            var record = try cursor.first()
            while let current = record {
                let position = current.value.count == 8 ? BigEndian.read(UInt64.self, from: current.value, at: 0) : UInt64.max
                digest &+= Self.indexHash(key: current.key, position: position)
                rows += 1
                record = try cursor.next()
            }
        }
        guard digest != indexDigest || rows != entryCount else { return }
        try txn.withCursor(store.entries) { cursor in
            var record = try cursor.first()
            while let current = record {
                let view = try EntryView(record: current.value)
                let key = LedgerStore.streamIndexKey(stream: Array(view.stream), version: view.streamVersion)
                let stored = try txn.get(store.streamIndex, key: key)
                guard let stored, BigEndian.uint64(stored) == view.position else {
                    throw Verifier.Failure(position: view.position,
                                           problem: "the stream index row for this entry is missing or points elsewhere")
                }
                record = try cursor.next()
            }
        }
        throw Verifier.Failure(position: nil, problem: "the stream index has \(rows) rows for \(entryCount) entries, "
                               + "including rows that point at no entry")
    }

    private func checkStreamsTable() throws {
        var seen = 0
        try txn.withCursor(store.streams) { cursor in
            var record = try cursor.first()
            while let current = record {
                let name = Array(current.key)
                guard let version = BigEndian.uint64(current.value), lastVersions[name] == version else {
                    throw Verifier.Failure(position: nil, problem: "the streams table's version for a stream "
                                           + "(\(String(decoding: name, as: UTF8.self))) does not match its entries")
                }
                seen += 1
                record = try cursor.next()
            }
        }
        guard seen == lastVersions.count else {
            throw Verifier.Failure(position: nil, problem: "the streams table lists \(seen) streams; the entries have \(lastVersions.count)")
        }
    }
}
