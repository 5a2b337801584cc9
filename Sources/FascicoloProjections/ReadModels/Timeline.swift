import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// A person's timeline: every entry of their person stream in order, grouped in case files
/// (a case file starts at CaseOpened or CaseTransferredIn), with the corrections applied to it
/// shown on the entry they correct, and the person's erasure marked.
///
/// Rows (`entries`): pseudonym (16 bytes) ‖ stream version (u64 BE) → compact JSON
/// `{"version","position","type","occurredAt","recordedAt","caseFile","actor","data","sealed"?,
///   "voidedBy"?,"rectifiedBy"?,"restrictedBy"?}` — `data` is the clear part only; `sealed` says
/// there are personal fields, which a query opens from the log with the person's key.
/// `persons`: pseudonym → entries (u64 BE) ‖ case files (u64 BE) ‖ erased (1 byte: 0 or 1).
public final class Timeline: Projection {
    public static let name = "timeline"
    public static let version = 1
    public static let tables = ["entries", "persons"]
    static let entries = 0
    static let persons = 1

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        guard case .person(let person) = event.subject else { return }
        var summary = try Self.summary(person, rows)
        if event.type == "CaseOpened" || event.type == "CaseTransferredIn" { summary.caseFiles += 1 }
        summary.entries += 1
        if event.type == "ErasureExecuted" { summary.erased = true }
        rows.put(Self.persons, person.bytes, summary.bytes)
        rows.put(Self.entries, Self.key(person, event.streamVersion), Self.row(event, caseFile: summary.caseFiles))

        if let target = event.fact?.reference, let mark = Self.correctionMark[event.type] {
            let key = Self.key(person, target)
            guard let stored = try rows.get(Self.entries, key), let members = try? JSON.parse(stored).members else {
                throw ProjectionFailure("\(event.type) at position \(event.position) points at a version the timeline does not have")
            }
            rows.put(Self.entries, key, Self.marked(members, mark: mark, by: event.streamVersion))
            // A lifted restriction no longer restricts its target.
            if event.type == "RestrictionLifted", let restricted = members.first(where: { $0.key == "data" })?.value["target"]?.uint64,
               let stored = try rows.get(Self.entries, Self.key(person, restricted)), let targetMembers = try? JSON.parse(stored).members {
                rows.put(Self.entries, Self.key(person, restricted), JSON.object(targetMembers.filter { $0.key != "restrictedBy" }).bytes)
            }
        }
    }

    private static let correctionMark = ["Voided": "voidedBy", "Rectified": "rectifiedBy", "Restricted": "restrictedBy",
                                         "RestrictionLifted": "restrictionLiftedBy"]

    static func key(_ person: Pseudonym, _ version: UInt64) -> [UInt8] {
        var key = person.bytes
        BigEndian.append(version, to: &key)
        return key
    }

    private static func row(_ event: ProjectedEvent, caseFile: UInt64) -> [UInt8] {
        var json = JSONBytes(capacity: 384)
        json.raw("{\"version\":")
        json.number(event.streamVersion)
        json.raw(",\"position\":")
        json.number(event.position)
        json.raw(",\"type\":")
        json.string(event.type)
        json.raw(",\"recordedAt\":")
        json.string(Timestamp.iso8601(milliseconds: event.recordedAtMilliseconds))
        json.raw(",\"caseFile\":")
        json.number(caseFile)
        if let payload = event.payload {
            json.raw(",\"occurredAt\":")
            json.string(payload.occurredAt)
            json.raw(",\"actor\":")
            json.value(payload.actor)
            json.raw(",\"data\":")
            json.value(.object(payload.data))
            if payload.isSealed { json.raw(",\"sealed\":true") }
        }
        json.raw("}")
        return json.bytes
    }

    /// The row with `mark` naming the correcting entry (`rectifiedBy` collects a list; the
    /// others name one entry; RestrictionLifted points at the Restricted entry it lifts).
    private static func marked(_ members: [(key: String, value: JSON)], mark: String, by version: UInt64) -> [UInt8] {
        var members = members
        let number = JSON.number(String(version))
        if let index = members.firstIndex(where: { $0.key == mark }) {
            if mark == "rectifiedBy", case .array(let list) = members[index].value {
                members[index].value = .array(list + [number])
            } else {
                members[index].value = number
            }
        } else {
            members.append((mark, mark == "rectifiedBy" ? .array([number]) : number))
        }
        return JSON.object(members).bytes
    }

    /// `persons` rows: entries (u64 BE) ‖ case files (u64 BE) ‖ erased (1 byte) — binary, since
    /// every entry of a person reads and rewrites it.
    struct Summary {
        var entries: UInt64 = 0
        var caseFiles: UInt64 = 0
        var erased = false

        var bytes: [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(17)
            BigEndian.append(entries, to: &bytes)
            BigEndian.append(caseFiles, to: &bytes)
            bytes.append(erased ? 1 : 0)
            return bytes
        }

        init() {}

        init?(_ bytes: [UInt8]) {
            guard bytes.count == 17, let entries = BigEndian.uint64(bytes[0..<8]), let caseFiles = BigEndian.uint64(bytes[8..<16]) else {
                return nil
            }
            self.entries = entries
            self.caseFiles = caseFiles
            erased = bytes[16] == 1
        }
    }

    private static func summary(_ person: Pseudonym, _ rows: ProjectionRows) throws -> Summary {
        guard let stored = try rows.get(persons, person.bytes) else { return Summary() }
        guard let summary = Summary(stored) else { throw ProjectionFailure("a timeline person row is unreadable") }
        return summary
    }

    // MARK: - Queries

    /// A page of the person's timeline: the summary and up to `limit` rows from `version` on.
    public static func read(_ view: ProjectionView, person: Pseudonym, from version: UInt64, limit: Int) throws -> TimelinePage? {
        guard let summaryBytes = try view.transaction.get(view.tables[persons], key: person.bytes),
              let summary = Summary(summaryBytes) else { return nil }
        var rows: [JSON] = []
        try view.transaction.withCursor(view.tables[entries]) { cursor in
            var record = try cursor.seek(atOrAfter: key(person, max(version, 1)))
            while let current = record, rows.count < limit, current.key.starts(with: person.bytes) {
                rows.append(try JSON.parse(current.value))
                record = try cursor.next()
            }
        }
        return TimelinePage(entries: summary.entries, caseFiles: summary.caseFiles, erased: summary.erased, rows: rows,
                            position: view.position)
    }
}

public struct TimelinePage: Sendable {
    public let entries: UInt64
    public let caseFiles: UInt64
    public let erased: Bool
    /// The stored rows (see `Timeline`), oldest first.
    public let rows: [JSON]
    /// Entries of the log reflected: every position below this one.
    public let position: UInt64
}
