import FascicoloDomain
import FascicoloJSON

extension Engine {
    // MARK: The path

    /// What the person does next, by stage; corrections, identity links and consents come in
    /// between, in any stage the rules allow them.
    mutating func act(_ person: inout Person, _ batch: inout Batch) -> Next {
        if let target = person.pendingVoid, random.chance(0.5) {
            person.pendingVoid = nil
            if person.voidable.contains(target) {  // not voided meanwhile
                voidEntry(&person, &batch, target)
                return .after(days: random.between(0, 7))
            }
        }
        if person.version >= 3, person.profile.corrections, random.chance(0.15), correct(&person, &batch) {
            return .after(days: random.between(0, 7))
        }
        if person.linkTo != nil, !person.linked, person.version >= 1,
            [Phase.noCase, .opened, .takenInCharge, .suspended].contains(person.phase),
            random.chance(0.25)
        {
            add(
                &person, &batch, "IdentityLinked",
                [
                    ("codiceFiscale", .string(person.linkTo!)),
                    (
                        "source",
                        .string(random.weighted([(6, "document_checked"), (2, "anagrafe"), (1, "agenzia_entrate"), (1, "declaration")])!)
                    ),
                ])
            person.linked = true
            return .after(days: random.between(0, 10))
        }
        switch person.stage {
        case .register: return register(&person, &batch)
        case .intake(let remaining): return intake(&person, &batch, remaining: remaining)
        case .openCase: return openCase(&person, &batch)
        case .preCharge: return preCharge(&person, &batch)
        case .assessment: return assessment(&person, &batch)
        case .inDepth: return inDepth(&person, &batch)
        case .planning: return planning(&person, &batch)
        case .signing: return signing(&person, &batch)
        case .active: return active(&person, &batch)
        case .winding: return winding(&person, &batch)
        case .terminal: return terminal(&person, &batch)
        case .suspended: return suspended(&person, &batch)
        case .closedAwaitingReopen: return reopen(&person, &batch)
        case .transferIn: return transferIn(&person, &batch)
        case .voidMistake(let ending): return voidMistake(&person, &batch, ending)
        case .erasing, .finished: return .done
        }
    }

    mutating func register(_ person: inout Person, _ batch: inout Batch) -> Next {
        let citizenship: String =
            switch (person.kind, person.origin) {
            case (.provisional, .nonEU): random.chance(0.3) ? "stateless" : "unknown"
            case (_, .italian): "italian"
            case (_, .eu): "eu"
            case (_, .nonEU): "non_eu"
            }
        var data: [(key: String, value: JSON)] = [
            ("birthYear", .number(String(person.birthYear))), ("sex", .string(person.sex)), ("citizenship", .string(citizenship)),
            ("comuneOfResidence", .string(person.residence.code)),
            ("givenName", .string(note(person.givenName))), ("familyName", .string(note(person.familyName))),
        ]
        if let address = person.address { data.append(("address", .string(note(address)))) }
        if let phone = person.phone { data.append(("phone", .string(note(phone)))) }
        if let household = person.household { data.append(("household", .string(household))) }
        let version = add(&person, &batch, "PersonRegistered", data)
        if let address = person.address {
            person.rectifiable.append(Rectifiable(version: version, field: "address", old: address, kind: .address))
        }
        if let phone = person.phone { person.rectifiable.append(Rectifiable(version: version, field: "phone", old: phone, kind: .phone)) }
        if random.chance(0.6) { contact(&person, &batch) } else if random.chance(0.5) { referral(&person, &batch) }
        person.stage = .intake(remaining: random.weighted([(4, 0), (3, 1), (1, 2)])!)
        return .after(days: random.between(0, 12))
    }

    mutating func intake(_ person: inout Person, _ batch: inout Batch, remaining: Int) -> Next {
        guard remaining > 0 else {
            if person.profile.contactOnly { return .done }
            person.stage = .openCase
            return openCase(&person, &batch)
        }
        let move = random.weighted([
            (3, 0), (2, 1), (person.profile.judicial && !person.hadJudicialMeasure ? 2 : 0, 2),
            (person.profile.consent && person.consents.isEmpty ? 1 : 0, 3),
        ])!
        switch move {
        case 0: contact(&person, &batch)
        case 1: referral(&person, &batch)
        case 2: judicialMeasure(&person, &batch)
        default: consent(&person, &batch)
        }
        person.stage = .intake(remaining: remaining - 1)
        return .after(days: random.between(1, 20))
    }

