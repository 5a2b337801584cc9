import FascicoloConcurrency
import FascicoloCrypto
import FascicoloStorage
import Glibc
import Logging

/// A run of a primary's log as a follower stores it: the entries from the follower's size on
/// (records: signed bytes ‖ signature, exactly as the primary stores them), and the primary's
/// checkpoint notes of sizes within the run, the last one ending it. The follower's writer
/// checks every entry and every checkpoint before it commits any of them (`Ledger.replicate`).
public struct ReplicationBatch: Sendable, Equatable {
    public var records: [[UInt8]]
    public var notes: [String]

    public init(records: [[UInt8]], notes: [String]) {
        self.records = records
        self.notes = notes
    }
}

/// Why a follower refused what its primary sent: the primary's log is not a continuation of the
/// one the follower holds, or what it sent is not a valid log. Replication stops at the first one
/// and nothing of the batch is stored: a follower never overwrites what it holds.
public struct ReplicationRefused: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// An entry or a checkpoint is malformed, out of place, or does not verify.
        case invalid
        /// The primary's signed checkpoint commits to other entries than the ones it sent, or than
        /// the ones the follower holds: the log forked.
        case forked
        /// The primary's log is shorter than the follower's: it was rolled back (restored from an
        /// older copy, say).
        case rolledBack = "rolled_back"
    }

    public let kind: Kind
    /// The position (or tree size) where it was found, when there is one.
    public let position: UInt64?
    public let reason: String

    public init(_ kind: Kind, at position: UInt64?, _ reason: String) {
        self.kind = kind
        self.position = position
        self.reason = reason
    }

    public var description: String { "replication refused (\(kind.rawValue)): \(reason)" }
}

/// The replication wire format (Formats.md, "Replication"): the body of
/// `GET /v1/replication/log`, a sequence of frames
///
///     frame := kind (1 byte) ‖ length (u32 BE) ‖ bytes
///
/// - `S` (0x53), first, once: the primary's size (u64 BE) ‖ the recordedAt of its last entry
///   (i64 BE, milliseconds; 0 for an empty log);
/// - `H` (0x48), second, at most once (absent before the first checkpoint): the primary's latest
///   checkpoint note;
/// - then, from the position asked for, `E` (0x45) for each entry record in order, and `C`
///   (0x43) with a checkpoint note right after the entry that ends it; the last frame is a `C`.
public enum ReplicationFrames {
    public static let status = UInt8(ascii: "S")
    public static let head = UInt8(ascii: "H")
    public static let entry = UInt8(ascii: "E")
    public static let checkpoint = UInt8(ascii: "C")
    /// The largest frame a reader accepts: an entry's limits are far below it.
    public static let frameBytesMax = 4 << 20

    /// What one answer carries.
    public struct Read: Sendable, Equatable {
        public var primarySize: UInt64
        public var primaryLastRecordedAt: Int64
        public var head: String?
        public var batch: ReplicationBatch

        public init(primarySize: UInt64, primaryLastRecordedAt: Int64, head: String?, batch: ReplicationBatch) {
            self.primarySize = primarySize
            self.primaryLastRecordedAt = primaryLastRecordedAt
            self.head = head
            self.batch = batch
        }
    }

    public struct Malformed: Error, CustomStringConvertible, Sendable {
        public let reason: String
        public var description: String { "malformed replication answer: \(reason)" }
    }

    public static func encode(_ read: Read) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + read.batch.records.reduce(0) { $0 + $1.count + 5 } + read.batch.notes.count * 400)
        func frame(_ kind: UInt8, _ body: some Collection<UInt8>) {
            bytes.append(kind)
            BigEndian.append(UInt32(body.count), to: &bytes)
            bytes += body
        }
        var status: [UInt8] = []
        BigEndian.append(read.primarySize, to: &status)
        BigEndian.append(UInt64(bitPattern: read.primaryLastRecordedAt), to: &status)
        frame(Self.status, status)
        if let head = read.head { frame(Self.head, Array(head.utf8)) }
        // Each note is placed after the entry that ends it: the notes' sizes say where.
        let base =
            read.batch.records.first.flatMap { record in
                record.count >= 12 ? BigEndian.uint64(record[4..<12]) : nil
            } ?? 0
        var notes = read.batch.notes[...]
        for (offset, record) in read.batch.records.enumerated() {
            frame(Self.entry, record)
            while let note = notes.first, (try? Checkpoint.size(ofNote: note)) == base + UInt64(offset) + 1 {
                frame(Self.checkpoint, Array(note.utf8))
                notes = notes.dropFirst()
            }
        }
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(Malformed) -> Read {
        var offset = 0
        var read = Read(primarySize: 0, primaryLastRecordedAt: 0, head: nil, batch: ReplicationBatch(records: [], notes: []))
        var index = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 5 else { throw Malformed(reason: "a frame header is cut off") }
            let kind = bytes[offset]
            let length = bytes[(offset + 1)..<(offset + 5)].reduce(0) { $0 << 8 | Int($1) }
            offset += 5
            guard length <= frameBytesMax, bytes.count - offset >= length else { throw Malformed(reason: "a frame is cut off or too long") }
            let body = bytes[offset..<(offset + length)]
            offset += length
            defer { index += 1 }
            switch kind {
            case status where index == 0:
                guard length == 16 else { throw Malformed(reason: "the status frame is not 16 bytes") }
                read.primarySize = BigEndian.uint64(body.prefix(8)) ?? 0
                read.primaryLastRecordedAt = Int64(bitPattern: BigEndian.uint64(body.suffix(8)) ?? 0)
            case head where index == 1:
                read.head = String(decoding: body, as: UTF8.self)
            case entry where index >= 1:
                read.batch.records.append(Array(body))
            case checkpoint where !read.batch.records.isEmpty:
                read.batch.notes.append(String(decoding: body, as: UTF8.self))
            default:
                throw Malformed(reason: "frame \(index) of kind 0x\(String(kind, radix: 16)) is out of place")
            }
        }
        guard index > 0 else { throw Malformed(reason: "the status frame is missing") }
        return read
    }
}

