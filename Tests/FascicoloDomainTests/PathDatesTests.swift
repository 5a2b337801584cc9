import FascicoloTesting
import Testing

@testable import FascicoloDomain

// The path as social workers live it (issue 19): the dates on entries, late entries, death,
// coming of age, transfers to another region, pronto intervento without a case file. Each test
// names the rule it guards; each failed without it.

/// A person's stream built entry by entry, with dates, as CaseFiles appends it.
struct DatedPath {
    var facts: [CaseFact] = []
    var state = CaseState()

    func fact(
        _ kind: EventKind, on day: String, _ reference: UInt64? = nil, date: String? = nil,
        _ configure: (inout CaseFact) -> Void = { _ in }
    ) -> CaseFact {
        var fact = CaseFact(version: UInt64(facts.count + 1), kind: kind)
        fact.occurredOn = CalendarDate(day)
        fact.date = date.flatMap(CalendarDate.init)
        fact.reference = reference
        configure(&fact)
        return fact
    }

    @discardableResult
    mutating func add(
        _ kind: EventKind, on day: String, _ reference: UInt64? = nil, date: String? = nil,
        _ configure: (inout CaseFact) -> Void = { _ in }
    ) throws(PathRuleViolation) -> UInt64 {
        let fact = fact(kind, on: day, reference, date: date, configure)
        try state.apply(fact)
        facts.append(fact)
        if kind == .voided { state = CaseState.fold(facts) }
        return fact.version
    }

    /// The refusal's code, or nil when accepted; the path is left unchanged.
    func refusal(
        _ kind: EventKind, on day: String, _ reference: UInt64? = nil, date: String? = nil,
        _ configure: (inout CaseFact) -> Void = { _ in }
    ) -> PathRuleViolation? {
        var copy = self
        do throws(PathRuleViolation) { try copy.add(kind, on: day, reference, date: date, configure) } catch {
            #expect(checkSentences(error))
            return error
        }
        return nil
    }

    /// Registered (born `birthYear`), case opened 2026-01-10 in matera, taken in charge 2026-01-20,
    /// plan drafted and signed 2026-01-25, home care (SAD) requested 2026-02-01 and started 2026-02-03.
    /// Versions: 1 registered, 2 opened, 3 presa in carico, 4 plan, 5 signed, 6 SAD, 7 started.
    static func homeCare(birthYear: Int = 1940) throws(PathRuleViolation) -> DatedPath {
        var path = DatedPath()
        try path.add(.personRegistered, on: "2026-01-05") { $0.birthYear = birthYear }
        try path.add(.caseOpened, on: "2026-01-10") { $0.ambito = "matera" }
        try path.add(.takenInCharge, on: "2026-01-20", date: "2026-01-20")
        try path.add(.planDrafted, on: "2026-01-25")
        try path.add(.planSigned, on: "2026-01-25", 4, date: "2026-01-25")
        try path.add(.interventionRequested, on: "2026-02-01")
        try path.add(.interventionStarted, on: "2026-02-03", 6, date: "2026-02-03")
        return path
    }
}