    mutating func openCase(_ person: inout Person, _ batch: inout Batch) -> Next {
        add(
            &person, &batch, "CaseOpened",
            [
                ("area", .string(person.area)), ("ente", .string(ente(person.ambito))), ("ambito", .string(person.ambito)),
            ])
        person.phase = .opened
        person.signedPlans = []
        person.pendingDraft = nil
        if random.chance(0.8) { assignCaseManager(&person, &batch, newOperator: false) }
        if person.profile.consent, random.chance(0.4) { consent(&person, &batch) }
        if person.profile.earlyEmergency {
            // Pronto intervento runs before the presa in carico: often that same night.
            let emergency = requestIntervention(&person, &batch, emergency: true)
            if random.chance(0.6) {
                startIntervention(&person, &batch, emergency)
                if random.chance(0.6) { deliver(&person, &batch, emergency) }
            } else {
                person.pendingEmergency = emergency
            }
        }
        person.stage = .preCharge
        return .after(days: random.between(1, 15))
    }

    /// Opened, not yet taken in charge: a summons, the interview (or a missed one), the presa in carico.
    mutating func preCharge(_ person: inout Person, _ batch: inout Batch) -> Next {
        if let appointment = person.appointment {
            person.appointment = nil
            if random.chance(0.75) {
                appointmentHeld(&person, &batch, appointment.version)
                person.intakeHeld = true
                if random.chance(0.7) { return takeInCharge(&person, &batch) }
                return .after(days: random.between(1, 10))
            }
            appointmentMissed(&person, &batch, appointment.version)
            person.missedAppointments += 1
            if person.missedAppointments >= 2, random.chance(0.4) {
                close(&person, &batch, reason: closureReasons.contains("untraceable") ? "untraceable" : finalReason(person, on: batch.day))
                return .done
            }
            return .after(days: random.between(1, 10))
        }
        if person.intakeHeld { return takeInCharge(&person, &batch) }
        if let emergency = person.pendingEmergency, person.interventions[emergency] == .requested, random.chance(0.5) {
            person.pendingEmergency = nil
            startIntervention(&person, &batch, emergency)
        } else if let emergency = person.interventions(in: .active).first, random.chance(0.5) {
            deliver(&person, &batch, emergency)
        }
        let delay = random.between(5, 25)
        scheduleAppointment(&person, &batch, inDays: delay)
        return .after(days: delay)
    }

    mutating func takeInCharge(_ person: inout Person, _ batch: inout Batch) -> Next {
        let basis =
            person.hadJudicialMeasure && random.chance(0.7)
            ? "judicial"
            : person.hadReferral && random.chance(0.6) ? "referral" : person.area == "poverty" && random.chance(0.4) ? "adi" : "request"
        let version = add(&person, &batch, "TakenInCharge", [("date", date(batch.day)), ("basis", .string(basis))])
        person.rectifiable.append(
            Rectifiable(
                version: version, field: "date", old: CalendarDate(daysSinceEpoch: batch.day).description,
                kind: .date, onlyLater: true))
        person.phase = .takenInCharge
        person.stage = .assessment
        return .after(days: random.between(3, 20))
    }

    /// Taken in charge: pronto intervento where needed, then the analisi preliminare.
    mutating func assessment(_ person: inout Person, _ batch: inout Batch) -> Next {
        if let emergency = person.pendingEmergency {
            person.pendingEmergency = nil
            if person.interventions[emergency] == .requested {
                startIntervention(&person, &batch, emergency)
                if random.chance(0.6) { deliver(&person, &batch, emergency) }
                return .after(days: random.between(1, 7))
            }
        }
        if person.profile.emergencyBeforePlan, !person.hadEmergency {
            let emergency = requestIntervention(&person, &batch, emergency: true)
            startIntervention(&person, &batch, emergency)
            return .after(days: random.between(1, 7))
        }
        let outcome = random.weighted([
            (45, "simple_pact"), (35, "in_depth_assessment"), (10, "specialist_services"), (10, "employment_centre"),
        ])!
        var data: [(key: String, value: JSON)] = [("outcome", .string(outcome)), ("date", date(batch.day))]
        if random.chance(0.7) { data.append(("summary", .string(note(Texts.summary(person, &random))))) }
        add(&person, &batch, "PreliminaryAnalysisCompleted", data)
        person.stage = outcome == "in_depth_assessment" ? .inDepth : .planning
        return .after(days: random.between(5, 30))
    }

