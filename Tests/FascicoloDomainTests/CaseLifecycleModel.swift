import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloDomain

// The independent model of the case lifecycle that CaseLifecyclePropertyTests checks
// CaseState against, written from DOMAIN.md, not from CaseState's code.

// MARK: - The model

enum ModelPhase: String, CaseIterable {
    case noCase = "no_case"
    case opened
    case takenInCharge = "taken_in_charge"
    case suspended, closed
    case transferredOut = "transferred_out"
}

/// Four rules CaseState once got wrong, found by these properties and fixed: a failure is
/// explained by naming which of them it matches, should one come back. Each field's comment
/// describes the former behaviour. `believed` is what the tests encode.
struct Interpretation: Sendable {
    /// Pronto intervento sociale needs only an open case (DOMAIN.md; CaseState's own doc comment):
    /// once disposto, it can also be activated, delivered, suspended and ended before the presa in
    /// carico. CaseState lets the request through but refuses every later step until then.
    var emergencyStepsBeforePresaInCarico: Bool
    /// "A transfer closes the case in one ambito": like CaseClosed, it ends the supports still
    /// open there. CaseState keeps them running into the next ambito, where — with the signed
    /// plans reset — services are then delivered outside any signed plan of the case.
    var transferEndsInterventions: Bool
    /// A path reference (plan, goal, appointment, intervention, outcome) must point at an entry
    /// that still counts: one that the fold applied, not one skipped because an entry it depended
    /// on (say the CaseOpened) was voided. CaseState checks only "not voided" and lets such
    /// entries be signed, reviewed, closed, held or referred to.
    var referencesMustCount: Bool
    /// A restriction (GDPR art. 18) stays until it is lifted. Voiding its target does not lift it:
    /// the voided entry stays readable (DPR 445/2000 art. 54), so its personal data must stay
    /// restricted. CaseState's fold drops the Restricted entry once its target is voided.
    var restrictionSurvivesVoid: Bool

    static let believed = Interpretation(
        emergencyStepsBeforePresaInCarico: true, transferEndsInterventions: true,
        referencesMustCount: true, restrictionSurvivesVoid: true)
    static let formerCaseState = Interpretation(
        emergencyStepsBeforePresaInCarico: false, transferEndsInterventions: false,
        referencesMustCount: false, restrictionSurvivesVoid: false)
}

// DOMAIN.md's "correction" column: which entries a Rectified, and which a Voided, may target.
// (IdentityLinked is not in DOMAIN.md; the catalogue voids it.) Checked against the catalogue below.
let rectifiable: Set<String> = [
    "PersonRegistered", "TakenInCharge", "AppointmentScheduled", "AppointmentHeld", "AppointmentMissed",
    "JudicialMeasureRecorded", "InterventionStarted", "InterventionSuspended", "InterventionResumed",
    "InterventionEnded", "ReviewHeld",
]
let voidable: Set<String> = [
    "IdentityLinked", "PersonDied", "AccessContactRecorded", "ReferralReceived", "CaseOpened", "CommitmentBreached",
    "InterventionRequested", "ServiceDelivered", "CaseTransferredOut", "CaseTransferredIn", "CaseClosed",
]

/// The entry reference each type carries: its field name and the types it may point at (nil: any).
let referenceSpec: [String: (field: String, targets: Set<String>?)] = [
    "AppointmentHeld": ("appointment", ["AppointmentScheduled"]),
    "AppointmentMissed": ("appointment", ["AppointmentScheduled"]),
    "PlanSigned": ("plan", ["PlanDrafted"]),
    "PlanRevised": ("plan", ["PlanDrafted"]),
    "GoalReviewed": ("goal", ["GoalSet"]),
    "GoalClosed": ("goal", ["GoalSet"]),
    "InterventionStarted": ("intervention", ["InterventionRequested"]),
    "InterventionSuspended": ("intervention", ["InterventionRequested"]),
    "InterventionResumed": ("intervention", ["InterventionRequested"]),
    "InterventionEnded": ("intervention", ["InterventionRequested"]),
    "ServiceDelivered": ("intervention", ["InterventionRequested"]),
    "OutcomeRecorded": ("refersTo", ["GoalSet", "InterventionRequested"]),
    "Rectified": ("target", nil),
    "Voided": ("target", nil),
    "Restricted": ("target", nil),
    "RestrictionLifted": ("restriction", ["Restricted"]),
    "LegalHoldReleased": ("hold", ["LegalHoldPlaced"]),
]

