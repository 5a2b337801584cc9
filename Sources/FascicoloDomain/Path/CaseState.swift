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
///
/// Dates (each entry's `CaseFact.day`; a rule is skipped when a date it compares is unknown):
/// nothing is dated after the person's death (but the closure of the case and corrections); a
/// step of the case is not dated before the case's open period began, an assessment, plan or
/// ordinary intervention not before the presa in carico, a reference not before the entry it
/// refers to, a step of an intervention not before its start.
///
/// Open period: the days from the opening of a case file (CaseOpened, CaseTransferredIn, a
/// CaseReopened of a closed case, or pronto intervento sociale for a person without one) to
/// its end (CaseClosed, CaseTransferredOut, or the person's death), both days included; the
/// current period, while the case is open, has no end. A suspension does not end a period.
/// Late entries: a step that records what happened (`lateEntryKinds`: a delivery, a colloquio,
/// a review, an outcome, a start or end of an intervention…) dated inside an open period is
/// accepted even when the case has since been closed, transferred, suspended or the person
/// died — the provider's September delivery recorded after an October closure. So is the
/// replacement of an entry just voided (SIUSS cancel-and-reinsert: the Voided and the new entry
/// of the same type, in one request), whatever its type.
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
    /// The ambito a transfer out sent the case to, until that ambito takes it in.
    public var pendingTransferTo: String? { transferDestination }
    /// Ambiti the person consented to share their file with (ConsentRecorded, scope
    /// sharing_with_ambito), until the consent is withdrawn: their services may read it.
    public private(set) var sharedWith: Set<String> = []
    /// Legal holds in force: the versions of their LegalHoldPlaced entries, oldest first.
    public private(set) var legalHolds: [UInt64] = []
    /// PersonRegistered's birth year (rectifiable).
    public private(set) var birthYear: Int?
    /// The person died (PersonDied, or a closure for death): the path ends there.
    public private(set) var deceased = false
    /// The day of the death, when known.
    public private(set) var diedOn: CalendarDate?
    /// The reason of the current closure (CaseClosed, or a transfer to another region).
    public private(set) var closureReason: String?
    /// The case's open periods, oldest first (see the type's comment).
    public private(set) var periods: [OpenPeriod] = []
    /// The day of the current suspension.
    private var suspendedOn: CalendarDate?
    /// The TakenInCharge entry of the current episode: a rectification of its date moves `takenInChargeOn`.
    public private(set) var takenInChargeVersion: UInt64?
    /// Every entry's day by version (voided ones included), for the references' date checks.
    private var dayByVersion: [CalendarDate?] = []
    /// Each intervention's dates.
    private var interventionDates: [UInt64: InterventionDates] = [:]
    /// After a Voided: the type of the entry it voided, which the next entry may replace (even late).
    private var replacing: EventKind?

    /// Days from an opening to an end, both included; `end` nil while the period is current.
    public struct OpenPeriod: Sendable, Equatable {
        public var start: CalendarDate?
        public var end: CalendarDate?

        func contains(_ day: CalendarDate) -> Bool {
            guard let start, start <= day else { return false }
            return end.map { day <= $0 } ?? true
        }
    }

    private struct InterventionDates {
        var requestedOn, startedOn, suspendedOn, endedOn: CalendarDate?
        /// Ended by the case's closure, transfer or the person's death, not by its own entry:
        /// a late InterventionEnded may still say when it really ended.
        var endedWithCase = false
    }

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
                state.dayByVersion.append(fact.day)
                state.notCounting.insert(fact.version)
                state.replacing = nil
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
        dayByVersion.append(fact.day)
        do { try applyChecked(fact) } catch {
            notCounting.insert(fact.version)
            replacing = nil
        }
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
        dayByVersion.append(fact.day)
    }

    /// The rules, then what the entry changes. Nothing is changed before the last check passed:
    /// a refused entry leaves the state as it was.
    private mutating func applyChecked(_ fact: CaseFact) throws(PathRuleViolation) {
        try applyRules(fact)
        replacing = fact.kind == .voided ? fact.reference.flatMap { kind(at: $0) } : nil
    }

    private mutating func applyRules(_ fact: CaseFact) throws(PathRuleViolation) {
        if erased { throw Rule.personErased }
        if fact.kind == .personRegistered {
            if registered { throw Rule.alreadyRegistered }
            registered = true
            birthYear = fact.birthYear
            return
        }
        guard registered else { throw Rule.personNotRegistered }
        if fact.kind == .interventionEnded, let closing = fact.endedWith {
            try confirmEndedWithCase(fact, by: closing)
            return
        }
        let late = try checkPhaseAllows(fact)
        try checkDates(fact, late: late)

        switch fact.kind {
        case .identityLinked:
            if linkedToCodiceFiscale { throw Rule.alreadyLinked }
            linkedToCodiceFiscale = true
        case .caseOpened:
            openEpisode(in: fact.ambito, on: fact.day)
        case .caseManagerAssigned:
            caseManager = fact.operatorID
        case .takenInCharge:
            guard phase == .opened else { throw Rule.alreadyTakenInCharge }
            phase = .takenInCharge
            takenInChargeOn = fact.date
            takenInChargeVersion = fact.version
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
                guard phase == .takenInCharge || late && takenInChargeOn != nil else { throw Rule.notTakenInCharge }
                guard !signedPlans.isEmpty else { throw Rule.noSignedPlan }
            }
            // Pronto intervento sociale for someone without a case file opens a minimal one.
            if phase == .noCase { openEpisode(in: fact.ambito, on: fact.day) }
            var dates = InterventionDates(requestedOn: fact.day)
            if late, let end = periods.last?.end {
                // Recorded after the case ended (a replacement): it ended with the case.
                interventions[fact.version] = .ended
                dates.endedOn = end
                dates.endedWithCase = true
            } else {
                interventions[fact.version] = .requested
            }
            interventionDates[fact.version] = dates
            if fact.emergency { emergencyInterventions.insert(fact.version) }
        case .interventionStarted: try moveIntervention(fact, from: [.requested], to: .active, late: late)
        case .interventionSuspended: try moveIntervention(fact, from: [.active], to: .suspended, late: late)
        case .interventionResumed: try moveIntervention(fact, from: [.suspended], to: .active, late: late)
        case .interventionEnded: try moveIntervention(fact, from: [.requested, .active, .suspended], to: .ended, late: late)
        case .serviceDelivered: try moveIntervention(fact, from: [.active], to: .active, late: late)
        case .reviewHeld:
            // A late review (of a case since closed or suspended) schedules nothing.
            if !late { nextReviewDue = fact.nextReviewDue }
        case .outcomeRecorded:
            _ = try target(fact, types: Self.outcomeTargets, rule: Rule.outcomeWithoutReference)
        case .caseSuspended:
            phaseBeforeSuspension = phase
            phase = .suspended
            suspendedOn = fact.day
        case .caseReopened:
            switch phase {
            case .suspended:
                phase = phaseBeforeSuspension
                suspendedOn = nil
            case .closed:
                phase = phaseBeforeClosure
                closureReason = nil
                suspendedOn = nil
                periods.append(OpenPeriod(start: fact.day))
            default: throw Rule.caseNotClosed
            }
        case .caseTransferredOut:
            guard fact.ambito != ambito else { throw Rule.sameAmbito }
            if fact.toOtherRegion {
                // Another region's ambito: no transfer in follows here; the case closes.
                close(reason: "transferred_other_region", on: fact.day)
            } else {
                transferDestination = fact.ambito
                phase = .transferredOut
                // The case ends here; its supports end with it (the other ambito plans its own).
                endPeriod(on: fact.day)
            }
        case .caseTransferredIn:
            guard fact.fromAmbito == ambito, fact.ambito == transferDestination else { throw Rule.transferMismatch }
            // The receiving ambito assigns its own case manager.
            caseManager = nil
            openEpisode(in: fact.ambito, on: fact.day)
        case .caseClosed:
            if fact.reason == "came_of_age", let birthYear, let day = fact.day, day.year - birthYear < 18 {
                throw Rule.cameOfAgeUnder18(closedOn: day, birthYear: birthYear)
            }
            if deceased, let reason = fact.reason, reason != "death" { throw Rule.closureAfterDeath }
            close(reason: fact.reason, on: fact.day)
            if fact.reason == "death", !deceased {
                deceased = true
                diedOn = fact.day
            }
        case .personDied:
            deceased = true
            diedOn = fact.day
            endPeriod(on: fact.day)
        case .rectified:
            let targetVersion = try target(fact, types: nil)
            try checkCorrection(fact, of: targetVersion, kind: .rectified)
            if let field = fact.field, let kind = kind(at: targetVersion),
                EventCatalogue.schema(kind)?.field(field) == nil
            {
                throw Rule.unknownField(type: kind)
            }
            try applyRectification(fact, of: targetVersion)
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
        case .legalHoldPlaced:
            legalHolds.append(fact.version)
        case .legalHoldReleased:
            let hold = try target(fact, types: Self.holdTargets)
            guard let index = legalHolds.firstIndex(of: hold) else { throw Rule.holdNotInForce }
            legalHolds.remove(at: index)
        case .consentRecorded:
            if let ambito = fact.ambito { sharedWith.insert(ambito) }
        case .consentWithdrawn:
            if let ambito = fact.ambito { sharedWith.remove(ambito) }
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
    private static let holdTargets = EventKinds(.legalHoldPlaced)
    private static let interventionTargets = EventKinds(.interventionRequested)
    /// Accepted in every phase (after a death too): corrections, and the legal holds, which
    /// matter most once the case is closed and its retention runs.
    private static let corrections = EventKinds(
        .rectified, .voided, .restricted, .restrictionLifted, .erasureExecuted, .consentWithdrawn, .legalHoldPlaced, .legalHoldReleased)
    private static let anytime = EventKinds(.identityLinked, .consentRecorded)
    private static let beforeCase = EventKinds(.accessContactRecorded, .referralReceived, .caseOpened, .judicialMeasureRecorded)
    private static let needsTakenInCharge = EventKinds(
        .preliminaryAnalysisCompleted, .inDepthAssessmentCompleted, .planDrafted, .planSigned, .planRevised,
        .goalSet, .goalReviewed, .goalClosed, .commitmentBreached, .reviewHeld, .outcomeRecorded)

    /// What may be recorded after the case stopped (closed, transferred, suspended, the person's
    /// death), when dated inside an open period: steps that record what happened then.
    private static let lateEntryKinds = EventKinds(
        .serviceDelivered, .interventionStarted, .interventionEnded, .appointmentHeld, .appointmentMissed,
        .reviewHeld, .outcomeRecorded, .goalReviewed, .goalClosed)
    /// Entries that are not steps of a case: they need no open period.
    private static let outsideCase = EventKinds(
        .identityLinked, .consentRecorded, .accessContactRecorded, .referralReceived, .judicialMeasureRecorded, .personDied)

    /// Which types a phase accepts; true when `fact` is accepted as a late entry (dated inside
    /// an open period of a case that has stopped since).
    private func checkPhaseAllows(_ fact: CaseFact) throws(PathRuleViolation) -> Bool {
        let kind = fact.kind
        if Self.corrections.contains(kind) { return false }
        if deceased {
            // After a death: the closure of the case, and what happened up to the death.
            if kind == .caseClosed && phase != .closed && phase != .transferredOut && phase != .noCase { return false }
            if try isLateEntry(fact, stoppedOn: diedOn) { return true }
            throw Rule.personDeceased(on: diedOn)
        }
        if kind == .personDied { return false }
        switch phase {
        case .closed:
            if kind == .caseReopened { return false }
            if try isLateEntry(fact, stoppedOn: periods.last?.end) { return true }
            throw Rule.caseClosed
        case .transferredOut:
            if kind == .caseTransferredIn { return false }
            if try isLateEntry(fact, stoppedOn: periods.last?.end) { return true }
            throw Rule.caseTransferred
        case .suspended:
            if kind == .caseReopened || kind == .caseClosed || kind == .caseTransferredOut || Self.anytime.contains(kind) { return false }
            if try isLateEntry(fact, stoppedOn: suspendedOn) { return true }
            throw Rule.caseSuspended
        case .noCase:
            if Self.beforeCase.contains(kind) || Self.anytime.contains(kind) { return false }
            if kind == .interventionRequested && fact.emergency { return false }
            if kind == .caseReopened { throw Rule.caseNotClosed }
            throw Rule.noOpenCase
        case .opened, .takenInCharge:
            if kind == .caseOpened { throw Rule.caseAlreadyOpen }
            if kind == .caseTransferredIn { throw Rule.transferMismatch }
            // A step dated in an earlier period (before a closure and reopening, or a transfer).
            if let day = fact.day, let start = periods.last?.start, day < start,
                Self.lateEntryKinds.contains(kind) || kind == replacing,
                periods.dropLast().contains(where: { $0.contains(day) })
            {
                return true
            }
            if phase == .opened && Self.needsTakenInCharge.contains(kind) { throw Rule.notTakenInCharge }
            return false
        }
    }

    /// Whether `fact` is a late entry: of a kind recorded late (or replacing the entry just
    /// voided), dated inside an open period and not after the day the case stopped. False when
    /// it is not of such a kind or has no date (the phase's own refusal applies); the date's
    /// refusal when it is, but is dated outside.
    private func isLateEntry(_ fact: CaseFact, stoppedOn: CalendarDate?) throws(PathRuleViolation) -> Bool {
        guard Self.lateEntryKinds.contains(fact.kind) || fact.kind == replacing, let day = fact.day, let stoppedOn else { return false }
        if day > stoppedOn {
            if let diedOn, day > diedOn { throw Self.onItsDay(Rule.dateAfterDeath(day, diedOn: diedOn), fact) }
            throw Self.onItsDay(
                phase == .suspended
                    ? Rule.dateAfterSuspension(day, suspendedOn: stoppedOn)
                    : Rule.dateAfterClosure(day, closedOn: stoppedOn), fact)
        }
        guard periods.contains(where: { $0.contains(day) }) else { throw Self.onItsDay(Rule.dateOutsideOpenPeriods(day), fact) }
        return true
    }

    /// The dates `fact` depends on (each check skipped when a date is unknown).
    private func checkDates(_ fact: CaseFact, late: Bool) throws(PathRuleViolation) {
        do { try checkDateRules(fact, late: late) } catch { throw Self.onItsDay(error, fact) }
    }

    /// A date rule's refusal names the date at fault: the `date` field, or `occurredAt`.
    static func onItsDay(_ violation: PathRuleViolation, _ fact: CaseFact) -> PathRuleViolation {
        var violation = violation
        if violation.field == nil { violation.field = fact.date != nil && fact.kind != .appointmentScheduled ? "date" : "occurredAt" }
        return violation
    }

    private func checkDateRules(_ fact: CaseFact, late: Bool) throws(PathRuleViolation) {
        guard let day = fact.day else { return }
        let kind = fact.kind
        if Self.corrections.contains(kind) { return }
        if let diedOn, day > diedOn, kind != .caseClosed { throw Rule.dateAfterDeath(day, diedOn: diedOn) }
        if Self.outsideCase.contains(kind) || kind == .caseOpened || kind == .caseTransferredIn { return }
        if kind == .caseReopened {
            if phase == .closed, let end = periods.last?.end, day < end { throw Rule.dateBeforeClosure(day, closedOn: end) }
            if phase == .suspended, let suspendedOn, day < suspendedOn { throw Rule.dateBeforeSuspension(day, suspendedOn: suspendedOn) }
            return
        }
        // Pronto intervento sociale opening a minimal file starts the period itself.
        if phase == .noCase { return }
        // A late entry was placed in its period by `isLateEntry`; the rest belong to the current one.
        guard !late else { return }
        if let start = periods.last?.start, day < start {
            // A record of what happened, dated before this period began: in none of the earlier ones either.
            if periods.count > 1 && (Self.lateEntryKinds.contains(kind) || kind == replacing) { throw Rule.dateOutsideOpenPeriods(day) }
            throw Rule.dateBeforeCaseOpened(day, openedOn: start)
        }
        let needsPresaInCarico = Self.needsTakenInCharge.contains(kind) || kind == .interventionRequested && !fact.emergency
        if needsPresaInCarico, let takenInChargeOn, day < takenInChargeOn {
            throw Rule.dateBeforeTakenInCharge(day, takenInChargeOn: takenInChargeOn)
        }
        if kind == .caseSuspended || kind == .caseClosed || kind == .caseTransferredOut, let suspendedOn, phase == .suspended,
            day < suspendedOn
        {
            throw Rule.dateBeforeSuspension(day, suspendedOn: suspendedOn)
        }
    }

    /// The version `fact` refers to, checked: it exists, is earlier, is not voided, and (when
    /// `types` is given) is of one of those types and still counts. Corrections (`types` nil)
    /// may point at an entry that no longer counts: it stays readable, and correctable.
    private func target(
        _ fact: CaseFact, types: EventKinds?, rule: PathRuleViolation? = nil,
        allowVoided: Bool = false
    ) throws(PathRuleViolation) -> UInt64 {
        func fail(_ violation: PathRuleViolation) -> PathRuleViolation {
            var violation = rule ?? violation
            violation.field = fact.referenceField
            return violation
        }
        guard let version = fact.reference, version < fact.version, let kind = kind(at: version) else { throw fail(Rule.unknownTarget) }
        if let types, !types.contains(kind) { throw fail(Rule.wrongTarget(found: kind, expected: types)) }
        if voided.contains(version) && !allowVoided { throw fail(Rule.targetVoided) }
        if types != nil && notCounting.contains(version) { throw fail(Rule.targetNotCounting) }
        if types != nil, let day = fact.day, let referenced = dayByVersion[Int(version - 1)], day < referenced {
            var violation = Rule.dateBeforeReferencedEntry(day, referencedOn: referenced)
            violation.field = fact.referenceField
            throw violation
        }
        return version
    }

    private func checkCorrection(_ fact: CaseFact, of version: UInt64, kind: CorrectionKind) throws(PathRuleViolation) {
        guard let target = self.kind(at: version), let schema = EventCatalogue.schema(target) else { throw Rule.unknownTarget }
        guard schema.correction == kind else { throw Rule.notCorrectable(type: target, correction: schema.correction, attempted: kind) }
    }

    private mutating func moveIntervention(
        _ fact: CaseFact, from: [InterventionPhase], to: InterventionPhase,
        late: Bool
    ) throws(PathRuleViolation) {
        // Before the presa in carico only pronto intervento sociale runs (a late entry belongs
        // to an earlier period: the one being opened now has no say on it).
        if phase == .opened && !late && !(fact.reference.map(emergencyInterventions.contains) ?? false) { throw Rule.notTakenInCharge }
        let intervention = try target(fact, types: Self.interventionTargets)
        var dates = interventionDates[intervention] ?? InterventionDates()
        if let day = fact.day, let startedOn = dates.startedOn, day < startedOn, fact.kind != .interventionStarted {
            throw Self.withField(Rule.dateBeforeInterventionStarted(day, startedOn: startedOn), fact)
        }
        let current = interventions[intervention]
        if let current, let day = fact.day, !from.contains(current) {
            // By date: a delivery while it ran, before a suspension or the end (a late entry);
            // the start or the real end of one that ended with the case, up to that end.
            switch (fact.kind, current) {
            case (.serviceDelivered, .suspended) where dates.startedOn != nil && dates.suspendedOn.map({ day <= $0 }) ?? false:
                return
            case (.serviceDelivered, .ended) where dates.startedOn != nil:
                if let endedOn = dates.endedOn, day > endedOn {
                    throw Self.withField(Rule.dateAfterInterventionEnded(day, endedOn: endedOn), fact)
                }
                if dates.endedOn != nil { return }
            case (.interventionStarted, .ended) where dates.startedOn == nil && dates.endedWithCase:
                if let endedOn = dates.endedOn, day > endedOn {
                    throw Self.withField(Rule.dateAfterInterventionEnded(day, endedOn: endedOn), fact)
                }
                dates.startedOn = day
                interventionDates[intervention] = dates
                return
            case (.interventionEnded, .ended) where dates.endedWithCase:
                if let endedOn = dates.endedOn, day > endedOn {
                    throw Self.withField(Rule.dateAfterInterventionEnded(day, endedOn: endedOn), fact)
                }
                dates.endedOn = day
                dates.endedWithCase = false
                interventionDates[intervention] = dates
                return
            default: break
            }
        }
        guard let current, from.contains(current) else {
            throw Self.withField(Rule.interventionStep(current: current), fact)
        }
        switch fact.kind {
        case .interventionStarted: dates.startedOn = fact.day
        case .interventionSuspended: dates.suspendedOn = fact.day
        case .interventionResumed: dates.suspendedOn = nil
        case .interventionEnded: dates.endedOn = fact.day
        default: break
        }
        interventionDates[intervention] = dates
        // A delivery leaves an active intervention active: nothing changes.
        if current != to { interventions[intervention] = to }
    }

    /// The kinds that end the case's open period, and with it the interventions still running.
    public static let endingKinds = EventKinds(.caseClosed, .caseTransferredOut, .personDied)

    /// The explicit record of an end the case's closure, transfer out or death made (the daemon
    /// writes one per intervention right after that entry): it changes nothing the closing entry
    /// did not, and counts only while that entry does — a void of the closure takes it back, and
    /// the intervention runs again. The intervention stays `endedWithCase`: a late
    /// InterventionEnded may still say when it really ended.
    private func confirmEndedWithCase(_ fact: CaseFact, by closing: UInt64) throws(PathRuleViolation) {
        guard closing < fact.version, let kind = kind(at: closing), Self.endingKinds.contains(kind), counts(closing) else {
            var violation = Rule.unknownTarget
            violation.field = "endedWith"
            throw violation
        }
        guard let intervention = fact.reference, self.kind(at: intervention) == .interventionRequested, counts(intervention) else {
            throw Self.withField(Rule.unknownTarget, fact)
        }
        guard let dates = interventionDates[intervention], interventions[intervention] == .ended, dates.endedWithCase,
            dates.endedOn == fact.day
        else {
            throw Self.withField(Rule.interventionStep(current: interventions[intervention]), fact)
        }
    }

    private static func withField(_ violation: PathRuleViolation, _ fact: CaseFact) -> PathRuleViolation {
        var violation = violation
        violation.field = fact.referenceField
        return violation
    }

    /// A new case file (opened, transferred in, or pronto intervento sociale without one).
    private mutating func openEpisode(in ambito: String?, on day: CalendarDate?) {
        phase = .opened
        self.ambito = ambito
        episodes += 1
        closureReason = nil
        suspendedOn = nil
        periods.append(OpenPeriod(start: day))
        resetEpisode()
    }

    private mutating func close(reason: String?, on day: CalendarDate?) {
        // A reopening ends a suspension as well as the closure.
        phaseBeforeClosure = phase == .suspended ? phaseBeforeSuspension : phase
        phase = .closed
        closureReason = reason
        endPeriod(on: day)
    }

    /// The current open period ends on `day`; the supports still running end with it.
    private mutating func endPeriod(on day: CalendarDate?) {
        if let last = periods.indices.last, periods[last].end == nil || day.map({ $0 < periods[last].end! }) ?? false {
            periods[last].end = day ?? periods[last].start
        }
        for (version, state) in interventions where state != .ended {
            interventions[version] = .ended
            interventionDates[version, default: InterventionDates()].endedOn = day
            interventionDates[version, default: InterventionDates()].endedWithCase = true
        }
    }

    /// A rectification of a field the state holds takes effect (the original stays in the log).
    /// The new value is in the fact only when the field is not personal (`CaseFiles` keeps it in
    /// clear then, and has checked it against the field's schema).
    private mutating func applyRectification(_ fact: CaseFact, of target: UInt64) throws(PathRuleViolation) {
        guard let field = fact.field, let value = fact.newValue, counts(target) else { return }
        switch (kind(at: target), field) {
        case (.personRegistered?, "birthYear"):
            birthYear = Int(value)
        case (.takenInCharge?, "date") where target == takenInChargeVersion:
            guard let date = CalendarDate(value) else { return }
            // Checked against the period the presa in carico was recorded in: a later transfer in or
            // reopening starts a new period without a new presa in carico.
            let original = dayByVersion[Int(target - 1)]
            let period = periods.last { period in original.map(period.contains) ?? false } ?? periods.last
            if let start = period?.start, date < start { throw Rule.dateBeforeCaseOpened(date, openedOn: start) }
            takenInChargeOn = date
            dayByVersion[Int(target - 1)] = date
        case (let kind?, "date") where kind != .appointmentScheduled:
            if let date = CalendarDate(value) { dayByVersion[Int(target - 1)] = date }
        default: break
        }
    }

    private mutating func resetEpisode() {
        takenInChargeOn = nil
        takenInChargeVersion = nil
        nextReviewDue = nil
        hasPreliminaryAnalysis = false
        hasInDepthAssessment = false
        signedPlans = []
        transferDestination = nil
    }

    /// Interventions not yet ended.
    public var openInterventions: [UInt64] { interventions.compactMap { $0.value != .ended ? $0.key : nil }.sorted() }
}
