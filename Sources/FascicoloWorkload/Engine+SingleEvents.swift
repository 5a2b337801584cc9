import FascicoloDomain
import FascicoloJSON

extension Engine {
    // MARK: Single events

    mutating func contact(_ person: inout Person, _ batch: inout Batch) {
        var data: [(key: String, value: JSON)] = [
            ("channel", .string(random.weighted([(5, "in_person"), (3, "phone"), (1, "email"), (1, "home_visit"), (1, "online")])!)),
            ("needArea", .string(random.chance(0.8) ? person.area : random.pick(userAreas))),
            ("outcome", .string(random.pick(["information", "orientation", "referral", "assisted_application"]))),
        ]
        if random.chance(0.7) { data.append(("notes", .string(note(Texts.contactNotes(person, &random))))) }
        add(&person, &batch, "AccessContactRecorded", data)
    }

    mutating func referral(_ person: inout Person, _ batch: inout Batch) {
        let source =
            person.isMinor
            ? random.pick(["school", "asl", "police", "tribunale", "family"])
            : random.pick(["asl", "family", "self", "third_sector", "other_service", "police"])
        var data: [(key: String, value: JSON)] = [
            ("source", .string(source)), ("urgency", .string(random.weighted([(7, "ordinary"), (2, "urgent"), (1, "emergency")])!)),
            ("judicialFlag", .bool(source == "tribunale" || source == "police" && random.chance(0.5))),
        ]
        if random.chance(0.6) { data.append(("referrerName", .string(note(Texts.referrer(&random))))) }
        if random.chance(0.8) { data.append(("description", .string(note(Texts.referralDescription(person, source: source, &random))))) }
        add(&person, &batch, "ReferralReceived", data)
        person.hadReferral = true
    }

    mutating func judicialMeasure(_ person: inout Person, _ batch: inout Batch) {
        let authority =
            person.isMinor
            ? random.pick(["tribunale_minorenni", "procura_minorenni", "tribunale_minorenni"])
            : random.pick(["tribunale_ordinario", "giudice_tutelare", "other"])
        let measure =
            person.isMinor
            ? random.pick(["protection_order", "custody", "supervision", "placement", "limitation_of_parental_responsibility"])
            : random.pick(["protection_order", "supervision", "other"])
        var data: [(key: String, value: JSON)] = [
            ("measureType", .string(measure)), ("authority", .string(authority)), ("date", date(batch.day - random.between(0, 20))),
        ]
        if random.chance(0.8) { data.append(("details", .string(note(Texts.judicialDetails(person, &random))))) }
        let version = add(&person, &batch, "JudicialMeasureRecorded", data)
        if case .string(let old) = data[2].value {
            person.rectifiable.append(Rectifiable(version: version, field: "date", old: old, kind: .date))
        }
        person.hadJudicialMeasure = true
    }

    mutating func consent(_ person: inout Person, _ batch: inout Batch) {
        let scope = random.pick(["sharing_with_provider", "sharing_with_asl", "sharing_with_school", "contact_by_phone", "other"])
        var data: [(key: String, value: JSON)] = [("scope", .string(scope))]
        if scope == "sharing_with_provider" { data.append(("recipient", .string(random.pick(Places.providers)))) }
        if scope == "sharing_with_asl" { data.append(("recipient", .string("ASP Basilicata"))) }
        if random.chance(0.3) { data.append(("note", .string(note(Texts.consentNote(person, &random))))) }
        add(&person, &batch, "ConsentRecorded", data)
        person.consents.append(scope)
    }

    mutating func withdrawConsent(_ person: inout Person, _ batch: inout Batch) {
        let index = random.below(person.consents.count)
        add(&person, &batch, "ConsentWithdrawn", [("scope", .string(person.consents.remove(at: index)))])
    }

    mutating func assignCaseManager(_ person: inout Person, _ batch: inout Batch, newOperator: Bool) {
        if newOperator { person.caseManager = random.pick(operatorsOf(person.ambito)) }
        var data: [(key: String, value: JSON)] = [("operator", .string(person.caseManager))]
        if random.chance(0.7) {
            data.append(("role", .string(random.weighted([(8, "assistente_sociale"), (1, "educatore"), (1, "psicologo")])!)))
        }
        add(&person, &batch, "CaseManagerAssigned", data)
    }

    mutating func scheduleAppointment(_ person: inout Person, _ batch: inout Batch, inDays days: Int) {
        let day = min(batch.day + days, lastDay)
        var data: [(key: String, value: JSON)] = [("date", date(day))]
        if random.chance(0.6) { data.append(("place", .string(note(Texts.place(person, &random))))) }
        let version = add(&person, &batch, "AppointmentScheduled", data)
        person.appointment = (version, day)
        person.rectifiable.append(
            Rectifiable(version: version, field: "date", old: CalendarDate(daysSinceEpoch: day).description, kind: .date))
    }