    mutating func inDepth(_ person: inout Person, _ batch: inout Batch) -> Next {
        let team =
            ["assistente_sociale"]
            + Array(
                ["psicologo_asp", "educatore", "medico_mmg", "npi_asp", "operatore_cpi", "mediatore_culturale"]
                    .shuffledPrefix(random.between(1, 3), &random))
        let dimensions = Array(
            ["salute", "abitazione", "lavoro", "istruzione", "relazioni_familiari", "reddito", "autonomia"]
                .shuffledPrefix(random.between(2, 4), &random))
        var data: [(key: String, value: JSON)] = [
            ("team", .array(team.map(JSON.string))), ("dimensions", .array(dimensions.map(JSON.string))),
            (
                "instrument",
                .string(
                    person.area == "elderly" || person.area == "disability"
                        ? random.pick(["svama", "svamdi", "icf"])
                        : random.pick(["gepi_quadro", "icf", "other"]))
            ),
            ("date", date(batch.day)),
        ]
        if random.chance(0.8) { data.append(("findings", .string(note(Texts.findings(person, &random))))) }
        add(&person, &batch, "InDepthAssessmentCompleted", data)
        person.stage = .planning
        return .after(days: random.between(5, 25))
    }

    mutating func planning(_ person: inout Person, _ batch: inout Batch) -> Next {
        let objectives = (0..<random.between(1, 3)).map { _ in note(Texts.objective(person, &random)) }
        var data: [(key: String, value: JSON)] = [("objectives", .array(objectives.map(JSON.string)))]
        if random.chance(0.8) {
            data.append(("supports", .array(ordinaryCodes.shuffledPrefix(random.between(1, 3), &random).map(JSON.string))))
        }
        if random.chance(0.8) {
            data.append(("commitments", .array((0..<random.between(1, 3)).map { _ in .string(note(Texts.commitment(person, &random))) })))
        }
        let draft = add(&person, &batch, "PlanDrafted", data)
        for _ in 0..<random.between(1, 3) { setGoal(&person, &batch) }
        if random.chance(0.5) {
            signPlan(&person, &batch, draft)
            return .after(days: random.between(3, 20))
        }
        person.pendingDraft = draft
        person.stage = .signing
        return .after(days: random.between(3, 20))
    }

    mutating func signing(_ person: inout Person, _ batch: inout Batch) -> Next {
        signPlan(&person, &batch, person.pendingDraft!)
        return .after(days: random.between(3, 20))
    }

    mutating func signPlan(_ person: inout Person, _ batch: inout Batch, _ draft: UInt64) {
        add(
            &person, &batch, "PlanSigned",
            [
                ("plan", .number(String(draft))), ("date", date(batch.day)),
                (
                    "signatories",
                    .array([
                        .string(note("\(person.givenName) \(person.familyName)")),
                        .string(note("A.S. " + random.pick(Places.professionals))),
                    ])
                ),
            ])
        person.signedPlans.append(draft)
        person.pendingDraft = nil
        if random.chance(0.6) { _ = requestIntervention(&person, &batch, emergency: false) }
        person.stage = .active
        person.budget = person.transferred || person.reopened ? random.between(3, 10) : random.between(5, 22)
        person.suspendAt = person.profile.suspend && !person.suspendedOnce ? random.below(person.budget) : -1
    }

