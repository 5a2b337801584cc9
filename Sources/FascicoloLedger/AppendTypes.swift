import FascicoloCrypto
import FascicoloStorage

/// What the writer expects of the stream's current version (the number of entries in it).
public enum ExpectedVersion: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must have exactly this many entries (0 is the same as `noStream`).
    case exactly(UInt64)

    /// Whether a stream at `version` is what this expects.
    public func isSatisfied(by version: UInt64) -> Bool {
        switch self {
        case .any: true
        case .noStream: version == 0
        case .exactly(let expected): version == expected
        }
    }

    public var description: String {
        switch self {
        case .any: "any"
        case .noStream: "no stream"
        case .exactly(let version): "\(version)"
        }
    }
}

/// One event to append.
public struct NewEvent: Sendable, Equatable {
    public var type: String
    public var payload: [UInt8]

    public init(type: String, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }
}

/// One or more events for one stream, stored atomically or not at all.
public struct AppendRequest: Sendable {
    public var stream: String
    public var events: [NewEvent]
    public var expectedVersion: ExpectedVersion
    /// Kept forever: a retry with the same key and the same content gets the original positions
    /// back; the same key with other content (stream, author, types or payloads) is a conflict.
    public var idempotencyKey: String?
    /// Who appends, as observed by the caller (the daemon stamps it from peer credentials).
    public var author: String
    /// Rows of tables outside the signed log, written in the same transaction as the events and
    /// only if they are stored (not for a refused append, nor for an idempotent retry).
    public var attachedWrites: [AttachedWrite]
    /// What "the same content" means for the idempotency key. Nil: a digest of the stream, the
    /// author and each event's type and payload. Callers whose payloads differ on every try
    /// (sealed with a random nonce) give a digest of what their own client sent instead.
    public var idempotencyDigest: Digest?

    public init(
        stream: String, events: [NewEvent], expectedVersion: ExpectedVersion = .any,
        idempotencyKey: String? = nil, author: String, attachedWrites: [AttachedWrite] = [],
        idempotencyDigest: Digest? = nil
    ) {
        self.stream = stream
        self.events = events
        self.expectedVersion = expectedVersion
        self.idempotencyKey = idempotencyKey
        self.author = author
        self.attachedWrites = attachedWrites
        self.idempotencyDigest = idempotencyDigest
    }
}

/// A put (or, with a nil value, a delete) in a side table, or in one of the `meta` rows of the
/// layers above the ledger: rows that are not part of the log — such as the per-person data
/// keys, which an erasure must destroy in the same commit that stores its signed record.
public struct AttachedWrite: Sendable {
    enum Target: Sendable {
        case table(SideTable)
        case meta
    }

    let target: Target
    let key: [UInt8]
    private let makeValue: @Sendable (LedgerSnapshot) throws -> [UInt8]?

    public init(table: SideTable, key: [UInt8], value: [UInt8]?) {
        self.target = .table(table)
        self.key = key
        makeValue = { _ in value }
    }

    /// A write whose value is made inside the commit's write transaction, from what that
    /// transaction sees — for a value that depends on other rows committed just before it (a
    /// person's data key is sealed under the records key current in that very transaction, so
    /// that a key rotation committed a moment earlier is never missed).
    public init(table: SideTable, key: [UInt8], valueInTransaction: @escaping @Sendable (LedgerSnapshot) throws -> [UInt8]?) {
        self.target = .table(table)
        self.key = key
        makeValue = valueInTransaction
    }

    /// A write of the `meta` row `name` (one of the domain's, see `SideTableWriter.setMeta`),
    /// its value made inside the commit's transaction.
    public init(metaRow name: String, valueInTransaction: @escaping @Sendable (LedgerSnapshot) throws -> [UInt8]?) {
        precondition(
            LedgerStore.metaRows.contains(name) && !LedgerStore.ledgerMetaRows.contains(name),
            "meta row \(name) is not one a layer above the ledger writes")
        self.target = .meta
        self.key = Array(name.utf8)
        makeValue = valueInTransaction
    }

    /// Writes the row in `transaction` (an append's commit).
    func apply(in transaction: WriteTransaction, store: LedgerStore) throws {
        let table =
            switch target {
            case .table(let side): side.table
            case .meta: store.meta
            }
        if let value = try makeValue(LedgerSnapshot(transaction: transaction, store: store)) {
            try transaction.put(table, key: key, value: value)
        } else {
            _ = try transaction.delete(table, key: key)
        }
    }
}

/// Where an append's events landed.
public struct AppendResult: Sendable, Equatable {
    /// Global position of the first event; the others follow contiguously.
    public let firstPosition: UInt64
    /// Stream version of the first event; the others follow contiguously.
    public let firstStreamVersion: UInt64
    /// The Merkle leaf hash of each event, in order.
    public let leafHashes: [Digest]
    /// True when this was a retry answered from the idempotency record: nothing new was stored.
    public let deduplicated: Bool
    /// Each event's record (signed bytes ‖ signature), when the writer has it at hand (not for a
    /// retry answered from an earlier commit): what a receipt is made of.
    public var records: [[UInt8]] = []

