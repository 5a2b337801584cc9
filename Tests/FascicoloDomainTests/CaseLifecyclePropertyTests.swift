import FascicoloTesting
import Glibc
import Testing
@testable import FascicoloDomain

// Property tests of the case lifecycle (`CaseState.apply` / `CaseState.fold`) against an
// independent model written here from DOMAIN.md ("Path rules worth enforcing at append time" and
// the catalogue's correction column) and CaseState's documented intent — not from its code.
//
// Every random sequence comes from a SplitMix64 generator. A failure names the seed of the
// sequence; `FASCICOLO_SEED=<that seed>` replays it as sequence 0 of the same property.

// MARK: - The model

private enum ModelPhase: String, CaseIterable {
    case noCase = "no_case", opened, takenInCharge = "taken_in_charge", suspended, closed, transferredOut = "transferred_out"
}

/// Four rules CaseState once got wrong, found by these properties and fixed: a failure is
/// explained by naming which of them it matches, should one come back. Each field's comment
/// describes the former behaviour. `believed` is what the tests encode.
private struct Interpretation: Sendable {
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

    static let believed = Interpretation(emergencyStepsBeforePresaInCarico: true, transferEndsInterventions: true,
                                         referencesMustCount: true, restrictionSurvivesVoid: true)
    static let formerCaseState = Interpretation(emergencyStepsBeforePresaInCarico: false, transferEndsInterventions: false,
                                                    referencesMustCount: false, restrictionSurvivesVoid: false)
}

// DOMAIN.md's "correction" column: which entries a Rectified, and which a Voided, may target.
// (IdentityLinked is not in DOMAIN.md; the catalogue voids it.) Checked against the catalogue below.
private let rectifiable: Set<String> = [
    "PersonRegistered", "TakenInCharge", "AppointmentScheduled", "AppointmentHeld", "AppointmentMissed",
    "JudicialMeasureRecorded", "InterventionStarted", "InterventionSuspended", "InterventionResumed",
    "InterventionEnded", "ReviewHeld",
]
private let voidable: Set<String> = [
    "IdentityLinked", "AccessContactRecorded", "ReferralReceived", "CaseOpened", "CommitmentBreached",
    "InterventionRequested", "ServiceDelivered", "CaseTransferredOut", "CaseTransferredIn", "CaseClosed",
]

/// The entry reference each type carries: its field name and the types it may point at (nil: any).
private let referenceSpec: [String: (field: String, targets: Set<String>?)] = [
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
]

/// Intervention sub-lifecycle: requested → active ⇄ suspended → ended; deliveries only while active.
private let interventionSteps: [String: (from: Set<String>, to: String)] = [
    "InterventionStarted": (["requested"], "active"),
    "InterventionSuspended": (["active"], "suspended"),
    "InterventionResumed": (["suspended"], "active"),
    // Ending before the start (an intervention disposto and then dropped) is allowed.
    "InterventionEnded": (["requested", "active", "suspended"], "ended"),
    "ServiceDelivered": (["active"], "active"),
]

private let working: Set<ModelPhase> = [.opened, .takenInCharge]
private let presaInCarico: Set<ModelPhase> = [.takenInCharge]

/// The lifecycle table: phase × event type → allowed. Type-specific checks come after it.
private let phaseTable: [String: Set<ModelPhase>] = [
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
]

private struct Refusal: CustomStringConvertible {
    let reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

private struct LifecycleModel {
    let interpretation: Interpretation
    /// Every entry of the stream, counted or not, and their versions by type.
    private(set) var facts: [CaseFact] = []
    private(set) var versionsByType: [String: [UInt64]] = [:]
    var registered = false
    var erased = false
    var linked = false
    var phase = ModelPhase.noCase
    var ambito: String?
    var destination: String?
    var phaseBeforeSuspension = ModelPhase.opened
    var phaseBeforeClosure = ModelPhase.opened
    var episodes = 0
    var signedPlans: Set<UInt64> = []
    var interventions: [UInt64: String] = [:]
    var goals: [UInt64: Bool] = [:]
    var concludedAppointments: Set<UInt64> = []
    /// Entries whose effects are in the state (not voided, not skipped by a fold).
    var counted: Set<UInt64> = []
    /// Voided entry → the Voided entry that voids it.
    var voidedBy: [UInt64: UInt64] = [:]
    var restrictions: [UInt64: UInt64] = [:]

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
        if let types, !types.contains(type) { refusal = Refusal("wrong_target(\(type))") }
        else if voidedBy[version] != nil { refusal = Refusal("target_voided") }
        else if counting && interpretation.referencesMustCount && !counted.contains(version) { refusal = Refusal("target_no_longer_counts") }
        else { return version }
        return nil
    }

    private mutating func endInterventions() {
        for (version, step) in interventions where step != "ended" { interventions[version] = "ended" }
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
        guard var allowed = phaseTable[fact.type] else { return Refusal("unknown_type") }
        if interventionSteps[fact.type] != nil && !interpretation.emergencyStepsBeforePresaInCarico { allowed = presaInCarico }
        guard allowed.contains(phase) else { return gateRefusal(fact.type) }

        switch fact.type {
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
        case "ErasureExecuted":
            erased = true
        default:
            break  // contacts, referrals, consent, judicial measures, appointments scheduled, assessments, plans drafted, reviews
        }
        return nil
    }
}

