import FascicoloCrypto
import FascicoloStorage

/// The `idempotency` table is outside the signed log, yet it decides answers: a retry is answered
/// from it, and a missing row lets a retry store its events twice. So its rows are sealed:
///
/// - each value is the record (digest 32 ‖ first position 8 ‖ first version 8 ‖ count 4) followed
///   by a 16-byte MAC over the table name, the key and the record;
/// - the `meta` row `idempotency_seal` holds the sum (mod 2^128) of every row's MAC, the number of
///   rows, and a MAC over both — so that a dropped, added or renamed row is found too, not only a
///   changed one.
///
/// The MAC key is derived from the signing key (`TableSealKey`): only who can sign the log can
/// seal its side tables, and a verifier holding `signing.key` can check them. Exact bytes in
/// Formats.md, "Sealed side tables".
struct IdempotencyRecord: Equatable {
    static let recordByteCount = 52
    static let sealedByteCount = recordByteCount + TableSealKey.macByteCount
    let digest: Digest
    let firstPosition: UInt64
    let firstVersion: UInt64
    let count: UInt32

    init(digest: Digest, firstPosition: UInt64, firstVersion: UInt64, count: UInt32) {
        self.digest = digest
        self.firstPosition = firstPosition
        self.firstVersion = firstVersion
        self.count = count
    }

    /// Reads a stored, sealed value; a bad length, a bad MAC or impossible numbers are damage.
    init(sealed value: [UInt8], key: [UInt8], seal: TableSealKey) throws(DamagedData) {
        guard value.count == Self.sealedByteCount else { throw DamagedData(table: "idempotency", what: "a row has the wrong length") }
        let record = Array(value[..<Self.recordByteCount])
        guard seal.mac(table: "idempotency", key: key, value: record) == Array(value[Self.recordByteCount...]) else {
            throw DamagedData(table: "idempotency", what: "a row's seal does not match")
        }
        try self.init(unsealed: record)
    }

    /// The record without its MAC (its first 52 bytes; all of a row written before rows were
    /// sealed), for a check that cannot open the seal (`fascicolo verify` without signing.key).
    init(unsealed record: some Collection<UInt8>) throws(DamagedData) {
        guard record.count >= Self.recordByteCount else { throw DamagedData(table: "idempotency", what: "a row has the wrong length") }
        (digest, firstPosition, firstVersion, count) = Array(record.prefix(Self.recordByteCount)).withUnsafeBytes { raw in
            (
                Digest(bytes: UnsafeRawBufferPointer(rebasing: raw[0..<32])),
                BigEndian.read(UInt64.self, from: raw, at: 32),
                BigEndian.read(UInt64.self, from: raw, at: 40),
                BigEndian.read(UInt32.self, from: raw, at: 48)
            )
        }
        guard count >= 1, firstVersion >= 1, firstPosition.addingReportingOverflow(UInt64(count)).overflow == false else {
            throw DamagedData(table: "idempotency", what: "a row's numbers are impossible")
        }
    }

    var bytes: [UInt8] {
        var bytes = digest.bytes
        BigEndian.append(firstPosition, to: &bytes)
        BigEndian.append(firstVersion, to: &bytes)
        BigEndian.append(count, to: &bytes)
        return bytes
    }

    func sealed(key: [UInt8], seal: TableSealKey) -> [UInt8] {
        let record = bytes
        return record + seal.mac(table: "idempotency", key: key, value: record)
    }
}

/// The MAC key of the sealed side tables, derived from the signing key: SHA-256 of the Ed25519
/// signature of `fascicolo/table-seal-key/v1` (Ed25519 signatures are deterministic, RFC 8032,
/// so the same key always derives the same MAC key, and nobody without the key can).
public struct TableSealKey: Sendable {
    static let macByteCount = 16
    private let key: SecretKey

    public init(signingKey: SigningKey) {
        var hasher = SHA256()
        hasher.update(signingKey.sign(Array("fascicolo/table-seal-key/v1".utf8)))
        key = SecretKey(bytes: hasher.finalize().bytes)!
    }

    /// HMAC-SHA-256(key, table ‖ 0x00 ‖ len(key) (u32 BE) ‖ key ‖ value), first 16 bytes.
    func mac(table: String, key rowKey: [UInt8], value: [UInt8]) -> [UInt8] {
        var message = Array(table.utf8) + [0]
        BigEndian.append(UInt32(rowKey.count), to: &message)
        message += rowKey
        message += value
        return Array(key.authenticate(message).prefix(Self.macByteCount))
    }
}

/// The sum of a table's row MACs (mod 2^128) and its row count, kept sealed in `meta`.
struct TableAggregate: Equatable {
    static let metaKey = Array("idempotency_seal".utf8)
    var high: UInt64 = 0
    var low: UInt64 = 0
    var rows: UInt64 = 0

    mutating func add(mac: [UInt8]) {
        let (macHigh, macLow) = mac.withUnsafeBytes {
            (BigEndian.read(UInt64.self, from: $0, at: 0), BigEndian.read(UInt64.self, from: $0, at: 8))
        }
        let (sum, carry) = low.addingReportingOverflow(macLow)
        low = sum
        high = high &+ macHigh &+ (carry ? 1 : 0)
        rows += 1
    }