    mutating func appointmentHeld(_ person: inout Person, _ batch: inout Batch, _ appointment: UInt64) {
        var data: [(key: String, value: JSON)] = [("appointment", .number(String(appointment))), ("date", date(batch.day))]
        if random.chance(0.6) {
            data.append(
                (
                    "attendees",
                    .array([
                        .string(note("\(person.givenName) \(person.familyName)")),
                        .string(note("A.S. " + random.pick(Places.professionals))),
                    ])
                ))
        }
        if random.chance(0.7) { data.append(("notes", .string(note(Texts.interviewNotes(person, &random))))) }
        add(&person, &batch, "AppointmentHeld", data)
    }

    mutating func appointmentMissed(_ person: inout Person, _ batch: inout Batch, _ appointment: UInt64) {
        var data: [(key: String, value: JSON)] = [("appointment", .number(String(appointment))), ("justified", .bool(random.chance(0.4)))]
        if random.chance(0.5) { data.append(("notes", .string(note(Texts.missedNotes(person, &random))))) }
        add(&person, &batch, "AppointmentMissed", data)
    }

    mutating func setGoal(_ person: inout Person, _ batch: inout Batch) {
        var data: [(key: String, value: JSON)] = [
            ("target", .string(note(Texts.goal(person, &random)))), ("dueDate", date(batch.day + random.between(60, 365))),
        ]
        if random.chance(0.8) {
            data.append(
                (
                    "domain",
                    .string(
                        random.pick(["income", "housing", "employment", "education", "health", "family", "autonomy", "social_inclusion"]))
                ))
        }
        person.goals.append(add(&person, &batch, "GoalSet", data))
    }

    mutating func closeGoal(_ person: inout Person, _ batch: inout Batch, _ goal: UInt64) {
        add(
            &person, &batch, "GoalClosed",
            [
                ("goal", .number(String(goal))),
                (
                    "achievement",
                    .string(random.weighted([(4, "achieved"), (3, "partially_achieved"), (2, "not_achieved"), (1, "dropped")])!)
                ),
            ])
        person.goals.removeAll { $0 == goal }
        if random.chance(0.5) { outcome(&person, &batch, refersTo: goal) }
    }

    mutating func outcome(_ person: inout Person, _ batch: inout Batch, refersTo target: UInt64) {
        var data: [(key: String, value: JSON)] = [
            ("refersTo", .number(String(target))), ("objectivesAchieved", .string(random.pick(["none", "some", "most", "all"]))),
        ]
        if random.chance(0.5) {
            data.append(("employment", .string(random.pick(["employed", "training", "unemployed", "not_applicable"]))))
        }
        if random.chance(0.6) { data.append(("autonomy", .string(random.pick(["improved", "unchanged", "worsened"])))) }
        add(&person, &batch, "OutcomeRecorded", data)
    }

    /// An intervention fitting the person's area (pronto intervento when `emergency`); returns its version.
    mutating func requestIntervention(_ person: inout Person, _ batch: inout Batch, emergency: Bool) -> UInt64 {
        let code = emergency ? random.pick(emergencyCodes) : interventionCode(for: person.area)
        let fundingLine: String =
            switch code {
            case "PIS", "CONTR-REDD", "SEGR": random.pick(["fondo_poverta", "comunale"])
            case "SAD", "ADI": random.pick(["fna", "comunale", "regionale"])
            case "TIS": random.pick(["fondo_poverta", "pnrr", "po_fse_plus"])
            case "CONTR-CASA": random.pick(["comunale", "regionale"])
            default: random.pick(["fnps", "comunale", "regionale", "pnrr", "other"])
            }
        var data: [(key: String, value: JSON)] = [
            ("code", .string(code)), ("provider", .string(random.pick(Places.providers))), ("fundingLine", .string(fundingLine)),
        ]
        if random.chance(0.4) { data.append(("notes", .string(note(Texts.interventionNotes(person, &random))))) }
        // Benefits conditional on ISEE carry it (issue 21). Derived from the person's step
        // count, not drawn: the generator's random sequence, and every seeded figure, stay as they were.
        if ["CONTR-REDD", "CONTR-CASA", "TIS"].contains(code) {
            let cents = (person.steps * 104_729 + code.count * 7_919) % 3_000_000
            data.append(("isee", .number("\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)")))
        }
        let version = add(&person, &batch, "InterventionRequested", data)
        person.interventions[version] = .requested
        person.interventionCodes[version] = code
        if emergency { person.hadEmergency = true }
        return version
    }

    /// A code the person's area usually gets, or now and then any ordinary one.
    mutating func interventionCode(for area: String) -> String {
        let preferred: [String] =
            switch area {
            case "families_minors": ["SSE-DOM", "SSE-TER", "GEN", "MED-FAM", "SSP", "COMUNITA-MIN"]
            case "disability": ["SAD", "ADI", "SSE-DOM", "TIS"]
            case "elderly": ["SAD", "ADI", "SSP"]
            case "poverty": ["CONTR-REDD", "CONTR-CASA", "TIS", "SSP", "SEGR"]
            case "immigrants": ["MED-CULT", "TIS", "CONTR-REDD", "SEGR"]
            case "addiction": ["SSP", "TIS", "CONTR-REDD"]
            default: []
            }
        let available = preferred.filter(ordinaryCodes.contains)
        return available.isEmpty || random.chance(0.15) ? random.pick(ordinaryCodes) : random.pick(available)
    }

