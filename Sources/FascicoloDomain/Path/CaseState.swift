/// Where a person's case stands on the path.
public enum CasePhase: String, Sendable {
    /// Registered, perhaps with contacts or referrals, but no case file opened.
    case noCase = "no_case"
    case opened
    case takenInCharge = "taken_in_charge"
    case suspended
    case closed
    case transferredOut = "transferred_out"
}

/// The lifecycle of one intervention.
public enum InterventionPhase: String, Sendable {
    case requested, active, suspended, ended
}

/// A refused step: a stable code and a sentence a caseworker understands, in English and Italian.
public struct PathRuleViolation: Error, Sendable, Equatable {
    public let code: String
    public let english: String
    public let italian: String
    /// The field at fault, when it is a reference (`target`, `intervention`, …).
    public var field: String?
}

/// The state of a person's stream, folded from its facts; `apply` enforces the path rules.
///
/// Rules (DOMAIN.md): nothing before registration; no assessment, plan or intervention before
/// the case is taken in charge; no intervention outside a signed plan unless it is pronto
/// intervento sociale (which needs only an open case); an outcome refers to an objective or an
/// intervention of the same case; nothing is added to a closed case except reopening,
/// corrections and consent withdrawal (access records live in their own stream); a transfer
/// closes the case in one ambito and it continues only with the transfer in to the other. A
/// voided entry no longer counts: the state is folded again without it.
public struct CaseState: Sendable {
    public private(set) var registered = false
    public private(set) var erased = false
    public private(set) var linkedToCodiceFiscale = false
    public private(set) var phase = CasePhase.noCase
    public private(set) var ambito: String?
    public private(set) var caseManager: String?
    public private(set) var takenInChargeOn: CalendarDate?
    public private(set) var nextReviewDue: CalendarDate?
    /// Case files opened here or transferred in.
    public private(set) var episodes = 0
    public private(set) var hasPreliminaryAnalysis = false
    public private(set) var hasInDepthAssessment = false
    public private(set) var signedPlans: Set<UInt64> = []
    public private(set) var interventions: [UInt64: InterventionPhase] = [:]
    public private(set) var goals: [UInt64: Bool] = [:]  // version → closed
    public private(set) var voided: Set<UInt64> = []
    /// Active restrictions: Restricted entry's version → the entry it restricts.
    public private(set) var restrictions: [UInt64: UInt64] = [:]
    /// Entries that do not count: voided, or no longer fitting once an entry they depended on was.
    private var notCounting: Set<UInt64> = []
    /// Interventions requested as pronto intervento sociale (allowed before the presa in carico).
    private var emergencyInterventions: Set<UInt64> = []
    /// Every entry's type by version, voided ones included.
    private var kindByVersion: [EventKind] = []
    private var concludedAppointments: Set<UInt64> = []
    private var phaseBeforeSuspension = CasePhase.opened
    private var phaseBeforeClosure = CasePhase.opened
    private var transferDestination: String?

    public init() {}

    /// The state after `facts` (an entire stream, in order). Facts that no longer fit — because
    /// an entry they depend on was voided — are skipped.
    public static func fold(_ facts: [CaseFact]) -> CaseState {
        var state = CaseState()
        // Skipped from the start; `voided` itself grows as the Voided entries are reached, so
        // that what happened before a void (a restriction of the entry, say) still holds.
        let voidedLater = Set(facts.filter { $0.kind == .voided }.compactMap(\.reference))
        for fact in facts {
            if voidedLater.contains(fact.version) {
                state.kindByVersion.append(fact.kind)
                state.notCounting.insert(fact.version)
            } else {
                state.absorbChecked(fact)
            }
        }
        return state
    }

    /// Folds one more stored fact, as `fold` would: skipped if it no longer fits. Only valid
    /// for a fact that is not a Voided (that one changes the past: fold the stream again).
    public mutating func absorb(_ fact: CaseFact) {
        precondition(fact.kind != .voided, "a Voided entry needs the stream folded again")
        absorbChecked(fact)
    }

    private mutating func absorbChecked(_ fact: CaseFact) {
        kindByVersion.append(fact.kind)
        do { try applyChecked(fact) } catch { notCounting.insert(fact.version) }
    }

    /// Whether the entry at `version` counts for the case state (it was not voided, and did not
    /// depend on an entry that was).
    public func counts(_ version: UInt64) -> Bool { !notCounting.contains(version) }

    /// The type of the entry at `version`, if it exists.
    public func kind(at version: UInt64) -> EventKind? {
        version >= 1 && version <= UInt64(kindByVersion.count) ? kindByVersion[Int(version - 1)] : nil
    }

    /// The type's name of the entry at `version`, if it exists.
    public func type(at version: UInt64) -> String? { kind(at: version)?.name }

    /// Checks `fact` (the next entry of the stream) against the rules and applies it.
    public mutating func apply(_ fact: CaseFact) throws(PathRuleViolation) {
        try applyChecked(fact)
        kindByVersion.append(fact.kind)
    }