    /// The plan runs: interventions and deliveries, reviews, appointments, goals, revisions.
    mutating func active(_ person: inout Person, _ batch: inout Batch) -> Next {
        guard person.budget > 0 else {
            person.stage = .winding
            return winding(&person, &batch)
        }
        person.budget -= 1
        if person.budget == person.suspendAt {
            var data: [(key: String, value: JSON)] = [
                ("reason", .string(random.pick(["hospitalisation", "temporarily_away", "person_request", "other"])))
            ]
            if random.chance(0.6) { data.append(("notes", .string(note(Texts.suspension(person, &random))))) }
            add(&person, &batch, "CaseSuspended", data)
            person.beforeSuspension = person.phase
            person.phase = .suspended
            person.suspendedOnce = true
            person.stage = .suspended
            return .after(days: random.between(20, 90))
        }
        enum Move {
            case start, deliver, suspendIntervention, resume, endEarly, request, review, schedule, conclude, reviewGoal, setGoal,
                closeGoal, breach, revise, consent, withdraw, manager, judicial, contact, referral
        }
        let requested = person.interventions(in: .requested)
        let running = person.interventions(in: .active)
        let suspended = person.interventions(in: .suspended)
        let appointmentDue = person.appointment.map { $0.date <= batch.day } ?? false
        let reviewDue = person.lastReview.map { batch.day - $0 >= 60 } ?? true
        let move = random.weighted([
            (requested.isEmpty ? 0 : 6, Move.start), (running.isEmpty ? 0 : 5, .deliver), (running.isEmpty ? 0 : 0.4, .suspendIntervention),
            (suspended.isEmpty ? 0 : 3, .resume), (person.openInterventions.isEmpty ? 0 : 0.3, .endEarly),
            (
                person.signedPlans.isEmpty || person.openInterventions.count >= 3 ? 0 : (person.openInterventions.isEmpty ? 3 : 0.8),
                .request
            ),
            (reviewDue ? 2.5 : 0.2, .review), (person.appointment == nil ? 1 : 0, .schedule), (appointmentDue ? 4 : 0, .conclude),
            (person.goals.isEmpty ? 0 : 1.5, .reviewGoal), (0.4, .setGoal), (person.goals.isEmpty ? 0 : 0.4, .closeGoal),
            (person.signedPlans.isEmpty ? 0 : 0.4, .breach), (person.signedPlans.isEmpty ? 0 : 0.5, .revise),
            (person.profile.consent ? 0.6 : 0, .consent), (person.consents.isEmpty ? 0 : 0.8, .withdraw), (0.2, .manager),
            (person.profile.judicial ? 0.8 : 0, .judicial), (0.3, .contact), (0.1, .referral),
        ])!
        switch move {
        case .start:
            let intervention = random.pick(requested)
            startIntervention(&person, &batch, intervention)
            if random.chance(0.4) { deliver(&person, &batch, intervention) }
        case .deliver:
            let intervention = random.pick(running)
            for _ in 0..<random.weighted([(6, 1), (2, 2), (1, 3)])! { deliver(&person, &batch, intervention) }
        case .suspendIntervention:
            let intervention = random.pick(running)
            add(
                &person, &batch, "InterventionSuspended",
                [
                    ("intervention", .number(String(intervention))), ("date", date(batch.day)),
                    ("reason", .string(note(Texts.interventionSuspension(person, &random)))),
                ])
            person.interventions[intervention] = .suspended
        case .resume:
            let intervention = random.pick(suspended)
            add(&person, &batch, "InterventionResumed", [("intervention", .number(String(intervention))), ("date", date(batch.day))])
            person.interventions[intervention] = .active
        case .endEarly:
            endIntervention(
                &person, &batch, random.pick(person.openInterventions),
                reason: random.pick(["dropped_out", "no_longer_eligible", "objectives_met", "other"]))
        case .request:
            let intervention = requestIntervention(&person, &batch, emergency: !emergencyCodes.isEmpty && random.chance(0.05))
            if random.chance(0.3) { startIntervention(&person, &batch, intervention) }
        case .review:
            var data: [(key: String, value: JSON)] = [("date", date(batch.day)), ("nextReviewDue", date(batch.day + 90))]
            if random.chance(0.8) { data.append(("findings", .string(note(Texts.reviewFindings(person, &random))))) }
            let version = add(&person, &batch, "ReviewHeld", data)
            person.rectifiable.append(
                Rectifiable(
                    version: version, field: "nextReviewDue",
                    old: CalendarDate(daysSinceEpoch: min(batch.day + 90, lastDay)).description, kind: .date))
            person.lastReview = batch.day
        case .schedule:
            scheduleAppointment(&person, &batch, inDays: random.between(5, 25))
        case .conclude:
            let appointment = person.appointment!.version
            person.appointment = nil
            if random.chance(0.8) { appointmentHeld(&person, &batch, appointment) } else { appointmentMissed(&person, &batch, appointment) }
        case .reviewGoal:
            var data: [(key: String, value: JSON)] = [
                ("goal", .number(String(random.pick(person.goals)))),
                (
                    "status",
                    .string(random.pick(["not_started", "in_progress", "in_progress", "partially_achieved", "achieved", "not_achieved"]))
                ),
            ]
            if random.chance(0.6) { data.append(("notes", .string(note(Texts.goalNotes(person, &random))))) }
            add(&person, &batch, "GoalReviewed", data)
        case .setGoal:
            setGoal(&person, &batch)
        case .closeGoal:
            closeGoal(&person, &batch, random.pick(person.goals))
        case .breach:
            add(
                &person, &batch, "CommitmentBreached",
                [
                    ("commitment", .string(note(Texts.commitment(person, &random)))), ("justified", .bool(random.chance(0.4))),
                ])
        case .revise:
            add(
                &person, &batch, "PlanRevised",
                [
                    ("plan", .number(String(random.pick(person.signedPlans)))), ("date", date(batch.day)),
                    ("changes", .string(note(Texts.planChanges(person, &random)))),
                ])
        case .consent: consent(&person, &batch)
        case .withdraw: withdrawConsent(&person, &batch)
        case .manager: assignCaseManager(&person, &batch, newOperator: true)
        case .judicial: judicialMeasure(&person, &batch)
        case .contact: contact(&person, &batch)
        case .referral: referral(&person, &batch)
        }
        return .after(days: random.between(2, 21))
    }