/// Intervention sub-lifecycle: requested → active ⇄ suspended → ended; deliveries only while active.
let interventionSteps: [String: (from: Set<String>, to: String)] = [
    "InterventionStarted": (["requested"], "active"),
    "InterventionSuspended": (["active"], "suspended"),
    "InterventionResumed": (["suspended"], "active"),
    // Ending before the start (an intervention disposto and then dropped) is allowed.
    "InterventionEnded": (["requested", "active", "suspended"], "ended"),
    "ServiceDelivered": (["active"], "active"),
]

let working: Set<ModelPhase> = [.opened, .takenInCharge]
let presaInCarico: Set<ModelPhase> = [.takenInCharge]

/// The lifecycle table: phase × event type → allowed. Type-specific checks come after it.
let phaseTable: [String: Set<ModelPhase>] = [
    // Registry facts about the person: not on a closed case (only reopening and corrections there)
    // nor on one transferred out (it continues in the other ambito).
    "IdentityLinked": [.noCase, .opened, .takenInCharge, .suspended],
    "ConsentRecorded": [.noCase, .opened, .takenInCharge, .suspended],
    // Access, referrals and judicial measures come before a case exists and while it is open.
    // Debatable: on a suspended case CaseState (and this model) want a reopening first.
    "AccessContactRecorded": [.noCase, .opened, .takenInCharge],
    "ReferralReceived": [.noCase, .opened, .takenInCharge],
    "JudicialMeasureRecorded": [.noCase, .opened, .takenInCharge],
    "CaseOpened": [.noCase],
    "CaseManagerAssigned": working,
    "TakenInCharge": [.opened],
    // A convocazione and a colloquio may precede the presa in carico (GePI: summons → analisi).
    "AppointmentScheduled": working,
    "AppointmentHeld": working,
    "AppointmentMissed": working,
    // No assessment, plan (objectives, commitments) or monitoring before the presa in carico.
    "PreliminaryAnalysisCompleted": presaInCarico,
    "InDepthAssessmentCompleted": presaInCarico,
    "PlanDrafted": presaInCarico,
    "PlanSigned": presaInCarico,
    "PlanRevised": presaInCarico,
    "GoalSet": presaInCarico,
    "GoalReviewed": presaInCarico,
    "GoalClosed": presaInCarico,
    "CommitmentBreached": presaInCarico,
    "ReviewHeld": presaInCarico,
    "OutcomeRecorded": presaInCarico,
    // Pronto intervento sociale needs only an open case; any other intervention is checked further.
    "InterventionRequested": working,
    // Steps of an intervention already disposto (see Interpretation.emergencyStepsBeforePresaInCarico).
    "InterventionStarted": working,
    "InterventionSuspended": working,
    "InterventionResumed": working,
    "InterventionEnded": working,
    "ServiceDelivered": working,
    "CaseSuspended": working,
    "CaseReopened": [.suspended, .closed],
    "CaseClosed": [.opened, .takenInCharge, .suspended],
    "CaseTransferredOut": [.opened, .takenInCharge, .suspended],
    "CaseTransferredIn": [.transferredOut],
    // Corrections (and consent withdrawal, a right) are accepted whatever the phase.
    "Rectified": Set(ModelPhase.allCases),
    "Voided": Set(ModelPhase.allCases),
    "Restricted": Set(ModelPhase.allCases),
    "RestrictionLifted": Set(ModelPhase.allCases),
    "ErasureExecuted": Set(ModelPhase.allCases),
    "ConsentWithdrawn": Set(ModelPhase.allCases),
    // Legal holds (issue 21): placed and released whatever the phase — retention runs after the closure.
    "LegalHoldPlaced": Set(ModelPhase.allCases),
    "LegalHoldReleased": Set(ModelPhase.allCases),
    // A person may die whatever their path; it is recorded once (see `afterDeath`).
    "PersonDied": Set(ModelPhase.allCases),
]

