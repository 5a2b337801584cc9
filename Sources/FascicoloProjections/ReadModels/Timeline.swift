import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// A person's timeline: every entry of their person stream in order, grouped in case files
/// (a case file starts at CaseOpened or CaseTransferredIn), with the corrections applied to it
/// shown on the entry they correct, and the person's erasure marked.
///
/// The rows index the log rather than copy it: a query reads each entry's clear part from the
/// log (through the same snapshot), so a replay writes 16 bytes per entry (and its key) instead of
/// the payload again, and the clear data has one source.
///
/// Rows (`entries`): pseudonym (16 bytes) ‖ stream version (u64 BE) → `TimelineRow`, binary:
/// position ‖ case file (u64 BE each), then — only for a row that corrects or was corrected —
/// target ‖ voidedBy ‖ restrictedBy ‖ restrictionLiftedBy (u64 BE; 0 = none) ‖ rectifiedBy (u64
/// BE each, zero or more). `target` is the version a correction points at; the marks name the
/// versions of the entries that corrected this one.
/// `persons`: pseudonym → case files (u64 BE) ‖ erased (1 byte: 0 or 1); written with the
/// person's first entry and when it changes (the entry count is the version of the last row).
public final class Timeline: Projection {
    public static let name = "timeline"
    public static let version = 2
    public static let tables = ["entries", "persons"]
    static let entries = 0
    static let persons = 1

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        guard case .person(let person) = event.subject else { return }
        var summary = try Self.summary(person, rows)
        let before = summary
        if event.kind == .caseOpened || event.kind == .caseTransferredIn { summary.caseFiles += 1 }
        if event.kind == .erasureExecuted { summary.erased = true }
        // Written when it changes, and with the first entry (the person exists from then on).
        if summary != before || event.streamVersion == 1 { rows.put(Self.persons, person.bytes, summary.bytes) }
        let target = Self.corrections.contains(event.kind) ? event.fact?.reference : nil
        rows.put(Self.entries, Self.key(person, event.streamVersion),
                 TimelineRow(position: event.position, caseFile: summary.caseFiles, target: target ?? 0).bytes)

