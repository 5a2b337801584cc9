import FascicoloConcurrency
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// For compliance officers: who read each person's data, when and why (the RecordAccessed
/// entries of the access streams), and the registers of rectifications, voids, restrictions
/// (and their lifting) and erasures across all persons.
///
/// Who read a person's data needs no table: the log's own stream index lists the entries of
/// `access:<pseudonym>` (only the daemon writes there, one RecordAccessed per read), and a query
/// reads them up to the projection's position, in the same snapshot. The registers span every
/// person, so they are a table, an index of the log too (empty values).
///
/// Tables:
/// - `registers`: register name (`rectifications`, `voids`, `restrictions`, `erasures`, `holds`)
///   ‖ 0x00 ‖ position (u64 BE) → empty. Answered as `RegisterRow`s — their `data` is the clear part of
///   the correcting entry (rectified values are sealed and not there).
///
/// - `holds`: pseudonym (16) ‖ stream version of a LegalHoldPlaced (u64 BE) → its position (u64
///   BE), while the hold is in force (issue 21; a LegalHoldReleased deletes the row).
///
/// Accesses are answered as `Access`es.
public final class Compliance: Projection {
    public static let name = "compliance"
    /// 3: the holds register and the holds in force (issue 21).
    public static let version = 3
    public static let tables = ["registers", "holds"]
    static let registers = 0
    static let holds = 1