/// After a death (PersonDied, or a closure for death) the path ends: the case can still be
/// closed, and the record corrected; nothing else is recorded, and the case is never reopened.
/// (Entries dated up to the death — late entries — need dates, which these facts do not carry:
/// PathDatesTests covers them.)
let afterDeath: Set<String> = [
    "CaseClosed", "Rectified", "Voided", "Restricted", "RestrictionLifted", "ErasureExecuted", "ConsentWithdrawn",
    "LegalHoldPlaced", "LegalHoldReleased",
]

struct Refusal: CustomStringConvertible {
    let reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

struct LifecycleModel {
    let interpretation: Interpretation
    /// Every entry of the stream, counted or not, and their versions by type.
    private(set) var facts: [CaseFact] = []
    private(set) var versionsByType: [String: [UInt64]] = [:]
    var registered = false
    var erased = false
    var linked = false
    var deceased = false
    var phase = ModelPhase.noCase
    var ambito: String?
    var destination: String?
    var phaseBeforeSuspension = ModelPhase.opened
    var phaseBeforeClosure = ModelPhase.opened
    var episodes = 0
    var signedPlans: Set<UInt64> = []
    var interventions: [UInt64: String] = [:]
    /// Interventions a closure, transfer out or death ended (not an InterventionEnded of their own).
    var endedWithCase: Set<UInt64> = []
    var goals: [UInt64: Bool] = [:]
    var concludedAppointments: Set<UInt64> = []
    /// Entries whose effects are in the state (not voided, not skipped by a fold).
    var counted: Set<UInt64> = []
    /// Voided entry → the Voided entry that voids it.
    var voidedBy: [UInt64: UInt64] = [:]
    var restrictions: [UInt64: UInt64] = [:]
    /// LegalHoldPlaced entries not released.
    var holds: Set<UInt64> = []

    init(_ interpretation: Interpretation) { self.interpretation = interpretation }

    var nextVersion: UInt64 { UInt64(facts.count + 1) }

    func type(at version: UInt64) -> String? {
        version >= 1 && version <= UInt64(facts.count) ? facts[Int(version - 1)].type : nil
    }

    /// Nil when `fact` may be appended now; otherwise why not.
    func verdict(_ fact: CaseFact) -> Refusal? {
        var copy = self
        return copy.rules(fact)
    }

    /// Appends `fact` if the rules allow it; a Voided entry makes the model fold the stream again.
    mutating func append(_ fact: CaseFact) -> Refusal? {
        precondition(fact.version == nextVersion)
        var copy = self
        if let refusal = copy.rules(fact) { return refusal }
        copy.record(fact)
        copy.counted.insert(fact.version)
        self = fact.type == "Voided" ? LifecycleModel.fold(copy.facts, interpretation) : copy
        return nil
    }

    /// The state of a whole stream: voided entries do not count, nor do entries that no longer fit.
    static func fold(_ facts: [CaseFact], _ interpretation: Interpretation) -> LifecycleModel {
        var model = LifecycleModel(interpretation)
        for fact in facts where fact.type == "Voided" {
            if let target = fact.reference { model.voidedBy[target] = fact.version }
        }
        for fact in facts {
            var copy = model
            if model.voidedBy[fact.version] == nil, copy.rules(fact) == nil {
                copy.counted.insert(fact.version)
                model = copy
            }
            model.record(fact)
        }
        return model
    }

    private mutating func record(_ fact: CaseFact) {
        facts.append(fact)
        versionsByType[fact.type, default: []].append(fact.version)
    }