        guard let target else { return }
        var corrected = try Self.row(person, target, rows, event)
        switch event.kind {
        case .voided: corrected.voidedBy = event.streamVersion
        case .rectified: corrected.rectifiedBy.append(event.streamVersion)
        case .restricted: corrected.restrictedBy = event.streamVersion
        default:
            // RestrictionLifted points at the Restricted entry; the entry that one restricted
            // is restricted no more.
            corrected.restrictionLiftedBy = event.streamVersion
            if corrected.target != 0 {
                var restricted = try Self.row(person, corrected.target, rows, event)
                restricted.restrictedBy = 0
                rows.put(Self.entries, Self.key(person, corrected.target), restricted.bytes)
            }
        }
        rows.put(Self.entries, Self.key(person, target), corrected.bytes)
    }

    private static let corrections = EventKinds(.voided, .rectified, .restricted, .restrictionLifted)

    private static func row(_ person: Pseudonym, _ version: UInt64, _ rows: ProjectionRows, _ event: ProjectedEvent) throws -> TimelineRow {
        guard let stored = try rows.get(entries, key(person, version)), let row = TimelineRow(stored) else {
            throw ProjectionFailure("\(event.type) at position \(event.position) points at a version the timeline does not have")
        }
        return row
    }

    static func key(_ person: Pseudonym, _ version: UInt64) -> [UInt8] {
        var key = person.bytes
        BigEndian.append(version, to: &key)
        return key
    }

    /// `persons` rows: case files (u64 BE) ‖ erased (1 byte).
    struct Summary: Equatable {
        var caseFiles: UInt64 = 0
        var erased = false

        var bytes: [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(9)
            BigEndian.append(caseFiles, to: &bytes)
            bytes.append(erased ? 1 : 0)
            return bytes
        }

        init() {}

        init?(_ bytes: [UInt8]) {
            guard bytes.count == 9, let caseFiles = BigEndian.uint64(bytes[0..<8]) else { return nil }
            self.caseFiles = caseFiles
            erased = bytes[8] == 1
        }
    }

    private static func summary(_ person: Pseudonym, _ rows: ProjectionRows) throws -> Summary {
        guard let stored = try rows.get(persons, person.bytes) else { return Summary() }
        guard let summary = Summary(stored) else { throw ProjectionFailure("a timeline person row is unreadable") }
        return summary
    }

    // MARK: - Queries

    /// A page of the person's timeline: the summary and up to `limit` rows from `version` on,
    /// each the JSON object `{"version","position","type","recordedAt","caseFile","occurredAt",
    /// "actor","data","sealed"?,"voidedBy"?,"rectifiedBy"?,"restrictedBy"?,"restrictionLiftedBy"?}`
    /// (`data` is the clear part; `sealed` says there are personal fields, left in the log).
    public static func read(_ view: ProjectionView, person: Pseudonym, from version: UInt64, limit: Int) throws -> TimelinePage? {
        guard let summaryBytes = try view.transaction.get(view.tables[persons], key: person.bytes),
              let summary = Summary(summaryBytes) else { return nil }
        var rows: [JSON] = []
        var entryCount: UInt64 = 0
        try view.transaction.withCursor(view.tables[entries]) { cursor in
            // The entry count is the version of the person's last row (versions run 1, 2, 3…).
            let afterLast = try cursor.seek(atOrAfter: key(person, .max))
            if let last = try afterLast == nil ? cursor.last() : cursor.previous(), last.key.starts(with: person.bytes) {
                entryCount = BigEndian.uint64(last.key.dropFirst(Pseudonym.byteCount)) ?? 0
            }
            var record = try cursor.seek(atOrAfter: key(person, max(version, 1)))
            while let current = record, rows.count < limit, current.key.starts(with: person.bytes) {
                guard let row = TimelineRow(current.value), let event = try view.log.event(at: row.position) else {
                    throw ProjectionFailure("a timeline row points at no entry of the log")
                }
                rows.append(json(event, row))
                record = try cursor.next()
            }
        }
        return TimelinePage(entries: entryCount, caseFiles: summary.caseFiles, erased: summary.erased, rows: rows,
                            position: view.position)
    }

    private static func json(_ event: ProjectedEvent, _ row: TimelineRow) -> JSON {
        var members: [(key: String, value: JSON)] = [
            ("version", .number(String(event.streamVersion))), ("position", .number(String(event.position))),
            ("type", .string(event.type)), ("recordedAt", .string(Timestamp.iso8601(milliseconds: event.recordedAtMilliseconds))),
            ("caseFile", .number(String(row.caseFile))),
        ]
        if let payload = event.payload {
            members += [("occurredAt", .string(payload.occurredAt)), ("actor", payload.actor), ("data", .object(payload.data))]
            if payload.isSealed { members.append(("sealed", .bool(true))) }
        }
        if row.voidedBy != 0 { members.append(("voidedBy", .number(String(row.voidedBy)))) }
        if !row.rectifiedBy.isEmpty { members.append(("rectifiedBy", .array(row.rectifiedBy.map { .number(String($0)) }))) }
        if row.restrictedBy != 0 { members.append(("restrictedBy", .number(String(row.restrictedBy)))) }
        if row.restrictionLiftedBy != 0 { members.append(("restrictionLiftedBy", .number(String(row.restrictionLiftedBy)))) }
        return .object(members)
    }
}

/// One `entries` row of the timeline (see `Timeline`).
struct TimelineRow {
    var position: UInt64
    var caseFile: UInt64
    var target: UInt64 = 0
    var voidedBy: UInt64 = 0
    var restrictedBy: UInt64 = 0
    var restrictionLiftedBy: UInt64 = 0
    var rectifiedBy: [UInt64] = []

    init(position: UInt64, caseFile: UInt64, target: UInt64) {
        self.position = position
        self.caseFile = caseFile
        self.target = target
    }

    init?(_ bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        guard bytes.count == 16 || (bytes.count >= 48 && bytes.count % 8 == 0) else { return nil }
        let words = stride(from: 0, to: bytes.count, by: 8).map { BigEndian.uint64(bytes[$0..<($0 + 8)]) ?? 0 }
        (position, caseFile) = (words[0], words[1])
        guard words.count > 2 else { return }
        (target, voidedBy, restrictedBy, restrictionLiftedBy) = (words[2], words[3], words[4], words[5])
        rectifiedBy = Array(words[6...])
    }

    /// 16 bytes for the many rows neither correcting nor corrected, 48 or more for the others.
    var bytes: [UInt8] {
        let plain = target == 0 && voidedBy == 0 && restrictedBy == 0 && restrictionLiftedBy == 0 && rectifiedBy.isEmpty
        let words = plain ? [position, caseFile] : [position, caseFile, target, voidedBy, restrictedBy, restrictionLiftedBy] + rectifiedBy
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 * words.count)
        for word in words { BigEndian.append(word, to: &bytes) }
        return bytes
    }
}

public struct TimelinePage: Sendable {
    public let entries: UInt64
    public let caseFiles: UInt64
    public let erased: Bool
    /// The rows as `Timeline.read` answers them, oldest first.
    public let rows: [JSON]
    /// Entries of the log reflected: every position below this one.
    public let position: UInt64
}
