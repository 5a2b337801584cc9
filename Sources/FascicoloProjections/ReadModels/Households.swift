import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// Who lives with whom: the household each person's registration names (PersonRegistered's
/// optional `household`), as rectified, so that a person's household timeline can show the
/// entries of every member (issue 19).
///
/// The household id is sealed in the log since issue 21 (in clear before): the engine opens it
/// with the person's key while the person is not erased (`ProjectedEvent.personal`). Once the
/// key is destroyed it opens no more, so a rebuild after an erasure never sees it: the erased
/// person's row holds no household, however the rows were reached.
///
/// A Rectified of PersonRegistered's `household` moves the person to the new household (the
/// path rules void neither a registration nor a rectification: a later rectification moves
/// them again). An erased person leaves their household: an erased member contributes nothing
/// to anyone's view, not even their existence.
///
/// Tables:
/// - `members`: household (UTF-8) ‖ 0x00 ‖ pseudonym (16 bytes) → empty.
/// - `persons`: pseudonym → the version of the entry the household comes from (u64 BE: the
///   registration or the rectification that set it) ‖ registration version (u64 BE) ‖ erased
///   (1 byte) ‖ household (UTF-8; empty for none, and once erased).
public final class Households: Projection {
    public static let name = "households"
    /// 2: an erased person's row forgets the household; 3: the household opened from the
    /// sealed part (issue 21).
    public static let version = 3
    public static let tables = ["members", "persons"]
    static let members = 0
    static let persons = 1

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        guard case .person(let person) = event.subject else { return }
        switch event.kind {
        case .personRegistered:
            var membership = try Self.membership(person, rows) ?? Membership()
            // The first registration is the one rectifications point at.
            if membership.registration == 0 { membership.registration = event.streamVersion }
            let household = event.clearOrPersonal("household")?.string ?? ""
            Self.move(person, from: membership, to: household, source: event.streamVersion, rows: &rows)
        case .rectified:
            guard let membership = try Self.membership(person, rows), event.data("field")?.string == "household",
                event.fact?.reference == membership.registration
            else { return }
            // Unopened (the person erased since): no household, as the erasure will leave it.
            let household = event.clearOrPersonal("newValue")?.string ?? ""
            Self.move(person, from: membership, to: household, source: event.streamVersion, rows: &rows)
        case .erasureExecuted:
            guard var membership = try Self.membership(person, rows) else { return }
            if !membership.household.isEmpty { rows.delete(Self.members, Self.memberKey(membership.household, person)) }
            membership.erased = true
            // The household id would link the erased person to the members still here (issue 21):
            // the row keeps only that the person was erased.
            membership.household = ""
            rows.put(Self.persons, person.bytes, membership.bytes)
        default:
            return
        }
    }

    /// Moves `person` from the household of `membership` to `household` ("" for none), which
    /// the entry at version `source` set.
    private static func move(
        _ person: Pseudonym, from membership: Membership, to household: String, source: UInt64, rows: inout ProjectionRows
    ) {
        if !membership.household.isEmpty { rows.delete(members, memberKey(membership.household, person)) }
        var moved = membership
        moved.household = household
        moved.source = source
        if !household.isEmpty && !membership.erased { rows.put(members, memberKey(household, person), []) }
        rows.put(persons, person.bytes, moved.bytes)
    }

    static func memberKey(_ household: String, _ person: Pseudonym) -> [UInt8] {
        Array(household.utf8) + [0] + person.bytes
    }

    /// A `persons` row.
    struct Membership: Equatable {
        var source: UInt64 = 0
        var registration: UInt64 = 0
        var erased = false
        var household = ""

        var bytes: [UInt8] {
            var bytes: [UInt8] = []
            BigEndian.append(source, to: &bytes)
            BigEndian.append(registration, to: &bytes)
            bytes.append(erased ? 1 : 0)
            return bytes + Array(household.utf8)
        }

        init() {}

        init?(_ bytes: [UInt8]) {
            guard bytes.count >= 17, let source = BigEndian.uint64(bytes[0..<8]), let registration = BigEndian.uint64(bytes[8..<16]),
                let household = String(validating: bytes[17...], as: UTF8.self)
            else { return nil }
            self.source = source
            self.registration = registration
            erased = bytes[16] == 1
            self.household = household
        }
    }

    private static func membership(_ person: Pseudonym, _ rows: ProjectionRows) throws -> Membership? {
        guard let stored = try rows.get(persons, person.bytes) else { return nil }
        guard let membership = Membership(stored) else { throw ProjectionFailure("a households person row is unreadable") }
        return membership
    }

    // MARK: - Queries

    /// The members of `person`'s household as the rows reflect it: the person first, then the
    /// others in pseudonym order; erased members are not there. Nil when the person's
    /// registration names no household (or the person is erased or unknown). `tooLarge` when
    /// the household has more than `max` members (its id is then not a family's: a service
    /// that wrote the same id for unrelated persons; nobody else is listed).
    public struct Members: Sendable {
        public let persons: [Pseudonym]
        public let tooLarge: Bool
    }

    public static func members(_ view: ProjectionView, of person: Pseudonym, max: Int) throws -> Members? {
        guard let stored = try view.transaction.get(view.tables[persons], key: person.bytes) else { return nil }
        guard let membership = Membership(stored) else { throw ProjectionFailure("a households person row is unreadable") }
        guard !membership.erased, !membership.household.isEmpty else { return nil }
        let prefix = Array(membership.household.utf8) + [0]
        var others: [Pseudonym] = []
        var tooLarge = false
        try view.transaction.withCursor(view.tables[members]) { cursor in
            var record = try cursor.seek(atOrAfter: prefix)
            while let current = record, current.key.count == prefix.count + Pseudonym.byteCount, current.key.starts(with: prefix) {
                guard let member = Pseudonym(bytes: Array(current.key.dropFirst(prefix.count))) else {
                    throw ProjectionFailure("a households member row is unreadable")
                }
                if member != person { others.append(member) }
                if others.count >= max {
                    tooLarge = true
                    return
                }
                record = try cursor.next()
            }
        }
        return Members(persons: tooLarge ? [person] : [person] + others, tooLarge: tooLarge)
    }
}
