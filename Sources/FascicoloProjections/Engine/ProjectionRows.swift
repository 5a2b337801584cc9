import FascicoloDomain
import FascicoloLedger
import FascicoloStorage
import Glibc

/// A projection's view of its own tables while it applies a batch: reads see the rows as of the
/// batch's start plus the changes made since; changes are kept in memory until the engine writes
/// them, all in one transaction with the projection's checkpoint.
///
/// Changes made while applying one entry can be undone (`rollBackEntry`), so that a projection
/// that fails on an entry stops exactly before it.
public struct ProjectionRows {
    let transaction: ReadTransaction
    let tables: [Table]
    /// The log, for projections that must look back at earlier entries (through the same snapshot).
    public let log: LogSnapshot
    /// Per table: key → new value, or nil for a deletion.
    private(set) var changes: [[RowKey: [UInt8]?]]
    /// Per change made for the current entry: what the overlay held before (`.none`: nothing).
    private var undo: [(table: Int, key: RowKey, previous: [UInt8]??)] = []

    /// Changes of the previous batch, still being written while this one is applied.
    private let underlay: [[RowKey: [UInt8]?]]?

    init(transaction: ReadTransaction, tables: [Table], log: LogSnapshot, underlay: [[RowKey: [UInt8]?]]? = nil) {
        self.transaction = transaction
        self.tables = tables
        self.log = log
        self.underlay = underlay
        self.changes = Array(repeating: [:], count: tables.count)
    }

    /// The value under `key` in the projection's table number `table`.
    public func get(_ table: Int, _ key: [UInt8]) throws -> [UInt8]? {
        let rowKey = RowKey(key)
        if let changed = changes[table][rowKey] ?? underlay?[table][rowKey] { return changed }
        return try transaction.get(tables[table], key: key)
    }

    public mutating func put(_ table: Int, _ key: [UInt8], _ value: [UInt8]) {
        let key = RowKey(key)
        undo.append((table, key, changes[table].updateValue(value, forKey: key)))
    }

    public mutating func delete(_ table: Int, _ key: [UInt8]) {
        let key = RowKey(key)
        undo.append((table, key, changes[table].updateValue([UInt8]?.none, forKey: key)))
    }

    /// Adds `delta` to the 64-bit counters stored (big-endian) under `key`, with as many counters
    /// as `delta` has; a row whose counters all reach zero is deleted. A sum beyond 64 bits fails
    /// the entry (`ProjectionFailure`) rather than trapping: a trap would stop the daemon, and
    /// the same entry would stop it again at every start.
    public mutating func add(_ table: Int, _ key: [UInt8], _ delta: [Int64]) throws {
        var counters = [Int64](repeating: 0, count: delta.count)
        if let stored = try get(table, key) {
            for index in 0..<min(delta.count, stored.count / 8) {
                counters[index] = Int64(bitPattern: BigEndian.uint64(stored[(index * 8)..<(index * 8 + 8)]) ?? 0)
            }
        }
        for index in counters.indices {
            let (sum, overflow) = counters[index].addingReportingOverflow(delta[index])
            guard !overflow else { throw ProjectionFailure("a counter would pass 64 bits") }
            counters[index] = sum
        }
        if counters.allSatisfy({ $0 == 0 }) {
            delete(table, key)
        } else {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(8 * counters.count)
            for counter in counters { BigEndian.append(UInt64(bitPattern: counter), to: &bytes) }
            put(table, key, bytes)
        }
    }

    mutating func beginEntry() { undo.removeAll(keepingCapacity: true) }

    mutating func rollBackEntry() {
        for change in undo.reversed() {
            if let previous = change.previous {
                changes[change.table][change.key] = .some(previous)
            } else {
                changes[change.table].removeValue(forKey: change.key)
            }
        }
        undo.removeAll()
    }

    /// Writes the changes, each table in key order (LMDB inserts in order fastest).
    func write(to txn: WriteTransaction) throws {
        for (index, table) in tables.enumerated() {
            for (key, value) in changes[index].sorted(by: { $0.key < $1.key }) {
                if let value {
                    try txn.put(table, key: key.bytes, value: value)
                } else {
                    try txn.delete(table, key: key.bytes)
                }
            }
        }
    }
}