    /// The end of an episode: open interventions ended, goals closed, outcomes recorded.
    mutating func winding(_ person: inout Person, _ batch: inout Batch) -> Next {
        person.stage = .terminal
        let open = person.openInterventions
        guard !open.isEmpty || !person.goals.isEmpty else { return terminal(&person, &batch) }
        // Before a transfer the supports may be left running: the transfer out ends them.
        let leftToTheTransfer = person.profile.transfer && !person.transferred && random.chance(0.5)
        for intervention in open where !leftToTheTransfer {
            endIntervention(&person, &batch, intervention, reason: random.pick(["completed", "objectives_met", "completed", "other"]))
        }
        for goal in person.goals where random.chance(0.8) { closeGoal(&person, &batch, goal) }
        if batch.events.isEmpty { return terminal(&person, &batch) }
        return .after(days: random.between(1, 15))
    }

    /// Transfer to another ambito, closure (perhaps to be reopened), or a case that stays open.
    mutating func terminal(_ person: inout Person, _ batch: inout Batch) -> Next {
        if person.profile.transfer, !person.transferred {
            let destination = random.pick(ambiti.filter { $0 != person.ambito })
            let transfer = add(
                &person, &batch, "CaseTransferredOut",
                [
                    ("toAmbito", .string(destination)),
                    ("reason", .string(random.weighted([(6, "change_of_residence"), (2, "competence"), (1, "other")])!)),
                ])
            person.destination = destination
            person.beforeTransfer = person.phase
            person.phase = .transferredOut
            endInterventionsWithTheCase(&person, &batch)
            if person.profile.mistakenTransfer {
                person.profile.mistakenTransfer = false
                person.stage = .voidMistake(transfer)
                return .after(days: random.between(1, 10))
            }
            person.stage = .transferIn
            return .after(days: random.between(2, 30))
        }
        if person.profile.mistakenClosure {
            person.profile.mistakenClosure = false
            // A mistake is voided later: never a death, which would end the path.
            person.stage = .voidMistake(close(&person, &batch, reason: finalReason(person, on: batch.day, mayDie: false)))
            return .after(days: random.between(1, 20))
        }
        if person.profile.closeAndReopen, !person.reopened {
            // A case closed for death is never reopened.
            close(&person, &batch, reason: finalReason(person, on: batch.day, mayDie: false))
            person.stage = .closedAwaitingReopen
            return .after(days: random.between(40, 200))
        }
        if person.profile.closeAtEnd { close(&person, &batch, reason: finalReason(person, on: batch.day)) }
        return .done
    }