// MARK: - Comparing states

private struct Snapshot: Equatable {
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
        check("interventions", interventions.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" },
              actual.interventions.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })
        check("openInterventions", openInterventions, actual.openInterventions)
        check("goals", goals.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" },
              actual.goals.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })
        check("voided", voided, actual.voided)
        check("restrictions", restrictions.sorted { $0.key < $1.key }.map { "\($0.key)→\($0.value)" },
              actual.restrictions.sorted { $0.key < $1.key }.map { "\($0.key)→\($0.value)" })
        return lines
    }
}

/// The system under test as CaseFiles drives it: apply, and fold again after a Voided.
private struct Live {
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

// MARK: - Generating sequences

/// Every type a client can put in a person's stream, plus the daemon's ErasureExecuted.
/// RecordAccessed lives in the separate access stream (`access:<pseudonym>`), so it is left out.
private let streamTypes: [String] = EventCatalogue.all.map(\.type).filter { $0 != "RecordAccessed" }
private let ambiti = ["BAS01", "BAS02", "BAS03"]

/// The types drawn, weighted so that walks get past the presa in carico to plans, interventions,
/// closures and transfers; corrections less often, erasure (which ends a walk) rarely.
private let weightedTypes: [String] = streamTypes.flatMap { type -> [String] in
    let weight = switch type {
    case "ErasureExecuted": 1
    case "Rectified", "Restricted", "RestrictionLifted", "ConsentWithdrawn", "ConsentRecorded", "IdentityLinked", "Voided",
         "CaseClosed", "CaseSuspended", "CaseTransferredOut": 2
    case "CaseOpened", "TakenInCharge", "InterventionRequested", "CaseTransferredIn", "PlanSigned", "InterventionStarted",
         "InterventionSuspended", "InterventionResumed", "ServiceDelivered": 10
    case "PlanDrafted", "GoalSet", "GoalClosed", "OutcomeRecorded", "CaseReopened", "InterventionEnded": 6
    case "PlanRevised", "GoalReviewed", "AppointmentHeld", "AppointmentMissed", "CommitmentBreached": 4
    default: 3
    }
    return Array(repeating: type, count: weight)
}

private extension SeededGenerator {
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

private func baseSeed(_ salt: UInt64) -> UInt64 {
    if let text = getenv("FASCICOLO_SEED"), let seed = UInt64(String(cString: text)) { return seed }
    return 0x5EED_FA5C_1C01_0000 ^ salt
}

/// Sequence 0 uses the base seed itself (so a printed seed replays as sequence 0); the others
/// scatter (seeds base + i·γ would make every sequence the same SplitMix stream, shifted).
private func sequenceSeed(_ base: UInt64, _ index: Int) -> UInt64 {
    guard index > 0 else { return base }
    var generator = SeededGenerator(seed: base ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
    return generator.next()
}

/// A candidate for the next entry: any type, with plausible references — mostly of the right
/// type, sometimes any entry, itself, a later one, zero or missing.
private func candidate(_ type: String, after model: LifecycleModel, _ random: inout SeededGenerator) -> CaseFact {
    var fact = CaseFact(version: model.nextVersion, type: type)
    if let spec = referenceSpec[type] {
        precondition(fact.referenceField == spec.field, "the catalogue names \(type)'s reference otherwise")
        let count = model.facts.count
        let preferred: Set<String>? = switch type {
        case "Rectified": rectifiable
        case "Voided": voidable
        default: spec.targets
        }
        let roll = Int.random(in: 0..<100, using: &random)
        var chosen: UInt64?
        if roll < 45 {
            // Entries a step could still apply to, so that walks get through the sub-lifecycles.
            let open: [UInt64] = switch type {
            case "InterventionStarted", "InterventionSuspended", "InterventionResumed", "InterventionEnded", "ServiceDelivered":
                model.interventions.filter { $0.value != "ended" }.keys.sorted()
            case "GoalReviewed", "GoalClosed": model.goals.filter { !$0.value }.keys.sorted()
            case "AppointmentHeld", "AppointmentMissed":
                (model.versionsByType["AppointmentScheduled"] ?? []).filter {
                    model.counted.contains($0) && !model.concludedAppointments.contains($0)
                }
            case "RestrictionLifted": model.restrictions.keys.sorted()
            default: []
            }
            if !open.isEmpty { chosen = random.pick(open) }
        }
        if chosen == nil && roll < 75 {
            // Sorted: a Set's order changes from run to run, and a seed must replay the same walk.
            let matching = (preferred.map { $0.flatMap { model.versionsByType[$0] ?? [] } } ?? []).sorted()
            if !matching.isEmpty { chosen = random.pick(matching) }
        }
        if chosen == nil {
            if roll < 88, count > 0 {
                chosen = UInt64.random(in: 1...UInt64(count), using: &random)
            } else if roll < 94 {
                chosen = model.nextVersion + UInt64.random(in: 0...2, using: &random)
            } else if roll < 97 {
                chosen = 0
            }
        }
        fact.reference = chosen
        if type == "Rectified" {
            let fields = fact.reference.flatMap { model.type(at: $0) }.flatMap { EventCatalogue.schema($0)?.fields.map(\.name) } ?? []
            fact.field = !fields.isEmpty && random.chance(85) ? random.pick(fields) : "notAField"
        }
    }
    switch type {
    case "CaseOpened":
        fact.ambito = random.pick(ambiti)
    case "CaseTransferredOut":
        let elsewhere = ambiti.filter { $0 != model.ambito }
        fact.ambito = random.chance(80) ? random.pick(elsewhere) : random.pick(ambiti)
    case "CaseTransferredIn":
        fact.fromAmbito = random.chance(80) ? (model.ambito ?? random.pick(ambiti)) : random.pick(ambiti)
        fact.ambito = random.chance(80) ? (model.destination ?? random.pick(ambiti)) : random.pick(ambiti)
    case "InterventionRequested":
        fact.emergency = random.chance(40)
    default:
        break
    }
    return fact
}

/// A random step that the model calls legal, or nil when none is found (after an erasure).
/// ErasureExecuted is rare (it ends the walk); Voided is drawn more often when `voids` is set.
private func legalStep(after model: LifecycleModel, _ random: inout SeededGenerator, voids: Bool = false) -> CaseFact? {
    for _ in 0..<60 {
        var type = random.pick(weightedTypes)
        if voids && random.chance(3) { type = "Voided" }
        if type == "ErasureExecuted" && !random.chance(10) { continue }
        if model.registered && phaseTable[type]?.contains(model.phase) != true { continue }  // cheap pre-check
        let fact = candidate(type, after: model, &random)
        if model.verdict(fact) == nil { return fact }
    }
    for type in streamTypes where type != "ErasureExecuted" {
        for _ in 0..<3 {
            let fact = candidate(type, after: model, &random)
            if model.verdict(fact) == nil { return fact }
        }
    }
    return nil
}

private func describe(_ fact: CaseFact) -> String {
    var text = "\(fact.version):\(fact.type)"
    if let reference = fact.reference { text += "→\(reference)" } else if fact.referenceField != nil { text += "→nil" }
    if let field = fact.field { text += ".\(field)" }
    if let from = fact.fromAmbito { text += "[\(from)→\(fact.ambito ?? "-")]" } else if let ambito = fact.ambito { text += "[\(ambito)]" }
    if fact.emergency { text += "[PIS]" }
    return text
}

private func describe(_ facts: [CaseFact]) -> String { facts.map(describe).joined(separator: ", ") }

private func describe(_ refusal: Refusal?) -> String { refusal.map { "refuses (\($0.reason))" } ?? "accepts" }
private func describe(_ violation: PathRuleViolation?) -> String { violation.map { "refuses (\($0.code))" } ?? "accepts" }

/// Disagreements grouped by kind, each with its shortest example.
private struct Findings {
    let property: String
    let base: UInt64
    let interpretation: Interpretation
    var sequences = 0
    var steps = 0
    private var groups: [String: (count: Int, facts: [CaseFact], detail: String)] = [:]

    init(_ property: String, base: UInt64, _ interpretation: Interpretation) {
        self.property = property
        self.base = base
        self.interpretation = interpretation
    }

    mutating func add(_ signature: String, seed: UInt64, facts: [CaseFact], _ detail: String) {
        let text = "seed \(seed) (FASCICOLO_SEED=\(seed) replays it as sequence 0)\n  sequence: \(describe(facts))\n  \(detail)"
        let old = groups[signature]
        if old == nil || facts.count < old!.facts.count {
            groups[signature] = ((old?.count ?? 0) + 1, facts, text)
        } else {
            groups[signature]!.count += 1
        }
    }

    /// Records one issue per kind of disagreement, saying which contested interpretation (if
    /// any) accounts for its shortest example.
    func report(_ elapsed: Duration) {
        print("\(property): \(sequences) sequences, \(steps) steps, base seed \(base), \(groups.count) kind(s) of disagreement, \(elapsed)")
        for (signature, group) in groups.sorted(by: { $0.key < $1.key }) {
            let explanation = explain(group.facts, interpretation)
            print("\(property): [\(explanation)] \(group.count) sequence(s): \(signature)")
            Issue.record("\(property): \(group.count) sequence(s): \(signature) [\(explanation)]\n  \(group.detail)")
        }
    }
}

/// Whether the model under `interpretation` and CaseState agree all along `facts`: the same
/// verdicts, the same state after every accepted step, the same fold at the end.
private func agree(_ facts: [CaseFact], _ interpretation: Interpretation) -> Bool {
    var model = LifecycleModel(interpretation)
    var live = Live()
    for fact in facts {
        guard fact.version == model.nextVersion else { return false }
        let expected = model.verdict(fact)
        if (expected == nil) != (live.verdict(fact) == nil) { return false }
        guard expected == nil else { continue }
        _ = model.append(fact)
        _ = live.append(fact)
        if Snapshot(model) != Snapshot(live.state) { return false }
    }
    return Snapshot(LifecycleModel.fold(model.facts, interpretation)) == Snapshot(CaseState.fold(live.facts))
}

/// Which of the contested interpretations, switched to CaseState's behaviour, makes the
/// disagreement on `facts` disappear.
private func explain(_ facts: [CaseFact], _ interpretation: Interpretation) -> String {
    if agree(facts, interpretation) { return "not reproduced by replaying the sequence" }
    var flips: [(String, Interpretation)] = []
    var flip = interpretation
    flip.emergencyStepsBeforePresaInCarico.toggle()
    flips.append(("emergencyStepsBeforePresaInCarico", flip))
    flip = interpretation
    flip.transferEndsInterventions.toggle()
    flips.append(("transferEndsInterventions", flip))
    flip = interpretation
    flip.referencesMustCount.toggle()
    flips.append(("referencesMustCount", flip))
    flip = interpretation
    flip.restrictionSurvivesVoid.toggle()
    flips.append(("restrictionSurvivesVoid", flip))
    let single = flips.filter { agree(facts, $0.1) }.map(\.0)
    if !single.isEmpty { return "explained by Interpretation." + single.joined(separator: " or .") }
    if agree(facts, .formerCaseState) { return "explained by several contested interpretations together" }
    return "UNEXPLAINED: not one of the contested interpretations"
}

private func checkSentences(_ violation: PathRuleViolation) -> Bool {
    !violation.code.isEmpty && !violation.english.isEmpty && !violation.italian.isEmpty && violation.english != violation.italian
}

// MARK: - The properties

@Suite struct CaseLifecyclePropertyTests {
    private let interpretation = Interpretation.believed

    @Test func modelTablesMatchTheCatalogue() {
        for schema in EventCatalogue.all where schema.type != "RecordAccessed" && schema.type != "PersonRegistered" {
            #expect(phaseTable[schema.type] != nil, "the model has no row for \(schema.type)")
        }
        for schema in EventCatalogue.all {
            #expect((schema.correction == .rectified) == rectifiable.contains(schema.type), "\(schema.type): \(schema.correction)")
            #expect((schema.correction == .voided) == voidable.contains(schema.type), "\(schema.type): \(schema.correction)")
            let entryFields = schema.fields.filter { if case .entry = $0.kind { true } else { false } }.map(\.name)
            #expect(entryFields == (referenceSpec[schema.type].map { [$0.field] } ?? []), "\(schema.type)'s entry reference")
        }
    }

    /// 1. Random walks: the model and CaseState agree on every candidate, and on the state after it.
    @Test func randomWalksAgreeWithTheModel() {
        let clock = ContinuousClock()
        let start = clock.now
        let base = baseSeed(1)
        var findings = Findings("random walks", base: base, interpretation)
        var codes: Set<String> = []
        for index in 0..<2_000 {
            let seed = sequenceSeed(base, index)
            var random = SeededGenerator(seed: seed)
            var model = LifecycleModel(interpretation)
            var live = Live()
            findings.sequences += 1
            walk: for _ in 0..<60 {
                var fact = candidate(random.pick(weightedTypes), after: model, &random)
                if random.chance(50) {
                    for _ in 0..<10 where model.verdict(fact) != nil {
                        fact = candidate(random.pick(weightedTypes), after: model, &random)
                    }
                }
                findings.steps += 1
                let expected = model.verdict(fact)
                let actual = live.verdict(fact)
                if let actual {
                    codes.insert(actual.code)
                    if !checkSentences(actual) {
                        findings.add("\(actual.code) lacks a sentence", seed: seed, facts: live.facts, "\(actual)")
                    }
                }
                if (expected == nil) != (actual == nil) {
                    findings.add("\(fact.type): model \(describe(expected)), CaseState \(describe(actual))", seed: seed, facts: live.facts + [fact],
                                 "model \(describe(expected)), CaseState \(describe(actual))")
                    break walk
                }
                guard expected == nil else { continue }
                _ = model.append(fact)
                _ = live.append(fact)
                let differences = Snapshot(model).differences(from: Snapshot(live.state))
                if !differences.isEmpty {
                    let fields = differences.map { String($0.prefix { $0 != ":" }) }.joined(separator: ",")
                    findings.add("state after \(fact.type) differs in \(fields)", seed: seed, facts: live.facts,
                                 "model ≠ CaseState: " + differences.joined(separator: "; "))
                    break walk
                }
            }
        }
        findings.report(clock.now - start)
        // The walks reach the named rules.
        for code in ["person_not_registered", "no_open_case", "not_taken_in_charge", "no_signed_plan", "case_closed",
                     "transfer_mismatch", "outcome_without_reference", "intervention_step", "target_voided", "not_correctable"] {
            #expect(codes.contains(code), "no random walk met \(code)")
        }
    }

    /// 2. Every step the model calls legal, CaseState accepts (and ends in the same state).
    @Test func alwaysAcceptsALegalStep() {
        let clock = ContinuousClock()
        let start = clock.now
        let base = baseSeed(2)
        var findings = Findings("legal walks", base: base, interpretation)
        var accepted: [String: Int] = [:]
        var phases: [String: Int] = [:]
        for index in 0..<2_000 {
            let seed = sequenceSeed(base, index)
            var random = SeededGenerator(seed: seed)
            var model = LifecycleModel(interpretation)
            var live = Live()
            findings.sequences += 1
            walk: for _ in 0..<40 {
                guard let fact = legalStep(after: model, &random, voids: true) else { break }
                findings.steps += 1
                accepted[fact.type, default: 0] += 1
                _ = model.append(fact)
                phases[model.phase.rawValue, default: 0] += 1
                if let refusal = live.append(fact) {
                    findings.add("legal \(fact.type) refused (\(refusal.code))", seed: seed, facts: live.facts + [fact],
                                 "CaseState refuses the last step: \(refusal.code) — \(refusal.english)")
                    break walk
                }
                let differences = Snapshot(model).differences(from: Snapshot(live.state))
                if !differences.isEmpty {
                    let fields = differences.map { String($0.prefix { $0 != ":" }) }.joined(separator: ",")
                    findings.add("state after \(fact.type) differs in \(fields)", seed: seed, facts: live.facts,
                                 "model ≠ CaseState: " + differences.joined(separator: "; "))
                    break walk
                }
            }
        }
        findings.report(clock.now - start)
        print("legal walks: steps ending in each phase \(phases.sorted { $0.key < $1.key }); fewest accepted: "
              + accepted.sorted { $0.value < $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        for type in streamTypes {
            #expect(accepted[type, default: 0] >= 50, "legal walks accepted \(type) only \(accepted[type, default: 0]) times")
        }
    }

    /// 3. After a legal prefix, every step the model calls illegal is refused, and a refused step
    /// leaves the state as it was: the next legal step then gives the same state as without it.
    @Test func neverAcceptsAnIllegalStep() {
        let clock = ContinuousClock()
        let start = clock.now
        let base = baseSeed(3)
        var findings = Findings("illegal steps", base: base, interpretation)
        for index in 0..<1_000 {
            let seed = sequenceSeed(base, index)
            var random = SeededGenerator(seed: seed)
            var model = LifecycleModel(interpretation)
            var live = Live()
            findings.sequences += 1
            var prefixIsLegal = true
            let voids = random.chance(50)
            for _ in 0..<Int.random(in: 0...60, using: &random) {
                guard let fact = legalStep(after: model, &random, voids: voids) else { break }
                _ = model.append(fact)
                if live.append(fact) != nil { prefixIsLegal = false; break }
            }
            guard prefixIsLegal else { continue }  // property 2's business
            let next = legalStep(after: model, &random)
            var expected = live
            let nextRefusal = next.flatMap { expected.append($0) }
            let before = Snapshot(live.state)
            let probes = streamTypes.map { candidate($0, after: model, &random) }
                + (0..<10).map { _ in candidate(random.pick(streamTypes), after: model, &random) }
            for probe in probes {
                guard let reason = model.verdict(probe) else { continue }
                findings.steps += 1
                var attempt = live.state
                do throws(PathRuleViolation) {
                    try attempt.apply(probe)
                    findings.add("illegal \(probe.type) (\(reason.reason)) accepted", seed: seed, facts: live.facts + [probe],
                                 "model refuses (\(reason.reason)), CaseState accepts")
                    continue
                } catch {
                    if !checkSentences(error) {
                        findings.add("\(error.code) lacks a sentence", seed: seed, facts: live.facts + [probe], "\(error)")
                    }
                }
                let differences = before.differences(from: Snapshot(attempt))
                if !differences.isEmpty {
                    findings.add("refused \(probe.type) changed the state", seed: seed, facts: live.facts + [probe],
                                 differences.joined(separator: "; "))
                    continue
                }
                guard let next else { continue }
                var after = Live(facts: live.facts, state: attempt)
                let refusal = after.append(next)
                if refusal?.code != nextRefusal?.code {
                    findings.add("refused \(probe.type) changed the verdict on \(next.type)", seed: seed, facts: live.facts + [probe, next],
                                 "after the refused attempt CaseState \(describe(refusal)) \(describe(next)), without it \(describe(nextRefusal))")
                } else if refusal == nil && Snapshot(after.state) != Snapshot(expected.state) {
                    findings.add("refused \(probe.type) changed the next step's result", seed: seed, facts: live.facts + [probe, next],
                                 Snapshot(expected.state).differences(from: Snapshot(after.state)).joined(separator: "; "))
                }
            }
        }
        findings.report(clock.now - start)
    }

    /// 4. fold(facts) of an accepted stream is the state built step by step (by `apply`, and by the
    /// daemon's cached `CaseHistory` extended in batches); with Voided entries it is the model's
    /// fold (the stream without the voided entries and what depended on them).
    @Test func foldEqualsTheStepByStepState() {
        let clock = ContinuousClock()
        let start = clock.now
        let base = baseSeed(4)
        var findings = Findings("fold", base: base, interpretation)
        var withVoids = 0
        for index in 0..<1_000 {
            let seed = sequenceSeed(base, index)
            var random = SeededGenerator(seed: seed)
            var model = LifecycleModel(interpretation)
            var live = Live()
            var chain = CaseState()  // apply only, never folded again
            findings.sequences += 1
            let voids = random.chance(60)
            for _ in 0..<Int.random(in: 5...80, using: &random) {
                guard let fact = legalStep(after: model, &random, voids: voids) else { break }
                guard live.append(fact) == nil else { break }  // property 2's business
                _ = model.append(fact)
                try? chain.apply(fact)
                findings.steps += 1
            }
            let facts = live.facts
            let folded = Snapshot(CaseState.fold(facts))
            let hasVoids = facts.contains { $0.type == "Voided" }
            if hasVoids { withVoids += 1 }
            var differences = Snapshot(live.state).differences(from: folded)
            if !differences.isEmpty {
                findings.add("fold ≠ live state", seed: seed, facts: facts, "live ≠ fold: " + differences.joined(separator: "; "))
            }
            // The daemon's cached history, extended in batches as appends arrive.
            var history = CaseHistory()
            var offset = 0
            while offset < facts.count {
                let end = min(facts.count, offset + Int.random(in: 1...5, using: &random))
                history.extend(with: Array(facts[offset..<end]))
                offset = end
            }
            differences = Snapshot(history.state).differences(from: folded)
            if !differences.isEmpty {
                findings.add("fold ≠ cached history extended in batches", seed: seed, facts: facts,
                             "CaseHistory ≠ fold: " + differences.joined(separator: "; "))
            }
            if !hasVoids {
                differences = Snapshot(chain).differences(from: folded)
                if !differences.isEmpty {
                    findings.add("fold ≠ apply chain", seed: seed, facts: facts, "apply chain ≠ fold: " + differences.joined(separator: "; "))
                }
            }
            let modelFold = LifecycleModel.fold(model.facts, interpretation)
            differences = Snapshot(modelFold).differences(from: Snapshot(model))
            if !differences.isEmpty {
                findings.add("model fold ≠ model live (test bug)", seed: seed, facts: facts, differences.joined(separator: "; "))
            }
            differences = Snapshot(modelFold).differences(from: folded)
            if !differences.isEmpty {
                let fields = differences.map { String($0.prefix { $0 != ":" }) }.joined(separator: ",")
                findings.add("fold differs from the model's fold in \(fields)\(hasVoids ? " (with Voided)" : "")", seed: seed, facts: facts,
                             "model fold ≠ CaseState.fold: " + differences.joined(separator: "; "))
            }
        }
        print("fold: \(withVoids) of the sequences contain Voided entries")
        #expect(withVoids > 200)
        findings.report(clock.now - start)
    }
}

// MARK: - Examples: DOMAIN.md's named rules and their codes

private struct Script {
    var facts: [CaseFact] = []
    var state = CaseState()

    func fact(_ type: String, _ reference: UInt64? = nil, ambito: String? = nil, from: String? = nil,
              emergency: Bool = false, field: String? = nil) -> CaseFact {
        var fact = CaseFact(version: UInt64(facts.count + 1), type: type)
        fact.reference = reference
        fact.ambito = ambito
        fact.fromAmbito = from
        fact.emergency = emergency
        fact.field = field
        return fact
    }

    /// Appends as CaseFiles does (folding again after a Voided); returns the new entry's version.
    @discardableResult
    mutating func add(_ type: String, _ reference: UInt64? = nil, ambito: String? = nil, from: String? = nil,
                      emergency: Bool = false, field: String? = nil) throws(PathRuleViolation) -> UInt64 {
        let fact = fact(type, reference, ambito: ambito, from: from, emergency: emergency, field: field)
        try state.apply(fact)
        facts.append(fact)
        if type == "Voided" { state = CaseState.fold(facts) }
        return fact.version
    }

    /// The refusal of that entry, or nil if it would be accepted; the script is left unchanged.
    func refusal(_ type: String, _ reference: UInt64? = nil, ambito: String? = nil, from: String? = nil,
                 emergency: Bool = false, field: String? = nil) -> PathRuleViolation? {
        var copy = self
        do throws(PathRuleViolation) {
            try copy.add(type, reference, ambito: ambito, from: from, emergency: emergency, field: field)
        } catch {
            #expect(checkSentences(error), "\(error.code) needs an English and an Italian sentence")
            return error
        }
        return nil
    }

    /// Registered, case opened in BAS01 and taken in charge (versions 1–3).
    static func takenInCharge() throws(PathRuleViolation) -> Script {
        var script = Script()
        try script.add("PersonRegistered")
        try script.add("CaseOpened", ambito: "BAS01")
        try script.add("TakenInCharge")
        return script
    }
}

extension CaseLifecyclePropertyTests {
    @Test func interventionOnACaseNeverTakenInCharge() throws {
        var script = Script()
        try script.add("PersonRegistered")
        #expect(script.refusal("InterventionRequested")?.code == "no_open_case")
        try script.add("CaseOpened", ambito: "BAS01")
        #expect(script.refusal("InterventionRequested")?.code == "not_taken_in_charge")
        #expect(script.refusal("PlanDrafted")?.code == "not_taken_in_charge")
        #expect(script.refusal("PreliminaryAnalysisCompleted")?.code == "not_taken_in_charge")
    }

    @Test func interventionWithoutASignedPlan() throws {
        var script = try Script.takenInCharge()
        #expect(script.refusal("InterventionRequested")?.code == "no_signed_plan")
        let plan = try script.add("PlanDrafted")
        #expect(script.refusal("InterventionRequested")?.code == "no_signed_plan")
        #expect(script.refusal("PlanRevised", plan)?.code == "plan_not_signed")
        try script.add("PlanSigned", plan)
        let intervention = try script.add("InterventionRequested")
        try script.add("InterventionStarted", intervention)
        try script.add("ServiceDelivered", intervention)
        #expect(script.state.openInterventions == [intervention])
    }

    @Test func prontoInterventoNeedsNoPlan() throws {
        var script = Script()
        try script.add("PersonRegistered")
        #expect(script.refusal("InterventionRequested", emergency: true)?.code == "no_open_case")
        try script.add("CaseOpened", ambito: "BAS01")
        try script.add("InterventionRequested", emergency: true)  // opened, not yet taken in charge
        try script.add("TakenInCharge")
        let second = try script.add("InterventionRequested", emergency: true)  // taken in charge, no plan
        try script.add("InterventionStarted", second)
        try script.add("ServiceDelivered", second)
        #expect(script.state.signedPlans.isEmpty)
        #expect(script.state.openInterventions.count == 2)
    }

    @Test func outcomeRefersToAGoalOrAnIntervention() throws {
        var script = try Script.takenInCharge()
        let plan = try script.add("PlanDrafted")
        let refusal = script.refusal("OutcomeRecorded", plan)
        #expect(refusal?.code == "outcome_without_reference")
        #expect(refusal?.field == "refersTo")
        #expect(script.refusal("OutcomeRecorded", 99)?.code == "outcome_without_reference")
        #expect(script.refusal("OutcomeRecorded", nil)?.code == "outcome_without_reference")
        let goal = try script.add("GoalSet")
        try script.add("OutcomeRecorded", goal)
        let emergency = try script.add("InterventionRequested", emergency: true)
        try script.add("OutcomeRecorded", emergency)
    }

    @Test func closedCaseTakesOnlyReopeningAndCorrections() throws {
        var script = try Script.takenInCharge()
        let referral = try script.add("ReferralReceived")
        try script.add("CaseClosed")
        for type in ["AccessContactRecorded", "ReferralReceived", "GoalSet", "AppointmentScheduled", "CaseSuspended",
                     "ConsentRecorded", "CaseTransferredOut"] {
            #expect(script.refusal(type, ambito: "BAS02")?.code == "case_closed", "\(type)")
        }
        #expect(script.refusal("Rectified", 3, field: "date") == nil)
        #expect(script.refusal("Voided", referral) == nil)
        #expect(script.refusal("Restricted", referral) == nil)
        #expect(script.refusal("ConsentWithdrawn") == nil)
        try script.add("CaseReopened")
        #expect(script.state.phase == .takenInCharge)
    }

    @Test func transferInFromTheWrongAmbito() throws {
        var script = try Script.takenInCharge()
        #expect(script.refusal("CaseTransferredOut", ambito: "BAS01")?.code == "same_ambito")
        try script.add("CaseTransferredOut", ambito: "BAS02")
        #expect(script.refusal("CaseTransferredIn", ambito: "BAS02", from: "BAS03")?.code == "transfer_mismatch")
        #expect(script.refusal("CaseTransferredIn", ambito: "BAS03", from: "BAS01")?.code == "transfer_mismatch")
        #expect(script.refusal("GoalSet")?.code == "case_transferred")
        try script.add("CaseTransferredIn", ambito: "BAS02", from: "BAS01")
        #expect(script.state.phase == .opened)
        #expect(script.state.ambito == "BAS02")
        #expect(script.state.episodes == 2)
        #expect(script.refusal("CaseTransferredIn", ambito: "BAS02", from: "BAS01")?.code == "transfer_mismatch")
    }

    @Test func voidingTheClosureReopensTheCase() throws {
        var script = try Script.takenInCharge()
        let plan = try script.add("PlanDrafted")
        try script.add("PlanSigned", plan)
        let intervention = try script.add("InterventionRequested")
        try script.add("InterventionStarted", intervention)
        let closure = try script.add("CaseClosed")
        #expect(script.state.openInterventions.isEmpty)
        try script.add("Voided", closure)
        let folded = CaseState.fold(script.facts)
        #expect(folded.phase == .takenInCharge)
        #expect(folded.openInterventions == [intervention])
        #expect(folded.voided == [closure])
        #expect(script.state.phase == .takenInCharge)
        try script.add("ServiceDelivered", intervention)
        #expect(script.refusal("CaseReopened")?.code == "case_not_closed")
    }

    @Test func nothingBeforeRegistrationNothingAfterErasure() throws {
        var script = Script()
        #expect(script.refusal("CaseOpened", ambito: "BAS01")?.code == "person_not_registered")
        try script.add("PersonRegistered")
        #expect(script.refusal("PersonRegistered")?.code == "already_registered")
        try script.add("ErasureExecuted")
        #expect(script.refusal("CaseOpened", ambito: "BAS01")?.code == "person_erased")
        #expect(script.refusal("Rectified", 1, field: "sex")?.code == "person_erased")
    }

    /// Every refusal says why, in English and in Italian (the walks check every refusal they meet too).
    @Test func everyViolationHasEnglishAndItalianSentences() throws {
        var script = Script()
        var refusals = [script.refusal("CaseOpened", ambito: "BAS01")]
        try script.add("PersonRegistered")
        refusals += [script.refusal("PersonRegistered"), script.refusal("GoalSet"), script.refusal("CaseReopened")]
        try script.add("CaseOpened", ambito: "BAS01")
        refusals += [script.refusal("CaseOpened", ambito: "BAS02"), script.refusal("InterventionRequested"),
                     script.refusal("CaseTransferredOut", ambito: "BAS01"), script.refusal("Voided", 1),
                     script.refusal("Rectified", 1, field: "nope"), script.refusal("AppointmentHeld", 2),
                     script.refusal("RestrictionLifted", 9)]
        try script.add("TakenInCharge")
        refusals += [script.refusal("TakenInCharge"), script.refusal("InterventionRequested"), script.refusal("OutcomeRecorded", 3)]
        try script.add("CaseSuspended")
        refusals.append(script.refusal("GoalSet"))
        try script.add("CaseTransferredOut", ambito: "BAS02")
        refusals += [script.refusal("GoalSet"), script.refusal("CaseTransferredIn", ambito: "BAS03", from: "BAS01")]
        let codes = refusals.compactMap { $0?.code }
        #expect(codes.count == refusals.count, "every scripted step above is refused")
        #expect(Set(codes).count >= 14, "\(codes)")
        for violation in refusals.compactMap({ $0 }) {
            #expect(checkSentences(violation), "\(violation)")
            #expect(violation.english.hasSuffix(".") && violation.italian.hasSuffix("."), "\(violation)")
        }
    }

    // MARK: Where the model and CaseState disagree today (the behaviour believed right)

    /// Pronto intervento sociale needs only an open case: it can be activated and delivered before
    /// the presa in carico, not merely requested. CaseState: not_taken_in_charge on the start.
    @Test func disagreementProntoInterventoRunsBeforePresaInCarico() throws {
        var script = Script()
        try script.add("PersonRegistered")
        try script.add("CaseOpened", ambito: "BAS01")
        let intervention = try script.add("InterventionRequested", emergency: true)
        #expect(script.refusal("InterventionStarted", intervention) == nil)
        _ = try? script.add("InterventionStarted", intervention)
        #expect(script.refusal("ServiceDelivered", intervention) == nil)
        #expect(script.refusal("InterventionEnded", intervention) == nil)
    }

    /// A transfer closes the case in the ambito it leaves: its supports end there, as on CaseClosed.
    /// CaseState keeps them open, and once the receiving ambito takes the case in charge it accepts
    /// deliveries on them although no plan of the case is signed (signed plans reset on transfer).
    @Test func disagreementTransferEndsTheSupportsOfTheAmbitoLeft() throws {
        var script = try Script.takenInCharge()
        let plan = try script.add("PlanDrafted")
        try script.add("PlanSigned", plan)
        let intervention = try script.add("InterventionRequested")
        try script.add("InterventionStarted", intervention)
        try script.add("CaseTransferredOut", ambito: "BAS02")
        #expect(script.state.openInterventions.isEmpty)
        try script.add("CaseTransferredIn", ambito: "BAS02", from: "BAS01")
        try script.add("TakenInCharge")
        #expect(script.state.signedPlans.isEmpty)
        #expect(script.refusal("ServiceDelivered", intervention) != nil)
    }

    /// An entry that no longer counts (skipped by the fold because the CaseOpened it belonged to
    /// was voided) cannot be signed, reviewed or referred to. CaseState signs the annulled case's
    /// plan, which then lets a non-emergency intervention through without a plan of this case.
    @Test func disagreementReferencesToEntriesThatNoLongerCount() throws {
        var script = try Script.takenInCharge()
        let plan = try script.add("PlanDrafted")
        let goal = try script.add("GoalSet")
        try script.add("Voided", 2)  // the CaseOpened
        #expect(script.state.phase == .noCase)
        try script.add("CaseOpened", ambito: "BAS02")
        try script.add("TakenInCharge")
        #expect(script.refusal("PlanSigned", plan) != nil)
        #expect(script.refusal("GoalClosed", goal) != nil)
        #expect(script.refusal("OutcomeRecorded", goal) != nil)
        _ = try? script.add("PlanSigned", plan)
        #expect(script.refusal("InterventionRequested")?.code == "no_signed_plan")
    }

    /// Voiding an entry does not lift the restriction on it: the voided entry stays readable
    /// (DPR 445/2000 art. 54) and reads hide a restricted entry's personal data through
    /// `CaseState.restrictions`. CaseState's fold drops the restriction with the voided target.
    @Test func disagreementRestrictionSurvivesVoidingItsTarget() throws {
        var script = try Script.takenInCharge()
        let referral = try script.add("ReferralReceived")
        let restriction = try script.add("Restricted", referral)
        try script.add("Voided", referral)
        #expect(script.state.restrictions == [restriction: referral])
        #expect(CaseState.fold(script.facts).restrictions == [restriction: referral])
        #expect(script.refusal("RestrictionLifted", restriction) == nil)
    }
}

@Suite("Case facts")
struct CaseFactTests {
    /// The field a refusal names is the schema's reference field, for every type that has one.
    @Test func referenceFieldsComeFromTheCatalogue() {
        for (type, spec) in referenceSpec {
            #expect(CaseFact(version: 1, type: type).referenceField == spec.field, "\(type)")
        }
        #expect(CaseFact(version: 1, type: "CaseOpened").referenceField == nil)
    }

    /// The codes kept out of line read back as set, compare by value, and a copy does not see
    /// a later change to the original.
    @Test func outOfLineCodesBehaveAsValues() {
        var fact = CaseFact(version: 3, type: "CaseTransferredIn")
        fact.ambito = "potenza"
        fact.fromAmbito = "val_d_agri"
        let copy = fact
        fact.ambito = "lagonegrese_pollino"
        #expect(copy.ambito == "potenza" && copy.fromAmbito == "val_d_agri")
        #expect(fact.ambito == "lagonegrese_pollino" && fact.fromAmbito == "val_d_agri")
        #expect(fact != copy)
        fact.ambito = "potenza"
        #expect(fact == copy)
        fact.ambito = nil
        fact.fromAmbito = nil
        #expect(fact == CaseFact(version: 3, type: "CaseTransferredIn"))
    }
}
