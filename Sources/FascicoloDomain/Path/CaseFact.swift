import FascicoloJSON

/// What the path rules need to know about one entry of a person's stream: its type, the entry
/// it points at, and a few codes — all from the clear part of the payload, so rules and case
/// state work without decrypting anything (and still work after an erasure).
public struct CaseFact: Sendable, Equatable {
    /// Stream version (1-based).
    public let version: UInt64
    /// The earlier entry this one refers to (`target`, `intervention`, `goal`, `plan`, …).
    public var reference: UInt64?
    public let kind: EventKind
    /// The type's name.
    public var type: String { kind.name }
    /// The name of the field that holds `reference` in the type's schema (one at most).
    public var referenceField: String? { Self.referenceFields[Int(kind.rawValue)] }
    /// InterventionRequested: pronto intervento sociale (allowed without a signed plan).
    public var emergency = false
    /// The event's own date (`date` field), and ReviewHeld's next review.
    public var date: CalendarDate?
    public var nextReviewDue: CalendarDate?
    /// The day of the envelope's `occurredAt` (when it happened in the world).
    public var occurredOn: CalendarDate?
    /// CaseTransferredOut to an ambito that is not in the reference data: another region's.
    public var toOtherRegion = false

    /// The day the entry is placed on the path, the one the date rules check: its `date` field
    /// when it has one (the date of the presa in carico, of the delivery, of the closure…, and
    /// the one a rectification changes), else `occurredAt`'s day. AppointmentScheduled's `date`
    /// is the appointment's, in the future: it is placed on the day it was scheduled.
    public var day: CalendarDate? {
        kind == .appointmentScheduled ? occurredOn : date ?? occurredOn
    }
    /// The codes few types carry, out of line: a fact is kept for every entry of every person
    /// the projections hold in memory, and four strings inline doubled its size.
    private var details: Details?

    /// CaseOpened / CaseTransferredIn: the ambito; CaseTransferredOut: the destination.
    public var ambito: String? {
        get { details?.values.ambito }
        set { change(\.ambito, to: newValue) }
    }
    /// CaseTransferredIn: where the case comes from.
    public var fromAmbito: String? {
        get { details?.values.fromAmbito }
        set { change(\.fromAmbito, to: newValue) }
    }
    /// CaseManagerAssigned: the operator.
    public var operatorID: String? {
        get { details?.values.operatorID }
        set { change(\.operatorID, to: newValue) }
    }
    /// Rectified: the field it corrects.
    public var field: String? {
        get { details?.values.field }
        set { change(\.field, to: newValue) }
    }

    /// CaseClosed: the closure reason's code.
    public var reason: String? {
        get { details?.values.reason }
        set { change(\.reason, to: newValue) }
    }
    /// Rectified: the new value, when the field it corrects is not personal (kept in clear then).
    public var newValue: String? {
        get { details?.values.newValue }
        set { change(\.newValue, to: newValue) }
    }
    /// InterventionEnded written by the daemon: the closure, transfer out or death that ended
    /// the intervention with the case (it counts only while that entry does).
    public var endedWith: UInt64? {
        get { details?.values.endedWith.flatMap { UInt64($0) } }
        set { change(\.endedWith, to: newValue.map(String.init)) }
    }
    /// PersonRegistered: the birth year (the only part of the birth date recorded).
    public var birthYear: Int? {
        get { details?.values.birthYear.flatMap { Int($0) } }
        set { change(\.birthYear, to: newValue.map(String.init)) }
    }

    /// Whether the path rules need a personal field of this entry, sealed since issue 21:
    /// PersonRegistered's birth year, or the new value of a Rectified of it. The domain opens
    /// them with the person's key (`adopt(personal:)`); entries written before hold them in clear.
    public var needsPersonalFields: Bool {
        switch kind {
        case .personRegistered: birthYear == nil
        case .rectified: field == "birthYear" && newValue == nil
        default: false
        }
    }

