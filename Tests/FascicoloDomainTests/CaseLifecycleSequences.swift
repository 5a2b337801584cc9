import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloDomain

// Seeded random sequences of case facts for the property tests, and how a disagreement is told.

// MARK: - Generating sequences

/// Every type a client can put in a person's stream, plus the daemon's ErasureExecuted.
/// RecordAccessed lives in the separate access stream (`access:<pseudonym>`), SiussExported in
/// `siuss:exports`, so they are left out.
let streamTypes: [String] = EventCatalogue.all.map(\.type).filter { $0 != "RecordAccessed" && $0 != "SiussExported" }
let ambiti = ["BAS01", "BAS02", "BAS03"]

/// The types drawn, weighted so that walks get past the presa in carico to plans, interventions,
/// closures and transfers; corrections less often, erasure (which ends a walk) rarely.
let weightedTypes: [String] = streamTypes.flatMap { type -> [String] in
    let weight =
        switch type {
        case "ErasureExecuted", "PersonDied": 1
        case "Rectified", "Restricted", "RestrictionLifted", "ConsentWithdrawn", "LegalHoldPlaced", "LegalHoldReleased", "ConsentRecorded",
            "IdentityLinked", "Voided",
            "CaseClosed", "CaseSuspended", "CaseTransferredOut":
            2
        case "CaseOpened", "TakenInCharge", "InterventionRequested", "CaseTransferredIn", "PlanSigned", "InterventionStarted",
            "InterventionSuspended", "InterventionResumed", "ServiceDelivered":
            10
        case "PlanDrafted", "GoalSet", "GoalClosed", "OutcomeRecorded", "CaseReopened", "InterventionEnded": 6
        case "PlanRevised", "GoalReviewed", "AppointmentHeld", "AppointmentMissed", "CommitmentBreached": 4
        default: 3
        }
    return Array(repeating: type, count: weight)
}

extension SeededGenerator {
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

func baseSeed(_ salt: UInt64) -> UInt64 {
    if let text = getenv("FASCICOLO_SEED"), let seed = UInt64(String(cString: text)) { return seed }
    return 0x5EED_FA5C_1C01_0000 ^ salt
}

/// Sequence 0 uses the base seed itself (so a printed seed replays as sequence 0); the others
/// scatter (seeds base + i·γ would make every sequence the same SplitMix stream, shifted).
func sequenceSeed(_ base: UInt64, _ index: Int) -> UInt64 {
    guard index > 0 else { return base }
    var generator = SeededGenerator(seed: base ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
    return generator.next()
}

/// A candidate for the next entry: any type, with plausible references — mostly of the right
/// type, sometimes any entry, itself, a later one, zero or missing.
func candidate(_ type: String, after model: LifecycleModel, _ random: inout SeededGenerator) -> CaseFact {
    var fact = CaseFact(version: model.nextVersion, type: type)
    if let spec = referenceSpec[type] {
        precondition(fact.referenceField == spec.field, "the catalogue names \(type)'s reference otherwise")
        let count = model.facts.count
        let preferred: Set<String>? =
            switch type {
            case "Rectified": rectifiable
            case "Voided": voidable
            default: spec.targets
            }
        let roll = Int.random(in: 0..<100, using: &random)
        var chosen: UInt64?
        if roll < 45 {
            // Entries a step could still apply to, so that walks get through the sub-lifecycles.
            let open: [UInt64] =
                switch type {
                case "InterventionStarted", "InterventionSuspended", "InterventionResumed", "InterventionEnded", "ServiceDelivered":
                    model.interventions.filter { $0.value != "ended" }.keys.sorted()
                case "GoalReviewed", "GoalClosed": model.goals.filter { !$0.value }.keys.sorted()
                case "AppointmentHeld", "AppointmentMissed":
                    (model.versionsByType["AppointmentScheduled"] ?? []).filter {
                        model.counted.contains($0) && !model.concludedAppointments.contains($0)
                    }
                case "RestrictionLifted": model.restrictions.keys.sorted()
                case "LegalHoldReleased": model.holds.sorted()
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
    case "InterventionEnded" where random.chance(30):
        // As the daemon writes it after a closure, transfer out or death (or a stray one).
        let closings = ["CaseClosed", "CaseTransferredOut", "PersonDied"].flatMap { model.versionsByType[$0] ?? [] }.sorted()
        fact.endedWith =
            !closings.isEmpty && random.chance(80) ? random.pick(closings) : UInt64.random(in: 0...model.nextVersion, using: &random)
        if !model.endedWithCase.isEmpty && random.chance(70) { fact.reference = random.pick(model.endedWithCase.sorted()) }
    default:
        break
    }
    return fact
}

/// A random step that the model calls legal, or nil when none is found (after an erasure).
/// ErasureExecuted is rare (it ends the walk); Voided is drawn more often when `voids` is set.
func legalStep(after model: LifecycleModel, _ random: inout SeededGenerator, voids: Bool = false) -> CaseFact? {
    for _ in 0..<60 {
        var type = random.pick(weightedTypes)
        if voids && random.chance(3) { type = "Voided" }
        // Both end the path: rarely, so that walks get far.
        if (type == "ErasureExecuted" || type == "PersonDied") && !random.chance(10) { continue }
        if model.registered && phaseTable[type]?.contains(model.phase) != true { continue }  // cheap pre-check
        let fact = candidate(type, after: model, &random)
        if model.verdict(fact) == nil { return fact }
    }
    for type in streamTypes where type != "ErasureExecuted" && type != "PersonDied" {
        for _ in 0..<3 {
            let fact = candidate(type, after: model, &random)
            if model.verdict(fact) == nil { return fact }
        }
    }
    return nil
}

func describe(_ fact: CaseFact) -> String {
    var text = "\(fact.version):\(fact.type)"
    if let reference = fact.reference { text += "→\(reference)" } else if fact.referenceField != nil { text += "→nil" }
    if let field = fact.field { text += ".\(field)" }
    if let from = fact.fromAmbito { text += "[\(from)→\(fact.ambito ?? "-")]" } else if let ambito = fact.ambito { text += "[\(ambito)]" }
    if fact.emergency { text += "[PIS]" }
    return text
}

func describe(_ facts: [CaseFact]) -> String { facts.map(describe).joined(separator: ", ") }

func describe(_ refusal: Refusal?) -> String { refusal.map { "refuses (\($0.reason))" } ?? "accepts" }
func describe(_ violation: PathRuleViolation?) -> String { violation.map { "refuses (\($0.code))" } ?? "accepts" }

/// Disagreements grouped by kind, each with its shortest example.
struct Findings {
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
func agree(_ facts: [CaseFact], _ interpretation: Interpretation) -> Bool {
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
func explain(_ facts: [CaseFact], _ interpretation: Interpretation) -> String {
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

func checkSentences(_ violation: PathRuleViolation) -> Bool {
    !violation.code.isEmpty && !violation.english.isEmpty && !violation.italian.isEmpty && violation.english != violation.italian
}