@Suite struct PathDatesTests {
    @Test func aStepIsNotDatedBeforeWhatItDependsOn() throws {
        var path = DatedPath()
        try path.add(.personRegistered, on: "2026-01-05")
        try path.add(.caseOpened, on: "2026-01-10") { $0.ambito = "matera" }
        #expect(path.refusal(.takenInCharge, on: "2026-01-09", date: "2026-01-09")?.code == "date_before_case_opened")
        try path.add(.takenInCharge, on: "2026-01-20", date: "2026-01-20")
        // A plan signed before the presa in carico; a drafted plan signed before it was drafted.
        #expect(path.refusal(.planDrafted, on: "2026-01-15")?.code == "date_before_taken_in_charge")
        try path.add(.planDrafted, on: "2026-01-25")
        let signedEarly = path.refusal(.planSigned, on: "2026-01-22", 4, date: "2026-01-22")
        #expect(signedEarly?.code == "date_before_referenced_entry")
        #expect(signedEarly?.english.contains("2026-01-22") == true && signedEarly?.english.contains("2026-01-25") == true)
        #expect(signedEarly?.italian.contains("22/01/2026") == true && signedEarly?.italian.contains("25/01/2026") == true)
        try path.add(.planSigned, on: "2026-01-25", 4, date: "2026-01-25")
        try path.add(.interventionRequested, on: "2026-02-01")
        // An intervention started before it was requested; a delivery before it started.
        #expect(path.refusal(.interventionStarted, on: "2026-01-30", 6, date: "2026-01-30")?.code == "date_before_referenced_entry")
        try path.add(.interventionStarted, on: "2026-02-03", 6, date: "2026-02-03")
        #expect(path.refusal(.serviceDelivered, on: "2026-02-02", 6, date: "2026-02-02")?.code == "date_before_intervention_started")
        // An outcome before its intervention.
        #expect(path.refusal(.outcomeRecorded, on: "2026-01-31", 6)?.code == "date_before_referenced_entry")
        #expect(path.refusal(.outcomeRecorded, on: "2026-03-31", 6) == nil)
    }

    @Test func aLateDeliveryInsideTheOpenPeriodIsAcceptedAfterTheClosure() throws {
        var path = try DatedPath.homeCare()
        try path.add(.caseClosed, on: "2026-10-15", date: "2026-10-15") { $0.reason = "needs_resolved" }
        // The provider's September delivery, recorded after the October closure.
        #expect(path.refusal(.serviceDelivered, on: "2026-09-20", 6, date: "2026-09-20") == nil)
        #expect(path.refusal(.serviceDelivered, on: "2026-10-20", 6, date: "2026-10-20")?.code == "date_after_closure")
        // What is not a record of what happened then still needs a reopening.
        #expect(path.refusal(.interventionRequested, on: "2026-09-20")?.code == "case_closed")
        try path.add(.caseReopened, on: "2026-12-01") { _ in }
        // Between the closure and the reopening the case was not open.
        #expect(path.refusal(.serviceDelivered, on: "2026-11-10", 6, date: "2026-11-10")?.code == "date_outside_open_period")
        #expect(path.refusal(.serviceDelivered, on: "2026-09-21", 6, date: "2026-09-21") == nil)
        #expect(path.refusal(.caseReopened, on: "2026-12-02")?.code == "case_not_closed")
    }