    public var positions: ClosedRange<UInt64> { firstPosition...(firstPosition + UInt64(leafHashes.count) - 1) }
    public var streamVersions: ClosedRange<UInt64> {
        firstStreamVersion...(firstStreamVersion + UInt64(leafHashes.count) - 1)
    }
}

/// Why an append was refused. Nothing of a refused append is stored.
///
/// Each case has a stable `code` (APIs and metrics key on it) and a `description` that never
/// repeats a client's value; `.storage` and `.damaged` keep their cause whole (`Cause`), so a
/// caller asks `isDamaged` rather than reading a message.
public enum LedgerError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidStreamName(String)
    case invalidEventType(index: Int, reason: String)
    case invalidAuthor(String)
    case invalidIdempotencyKey(String)
    case noEvents
    case tooManyEvents(count: Int, limit: Int)
    case emptyPayload(index: Int)
    case payloadTooLarge(index: Int, bytes: Int, limit: Int)
    /// The stream's version was not the expected one.
    case wrongExpectedVersion(stream: String, expected: ExpectedVersion, actual: UInt64)
    /// The idempotency key was used before for different content.
    case idempotencyConflict(key: String)
    /// The ledger is closing or closed.
    case shutDown
    /// The store failed (a `StorageError`, or what an attached write threw); the append was not stored.
    case storage(Cause)
    /// A stored row is not what was written (`DamagedData`); the append was not stored.
    case damaged(Cause)
    /// The disk refuses writes (see `StorageHealth`): refused without being tried.
    case unavailable(String)
    /// This daemon may not append now (see `WriteAuthority`): a follower, fenced, or waiting for replicas.
    case notWritable(WriteAuthority.Refusal)

    /// A stable, machine-readable code for APIs and metrics.
    public var code: String {
        switch self {
        case .invalidStreamName: "invalid_stream_name"
        case .invalidEventType: "invalid_event_type"
        case .invalidAuthor: "invalid_author"
        case .invalidIdempotencyKey: "invalid_idempotency_key"
        case .noEvents: "no_events"
        case .tooManyEvents: "too_many_events"
        case .emptyPayload: "empty_payload"
        case .payloadTooLarge: "payload_too_large"
        case .wrongExpectedVersion: "wrong_expected_version"
        case .idempotencyConflict: "idempotency_conflict"
        case .shutDown: "shutting_down"
        case .storage: "storage_failure"
        case .damaged: "storage_damaged"
        case .unavailable: "storage_unavailable"
        case .notWritable(let refusal): refusal.code
        }
    }

    public var description: String {
        switch self {
        case .invalidStreamName(let reason): "invalid stream name: \(reason)"
        case .invalidEventType(let index, let reason): "event \(index): invalid event type: \(reason)"
        case .invalidAuthor(let reason): "invalid author: \(reason)"
        case .invalidIdempotencyKey(let reason): "invalid idempotency key: \(reason)"
        case .noEvents: "an append carries at least one event"
        case .tooManyEvents(let count, let limit): "\(count) events in one append; the limit (eventsPerAppendMax) is \(limit)"
        case .emptyPayload(let index): "event \(index) has an empty payload"
        case .payloadTooLarge(let index, let bytes, let limit):
            "event \(index) has a payload of \(bytes) bytes; the limit (payloadBytesMax) is \(limit)"
        case .wrongExpectedVersion(_, let expected, let actual):
            // The stream name is the client's text (it could hold anything): not repeated.
            "the stream is at version \(actual), expected \(expected)"
        case .idempotencyConflict: "the idempotency key was already used for different content"
        case .shutDown: "the ledger is shutting down"
        case .storage(let cause): "storage failure: \(cause)"
        case .damaged(let cause): "\(cause); nothing was stored (fascicolo verify reports the damage)"
        case .unavailable(let why): "the disk refuses the log's writes (\(why)); nothing was stored, try again later"
        case .notWritable(let refusal): refusal.description
        }
    }
}

extension LedgerError {
    /// The error behind a storage failure or damage, kept as it was thrown.
    public struct Cause: Error, Sendable, Equatable, CustomStringConvertible {
        public let underlying: any Error

        public init(_ underlying: any Error) {
            self.underlying = underlying
        }

        /// Whether the stored bytes are not what was written (`DamagedData`, or an LMDB file
        /// that is not consistent), as opposed to a disk or a map that refuses work.
        public var isDamaged: Bool {
            if underlying is DamagedData { return true }
            return (underlying as? StorageError)?.code.meansDamagedData ?? false
        }

        public var description: String { "\(underlying)" }

        /// Storage errors compare by code, damage by table and problem, others by type.
        public static func == (lhs: Cause, rhs: Cause) -> Bool {
            switch (lhs.underlying, rhs.underlying) {
            case (let left as StorageError, let right as StorageError): left == right
            case (let left as DamagedData, let right as DamagedData): left == right
            default: type(of: lhs.underlying) == type(of: rhs.underlying)
            }
        }
    }

