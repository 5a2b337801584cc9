import FascicoloJSON

/// What a field of an event's `data` may hold.
public enum FieldKind: Sendable {
    /// A string of 1…`maxLength` Unicode scalars, no control characters.
    case text(maxLength: Int)
    /// A calendar date, `YYYY-MM-DD`.
    case date
    /// An integer in the range.
    case integer(ClosedRange<Int64>)
    /// A non-negative amount with at most two decimals (euro), e.g. `120.50`.
    case amount
    case boolean
    /// One of a closed list of values (these are part of the schema, not reference data).
    case choice([String])
    /// A code from the versioned reference data (it grows without a schema change).
    case code(ReferenceList)
    /// The stream version (1-based) of an earlier entry of the same case file.
    case entry
    /// A list of 1…`maxCount` strings of up to `maxLength` scalars each.
    case textList(maxCount: Int, maxLength: Int)
}

/// One field of an event's `data`.
public struct FieldSpec: Sendable {
    public let name: String
    public let kind: FieldKind
    public let required: Bool
    /// Personal data (names, free text, addresses, health and judicial details): sealed with the
    /// person's data key, never stored in clear.
    public let personal: Bool
    /// Required when another field holds a value, and refused otherwise (ConsentRecorded's
    /// `ambito` belongs to the scope `sharing_with_ambito` alone).
    public let onlyWhen: Condition?

    /// Another field of the same event holding one value.
    public struct Condition: Sendable {
        public let field: String
        public let value: String
    }

    public static func required(_ name: String, _ kind: FieldKind, personal: Bool = false) -> FieldSpec {
        FieldSpec(name: name, kind: kind, required: true, personal: personal, onlyWhen: nil)
    }

    public static func optional(_ name: String, _ kind: FieldKind, personal: Bool = false) -> FieldSpec {
        FieldSpec(name: name, kind: kind, required: false, personal: personal, onlyWhen: nil)
    }

    /// Present exactly when `field` holds `value`.
    public static func only(_ name: String, _ kind: FieldKind, when field: String, is value: String) -> FieldSpec {
        FieldSpec(name: name, kind: kind, required: false, personal: false, onlyWhen: Condition(field: field, value: value))
    }
}

/// Why an event is processed — the register of processing (GDPR art. 30) is generated from these.
public enum ProcessingPurpose: String, Sendable, CaseIterable {
    case registry = "registry"
    case accessAndInformation = "access_and_information"
    case caseManagement = "case_management"
    case assessment = "assessment"
    case planning = "planning"
    case interventions = "interventions"
    case monitoring = "monitoring"
    case judicial = "judicial_measures"
    case consent = "consent"
    case dataSubjectRights = "data_subject_rights"
    case accountability = "accountability"

    /// The legal basis this purpose rests on.
    public var legalBasis: String {
        switch self {
        case .registry, .accessAndInformation, .caseManagement, .assessment, .planning, .interventions, .monitoring:
            "GDPR art. 6(1)(e) and 9(2)(g)-(h); D.Lgs 147/2017 artt. 5-7; L. 328/2000"
        case .judicial: "GDPR art. 10; D.Lgs 196/2003 art. 2-octies; provvedimento dell'autorità giudiziaria"
        case .consent: "GDPR art. 6(1)(a) and 9(2)(a)"
        case .dataSubjectRights: "GDPR artt. 16-18 and 17"
        case .accountability: "GDPR artt. 5(2) and 30; Garante, provvedimento 27/11/2008"
        }
    }
}

/// How long an event must be kept, for the register of processing and for retention jobs.
public enum RetentionClass: String, Sendable, CaseIterable {
    /// The case record: kept as archive documents of the comune (permanently, by DPR 445/2000 and
    /// the archive plan), subject to erasure of personal fields when the law allows.
    case caseRecord = "case_record"
    /// Read records: at least 24 months (Garante, health dossier guidelines 2015).
    case accessLog = "access_log_24_months"
    /// Corrections and erasures: as long as the record they correct, never less.
    case accountability = "accountability"
}

/// How a mistake in an event of this type is corrected (DOMAIN.md's "correction" column).
public enum CorrectionKind: String, Sendable {
    case rectified
    case voided
    /// A later event of the same type replaces it.
    case superseded
    /// The next event of the same type replaces it (assignments, plan versions).
    case replacedByNext = "replaced_by_next"
    /// Not corrected: it records a fact about the record itself.
    case none
}

/// A typed, versioned event schema.
public struct EventSchema: Sendable {
    /// The English type name stored in the entry.
    public let kind: EventKind
    /// The type's name (`kind.name`).
    public let type: String
    /// The Italian term.
    public let label: String
    /// The schema version new events are written with.
    public let version: Int
    public let purpose: ProcessingPurpose
    public let retention: RetentionClass
    public let correction: CorrectionKind
    /// Judicial data (GDPR art. 10): flagged in reads and registers.
    public let judicial: Bool
    public let fields: [FieldSpec]
    /// Functions that turn the `data` of version N (key) into version N+1.
    public let upcasters: [Int: @Sendable (JSON) -> JSON]

    init(
        _ kind: EventKind, _ label: String, version: Int = 1, purpose: ProcessingPurpose,
        retention: RetentionClass = .caseRecord, correction: CorrectionKind, judicial: Bool = false,
        fields: [FieldSpec], upcasters: [Int: @Sendable (JSON) -> JSON] = [:]
    ) {
        self.kind = kind
        self.type = kind.name
        self.label = label
        self.version = version
        self.purpose = purpose
        self.retention = retention
        self.correction = correction
        self.judicial = judicial
        self.fields = fields
        self.upcasters = upcasters
    }

    public func field(_ name: String) -> FieldSpec? { fields.first { $0.name == name } }

    /// The `data` of an event written under schema `version`, read through the current one.
    /// Nil when no upcaster chain leads from that version to this one.
    public func upcast(_ data: JSON, from version: Int) -> JSON? {
        guard version <= self.version, version >= 1 else { return nil }
        var data = data
        for step in version..<self.version {
            guard let upcaster = upcasters[step] else { return nil }
            data = upcaster(data)
        }
        return data
    }
}