/// A row key, hashed and ordered in one pass over its bytes (an array of bytes hashes and
/// compares them one at a time). Ordered as LMDB orders keys: bytewise, a prefix first.
struct RowKey: Hashable, Comparable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }

    static func == (lhs: RowKey, rhs: RowKey) -> Bool {
        lhs.bytes.count == rhs.bytes.count && compare(lhs, rhs) == 0
    }

    static func < (lhs: RowKey, rhs: RowKey) -> Bool {
        let order = compare(lhs, rhs)
        return order != 0 ? order < 0 : lhs.bytes.count < rhs.bytes.count
    }

    /// memcmp over the common length.
    private static func compare(_ lhs: RowKey, _ rhs: RowKey) -> Int32 {
        lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in
                let common = min(left.count, right.count)
                return common == 0 ? 0 : memcmp(left.baseAddress!, right.baseAddress!, common)
            }
        }
    }
}

/// Earlier entries of the log, as of the snapshot a batch is applied in.
public struct LogSnapshot {
    let ledger: LedgerSnapshot
    let reference: ReferenceData

    /// The entry at `position`, decoded in full (as queries show it); nil past the end of the snapshot.
    public func event(at position: UInt64) throws -> ProjectedEvent? {
        try decode(at: position, .full)
    }

    /// The entry of `stream` at `version`, decoded for applying (`ProjectedEvent.Detail.applying`).
    public func event(of stream: String, version: UInt64) throws -> ProjectedEvent? {
        try position(of: Array(stream.utf8), version: version).flatMap { try decode(at: $0, .applying) }
    }

    /// The entries of `stream` at positions before `position`, oldest first, decoded for applying.
    public func events(of stream: String, before position: UInt64) throws -> [ProjectedEvent] {
        try positions(of: stream, from: 0, below: position, limit: .max).compactMap { try decode(at: $0, .applying) }
    }

    /// The positions of `stream`'s entries from `start` up to (not including) `end`, oldest
    /// first, at most `limit` — read from the log's stream index. The first one is found by a
    /// binary search over the stream's versions (positions grow with them), so a page deep in a
    /// long stream costs a few lookups, not a scan from its start.
    public func positions(of stream: String, from start: UInt64, below end: UInt64, limit: Int) throws -> [UInt64] {
        let name = Array(stream.utf8)
        return try positions(of: name, fromVersion: try firstVersion(of: name, atOrAfter: start), below: end, limit: limit)
    }

    /// The positions of `stream`'s entries from version `version` on, below `end`, at most `limit`.
    public func positions(of stream: String, fromVersion version: UInt64, below end: UInt64, limit: Int) throws -> [UInt64] {
        try positions(of: Array(stream.utf8), fromVersion: version, below: end, limit: limit)
    }

    /// The positions of `stream`'s entries below `end`, newest first, at most `limit`.
    public func positionsNewestFirst(of stream: String, below end: UInt64, limit: Int) throws -> [UInt64] {
        let name = Array(stream.utf8)
        var version = try firstVersion(of: name, atOrAfter: end)
        var positions: [UInt64] = []
        while version > 1, positions.count < limit {
            version -= 1
            guard let found = try position(of: name, version: version) else { break }
            positions.append(found)
        }
        return positions
    }

    /// How many of `stream`'s entries lie at positions below `end`.
    public func count(of stream: String, below end: UInt64) throws -> UInt64 {
        try firstVersion(of: Array(stream.utf8), atOrAfter: end) - 1
    }

    private func positions(of name: [UInt8], fromVersion first: UInt64, below end: UInt64, limit: Int) throws -> [UInt64] {
        let count = try streamVersion(name)
        var positions: [UInt64] = []
        var version = max(first, 1)
        while version <= count, positions.count < limit {
            // A version missing from the index (never, in a log that verifies) ends the list.
            guard let found = try position(of: name, version: version), found < end else { break }
            positions.append(found)
            version += 1
        }
        return positions
    }

    /// The stream's first version whose entry lies at `position` or later (its version count + 1 if none).
    private func firstVersion(of name: [UInt8], atOrAfter position: UInt64) throws -> UInt64 {
        let count = try streamVersion(name)
        // A version missing from the index (never, in a log that verifies) reads as past the end.
        func at(_ version: UInt64) throws -> UInt64 { try self.position(of: name, version: version) ?? .max }
        var low: UInt64 = 1
        var high = count + 1
        while low < high {
            let middle = low + (high - low) / 2
            if try at(middle) < position { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The stream's current version in the snapshot (0 for a stream with no entry).
    private func streamVersion(_ name: [UInt8]) throws -> UInt64 {
        try ledger.streamVersion(name)
    }

    /// The log position of `stream`'s entry at `version`, from the stream index.
    private func position(of stream: [UInt8], version: UInt64) throws -> UInt64? {
        try ledger.position(ofStream: stream, version: version)
    }

    private func decode(at position: UInt64, _ detail: ProjectedEvent.Detail) throws -> ProjectedEvent? {
        try ledger.withEntry(at: position) { ProjectedEvent($0, reference: reference, detail: detail) }
    }
}