    @Test func openPeriodsFollowTheEpisodes() throws {
        var path = try DatedPath.homeCare()
        try path.add(.caseClosed, on: "2026-05-31", date: "2026-05-31") { $0.reason = "needs_resolved" }
        #expect(path.refusal(.caseReopened, on: "2026-05-30")?.code == "date_before_closure")
        try path.add(.caseReopened, on: "2026-07-01")
        #expect(
            path.state.periods == [
                CaseState.OpenPeriod(start: CalendarDate("2026-01-10"), end: CalendarDate("2026-05-31")),
                CaseState.OpenPeriod(start: CalendarDate("2026-07-01"), end: nil),
            ])
        // A new step of the reopened case is not dated in the gap.
        #expect(path.refusal(.caseManagerAssigned, on: "2026-06-15") { $0.operatorID = "op" }?.code == "date_before_case_opened")
    }

    @Test func cancelAndReinsertWorksOnAClosedCase() throws {
        var path = try DatedPath.homeCare()
        let delivery = try path.add(.serviceDelivered, on: "2026-03-02", 6, date: "2026-03-02")
        try path.add(.caseClosed, on: "2026-10-15", date: "2026-10-15") { $0.reason = "needs_resolved" }
        // SIUSS: cancel the intervention record and insert it again, corrected (one request).
        let void = try path.add(.voided, on: "2026-11-02", 6)
        #expect(path.state.counts(delivery) == false)
        let reinserted = try path.add(.interventionRequested, on: "2026-02-01")
        #expect(path.state.interventions[reinserted] == .ended)
        _ = void
        // Its steps are recorded again as late entries.
        try path.add(.interventionStarted, on: "2026-02-03", reinserted, date: "2026-02-03")
        #expect(path.refusal(.serviceDelivered, on: "2026-03-02", reinserted, date: "2026-03-02") == nil)
        // Without a void just before, a new request on a closed case is still refused.
        #expect(path.refusal(.interventionRequested, on: "2026-02-01")?.code == "case_closed")
    }

    @Test func deathIsTerminal() throws {
        var path = try DatedPath.homeCare()
        try path.add(.serviceDelivered, on: "2026-03-02", 6, date: "2026-03-02")
        try path.add(.personDied, on: "2026-04-10", date: "2026-04-10")
        #expect(path.state.deceased && path.state.openInterventions.isEmpty)
        // Deliveries before the death, recorded after it, are late entries; after it, refused.
        #expect(path.refusal(.serviceDelivered, on: "2026-04-09", 6, date: "2026-04-09") == nil)
        #expect(path.refusal(.serviceDelivered, on: "2026-04-12", 6, date: "2026-04-12")?.code == "date_after_death")
        #expect(path.refusal(.interventionRequested, on: "2026-04-09")?.code == "person_deceased")
        #expect(path.refusal(.caseSuspended, on: "2026-04-11")?.code == "person_deceased")
        #expect(path.refusal(.personDied, on: "2026-04-11", date: "2026-04-11")?.code == "person_deceased")
        #expect(
            path.refusal(.caseClosed, on: "2026-04-20", date: "2026-04-20") { $0.reason = "needs_resolved" }?.code == "closure_after_death")
        try path.add(.caseClosed, on: "2026-04-20", date: "2026-04-20") { $0.reason = "death" }
        #expect(path.refusal(.caseReopened, on: "2026-05-01")?.code == "person_deceased")
        // Corrections still go in.
        #expect(path.refusal(.restricted, on: "2026-05-01", 1) == nil)
    }

    @Test func aClosureForDeathIsTerminalToo() throws {
        var path = try DatedPath.homeCare()
        try path.add(.caseClosed, on: "2026-04-20", date: "2026-04-20") { $0.reason = "death" }
        #expect(path.state.deceased && path.state.diedOn == CalendarDate("2026-04-20"))
        #expect(path.refusal(.caseReopened, on: "2026-05-01")?.code == "person_deceased")
        // Voiding the closure (recorded on the wrong person) takes the death back.
        try path.add(.voided, on: "2026-04-21", 8)
        #expect(!path.state.deceased && path.state.phase == .takenInCharge)
    }

    @Test func cameOfAgeOnlyFromTheYearThePersonTurns18() throws {
        var minor = try DatedPath.homeCare(birthYear: 2009)
        // 2026 − 2009 = 17: under 18 all year long.
        #expect(
            minor.refusal(.caseClosed, on: "2026-12-31", date: "2026-12-31") { $0.reason = "came_of_age" }?.code == "came_of_age_under_18")
        // Born 2008: 18 at some day of 2026 — the birth year alone cannot prove otherwise.
        var adult = try DatedPath.homeCare(birthYear: 2008)
        try adult.add(.caseClosed, on: "2026-06-30", date: "2026-06-30") { $0.reason = "came_of_age" }
        // A rectified birth year takes effect.
        try minor.add(.rectified, on: "2026-06-01", 1) {
            $0.field = "birthYear"
            $0.newValue = "2007"
        }
        #expect(minor.refusal(.caseClosed, on: "2026-12-31", date: "2026-12-31") { $0.reason = "came_of_age" } == nil)
    }

    @Test func aRectifiedPresaInCaricoMovesTheCaseState() throws {
        var path = try DatedPath.homeCare()
        #expect(path.state.takenInChargeOn == CalendarDate("2026-01-20"))
        try path.add(.rectified, on: "2026-03-01", 3) {
            $0.field = "date"
            $0.newValue = "2026-01-19"
        }
        #expect(path.state.takenInChargeOn == CalendarDate("2026-01-19"))
        #expect(CaseState.fold(path.facts).takenInChargeOn == CalendarDate("2026-01-19"))
        // Not before the case was opened.
        #expect(
            path.refusal(.rectified, on: "2026-03-01", 3) {
                $0.field = "date"
                $0.newValue = "2026-01-02"
            }?.code == "date_before_case_opened")
    }

    @Test func aTransferToAnotherRegionClosesTheCase() throws {
        var path = try DatedPath.homeCare()
        try path.add(.caseTransferredOut, on: "2026-05-01") {
            $0.ambito = "roma_1"
            $0.toOtherRegion = true
        }
        #expect(path.state.phase == .closed && path.state.closureReason == "transferred_other_region")
        #expect(path.state.openInterventions.isEmpty)
        #expect(
            path.refusal(.caseTransferredIn, on: "2026-05-02") {
                $0.ambito = "roma_1"
                $0.fromAmbito = "matera"
            }?.code == "case_closed")
    }

    @Test func prontoInterventoOpensAMinimalFile() throws {
        var path = DatedPath()
        try path.add(.personRegistered, on: "2026-02-10")
        #expect(path.refusal(.interventionRequested, on: "2026-02-10")?.code == "no_open_case")
        let pis = try path.add(.interventionRequested, on: "2026-02-10") {
            $0.emergency = true
            $0.ambito = "potenza"
        }
        #expect(path.state.phase == .opened && path.state.ambito == "potenza" && path.state.episodes == 1)
        try path.add(.interventionStarted, on: "2026-02-10", pis, date: "2026-02-10")
        try path.add(.takenInCharge, on: "2026-02-20", date: "2026-02-20")
    }

    @Test func italianSentencesNameNoEnglishType() throws {
        var path = try DatedPath.homeCare()
        let wrong = path.refusal(.planSigned, on: "2026-03-01", 6, date: "2026-03-01")
        #expect(wrong?.code == "wrong_target")
        for violation in [
            wrong, path.refusal(.voided, on: "2026-03-01", 3), path.refusal(.rectified, on: "2026-03-01", 3) { $0.field = "shoeSize" },
        ] {
            let italian = violation?.italian ?? ""
            for kind in EventKind.allCases where kind != .other {
                #expect(!italian.contains(kind.name), "\(violation?.code ?? "-"): \(italian)")
            }
        }
        try path.add(.caseClosed, on: "2026-03-02", date: "2026-03-02") { $0.reason = "needs_resolved" }
    }
}