    private func gateRefusal(_ type: String) -> Refusal {
        switch phase {
        case .noCase: return Refusal(type == "CaseReopened" ? "case_not_closed" : "no_open_case")
        case .closed: return Refusal("case_closed")
        case .transferredOut: return Refusal("case_transferred")
        case .suspended: return Refusal("case_suspended")
        case .opened where phaseTable[type]?.contains(.takenInCharge) == true: return Refusal("not_taken_in_charge")
        case .opened, .takenInCharge:
            switch type {
            case "CaseOpened": return Refusal("case_already_open")
            case "TakenInCharge": return Refusal("already_taken_in_charge")
            case "CaseReopened": return Refusal("case_not_closed")
            default: return Refusal("transfer_mismatch")
            }
        }
    }

    /// A path reference: it exists, is earlier, has the right type, is not voided, and still counts.
    /// (The model returns its refusals rather than throwing them: swift-testing records a backtrace
    /// for every error thrown, which would make these tests several times slower.)
    private func target(_ fact: CaseFact, _ types: Set<String>?, counting: Bool = true, _ refusal: inout Refusal?) -> UInt64? {
        guard let version = fact.reference, version >= 1, version < fact.version, let type = type(at: version) else {
            refusal = Refusal("unknown_target")
            return nil
        }
        if let types, !types.contains(type) {
            refusal = Refusal("wrong_target(\(type))")
        } else if voidedBy[version] != nil {
            refusal = Refusal("target_voided")
        } else if counting && interpretation.referencesMustCount && !counted.contains(version) {
            refusal = Refusal("target_no_longer_counts")
        } else {
            return version
        }
        return nil
    }

    private mutating func endInterventions() {
        for (version, step) in interventions where step != "ended" {
            interventions[version] = "ended"
            endedWithCase.insert(version)
        }
    }

    /// The InterventionEnded the daemon writes after a closure, transfer out or death, for each
    /// intervention it ended (`endedWith`): it records that end and changes nothing; it counts
    /// only while the closing entry does (a void of the closure takes it back).
    private func confirmsEndWithCase(_ fact: CaseFact, closing: UInt64) -> Refusal? {
        guard closing < fact.version, let type = type(at: closing), ["CaseClosed", "CaseTransferredOut", "PersonDied"].contains(type),
            counted.contains(closing), voidedBy[closing] == nil
        else { return Refusal("unknown_target") }
        var refusal: Refusal?
        guard let intervention = target(fact, ["InterventionRequested"], &refusal) else { return refusal }
        guard endedWithCase.contains(intervention) else { return Refusal("intervention_step(\(interventions[intervention] ?? "none"))") }
        return nil
    }

    private mutating func newEpisode(in ambito: String?) {
        phase = .opened
        self.ambito = ambito
        destination = nil
        episodes += 1
        signedPlans = []  // a new case file (or the one received) gets its own signed plan
    }