    /// Voids a closure or a transfer out recorded by mistake: the stream is folded again without
    /// it, so the case is where it was before (the generator ended its interventions and closed
    /// its goals before either, so nothing else comes back).
    mutating func voidMistake(_ person: inout Person, _ batch: inout Batch, _ ending: UInt64) -> Next {
        batch.actorRole = "coordinatore"
        add(
            &person, &batch, "Voided",
            [
                ("target", .number(String(ending))),
                (
                    "reason",
                    .string(person.phase == .closed ? "chiusura registrata per errore" : "trasferimento non dovuto: residenza non cambiata")
                ),
                (
                    "authorisingAct",
                    .string(
                        "Disposizione del responsabile del servizio prot. n. \(random.between(100, 9_999))/\(CalendarDate(daysSinceEpoch: batch.day).year)"
                    )
                ),
            ])
        if person.phase == .closed {
            person.phase = person.beforeClosure
        } else {
            person.phase = person.beforeTransfer
            person.destination = nil
        }
        person.interventions.merge(person.endedWithTheCase) { $1 }
        person.endedWithTheCase = [:]
        person.stage = .active
        person.budget = random.between(2, 8)
        person.suspendAt = -1
        return .after(days: random.between(2, 15))
    }

    mutating func suspended(_ person: inout Person, _ batch: inout Batch) -> Next {
        if random.chance(0.1) {
            close(&person, &batch, reason: finalReason(person, on: batch.day))
            return .done
        }
        var data: [(key: String, value: JSON)] = [("reason", .string("return_from_suspension"))]
        if random.chance(0.5) { data.append(("notes", .string(note(Texts.reopening(person, &random))))) }
        add(&person, &batch, "CaseReopened", data)
        person.phase = person.beforeSuspension
        person.stage = .active
        return .after(days: random.between(1, 14))
    }

    mutating func reopen(_ person: inout Person, _ batch: inout Batch) -> Next {
        var data: [(key: String, value: JSON)] = [("reason", .string(random.pick(["new_need", "relapse", "other"])))]
        if random.chance(0.6) { data.append(("notes", .string(note(Texts.reopening(person, &random))))) }
        add(&person, &batch, "CaseReopened", data)
        person.phase = person.beforeClosure
        person.reopened = true
        if person.phase == .takenInCharge, let plan = person.signedPlans.last {
            if random.chance(0.6) {
                add(
                    &person, &batch, "PlanRevised",
                    [
                        ("plan", .number(String(plan))), ("date", date(batch.day)),
                        ("changes", .string(note(Texts.planChanges(person, &random)))),
                    ])
            }
            person.stage = .active
            person.budget = random.between(3, 10)
            person.suspendAt = -1
        } else {
            person.stage = person.phase == .opened ? .preCharge : .assessment
        }
        return .after(days: random.between(3, 20))
    }

    /// The receiving ambito takes the case: transfer in, its own case manager, a new presa in carico.
    mutating func transferIn(_ person: inout Person, _ batch: inout Batch) -> Next {
        let origin = person.ambito
        let destination = person.destination!
        let operators = operatorsOf(destination)
        batch.actorAmbito = destination
        batch.actorOperator = random.pick(operators)
        add(
            &person, &batch, "CaseTransferredIn",
            [
                ("fromAmbito", .string(origin)), ("ambito", .string(destination)), ("ente", .string(ente(destination))),
            ])
        person.ambito = destination
        person.phase = .opened
        person.transferred = true
        person.destination = nil
        person.signedPlans = []
        person.pendingDraft = nil
        person.lastReview = nil
        person.caseManager = random.pick(operators)
        assignCaseManager(&person, &batch, newOperator: false)
        person.intakeHeld = true
        person.missedAppointments = 0
        person.stage = .preCharge
        return .after(days: random.between(3, 20))
    }
}
