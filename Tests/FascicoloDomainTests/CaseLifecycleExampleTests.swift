import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloDomain

// MARK: - Examples: DOMAIN.md's named rules and their codes

struct Script {
    var facts: [CaseFact] = []
    var state = CaseState()

    func fact(
        _ type: String, _ reference: UInt64? = nil, ambito: String? = nil, from: String? = nil,
        emergency: Bool = false, field: String? = nil
    ) -> CaseFact {
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
    mutating func add(
        _ type: String, _ reference: UInt64? = nil, ambito: String? = nil, from: String? = nil,
        emergency: Bool = false, field: String? = nil
    ) throws(PathRuleViolation) -> UInt64 {
        let fact = fact(type, reference, ambito: ambito, from: from, emergency: emergency, field: field)
        try state.apply(fact)
        facts.append(fact)
        if type == "Voided" { state = CaseState.fold(facts) }
        return fact.version
    }

    /// The refusal of that entry, or nil if it would be accepted; the script is left unchanged.
    func refusal(
        _ type: String, _ reference: UInt64? = nil, ambito: String? = nil, from: String? = nil,
        emergency: Bool = false, field: String? = nil
    ) -> PathRuleViolation? {
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
        // Without a case file, only pronto intervento sociale (which opens a minimal one).
        #expect(script.refusal("InterventionRequested")?.code == "no_open_case")
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
        for type in [
            "AccessContactRecorded", "ReferralReceived", "GoalSet", "AppointmentScheduled", "CaseSuspended",
            "ConsentRecorded", "CaseTransferredOut",
        ] {
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
        refusals += [
            script.refusal("CaseOpened", ambito: "BAS02"), script.refusal("InterventionRequested"),
            script.refusal("CaseTransferredOut", ambito: "BAS01"), script.refusal("Voided", 1),
            script.refusal("Rectified", 1, field: "nope"), script.refusal("AppointmentHeld", 2),
            script.refusal("RestrictionLifted", 9),
        ]
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