    private mutating func rules(_ fact: CaseFact) -> Refusal? {
        var refusal: Refusal?
        if erased { return Refusal("person_erased") }
        if fact.type == "PersonRegistered" {
            if registered { return Refusal("already_registered") }
            registered = true
            return nil
        }
        guard registered else { return Refusal("person_not_registered") }
        if fact.type == "InterventionEnded", let closing = fact.endedWith { return confirmsEndWithCase(fact, closing: closing) }
        if deceased && !afterDeath.contains(fact.type) { return Refusal("person_deceased") }
        guard var allowed = phaseTable[fact.type] else { return Refusal("unknown_type") }
        // Pronto intervento sociale reaches people on the street or at night, who have no case
        // file yet: it opens a minimal one (DOMAIN.md art. 7; issue 19).
        if fact.type == "InterventionRequested" && fact.emergency && phase == .noCase {
            newEpisode(in: fact.ambito)
            interventions[fact.version] = "requested"
            return nil
        }
        if interventionSteps[fact.type] != nil && !interpretation.emergencyStepsBeforePresaInCarico { allowed = presaInCarico }
        guard allowed.contains(phase) else { return gateRefusal(fact.type) }

        switch fact.type {
        case "PersonDied":
            deceased = true
            endInterventions()
        case "IdentityLinked":
            if linked { return Refusal("already_linked") }
            linked = true
        case "CaseOpened":
            newEpisode(in: fact.ambito)
        case "TakenInCharge":
            phase = .takenInCharge
        case "AppointmentHeld", "AppointmentMissed":
            guard let appointment = target(fact, ["AppointmentScheduled"], &refusal) else { return refusal }
            if concludedAppointments.contains(appointment) { return Refusal("appointment_concluded") }
            concludedAppointments.insert(appointment)
        case "PlanSigned":
            guard let plan = target(fact, ["PlanDrafted"], &refusal) else { return refusal }
            signedPlans.insert(plan)
        case "PlanRevised":
            guard let plan = target(fact, ["PlanDrafted"], &refusal) else { return refusal }
            if !signedPlans.contains(plan) { return Refusal("plan_not_signed") }
        case "CommitmentBreached":
            if signedPlans.isEmpty { return Refusal("no_signed_plan") }
        case "GoalSet":
            goals[fact.version] = false
        case "GoalReviewed", "GoalClosed":
            guard let goal = target(fact, ["GoalSet"], &refusal) else { return refusal }
            if goals[goal] == true { return Refusal("goal_closed") }
            if fact.type == "GoalClosed" { goals[goal] = true }
        case "InterventionRequested":
            if !fact.emergency {
                if phase != .takenInCharge { return Refusal("not_taken_in_charge") }
                if signedPlans.isEmpty { return Refusal("no_signed_plan") }
            }
            interventions[fact.version] = "requested"
        case let type where interventionSteps[type] != nil:
            let step = interventionSteps[type]!
            guard let intervention = target(fact, ["InterventionRequested"], &refusal) else { return refusal }
            guard let current = interventions[intervention], step.from.contains(current) else {
                return Refusal("intervention_step(\(interventions[intervention] ?? "none"))")
            }
            interventions[intervention] = step.to
        case "OutcomeRecorded":
            if target(fact, ["GoalSet", "InterventionRequested"], &refusal) == nil { return refusal }
        case "CaseSuspended":
            phaseBeforeSuspension = phase
            phase = .suspended
        case "CaseReopened":
            // Reopening undoes the closure or the suspension. A case closed while suspended comes
            // back as it was before the suspension: the reopening ends both.
            phase = phase == .closed ? phaseBeforeClosure : phaseBeforeSuspension
        case "CaseClosed":
            phaseBeforeClosure = phase == .suspended ? phaseBeforeSuspension : phase
            phase = .closed
            endInterventions()
            if fact.reason == "death" { deceased = true }
        case "CaseTransferredOut":
            if fact.ambito == nil || fact.ambito == ambito { return Refusal("same_ambito") }
            destination = fact.ambito
            phase = .transferredOut
            if interpretation.transferEndsInterventions { endInterventions() }
        case "CaseTransferredIn":
            guard fact.fromAmbito == ambito, fact.ambito == destination else { return Refusal("transfer_mismatch") }
            newEpisode(in: fact.ambito)
        case "Rectified":
            guard let version = target(fact, nil, counting: false, &refusal) else { return refusal }
            let type = type(at: version)!
            if !rectifiable.contains(type) { return Refusal("not_correctable") }
            if let field = fact.field, !(EventCatalogue.schema(type)?.fields.contains { $0.name == field } ?? false) {
                return Refusal("unknown_field")
            }
        case "Voided":
            guard let version = target(fact, nil, counting: false, &refusal) else { return refusal }
            if !voidable.contains(type(at: version)!) { return Refusal("not_correctable") }
            voidedBy[version] = fact.version
        case "Restricted":
            // A voided entry stays readable with its personal data, so it can be restricted too
            // (GDPR art. 18); a later void does not lift a restriction either.
            guard let version = fact.reference, version >= 1, version < fact.version, type(at: version) != nil else {
                return Refusal("unknown_target")
            }
            if voidedBy[version] != nil && !interpretation.restrictionSurvivesVoid { return Refusal("target_voided") }
            if restrictions.values.contains(version) { return Refusal("already_restricted") }
            restrictions[fact.version] = version
        case "RestrictionLifted":
            guard let restriction = target(fact, ["Restricted"], counting: false, &refusal) else { return refusal }
            if restrictions.removeValue(forKey: restriction) == nil { return Refusal("not_restricted") }
        case "LegalHoldPlaced":
            holds.insert(fact.version)
        case "LegalHoldReleased":
            guard let hold = target(fact, ["LegalHoldPlaced"], counting: false, &refusal) else { return refusal }
            if holds.remove(hold) == nil { return Refusal("hold_not_in_force") }
        case "ErasureExecuted":
            erased = true
        default:
            break  // contacts, referrals, consent, judicial measures, appointments scheduled, assessments, plans drafted, reviews
        }
        return nil
    }
}

// MARK: - Comparing states

struct Snapshot: Equatable {
    var registered: Bool
    var erased: Bool
    var linked: Bool
    var phase: String
    var ambito: String?
    var episodes: Int
    var signedPlans: [UInt64]
    var interventions: [UInt64: String]
    var openInterventions: [UInt64]
    var goals: [UInt64: Bool]
    var voided: [UInt64]
    var restrictions: [UInt64: UInt64]
    var holds: [UInt64]

