/// The catalogue's event types as small numbers. The path rules and the projections test an
/// entry's type many times per entry; comparing numbers costs nothing, where comparing strings
/// did (a `switch` over string cases compares them one after the other).
///
/// Each case's `name` is the type as stored in entries and given at the API; `EventCatalogue`
/// has one schema per case but `other`.
public enum EventKind: UInt8, CaseIterable, Sendable {
    case personRegistered, identityLinked, consentRecorded, consentWithdrawn
    case accessContactRecorded, referralReceived, caseOpened, caseManagerAssigned
    case takenInCharge, appointmentScheduled, appointmentHeld, appointmentMissed
    case judicialMeasureRecorded, caseSuspended, caseReopened, caseTransferredOut
    case caseTransferredIn, preliminaryAnalysisCompleted, inDepthAssessmentCompleted, planDrafted
    case planSigned, planRevised, goalSet, goalReviewed
    case goalClosed, commitmentBreached, interventionRequested, interventionStarted
    case interventionSuspended, interventionResumed, interventionEnded, serviceDelivered
    case reviewHeld, outcomeRecorded, caseClosed, rectified
    case voided, restricted, restrictionLifted, erasureExecuted
    case recordAccessed, personDied, legalHoldPlaced, legalHoldReleased
    /// A SIUSS transmission (stream `siuss:exports`, written by the daemon only).
    case siussExported
    /// A type outside the catalogue (generic streams; never an entry of a person's stream).
    case other

    /// The type as stored and given at the API ("" for `other`).
    public var name: String {
        switch self {
        case .personRegistered: "PersonRegistered"
        case .identityLinked: "IdentityLinked"
        case .consentRecorded: "ConsentRecorded"
        case .consentWithdrawn: "ConsentWithdrawn"
        case .accessContactRecorded: "AccessContactRecorded"
        case .referralReceived: "ReferralReceived"
        case .caseOpened: "CaseOpened"
        case .caseManagerAssigned: "CaseManagerAssigned"
        case .takenInCharge: "TakenInCharge"
        case .appointmentScheduled: "AppointmentScheduled"
        case .appointmentHeld: "AppointmentHeld"
        case .appointmentMissed: "AppointmentMissed"
        case .judicialMeasureRecorded: "JudicialMeasureRecorded"
        case .caseSuspended: "CaseSuspended"
        case .caseReopened: "CaseReopened"
        case .caseTransferredOut: "CaseTransferredOut"
        case .caseTransferredIn: "CaseTransferredIn"
        case .preliminaryAnalysisCompleted: "PreliminaryAnalysisCompleted"
        case .inDepthAssessmentCompleted: "InDepthAssessmentCompleted"
        case .planDrafted: "PlanDrafted"
        case .planSigned: "PlanSigned"
        case .planRevised: "PlanRevised"
        case .goalSet: "GoalSet"
        case .goalReviewed: "GoalReviewed"
        case .goalClosed: "GoalClosed"
        case .commitmentBreached: "CommitmentBreached"
        case .interventionRequested: "InterventionRequested"
        case .interventionStarted: "InterventionStarted"
        case .interventionSuspended: "InterventionSuspended"
        case .interventionResumed: "InterventionResumed"
        case .interventionEnded: "InterventionEnded"
        case .serviceDelivered: "ServiceDelivered"
        case .reviewHeld: "ReviewHeld"
        case .outcomeRecorded: "OutcomeRecorded"
        case .caseClosed: "CaseClosed"
        case .rectified: "Rectified"
        case .voided: "Voided"
        case .restricted: "Restricted"
        case .restrictionLifted: "RestrictionLifted"
        case .erasureExecuted: "ErasureExecuted"
        case .recordAccessed: "RecordAccessed"
        case .personDied: "PersonDied"
        case .legalHoldPlaced: "LegalHoldPlaced"
        case .legalHoldReleased: "LegalHoldReleased"
        case .siussExported: "SiussExported"
        case .other: ""
        }
    }

    /// The kind named `type`; `other` when the catalogue has no such type.
    public init(_ type: String) {
        var type = type
        self = type.withUTF8 { EventKind(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// The kind whose name is these UTF-8 bytes (an entry's type, read in place); `other` when
    /// the catalogue has no such type. No string is made: the candidates of the same length are
    /// compared byte for byte.
    public init(utf8 bytes: UnsafeRawBufferPointer) {
        let byLength = Self.namesByLength
        guard bytes.count < byLength.count else {
            self = .other
            return
        }
        for (name, kind) in byLength[bytes.count] where name.elementsEqual(bytes) {
            self = kind
            return
        }
        self = .other
    }

    private static let namesByLength: [[(name: [UInt8], kind: EventKind)]] = {
        let longest = allCases.map(\.name.utf8.count).max() ?? 0
        var table = [[(name: [UInt8], kind: EventKind)]](repeating: [], count: longest + 1)
        for kind in allCases where kind != .other { table[kind.name.utf8.count].append((Array(kind.name.utf8), kind)) }
        return table
    }()
}

/// A set of event kinds, as the bits of one integer.
public struct EventKinds: Sendable, Equatable {
    private var bits: UInt64 = 0

    public init(_ kinds: EventKind...) {
        for kind in kinds { bits |= 1 << kind.rawValue }
    }

    public func contains(_ kind: EventKind) -> Bool { bits & (1 << kind.rawValue) != 0 }

    public mutating func insert(_ kind: EventKind) { bits |= 1 << kind.rawValue }

    /// The names of the kinds in the set, sorted.
    public var names: [String] { EventKind.allCases.filter(contains).map(\.name).sorted() }

    /// The kinds in the set, in the catalogue's order.
    public var kinds: [EventKind] { EventKind.allCases.filter(contains) }
}