extension Ledger {
    /// Opens the data directory of a follower of the log whose first key is `trustedKey` (whose
    /// name is the log's origin). The directory holds no signing key, or a copy of the primary's
    /// (a standby that may take over: see `holdsCurrentKey`); nothing signs while it follows, as
    /// every batch it stores ends with a checkpoint signed by the primary. A store holding another
    /// log (another origin, another first key) is refused.
    public static func openFollower(
        directory: String, trustedKey: (name: String, publicKey: PublicKey), configuration: LedgerConfiguration = LedgerConfiguration(),
        wallClock: WallClock = .system, logger: Logger = Logger(label: "fascicolo.ledger")
    ) throws -> Ledger {
        var configuration = configuration
        configuration.origin = trustedKey.name
        if let problem = LedgerConfiguration.originProblem(configuration.origin) {
            throw InvalidOrigin(origin: configuration.origin, reason: problem)
        }
        let store = try LedgerStore.open(
            directory: directory, readOnly: false, origin: configuration.origin, mapSizeBytes: configuration.mapSizeBytes,
            unsafeNoSync: configuration.unsafeNoSync)
        let origin = try store.origin()
        guard origin == trustedKey.name else {
            throw ReplicationRefused(.invalid, at: nil, "the data directory holds the log \(origin), not \(trustedKey.name)")
        }
        let chain = try store.environment.read { txn in
            try KeyChain.load(txn: txn, store: store, origin: origin, anchor: trustedKey.publicKey)
        }
        guard chain.first == trustedKey.publicKey else {
            throw ReplicationRefused(.invalid, at: nil, "the data directory's log does not start with the trusted key")
        }
        let path = directory + "/" + KeyFile.secretName
        // Never used to sign while following; a standby's copy of the primary's key signs once
        // it is promoted.
        let key = access(path, F_OK) == 0 ? try KeyFile.load(path: path) : SigningKey()
        try checkNotRolledBack(store: store, directory: directory, chain: chain, logger: logger)
        return try Ledger(
            store: store, key: key, chain: chain, configuration: configuration, wallClock: wallClock, logger: logger, follower: true)
    }

    /// Stores a run of the primary's log at the positions it carries, after checking every
    /// entry's place, stream version and signature (following the log's key chain) and every
    /// checkpoint of the run (its signature, and its root and stream-heads root against the
    /// entries stored); returns the log's size once the run is durable. Throws
    /// `ReplicationRefused` when anything differs, and then stores nothing.
    public func replicate(_ batch: ReplicationBatch) async throws -> UInt64 {
        try await writer.submitReplicated(batch)
    }

    /// Whether this ledger holds the key that signs the log's next entry (a follower holding a
    /// copy of its primary's current key can take over; one without cannot append).
    public var holdsCurrentKey: Bool { writer.signingPublicKey == keyChain.current }

    /// What `GET /v1/replication/log?from=P` serves: the log's size, its last entry's time, the
    /// latest checkpoint, and the entries from `from` to a stored checkpoint — the largest at most
    /// `entriesMax` entries on, or the first after `from` if none is that close — with every
    /// checkpoint in between. No entries when `from` is not below the latest checkpoint.
    public func replicationRead(from: UInt64, entriesMax: Int) throws -> ReplicationFrames.Read {
        try read { log in
            let size = try log.entryCount()
            let lastRecordedAt = try size == 0 ? 0 : log.withEntry(at: size - 1) { $0.recordedAtMilliseconds } ?? 0
            let head = try log.checkpoints().latestNote
            var notes: [String] = []
            var end = from
            if from < size {
                try log.forEachCheckpoint(from: from + 1) { checkpointSize, note in
                    guard notes.isEmpty || checkpointSize - from <= UInt64(entriesMax) else { return false }
                    notes.append(note)
                    end = checkpointSize
                    return true
                }
            }
            var records: [[UInt8]] = []
            if end > from {
                records.reserveCapacity(Int(end - from))
                try log.forEachEntry(from: from) { view in
                    records.append(Array(view.record))
                    return view.position + 1 < end
                }
            }
            return ReplicationFrames.Read(
                primarySize: size, primaryLastRecordedAt: lastRecordedAt, head: head,
                batch: ReplicationBatch(records: records, notes: notes))
        }
    }
}