    init(_ state: CaseState) {
        registered = state.registered
        erased = state.erased
        linked = state.linkedToCodiceFiscale
        phase = state.phase.rawValue
        ambito = state.ambito
        episodes = state.episodes
        signedPlans = state.signedPlans.sorted()
        interventions = state.interventions.mapValues(\.rawValue)
        openInterventions = state.openInterventions
        goals = state.goals
        voided = state.voided.sorted()
        restrictions = state.restrictions
        holds = state.legalHolds.sorted()
    }

    init(_ model: LifecycleModel) {
        registered = model.registered
        erased = model.erased
        linked = model.linked
        phase = model.phase.rawValue
        ambito = model.ambito
        episodes = model.episodes
        signedPlans = model.signedPlans.sorted()
        interventions = model.interventions
        openInterventions = model.interventions.filter { $0.value != "ended" }.keys.sorted()
        goals = model.goals
        voided = model.voidedBy.keys.sorted()
        restrictions = model.restrictions
        holds = model.holds.sorted()
    }

    /// The fields that differ, as "name: expected ≠ actual".
    func differences(from actual: Snapshot) -> [String] {
        var lines: [String] = []
        if self == actual { return lines }
        func check<T: Equatable>(_ name: String, _ mine: T, _ theirs: T) {
            if mine != theirs { lines.append("\(name): \(mine) ≠ \(theirs)") }
        }
        check("registered", registered, actual.registered)
        check("erased", erased, actual.erased)
        check("linked", linked, actual.linked)
        check("phase", phase, actual.phase)
        check("ambito", ambito ?? "-", actual.ambito ?? "-")
        check("episodes", episodes, actual.episodes)
        check("signedPlans", signedPlans, actual.signedPlans)
        check(
            "interventions", interventions.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" },
            actual.interventions.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })
        check("openInterventions", openInterventions, actual.openInterventions)
        check(
            "goals", goals.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" },
            actual.goals.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })
        check("voided", voided, actual.voided)
        check(
            "restrictions", restrictions.sorted { $0.key < $1.key }.map { "\($0.key)→\($0.value)" },
            actual.restrictions.sorted { $0.key < $1.key }.map { "\($0.key)→\($0.value)" })
        check("holds", holds, actual.holds)
        return lines
    }
}

/// The system under test as CaseFiles drives it: apply, and fold again after a Voided.
struct Live {
    var facts: [CaseFact] = []
    var state = CaseState()

    func verdict(_ fact: CaseFact) -> PathRuleViolation? {
        var copy = state
        do throws(PathRuleViolation) { try copy.apply(fact) } catch { return error }
        return nil
    }

    mutating func append(_ fact: CaseFact) -> PathRuleViolation? {
        var copy = state
        do throws(PathRuleViolation) { try copy.apply(fact) } catch { return error }
        facts.append(fact)
        state = fact.type == "Voided" ? CaseState.fold(facts) : copy
        return nil
    }
}