    private mutating func applyChecked(_ fact: CaseFact) throws(PathRuleViolation) {
        if erased { throw Rule.personErased }
        if fact.kind == .personRegistered {
            if registered { throw Rule.alreadyRegistered }
            registered = true
            return
        }
        guard registered else { throw Rule.personNotRegistered }
        try checkPhaseAllows(fact)

        switch fact.kind {
        case .identityLinked:
            if linkedToCodiceFiscale { throw Rule.alreadyLinked }
            linkedToCodiceFiscale = true
        case .caseOpened:
            phase = .opened
            ambito = fact.ambito
            episodes += 1
            resetEpisode()
        case .caseManagerAssigned:
            caseManager = fact.operatorID
        case .takenInCharge:
            guard phase == .opened else { throw Rule.alreadyTakenInCharge }
            phase = .takenInCharge
            takenInChargeOn = fact.date
        case .appointmentHeld, .appointmentMissed:
            let appointment = try target(fact, types: Self.appointmentTargets)
            guard concludedAppointments.insert(appointment).inserted else { throw Rule.appointmentConcluded(fact) }
        case .preliminaryAnalysisCompleted:
            hasPreliminaryAnalysis = true
        case .inDepthAssessmentCompleted:
            hasInDepthAssessment = true
        case .planSigned:
            signedPlans.insert(try target(fact, types: Self.planTargets))
        case .planRevised:
            let plan = try target(fact, types: Self.planTargets)
            guard signedPlans.contains(plan) else { throw Rule.planNotSigned(fact) }
        case .commitmentBreached:
            guard !signedPlans.isEmpty else { throw Rule.noSignedPlan }
        case .goalSet:
            goals[fact.version] = false
        case .goalReviewed:
            let goal = try target(fact, types: Self.goalTargets)
            if goals[goal] == true { throw Rule.goalClosed(fact) }
        case .goalClosed:
            let goal = try target(fact, types: Self.goalTargets)
            if goals[goal] == true { throw Rule.goalClosed(fact) }
            goals[goal] = true
        case .interventionRequested:
            if !fact.emergency {
                guard phase == .takenInCharge else { throw Rule.notTakenInCharge }
                guard !signedPlans.isEmpty else { throw Rule.noSignedPlan }
            }
            interventions[fact.version] = .requested
            if fact.emergency { emergencyInterventions.insert(fact.version) }
        case .interventionStarted: try moveIntervention(fact, from: [.requested], to: .active)
        case .interventionSuspended: try moveIntervention(fact, from: [.active], to: .suspended)
        case .interventionResumed: try moveIntervention(fact, from: [.suspended], to: .active)
        case .interventionEnded: try moveIntervention(fact, from: [.requested, .active, .suspended], to: .ended)
        case .serviceDelivered: try moveIntervention(fact, from: [.active], to: .active)
        case .reviewHeld:
            nextReviewDue = fact.nextReviewDue
        case .outcomeRecorded:
            _ = try target(fact, types: Self.outcomeTargets, rule: Rule.outcomeWithoutReference)
        case .caseSuspended:
            phaseBeforeSuspension = phase
            phase = .suspended
        case .caseReopened:
            switch phase {
            case .suspended: phase = phaseBeforeSuspension
            case .closed: phase = phaseBeforeClosure
            default: throw Rule.caseNotClosed
            }
        case .caseTransferredOut:
            guard fact.ambito != ambito else { throw Rule.sameAmbito }
            transferDestination = fact.ambito
            phase = .transferredOut
            // The case ends here; its supports end with it (the other ambito plans its own).
            for (version, state) in interventions where state != .ended { interventions[version] = .ended }
        case .caseTransferredIn:
            guard fact.fromAmbito == ambito, fact.ambito == transferDestination else { throw Rule.transferMismatch }
            phase = .opened
            ambito = fact.ambito
            episodes += 1
            resetEpisode()
        case .caseClosed:
            // A reopening ends a suspension as well as the closure.
            phaseBeforeClosure = phase == .suspended ? phaseBeforeSuspension : phase
            phase = .closed
            for (version, state) in interventions where state != .ended { interventions[version] = .ended }
        case .rectified:
            let targetVersion = try target(fact, types: nil)
            try checkCorrection(fact, of: targetVersion, kind: .rectified)
            if let field = fact.field, let kind = kind(at: targetVersion),
               EventCatalogue.schema(kind)?.field(field) == nil {
                throw Rule.unknownField(type: kind.name)
            }
        case .voided:
            let targetVersion = try target(fact, types: nil)
            try checkCorrection(fact, of: targetVersion, kind: .voided)
            // The caller folds the stream again; here the entry just stops counting.
            voided.insert(targetVersion)
            notCounting.insert(targetVersion)
        case .restricted:
            // A voided entry stays readable, personal data included: it can be restricted too.
            let targetVersion = try target(fact, types: nil, allowVoided: true)
            guard !restrictions.values.contains(targetVersion) else { throw Rule.alreadyRestricted }
            restrictions[fact.version] = targetVersion
        case .restrictionLifted:
            let restriction = try target(fact, types: Self.liftTargets)
            guard restrictions.removeValue(forKey: restriction) != nil else { throw Rule.notRestricted }
        case .erasureExecuted:
            erased = true
        default:
            break  // contacts, referrals, consent, appointments scheduled, judicial measures, plans drafted
        }
    }