extension PathDatesTests {
    /// A minor under a Tribunale measure, placed in a comunità, who moves to another ambito: the
    /// comunità's last month in the old ambito is invoiced after the transfer in.
    @Test func aLateDeliveryOfTheAmbitoLeftAfterTheTransferIn() throws {
        var path = DatedPath()
        try path.add(.personRegistered, on: "2026-01-05") { $0.birthYear = 2012 }
        try path.add(.judicialMeasureRecorded, on: "2026-01-07", date: "2025-12-20")  // the decree predates the referral
        try path.add(.referralReceived, on: "2026-01-07")
        try path.add(.caseOpened, on: "2026-01-08") { $0.ambito = "matera" }
        try path.add(.takenInCharge, on: "2026-01-08", date: "2026-01-08")
        let plan = try path.add(.planDrafted, on: "2026-01-15")
        try path.add(.planSigned, on: "2026-01-16", plan, date: "2026-01-16")
        let placement = try path.add(.interventionRequested, on: "2026-01-20")
        try path.add(.interventionStarted, on: "2026-01-22", placement, date: "2026-01-22")
        try path.add(.caseTransferredOut, on: "2026-06-30") { $0.ambito = "potenza" }
        try path.add(.caseTransferredIn, on: "2026-07-02") {
            $0.ambito = "potenza"
            $0.fromAmbito = "matera"
        }
        #expect(path.state.caseManager == nil && path.state.phase == .opened)
        // June's placement, invoiced in July: a late entry of the first period.
        #expect(path.refusal(.serviceDelivered, on: "2026-06-30", placement, date: "2026-06-30") == nil)
        #expect(path.refusal(.serviceDelivered, on: "2026-07-01", placement, date: "2026-07-01")?.code == "date_outside_open_period")
    }
}
