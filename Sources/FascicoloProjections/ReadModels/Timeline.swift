import FascicoloConcurrency
import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// A person's timeline: every entry of their person stream in order, grouped in case files
/// (a case file starts at CaseOpened or CaseTransferredIn), with the corrections applied to it
/// shown on the entry they correct, and the person's erasure marked.
///
/// The rows hold only what the log does not say by itself: the entries are the person's
/// stream, which a query reads from the log (its stream index, in the same snapshot); rows are
/// written for the few entries that open a case file or take part in a correction. A replay
/// writes nothing for most entries.
///
/// Rows (`caseFiles`): pseudonym (16 bytes) ‖ stream version (u64 BE) of a CaseOpened or
/// CaseTransferredIn → the number of the case file it opens (u64 BE, from 1).
/// `corrections`: pseudonym ‖ stream version → `TimelineMarks`, binary: target ‖ voidedBy ‖
/// restrictedBy ‖ restrictionLiftedBy (u64 BE; 0 = none) ‖ rectifiedBy (u64 BE each, zero or
/// more), for an entry that corrects another (`target`: the version it points at) or was
/// corrected (the marks: the versions of the entries that corrected it).
/// `persons`: pseudonym → case files (u64 BE) ‖ erased (1 byte: 0 or 1); written with the
/// person's first entry and when it changes.
public final class Timeline: Projection {
    public static let name = "timeline"
    public static let version = 3
    public static let tables = ["caseFiles", "corrections", "persons"]
    static let caseFiles = 0
    static let corrections = 1
    static let persons = 2

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        guard case .person(let person) = event.subject else { return }
        let opensCaseFile = event.kind == .caseOpened || event.kind == .caseTransferredIn
        let target = Self.correctionKinds.contains(event.kind) ? event.fact?.reference : nil
        // Most entries change nothing here.
        guard event.streamVersion == 1 || opensCaseFile || event.kind == .erasureExecuted || target != nil else { return }
        var summary = try Self.summary(person, rows)
        let before = summary
        if opensCaseFile {
            summary.caseFiles += 1
            rows.put(Self.caseFiles, Self.key(person, event.streamVersion), BigEndian.bytes(summary.caseFiles))
        }
        if event.kind == .erasureExecuted { summary.erased = true }
        // Written when it changes, and with the first entry (the person exists from then on).
        if summary != before || event.streamVersion == 1 { rows.put(Self.persons, person.bytes, summary.bytes) }

        guard let target else { return }
        guard target >= 1, target < event.streamVersion else {
            throw ProjectionFailure("\(event.type) at position \(event.position) points at version \(target), not an earlier entry")
        }
        var own = try Self.marks(person, event.streamVersion, rows)
        own.target = target
        rows.put(Self.corrections, Self.key(person, event.streamVersion), own.bytes)
        var corrected = try Self.marks(person, target, rows)
        switch event.kind {
        case .voided: corrected.voidedBy = event.streamVersion
        case .rectified: corrected.rectifiedBy.append(event.streamVersion)
        case .restricted: corrected.restrictedBy = event.streamVersion
        default:
            // RestrictionLifted points at the Restricted entry; the entry that one restricted
            // is restricted no more.
            corrected.restrictionLiftedBy = event.streamVersion
            if corrected.target != 0 {
                var restricted = try Self.marks(person, corrected.target, rows)
                restricted.restrictedBy = 0
                rows.put(Self.corrections, Self.key(person, corrected.target), restricted.bytes)
            }
        }
        rows.put(Self.corrections, Self.key(person, target), corrected.bytes)
    }

    private static let correctionKinds = EventKinds(.voided, .rectified, .restricted, .restrictionLifted)

    /// The marks of the entry at `version` (none yet: all zero).
    private static func marks(_ person: Pseudonym, _ version: UInt64, _ rows: ProjectionRows) throws -> TimelineMarks {
        guard let stored = try rows.get(corrections, key(person, version)) else { return TimelineMarks() }
        guard let marks = TimelineMarks(stored) else { throw ProjectionFailure("a timeline corrections row is unreadable") }
        return marks
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

    /// A page of the person's timeline: the summary and up to `limit` rows from `version` on
    /// (`TimelineRow`: the clear part of each entry, its case file and the corrections marked).
    /// Entries are those the rows reflect: at positions below the view's.
    public static func read(_ view: ProjectionView, person: Pseudonym, from version: UInt64, limit: Int) throws -> TimelinePage? {
        guard let summaryBytes = try view.transaction.get(view.tables[persons], key: person.bytes),
            let summary = Summary(summaryBytes)
        else { return nil }
        let stream = person.stream
        let first = min(max(version, 1), .max - 1)
        let entryCount = try view.log.count(of: stream, below: view.position)
        let positions = try view.log.positions(of: stream, fromVersion: first, below: view.position, limit: limit)
        let last = first + UInt64(positions.count)
        // The case file of the first entry on the page: the last one opened at or before it.
        var caseFileOpenings: [(version: UInt64, number: UInt64)] = []
        var marks: [UInt64: TimelineMarks] = [:]
        try view.transaction.withCursor(view.tables[caseFiles]) { cursor in
            var record = try cursor.seek(atOrAfter: key(person, first + 1))
            // The opening before the page, if any.
            if let previous = try record == nil ? cursor.last() : cursor.previous(), previous.key.starts(with: person.bytes),
                let opened = BigEndian.uint64(previous.key.dropFirst(Pseudonym.byteCount)), let number = BigEndian.uint64(previous.value)
            {
                caseFileOpenings.append((opened, number))
            }
            record = try cursor.seek(atOrAfter: key(person, first + 1))
            while let current = record, current.key.starts(with: person.bytes),
                let opened = BigEndian.uint64(current.key.dropFirst(Pseudonym.byteCount)), opened < last
            {
                caseFileOpenings.append((opened, BigEndian.uint64(current.value) ?? 0))
                record = try cursor.next()
            }
        }
        try view.transaction.withCursor(view.tables[corrections]) { cursor in
            var record = try cursor.seek(atOrAfter: key(person, first))
            while let current = record, current.key.starts(with: person.bytes),
                let corrected = BigEndian.uint64(current.key.dropFirst(Pseudonym.byteCount)), corrected < last
            {
                guard let row = TimelineMarks(current.value) else { throw ProjectionFailure("a timeline corrections row is unreadable") }
                marks[corrected] = row
                record = try cursor.next()
            }
        }
        var rows: [TimelineRow] = []
        var opening = 0
        for (offset, position) in positions.enumerated() {
            let entryVersion = first + UInt64(offset)
            while opening + 1 < caseFileOpenings.count && caseFileOpenings[opening + 1].version <= entryVersion { opening += 1 }
            let caseFile =
                caseFileOpenings.indices.contains(opening) && caseFileOpenings[opening].version <= entryVersion
                ? caseFileOpenings[opening].number : 0
            guard let event = try view.log.event(at: position) else {
                throw ProjectionFailure("the person's stream points at no entry of the log")
            }
            rows.append(row(event, caseFile: caseFile, marks: marks[entryVersion] ?? TimelineMarks()))
        }
        return TimelinePage(
            entries: entryCount, caseFiles: summary.caseFiles, erased: summary.erased, rows: rows,
            position: view.position)
    }

    private static func row(_ event: ProjectedEvent, caseFile: UInt64, marks: TimelineMarks) -> TimelineRow {
        func mark(_ version: UInt64) -> UInt64? { version != 0 ? version : nil }
        return TimelineRow(
            version: event.streamVersion, position: event.position, type: event.type,
            recordedAtMilliseconds: event.recordedAtMilliseconds, caseFile: caseFile,
            content: event.payload.map {
                TimelineRow.Content(occurredAt: $0.occurredAt, actor: $0.actor, data: $0.data, sealed: $0.isSealed)
            },
            voidedBy: mark(marks.voidedBy), rectifiedBy: marks.rectifiedBy, restrictedBy: mark(marks.restrictedBy),
            restrictionLiftedBy: mark(marks.restrictionLiftedBy))
    }
}