    // The gates of the lifecycle (built once: this runs for every event appended).
    // What a reference may point at (built once: a variadic list in the call would be an array per call).
    private static let appointmentTargets = EventKinds(.appointmentScheduled)
    private static let planTargets = EventKinds(.planDrafted)
    private static let goalTargets = EventKinds(.goalSet)
    private static let outcomeTargets = EventKinds(.goalSet, .interventionRequested)
    private static let liftTargets = EventKinds(.restricted)
    private static let interventionTargets = EventKinds(.interventionRequested)
    private static let corrections = EventKinds(.rectified, .voided, .restricted, .restrictionLifted, .erasureExecuted, .consentWithdrawn)
    private static let anytime = EventKinds(.identityLinked, .consentRecorded)
    private static let beforeCase = EventKinds(.accessContactRecorded, .referralReceived, .caseOpened, .judicialMeasureRecorded)
    private static let needsTakenInCharge = EventKinds(
        .preliminaryAnalysisCompleted, .inDepthAssessmentCompleted, .planDrafted, .planSigned, .planRevised,
        .goalSet, .goalReviewed, .goalClosed, .commitmentBreached, .reviewHeld, .outcomeRecorded)

    /// Which types a phase accepts.
    private func checkPhaseAllows(_ fact: CaseFact) throws(PathRuleViolation) {
        let kind = fact.kind
        if Self.corrections.contains(kind) { return }
        switch phase {
        case .closed:
            if kind == .caseReopened { return }
            throw Rule.caseClosed
        case .transferredOut:
            if kind == .caseTransferredIn { return }
            throw Rule.caseTransferred
        case .suspended:
            if kind == .caseReopened || kind == .caseClosed || kind == .caseTransferredOut || Self.anytime.contains(kind) { return }
            throw Rule.caseSuspended
        case .noCase:
            if Self.beforeCase.contains(kind) || Self.anytime.contains(kind) { return }
            if kind == .caseReopened { throw Rule.caseNotClosed }
            throw Rule.noOpenCase
        case .opened, .takenInCharge:
            if kind == .caseOpened { throw Rule.caseAlreadyOpen }
            if kind == .caseTransferredIn { throw Rule.transferMismatch }
            if phase == .opened && Self.needsTakenInCharge.contains(kind) { throw Rule.notTakenInCharge }
        }
    }

    /// The version `fact` refers to, checked: it exists, is earlier, is not voided, and (when
    /// `types` is given) is of one of those types and still counts. Corrections (`types` nil)
    /// may point at an entry that no longer counts: it stays readable, and correctable.
    private func target(_ fact: CaseFact, types: EventKinds?, rule: PathRuleViolation? = nil,
                        allowVoided: Bool = false) throws(PathRuleViolation) -> UInt64 {
        func fail(_ violation: PathRuleViolation) -> PathRuleViolation {
            var violation = rule ?? violation
            violation.field = fact.referenceField
            return violation
        }
        guard let version = fact.reference, version < fact.version, let kind = kind(at: version) else { throw fail(Rule.unknownTarget) }
        if let types, !types.contains(kind) { throw fail(Rule.wrongTarget(found: kind.name, expected: types.names)) }
        if voided.contains(version) && !allowVoided { throw fail(Rule.targetVoided) }
        if types != nil && notCounting.contains(version) { throw fail(Rule.targetNotCounting) }
        return version
    }

    private func checkCorrection(_ fact: CaseFact, of version: UInt64, kind: CorrectionKind) throws(PathRuleViolation) {
        guard let target = self.kind(at: version), let schema = EventCatalogue.schema(target) else { throw Rule.unknownTarget }
        guard schema.correction == kind else { throw Rule.notCorrectable(type: target.name, correction: schema.correction, attempted: kind) }
    }

    private mutating func moveIntervention(_ fact: CaseFact, from: [InterventionPhase], to: InterventionPhase) throws(PathRuleViolation) {
        // Before the presa in carico only pronto intervento sociale runs.
        if phase == .opened && !(fact.reference.map(emergencyInterventions.contains) ?? false) { throw Rule.notTakenInCharge }
        let intervention = try target(fact, types: Self.interventionTargets)
        guard let current = interventions[intervention], from.contains(current) else {
            var violation = Rule.interventionStep(current: interventions[intervention])
            violation.field = fact.referenceField
            throw violation
        }
        // A delivery leaves an active intervention active: nothing changes.
        if current != to { interventions[intervention] = to }
    }

    private mutating func resetEpisode() {
        takenInChargeOn = nil
        nextReviewDue = nil
        hasPreliminaryAnalysis = false
        hasInDepthAssessment = false
        signedPlans = []
        transferDestination = nil
    }

    /// Interventions not yet ended.
    public var openInterventions: [UInt64] { interventions.compactMap { $0.value != .ended ? $0.key : nil }.sorted() }
}