    /// Whether the store's data is damaged (see `Cause.isDamaged`); always for `.damaged`.
    public var isDamaged: Bool {
        switch self {
        case .damaged: true
        case .storage(let cause): cause.isDamaged
        default: false
        }
    }

    /// The error behind `.storage` or `.damaged`.
    public var cause: (any Error)? {
        switch self {
        case .storage(let cause), .damaged(let cause): cause.underlying
        default: nil
        }
    }
}

/// Input checks at the library boundary, run in the caller's task before anything is queued.
enum AppendValidation {
    static func validate(_ request: AppendRequest, limits: LedgerLimits) throws(LedgerError) {
        try validateStreamName(request.stream, limits: limits)
        guard !request.events.isEmpty else { throw .noEvents }
        guard request.events.count <= limits.eventsPerAppendMax else {
            throw .tooManyEvents(count: request.events.count, limit: limits.eventsPerAppendMax)
        }
        for (index, event) in request.events.enumerated() {
            if let reason = eventTypeProblem(event.type, limit: limits.eventTypeBytesMax) {
                throw .invalidEventType(index: index, reason: reason)
            }
            guard !event.payload.isEmpty else { throw .emptyPayload(index: index) }
            guard event.payload.count <= limits.payloadBytesMax else {
                throw .payloadTooLarge(index: index, bytes: event.payload.count, limit: limits.payloadBytesMax)
            }
        }
        let author = Array(request.author.utf8)
        guard !author.isEmpty, author.count <= limits.authorBytesMax else {
            throw .invalidAuthor("an author is 1 to \(limits.authorBytesMax) bytes")
        }
        guard author.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw .invalidAuthor("an author is printable ASCII")
        }
        if let key = request.idempotencyKey { try validateIdempotencyKey(key, limits: limits) }
    }

    static func validateIdempotencyKey(_ key: String, limits: LedgerLimits) throws(LedgerError) {
        let bytes = Array(key.utf8)
        guard !bytes.isEmpty, bytes.count <= limits.idempotencyKeyBytesMax else {
            throw .invalidIdempotencyKey("an idempotency key is 1 to \(limits.idempotencyKeyBytesMax) bytes")
        }
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw .invalidIdempotencyKey("an idempotency key is printable ASCII without spaces")
        }
    }

    static func validateStreamName(_ name: String, limits: LedgerLimits) throws(LedgerError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= limits.streamNameBytesMax else {
            throw .invalidStreamName("a stream name is 1 to \(limits.streamNameBytesMax) bytes")
        }
        guard isAlphanumeric(bytes[0]) else {
            throw .invalidStreamName("a stream name starts with an ASCII letter or digit")
        }
        // No "/": a stream name is one segment of the API's paths (/v1/streams/{stream}/events).
        let punctuation = Array("-_.:@".utf8)
        guard bytes.allSatisfy({ isAlphanumeric($0) || punctuation.contains($0) }) else {
            throw .invalidStreamName("a stream name uses only ASCII letters, digits and - _ . : @")
        }
    }

    static func eventTypeProblem(_ type: String, limit: Int) -> String? {
        let bytes = Array(type.utf8)
        guard !bytes.isEmpty, bytes.count <= limit else { return "an event type is 1 to \(limit) bytes" }
        guard isLetter(bytes[0]) else { return "an event type starts with an ASCII letter" }
        let punctuation = Array("-_.".utf8)
        guard bytes.allSatisfy({ isAlphanumeric($0) || punctuation.contains($0) }) else {
            return "an event type uses only ASCII letters, digits and - _ ."
        }
        return nil
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLetter(byte) || (0x30...0x39).contains(byte)
    }

    /// The digest that identifies an append's content for idempotency: SHA-256 over the stream,
    /// the author and each event's type and payload, each length-prefixed.
    static func contentDigest(_ request: AppendRequest) -> Digest {
        var hasher = SHA256()
        func add(_ bytes: [UInt8]) {
            var length = UInt32(bytes.count).bigEndian
            withUnsafeBytes(of: &length) { hasher.update($0) }
            hasher.update(bytes)
        }
        add(Array(request.stream.utf8))
        add(Array(request.author.utf8))
        for event in request.events {
            add(Array(event.type.utf8))
            add(event.payload)
        }
        return hasher.finalize()
    }
}

/// Whether the disk takes the log's writes.
public enum StorageHealth: Sendable, Equatable {
    case writable
    /// A commit failed (EIO, ENOSPC…) and nothing of it was acknowledged; appends are refused
    /// with `LedgerError.unavailable` until `retryAt` (monotonic), when one batch is tried again.
    case failing(since: Int64, reason: String, retryAt: UInt64)
    /// LMDB could not write its meta page and will not write again in this process: only a
    /// restart, which reopens the store at its last good meta page, recovers.
    case failed(since: Int64, reason: String)

    /// When the trouble began (Unix milliseconds); nil while writable.
    public var since: Int64? {
        switch self {
        case .writable: nil
        case .failing(let since, _, _), .failed(let since, _): since
        }
    }

    public var isWritable: Bool { self == .writable }
}
