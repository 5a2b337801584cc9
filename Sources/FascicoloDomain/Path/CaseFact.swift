import FascicoloJSON

/// What the path rules need to know about one entry of a person's stream: its type, the entry
/// it points at, and a few codes — all from the clear part of the payload, so rules and case
/// state work without decrypting anything (and still work after an erasure).
public struct CaseFact: Sendable, Equatable {
    /// Stream version (1-based).
    public let version: UInt64
    public let kind: EventKind
    /// The type's name.
    public var type: String { kind.name }
    /// The earlier entry this one refers to (`target`, `intervention`, `goal`, `plan`, …).
    public var reference: UInt64?
    public var referenceField: String?
    /// CaseOpened / CaseTransferredIn: the ambito; CaseTransferredOut: the destination.
    public var ambito: String?
    /// CaseTransferredIn: where the case comes from.
    public var fromAmbito: String?
    /// CaseManagerAssigned: the operator.
    public var operatorID: String?
    /// InterventionRequested: pronto intervento sociale (allowed without a signed plan).
    public var emergency = false
    /// Rectified: the field it corrects.
    public var field: String?
    /// The event's own date (`date` field), and ReviewHeld's next review.
    public var date: CalendarDate?
    public var nextReviewDue: CalendarDate?

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
            case (.entry, _):
                self.reference = value.uint64
                referenceField = key
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