/// One entry of a person's timeline, as `Timeline.read` answers it.
public struct TimelineRow: Sendable, Equatable {
    public let version: UInt64
    public let position: UInt64
    public let type: String
    public let recordedAtMilliseconds: Int64
    /// The number of the case file the entry belongs to (0: before the first).
    public let caseFile: UInt64
    /// The clear part of the domain payload; nil when the entry's payload is not one.
    public let content: Content?
    /// The versions of the entries that voided, rectified, restricted the entry, or lifted its restriction.
    public let voidedBy: UInt64?
    public let rectifiedBy: [UInt64]
    public let restrictedBy: UInt64?
    public let restrictionLiftedBy: UInt64?

    public struct Content: Sendable, Equatable {
        public let occurredAt: String
        public let actor: JSON
        /// The clear fields.
        public let data: [(key: String, value: JSON)]
        /// Whether the entry has personal fields (sealed, left in the log).
        public let sealed: Bool

        public static func == (lhs: Content, rhs: Content) -> Bool {
            lhs.occurredAt == rhs.occurredAt && lhs.actor == rhs.actor && lhs.sealed == rhs.sealed
                && JSON.object(lhs.data) == JSON.object(rhs.data)
        }
    }
}

/// One `corrections` row of the timeline (see `Timeline`).
struct TimelineMarks {
    var target: UInt64 = 0
    var voidedBy: UInt64 = 0
    var restrictedBy: UInt64 = 0
    var restrictionLiftedBy: UInt64 = 0
    var rectifiedBy: [UInt64] = []

    init() {}

    init?(_ bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        guard bytes.count >= 32, bytes.count % 8 == 0 else { return nil }
        let words = stride(from: 0, to: bytes.count, by: 8).map { BigEndian.uint64(bytes[$0..<($0 + 8)]) ?? 0 }
        (target, voidedBy, restrictedBy, restrictionLiftedBy) = (words[0], words[1], words[2], words[3])
        rectifiedBy = Array(words[4...])
    }

    var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + 8 * rectifiedBy.count)
        for word in [target, voidedBy, restrictedBy, restrictionLiftedBy] + rectifiedBy { BigEndian.append(word, to: &bytes) }
        return bytes
    }
}

public struct TimelinePage: Sendable {
    public let entries: UInt64
    public let caseFiles: UInt64
    public let erased: Bool
    /// Oldest first.
    public let rows: [TimelineRow]
    /// Entries of the log reflected: every position below this one.
    public let position: UInt64
}
