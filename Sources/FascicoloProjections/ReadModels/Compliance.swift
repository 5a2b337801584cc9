import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// For compliance officers: who read each person's data, when and why (the RecordAccessed
/// entries of the access streams), and the registers of rectifications, voids, restrictions
/// (and their lifting) and erasures across all persons.
///
/// Tables:
/// - `accesses`: pseudonym ‖ position (u64 BE) → compact JSON `{"position","at","author","role",
///   "what","purpose","entries"?,"operator"?}`.
/// - `registers`: register name (`rectifications`, `voids`, `restrictions`, `erasures`) ‖ 0x00 ‖
///   position (u64 BE) → compact JSON `{"position","at","person","version","type","author",
///   "operator"?, "data"}` — `data` is the clear part of the correcting entry (target, field,
///   reason, ground, legal ground…; rectified values are sealed and not here).
public final class Compliance: Projection {
    public static let name = "compliance"
    public static let version = 1
    public static let tables = ["accesses", "registers"]
    static let accesses = 0
    static let registers = 1

    static let registerOfType = ["Rectified": "rectifications", "Voided": "voids", "Restricted": "restrictions",
                                 "RestrictionLifted": "restrictions", "ErasureExecuted": "erasures"]
    public static let registerNames = ["rectifications", "voids", "restrictions", "erasures"]

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        switch event.subject {
        case .access(let person) where event.type == "RecordAccessed":
            var json = JSONBytes(capacity: 256)
            json.raw("{\"position\":")
            json.number(event.position)
            json.raw(",\"at\":")
            json.string(Timestamp.iso8601(milliseconds: event.recordedAtMilliseconds))
            json.raw(",\"author\":")
            json.string(event.author)
            for key in ["role", "what", "purpose"] {
                json.raw(",")
                json.string(key)
                json.raw(":")
                json.value(event.data(key) ?? .null)
            }
            if let entries = event.data("entries") {
                json.raw(",\"entries\":")
                json.value(entries)
            }
            if let operatorID = event.payload?.actor["operator"] {
                json.raw(",\"operator\":")
                json.value(operatorID)
            }
            json.raw("}")
            rows.put(Self.accesses, Timeline.key(person, event.position), json.bytes)
        case .person(let person):
            guard let register = Self.registerOfType[event.type] else { return }
            var members: [(key: String, value: JSON)] = [
                ("position", .number(String(event.position))),
                ("at", .string(Timestamp.iso8601(milliseconds: event.recordedAtMilliseconds))),
                ("person", .string(person.description)), ("version", .number(String(event.streamVersion))),
                ("type", .string(event.type)), ("author", .string(event.author)),
            ]
            if let operatorID = event.payload?.actor["operator"] { members.append(("operator", operatorID)) }
            members.append(("data", .object(event.payload?.data ?? [])))
            var key = Array(register.utf8) + [0]
            BigEndian.append(event.position, to: &key)
            rows.put(Self.registers, key, JSON.object(members).bytes)
        default:
            break
        }
    }

    // MARK: - Queries

    /// Who read the person's data, oldest first, from `position` on.
    public static func accesses(_ view: ProjectionView, person: Pseudonym, from position: UInt64, limit: Int) throws -> [JSON] {
        var result: [JSON] = []
        try view.transaction.withCursor(view.tables[accesses]) { cursor in
            var record = try cursor.seek(atOrAfter: Timeline.key(person, position))
            while let current = record, result.count < limit, current.key.starts(with: person.bytes) {
                result.append(try JSON.parse(current.value))
                record = try cursor.next()
            }
        }
        return result
    }

    /// One register, oldest first, from `position` on.
    public static func register(_ view: ProjectionView, _ name: String, from position: UInt64, limit: Int) throws -> [JSON] {
        let prefix = Array(name.utf8) + [0]
        var result: [JSON] = []
        try view.transaction.withCursor(view.tables[registers]) { cursor in
            var record = try cursor.seek(atOrAfter: prefix + BigEndian.bytes(position))
            while let current = record, result.count < limit, current.key.starts(with: prefix) {
                result.append(try JSON.parse(current.value))
                record = try cursor.next()
            }
        }
        return result
    }
}
