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

    private struct DetailValues: Equatable {
        var ambito, fromAmbito, operatorID, field: String?
    }

    /// Immutable: a change makes a new one, so copies of a fact never share a change.
    private final class Details: Sendable {
        let values: DetailValues
        init(_ values: DetailValues) { self.values = values }
    }

    /// By kind: the schema's field of kind `.entry`.
    private static let referenceFields: [String?] = (0...Int(UInt8.max)).map { raw in
        EventKind(rawValue: UInt8(raw)).flatMap { EventCatalogue.schema($0)?.fields.first { if case .entry = $0.kind { true } else { false } }?.name }
    }

    private mutating func change(_ code: WritableKeyPath<DetailValues, String?>, to value: String?) {
        var values = details?.values ?? DetailValues()
        values[keyPath: code] = value
        details = values == DetailValues() ? nil : Details(values)
    }

    public static func == (lhs: CaseFact, rhs: CaseFact) -> Bool {
        lhs.version == rhs.version && lhs.kind == rhs.kind && lhs.reference == rhs.reference
            && lhs.emergency == rhs.emergency && lhs.date == rhs.date
            && lhs.nextReviewDue == rhs.nextReviewDue && lhs.details?.values == rhs.details?.values
    }

    public init(version: UInt64, kind: EventKind) {
        self.version = version
        self.kind = kind
    }

    public init(version: UInt64, type: String) {
        self.init(version: version, kind: EventKind(type))
    }

    /// The fact of an entry whose clear `data` is `data`; `reference` resolves its intervention
    /// codes (the table version the entry recorded).
    public init(version: UInt64, type: String, data: [(key: String, value: JSON)], reference: ReferenceTable?) {
        self.init(version: version, kind: EventKind(type), data: data, reference: reference)
    }

    public init(version: UInt64, kind: EventKind, data: [(key: String, value: JSON)], reference: ReferenceTable?) {
        self.init(version: version, kind: kind)
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
            case (.entry, _): self.reference = value.uint64
            case (_, "ambito"), (_, "toAmbito"): ambito = value.string
            case (_, "fromAmbito"): fromAmbito = value.string
            case (_, "operator"): operatorID = value.string
            case (_, "field"): field = value.string
            case (_, "date"): date = value.string.flatMap(CalendarDate.init)
            case (_, "nextReviewDue"): nextReviewDue = value.string.flatMap(CalendarDate.init)
            case (.code(.interventions), "code"):
                emergency = value.string.flatMap { reference?.interventions[$0]?.emergency } ?? false
            default: break
            }
        }
    }
}