    mutating func startIntervention(_ person: inout Person, _ batch: inout Batch, _ intervention: UInt64) {
        let version = add(
            &person, &batch, "InterventionStarted", [("intervention", .number(String(intervention))), ("date", date(batch.day))])
        person.interventions[intervention] = .active
        person.interventionStartDays[intervention] = batch.day
        person.rectifiable.append(
            Rectifiable(version: version, field: "date", old: CalendarDate(daysSinceEpoch: batch.day).description, kind: .date))
    }

    mutating func deliver(_ person: inout Person, _ batch: inout Batch, _ intervention: UInt64) {
        let code = person.interventionCodes[intervention] ?? ""
        var data: [(key: String, value: JSON)] = [
            ("intervention", .number(String(intervention))),
            ("date", date(max(batch.day - random.between(0, 6), person.interventionStartDays[intervention] ?? batch.day))),
        ]
        if code.hasPrefix("CONTR") {
            data.append(("amount", .number(Self.amount(cents: random.between(10, 60) * 1_000))))
        } else if code.hasPrefix("COMUNITA") {
            data.append(("amount", .number(Self.amount(cents: random.between(2_500, 3_200) * 100))))
        } else {
            let minutes = random.between(2, 16) * 15
            data.append(("minutes", .number(String(minutes))))
            if random.chance(0.3) { data.append(("amount", .number(Self.amount(cents: minutes * 2_250 / 60)))) }
        }
        add(&person, &batch, "ServiceDelivered", data)
    }

    static func amount(cents: Int) -> String {
        let rest = cents % 100
        return "\(cents / 100).\(rest < 10 ? "0" : "")\(rest)"
    }

    mutating func endIntervention(_ person: inout Person, _ batch: inout Batch, _ intervention: UInt64, reason: String) {
        let version = add(
            &person, &batch, "InterventionEnded",
            [
                ("intervention", .number(String(intervention))), ("date", date(batch.day)), ("reason", .string(reason)),
            ])
        person.interventions[intervention] = .ended
        person.rectifiable.append(Rectifiable(version: version, field: "reason", old: reason, kind: .interventionEndReason))
        if random.chance(0.6) { outcome(&person, &batch, refersTo: intervention) }
    }

    @discardableResult
    mutating func close(_ person: inout Person, _ batch: inout Batch, reason: String) -> UInt64 {
        // Usually the death is recorded first (from the anagrafe, the hospital, the family),
        // then the case closed for it; sometimes only the closure says it.
        if reason == "death", random.chance(0.7) {
            add(
                &person, &batch, "PersonDied",
                [
                    ("date", date(batch.day)), ("source", .string(random.pick(["anagrafe", "hospital", "family", "other_service"]))),
                ])
            endInterventionsWithTheCase(&person, &batch)
        }
        var data: [(key: String, value: JSON)] = [("reason", .string(reason)), ("date", date(batch.day))]
        if random.chance(0.6) { data.append(("situation", .string(note(Texts.closingSituation(person, &random))))) }
        let version = add(&person, &batch, "CaseClosed", data)
        person.beforeClosure = person.phase
        person.phase = .closed
        person.appointment = nil
        person.pendingEmergency = nil
        endInterventionsWithTheCase(&person, &batch)
        return version
    }

    /// A closure, a transfer out or a death ends the interventions still open, and the daemon
    /// records each end as an entry right after it; a void of it brings them back.
    func endInterventionsWithTheCase(_ person: inout Person, _ batch: inout Batch) {
        let running = person.interventions.filter { $0.value != .ended }
        person.endedWithTheCase = running
        batch.automatic += running.count
        for intervention in running.keys { person.interventions[intervention] = .ended }
    }

    /// A closure reason that fits the person on `day`: coming of age only in the year they turn 18
    /// or the next (the birth year is all the registry holds), death only when `mayDie`.
    mutating func finalReason(_ person: Person, on day: Int, mayDie: Bool = true) -> String {
        let age = CalendarDate(daysSinceEpoch: day).year - person.birthYear
        var options: [(weight: Double, value: String)] = closureReasons.map { reason in
            let weight: Double =
                switch reason {
                case "needs_resolved": 8
                case "family_request": 2
                case "untraceable": 2
                case "transferred_other_region", "transferred_same_region": 1.5
                case "came_of_age": (18...19).contains(age) ? 4 : 0
                case "repatriation": person.origin == .italian ? 0 : 2
                case "death": !mayDie ? 0 : person.birthYear < 1955 ? 3 : 0.1
                default: 1
                }
            return (weight, reason)
        }
        if options.allSatisfy({ $0.weight <= 0 }) {
            options = closureReasons.filter { $0 != "came_of_age" && $0 != "death" }.map { (1, $0) }
        }
        return random.weighted(options)!
    }
}