    private var body: [UInt8] {
        var bytes: [UInt8] = []
        BigEndian.append(high, to: &bytes)
        BigEndian.append(low, to: &bytes)
        BigEndian.append(rows, to: &bytes)
        return bytes
    }

    func sealed(_ seal: TableSealKey) -> [UInt8] {
        body + seal.mac(table: "idempotency_seal", key: Self.metaKey, value: body)
    }

    init() {}

    init(sealed value: [UInt8], seal: TableSealKey) throws(DamagedData) {
        guard value.count == 24 + TableSealKey.macByteCount else {
            throw DamagedData(table: "meta", what: "idempotency_seal has the wrong length")
        }
        (high, low, rows) = value.withUnsafeBytes {
            (
                BigEndian.read(UInt64.self, from: $0, at: 0), BigEndian.read(UInt64.self, from: $0, at: 8),
                BigEndian.read(UInt64.self, from: $0, at: 16)
            )
        }
        guard seal.mac(table: "idempotency_seal", key: Self.metaKey, value: body) == Array(value[24...]) else {
            throw DamagedData(table: "meta", what: "idempotency_seal's seal does not match")
        }
    }
}

extension LedgerStore {
    /// Checks every idempotency row's seal and the table's aggregate; returns the aggregate.
    /// A table written before rows were sealed (every row 52 bytes, no aggregate) is sealed
    /// here once, when `migrate` (a writable open).
    func checkIdempotencySeal(_ seal: TableSealKey, migrate: Bool) throws -> TableAggregate {
        let stored = try environment.read { txn in try txn.get(meta, key: TableAggregate.metaKey) }
        if stored == nil, migrate {
            let legacy = try environment.read { txn in
                try txn.withCursor(idempotency) { cursor -> Bool in
                    var record = try cursor.first()
                    while let current = record {
                        guard current.value.count == IdempotencyRecord.recordByteCount else { return false }
                        record = try cursor.next()
                    }
                    return true
                }
            }
            if legacy {
                return try environment.write { txn in
                    var aggregate = TableAggregate()
                    var rows: [([UInt8], [UInt8])] = []
                    try txn.withCursor(idempotency) { cursor in
                        var record = try cursor.first()
                        while let current = record {
                            let value = Array(current.value)
                            let mac = seal.mac(table: "idempotency", key: Array(current.key), value: value)
                            aggregate.add(mac: mac)
                            rows.append((Array(current.key), value + mac))
                            record = try cursor.next()
                        }
                    }
                    for (key, value) in rows { try txn.put(idempotency, key: key, value: value) }
                    try txn.put(meta, key: TableAggregate.metaKey, value: aggregate.sealed(seal))
                    return aggregate
                }
            }
        }
        return try environment.read { txn in try checkIdempotencySeal(seal, in: txn) { _, _ in } }
    }

    /// Seals every row again with `next` (a key rotation), each row checked with `current` first:
    /// a damaged row stops the rotation instead of being sealed anew. All rows are held in memory
    /// (about 120 bytes a row): a rotation is rare, and LMDB forbids writing under an open cursor.
    func resealIdempotency(from current: TableSealKey, to next: TableSealKey, in txn: WriteTransaction) throws {
        var rows: [([UInt8], IdempotencyRecord)] = []
        try txn.withCursor(idempotency) { cursor in
            var record = try cursor.first()
            while let row = record {
                let key = Array(row.key)
                rows.append((key, try IdempotencyRecord(sealed: Array(row.value), key: key, seal: current)))
                record = try cursor.next()
            }
        }
        var aggregate = TableAggregate()
        for (key, record) in rows {
            let value = record.sealed(key: key, seal: next)
            aggregate.add(mac: Array(value[IdempotencyRecord.recordByteCount...]))
            try txn.put(idempotency, key: key, value: value)
        }
        try txn.put(meta, key: TableAggregate.metaKey, value: aggregate.sealed(next))
    }

    /// The seal check in one snapshot; `row` sees each record as it is checked.
    func checkIdempotencySeal(
        _ seal: TableSealKey, in txn: ReadTransaction,
        row: (_ key: [UInt8], IdempotencyRecord) throws -> Void
    ) throws -> TableAggregate {
        let expected =
            try txn.get(meta, key: TableAggregate.metaKey)
            .map { value throws(DamagedData) in try TableAggregate(sealed: value, seal: seal) } ?? TableAggregate()
        var actual = TableAggregate()
        try txn.withCursor(idempotency) { cursor in
            var record = try cursor.first()
            while let current = record {
                let key = Array(current.key)
                let value = Array(current.value)
                try row(key, try IdempotencyRecord(sealed: value, key: key, seal: seal))
                actual.add(mac: Array(value[IdempotencyRecord.recordByteCount...]))
                record = try cursor.next()
            }
        }
        guard actual == expected else {
            throw DamagedData(
                table: "idempotency",
                what: actual.rows == expected.rows
                    ? "the rows are not the ones sealed (a row was renamed or replaced)"
                    : "\(actual.rows) rows where \(expected.rows) were sealed (rows were dropped or added)")
        }
        return actual
    }
}