    /// Takes what the path rules read from the entry's personal fields (see
    /// `needsPersonalFields`): opened by the domain, which holds the person's key. Projections
    /// never call it: no read model reads these.
    public mutating func adopt(personal: [(key: String, value: JSON)]) {
        switch kind {
        case .personRegistered:
            if let year = personal.first(where: { $0.key == "birthYear" })?.value.int { birthYear = year }
        case .rectified where field == "birthYear":
            if let value = personal.first(where: { $0.key == "newValue" })?.value.string { newValue = value }
        default: break
        }
    }

    private struct DetailValues: Equatable {
        var ambito, fromAmbito, operatorID, field, reason, newValue, birthYear, endedWith: String?
    }

    /// Immutable: a change makes a new one, so copies of a fact never share a change.
    private final class Details: Sendable {
        let values: DetailValues
        init(_ values: DetailValues) { self.values = values }
    }

    /// By kind: the schema's field of kind `.entry`.
    private static let referenceFields: [String?] = (0...Int(UInt8.max)).map { raw in
        EventKind(rawValue: UInt8(raw)).flatMap {
            EventCatalogue.schema($0)?.fields.first { if case .entry = $0.kind { true } else { false } }?.name
        }
    }

    private mutating func change(_ code: WritableKeyPath<DetailValues, String?>, to value: String?) {
        var values = details?.values ?? DetailValues()
        values[keyPath: code] = value
        details = values == DetailValues() ? nil : Details(values)
    }

    public static func == (lhs: CaseFact, rhs: CaseFact) -> Bool {
        lhs.version == rhs.version && lhs.kind == rhs.kind && lhs.reference == rhs.reference
            && lhs.emergency == rhs.emergency && lhs.date == rhs.date
            && lhs.nextReviewDue == rhs.nextReviewDue && lhs.occurredOn == rhs.occurredOn
            && lhs.toOtherRegion == rhs.toOtherRegion && lhs.details?.values == rhs.details?.values
    }

    public init(version: UInt64, kind: EventKind) {
        self.version = version
        self.kind = kind
    }

    public init(version: UInt64, type: String) {
        self.init(version: version, kind: EventKind(type))
    }

    /// The fact of an entry whose clear `data` is `data`; `reference` resolves its intervention
    /// codes (the table version the entry recorded); `occurredAt` is the envelope's.
    public init(
        version: UInt64, type: String, data: [(key: String, value: JSON)], reference: ReferenceTable?,
        occurredAt: String? = nil
    ) {
        self.init(version: version, kind: EventKind(type), data: data, reference: reference, occurredAt: occurredAt)
    }

    public init(
        version: UInt64, kind: EventKind, data: [(key: String, value: JSON)], reference: ReferenceTable?,
        occurredAt: String? = nil
    ) {
        self.init(version: version, kind: kind)
        occurredOn = occurredAt.flatMap(OccurredAt.date)
        let fields = EventCatalogue.schema(kind)?.fields ?? []
        // Stored data follows the schema's order (the validator writes it so): each field is
        // looked for from where the last one was found, then from the start.
        var next = 0
        for (key, value) in data {
            guard let found = fields[next...].firstIndex(where: { $0.name == key }) ?? fields.firstIndex(where: { $0.name == key }) else {
                continue
            }
            next = found + 1
            let kind = fields[found].kind
            switch (kind, key) {
            case (.entry, "endedWith"): endedWith = value.uint64
            case (.entry, _): self.reference = value.uint64
            case (_, "ambito"): ambito = value.string
            case (_, "toAmbito"):
                ambito = value.string
                if let reference, let code = value.string { toOtherRegion = reference.labels[.ambiti]?[code] == nil }
            case (_, "fromAmbito"): fromAmbito = value.string
            case (_, "operator"): operatorID = value.string
            case (_, "field"): field = value.string
            case (_, "date"): date = value.string.flatMap(CalendarDate.init)
            case (_, "nextReviewDue"): nextReviewDue = value.string.flatMap(CalendarDate.init)
            case (.code(.closureReasons), "reason"): reason = value.string
            case (_, "newValue"): newValue = value.string
            case (_, "birthYear"): birthYear = value.int
            case (.code(.interventions), "code"):
                emergency = value.string.flatMap { reference?.interventions[$0]?.emergency } ?? false
            default: break
            }
        }
    }
}