    static func register(of kind: EventKind) -> String? {
        switch kind {
        case .rectified: "rectifications"
        case .voided: "voids"
        case .restricted, .restrictionLifted: "restrictions"
        case .erasureExecuted: "erasures"
        case .legalHoldPlaced, .legalHoldReleased: "holds"
        default: nil
        }
    }
    public static let registerNames = ["rectifications", "voids", "restrictions", "erasures", "holds"]

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        guard case .person(let person) = event.subject, let register = Self.register(of: event.kind) else { return }
        rows.put(Self.registers, Self.registerKey(register, event.position), [])
        switch event.kind {
        case .legalHoldPlaced:
            rows.put(Self.holds, person.bytes + BigEndian.bytes(event.streamVersion), BigEndian.bytes(event.position))
        case .legalHoldReleased:
            if let hold = event.fact?.reference { rows.delete(Self.holds, person.bytes + BigEndian.bytes(hold)) }
        default:
            break
        }
    }

    /// The legal holds in force (their LegalHoldPlaced entries), by pseudonym then version: at
    /// most `limit`, and whether more are in force.
    public static func holdsInForce(_ view: ProjectionView, limit: Int) throws -> (holds: [RegisterRow], more: Bool) {
        var positions: [UInt64] = []
        var more = false
        try view.transaction.withCursor(view.tables[holds]) { cursor in
            var record = try cursor.first()
            while let current = record {
                if positions.count == limit {
                    more = true
                    return
                }
                guard let position = BigEndian.uint64(current.value) else { throw ProjectionFailure("a compliance hold row is unreadable") }
                positions.append(position)
                record = try cursor.next()
            }
        }
        let rows = try positions.map { position in
            guard let event = try view.log.event(at: position), case .person(let person) = event.subject else {
                throw ProjectionFailure("a compliance hold row points at no person's entry")
            }
            return RegisterRow(
                position: event.position, recordedAtMilliseconds: event.recordedAtMilliseconds, person: person,
                version: event.streamVersion, type: event.type, author: event.author,
                operatorID: event.payload?.actor["operator"]?.string, data: event.payload?.data ?? [])
        }
        return (rows, more)
    }

    static func registerKey(_ register: String, _ position: UInt64) -> [UInt8] {
        var key = Array(register.utf8) + [0]
        BigEndian.append(position, to: &key)
        return key
    }

    // MARK: - Queries

    /// One read of a person's data: a RecordAccessed entry of their access stream.
    public struct Access: Sendable {
        public let position: UInt64
        public let recordedAtMilliseconds: Int64
        /// Who read (the entry's author, `uid:N/service`).
        public let author: String
        public let role: String?
        /// What was read (`case_file`, `timeline`, `log`…).
        public let what: String?
        public let purpose: String?
        /// How many entries the read served.
        public let entries: Int?
        /// The operator the service read for, when it said.
        public let operatorID: String?
        /// The ambiti of a scoped service (empty: not scoped, or recorded before issue 19).
        public let ambiti: [String]
    }

    /// Who read the person's data, oldest first, from `position` on.
    public static func accesses(_ view: ProjectionView, person: Pseudonym, from position: UInt64, limit: Int) throws -> [Access] {
        try view.log.positions(of: person.accessStream, from: position, below: view.position, limit: limit).map { entryPosition in
            guard let event = try view.log.event(at: entryPosition), event.kind == .recordAccessed else {
                throw ProjectionFailure("an access stream holds an entry that is not a RecordAccessed")
            }
            return try access(view, at: entryPosition)
        }
    }

    private static func access(_ view: ProjectionView, at position: UInt64) throws -> Access {
        guard let event = try view.log.event(at: position), event.kind == .recordAccessed else {
            throw ProjectionFailure("an access stream holds an entry that is not a RecordAccessed")
        }
        return Access(
            position: event.position, recordedAtMilliseconds: event.recordedAtMilliseconds, author: event.author,
            role: event.data("role")?.string, what: event.data("what")?.string, purpose: event.data("purpose")?.string,
            entries: event.data("entries")?.int, operatorID: event.payload?.actor["operator"]?.string,
            ambiti: event.data("ambiti")?.array?.compactMap(\.string) ?? [])
    }

    /// A page of the person's own listing of who read their file: the reads recorded from
    /// `fromMilliseconds` to before `toMilliseconds`, newest first, at positions below `before`
    /// (a page's `next`), at most `limit`. At most `scanMax` entries are looked at per page, so
    /// a window far in the past of a long access stream costs pages, not one long read.
    public struct ReadsPage: Sendable {
        public let reads: [Access]
        /// Where the next page starts (`before`); nil when the window holds no more.
        public let next: UInt64?
    }

    public static func reads(
        _ view: ProjectionView, person: Pseudonym, before: UInt64?, fromMilliseconds: Int64, toMilliseconds: Int64, limit: Int,
        scanMax: Int = 10_000
    ) throws -> ReadsPage {
        let end = min(before ?? view.position, view.position)
        let positions = try view.log.positionsNewestFirst(of: person.accessStream, below: end, limit: scanMax)
        var reads: [Access] = []
        for (index, position) in positions.enumerated() {
            if reads.count == limit { return ReadsPage(reads: reads, next: position + 1) }
            let access = try access(view, at: position)
            // The writer stamps times in order, so an older read ends the window.
            if access.recordedAtMilliseconds < fromMilliseconds { return ReadsPage(reads: reads, next: nil) }
            if access.recordedAtMilliseconds < toMilliseconds { reads.append(access) }
            if index == positions.count - 1 && positions.count == scanMax {
                return ReadsPage(reads: reads, next: position)
            }
        }
        return ReadsPage(reads: reads, next: nil)
    }

    /// One entry of a register: a correction (or erasure) of a person's record.
    public struct RegisterRow: Sendable {
        public let position: UInt64
        public let recordedAtMilliseconds: Int64
        public let person: Pseudonym
        /// The entry's version in the person's stream.
        public let version: UInt64
        public let type: String
        public let author: String
        public let operatorID: String?
        /// The clear part of the correcting entry (target, field, reason, ground…).
        public let data: [(key: String, value: JSON)]
    }

    /// One register, oldest first, from `position` on.
    public static func register(_ view: ProjectionView, _ name: String, from position: UInt64, limit: Int) throws -> [RegisterRow] {
        try rows(view, registers, prefix: Array(name.utf8) + [0], from: position, limit: limit).map { event in
            // Only person entries are listed (`apply`).
            guard case .person(let person) = event.subject else { throw ProjectionFailure("a compliance row points at no person's entry") }
            return RegisterRow(
                position: event.position, recordedAtMilliseconds: event.recordedAtMilliseconds, person: person,
                version: event.streamVersion, type: event.type, author: event.author,
                operatorID: event.payload?.actor["operator"]?.string, data: event.payload?.data ?? [])
        }
    }

    /// The entries listed under `prefix` in `table` (keys end with a position), from `position` on.
    private static func rows(_ view: ProjectionView, _ table: Int, prefix: [UInt8], from position: UInt64, limit: Int) throws
        -> [ProjectedEvent]
    {
        var events: [ProjectedEvent] = []
        try view.transaction.withCursor(view.tables[table]) { cursor in
            var record = try cursor.seek(atOrAfter: prefix + BigEndian.bytes(position))
            while let current = record, events.count < limit, current.key.count == prefix.count + 8, current.key.starts(with: prefix) {
                guard let entryPosition = BigEndian.uint64(current.key.dropFirst(prefix.count)),
                    let event = try view.log.event(at: entryPosition)
                else {
                    throw ProjectionFailure("a compliance row points at no entry of the log")
                }
                events.append(event)
                record = try cursor.next()
            }
        }
        return events
    }
}
