/// The path rules' refusals: stable codes with an English and an Italian sentence.
///
/// The Italian sentence is read by an operator: it names entries by the catalogue's Italian
/// term (`EventSchema.label`), never by the English type name.
enum Rule {
    private static func violation(_ code: String, _ english: String, _ italian: String) -> PathRuleViolation {
        PathRuleViolation(code: code, english: english, italian: italian)
    }

    static let personNotRegistered = violation(
        "person_not_registered", "The person must be registered (PersonRegistered) before anything else is recorded.",
        "La persona deve essere registrata (registrazione anagrafica) prima di ogni altra annotazione.")
    static let alreadyRegistered = violation(
        "already_registered", "This person is already registered; correct the registration with a rectification.",
        "Questa persona è già registrata; per correggere i dati usare una rettifica.")
    static let personErased = violation(
        "person_erased", "This person's personal data were erased: nothing more can be recorded.",
        "I dati personali di questa persona sono stati cancellati: non è possibile registrare altro.")
    static let alreadyLinked = violation(
        "already_linked", "This record is already linked to a codice fiscale.",
        "Questa scheda anagrafica è già collegata a un codice fiscale.")
    static let noOpenCase = violation(
        "no_open_case", "There is no open case file for this person: open one first (CaseOpened).",
        "Non c'è un fascicolo aperto per questa persona: registrare prima l'apertura del fascicolo.")
    static let caseAlreadyOpen = violation(
        "case_already_open", "A case file is already open for this person.",
        "Per questa persona c'è già un fascicolo aperto.")
    static let notTakenInCharge = violation(
        "not_taken_in_charge",
        "The case has not been taken in charge yet: record the presa in carico before assessments, plans and interventions.",
        "Il caso non è ancora stato preso in carico: registrare la presa in carico prima di valutazioni, progetti e interventi.")
    static let alreadyTakenInCharge = violation(
        "already_taken_in_charge", "The case is already taken in charge.", "Il caso è già stato preso in carico.")
    static let noSignedPlan = violation(
        "no_signed_plan",
        "An intervention needs a signed personalised plan (patto), unless it is pronto intervento sociale.",
        "Un intervento richiede un progetto personalizzato sottoscritto (patto), salvo il pronto intervento sociale.")
    static let caseClosed = violation(
        "case_closed",
        "The case is closed: only a reopening, a correction, or a record of what happened while it was open (a delivery, a colloquio, a review, an outcome…) dated then can be added.",
        "Il caso è chiuso: si possono aggiungere solo una riapertura, una correzione o la registrazione, con la sua data, di quanto avvenuto mentre era aperto (erogazioni, colloqui, verifiche, esiti…)."
    )
    static let caseTransferred = violation(
        "case_transferred",
        "The case was transferred to another ambito: it continues there, starting with the transfer in.",
        "Il caso è stato trasferito ad altro ambito: prosegue lì, a partire dal trasferimento in entrata.")
    static let caseSuspended = violation(
        "case_suspended", "The case is suspended: reopen it before recording new steps.",
        "Il caso è sospeso: registrare la riapertura prima di nuovi passaggi.")
    static let caseNotClosed = violation(
        "case_not_closed", "Only a closed or suspended case can be reopened.",
        "Si può riaprire solo un caso chiuso o sospeso.")
    static let sameAmbito = violation(
        "same_ambito", "A transfer goes to another ambito than the one the case is in.",
        "Il trasferimento deve essere verso un ambito diverso da quello attuale.")
    static let transferMismatch = violation(
        "transfer_mismatch",
        "A transfer in must follow a transfer out, come from the ambito the case left and enter the ambito named there.",
        "Il trasferimento in entrata deve seguire un trasferimento in uscita, provenire dall'ambito che il caso ha lasciato ed entrare nell'ambito indicato in quel trasferimento."
    )
    static let unknownTarget = violation(
        "unknown_target", "The entry referred to does not exist in this case file (give its stream version).",
        "La voce indicata non esiste in questo fascicolo (indicarne il numero progressivo nel fascicolo).")
    static let targetVoided = violation(
        "target_voided", "The entry referred to has been voided.", "La voce indicata è stata annullata.")
    static let targetNotCounting = violation(
        "target_not_counting", "The entry referred to no longer counts: an entry it depended on was voided.",
        "La voce indicata non vale più: è stata annullata una voce da cui dipendeva.")
    static let outcomeWithoutReference = violation(
        "outcome_without_reference", "An outcome refers to an objective (GoalSet) or an intervention of this case.",
        "Un esito deve riferirsi a un obiettivo o a un intervento di questo stesso caso.")
    static let alreadyRestricted = violation(
        "already_restricted", "The entry is already restricted.", "La voce è già soggetta a limitazione.")
    static let notRestricted = violation(
        "not_restricted", "That restriction is no longer active.", "Quella limitazione non è più attiva.")
    static let holdNotInForce = violation(
        "hold_not_in_force", "That legal hold is no longer in force.", "Quel blocco della cancellazione non è più in vigore.")

    static func wrongTarget(found: EventKind, expected: EventKinds) -> PathRuleViolation {
        violation(
            "wrong_target", "The entry referred to is a \(found.name), not a \(expected.names.joined(separator: " or ")).",
            "La voce indicata è «\(label(found))», non «\(expected.kinds.map(label).joined(separator: "» o «"))».")
    }

    /// The catalogue's Italian term for a type: Italian sentences never name the English type.
    static func label(_ kind: EventKind) -> String { EventCatalogue.schema(kind)?.label ?? kind.name }

    static func appointmentConcluded(_ fact: CaseFact) -> PathRuleViolation {
        var rule = violation(
            "appointment_concluded", "That appointment was already recorded as held or missed.",
            "Quell'appuntamento è già stato registrato come svolto o mancato.")
        rule.field = fact.referenceField
        return rule
    }

    static func planNotSigned(_ fact: CaseFact) -> PathRuleViolation {
        var rule = violation("plan_not_signed", "Only a signed plan can be revised.", "Si può rivedere solo un progetto sottoscritto.")
        rule.field = fact.referenceField
        return rule
    }

    static func goalClosed(_ fact: CaseFact) -> PathRuleViolation {
        var rule = violation("goal_closed", "That objective is already closed.", "Quell'obiettivo è già chiuso.")
        rule.field = fact.referenceField
        return rule
    }

    static func interventionStep(current: InterventionPhase?) -> PathRuleViolation {
        let english = current.map { "it is \($0.rawValue)" } ?? "it is not an intervention of this case"
        let italian: String =
            switch current {
            case .requested: "è solo disposto"
            case .active: "è attivo"
            case .suspended: "è sospeso"
            case .ended: "è concluso"
            case nil: "non è un intervento di questo caso"
            }
        return violation(
            "intervention_step", "This step is not possible for the intervention: \(english).",
            "Questo passaggio non è possibile per l'intervento: \(italian).")
    }

    static func unknownField(type: EventKind) -> PathRuleViolation {
        var rule = violation(
            "unknown_field", "The rectified field is not a field of the \(type.name) entry.",
            "Il campo rettificato non è un campo della voce «\(label(type))».")
        rule.field = "field"
        return rule
    }

    static func notCorrectable(type kind: EventKind, correction: CorrectionKind, attempted: CorrectionKind) -> PathRuleViolation {
        let type = kind.name
        let etichetta = label(kind)
        let how: String =
            switch correction {
            case .rectified: "a rectification"
            case .voided: "voiding it"
            case .superseded: "recording a new \(type)"
            case .replacedByNext: "recording the next \(type)"
            case .none: "nothing: it is not corrected"
            }
        let come: String =
            switch correction {
            case .rectified: "una rettifica"
            case .voided: "l'annullamento"
            case .superseded, .replacedByNext: "una nuova voce «\(etichetta)»"
            case .none: "nulla: non si corregge"
            }
        return violation(
            "not_correctable", "A \(type) is corrected by \(how), not by \(attempted == .voided ? "voiding" : "a rectification").",
            "La voce «\(etichetta)» si corregge con \(come).")
    }

    // MARK: - Dates and the end of the path (issue 19)
    //
    // Dates are named in both sentences (ISO in English, dd/mm/yyyy in Italian): they are not
    // personal identifiers, and they are the ones the request and the case file hold.

    /// 2026-01-19 → 19/01/2026.
    static func italian(_ date: CalendarDate) -> String {
        let text = date.description
        return "\(text.suffix(2))/\(text.dropFirst(5).prefix(2))/\(text.prefix(4))"
    }

    static func dateBeforeCaseOpened(_ day: CalendarDate, openedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_before_case_opened", "The date \(day) is before the case file was opened (\(openedOn)).",
            "La data \(italian(day)) è anteriore all'apertura del fascicolo (\(italian(openedOn))).")
    }

    static func dateBeforeTakenInCharge(_ day: CalendarDate, takenInChargeOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_before_taken_in_charge", "The date \(day) is before the presa in carico (\(takenInChargeOn)).",
            "La data \(italian(day)) è anteriore alla presa in carico (\(italian(takenInChargeOn))).")
    }

    static func dateBeforeReferencedEntry(_ day: CalendarDate, referencedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_before_referenced_entry", "The date \(day) is before the date of the entry referred to (\(referencedOn)).",
            "La data \(italian(day)) è anteriore a quella della voce a cui si riferisce (\(italian(referencedOn))).")
    }

    static func dateBeforeInterventionStarted(_ day: CalendarDate, startedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_before_intervention_started", "The date \(day) is before the intervention started (\(startedOn)).",
            "La data \(italian(day)) è anteriore all'attivazione dell'intervento (\(italian(startedOn))).")
    }

    static func dateAfterInterventionEnded(_ day: CalendarDate, endedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_after_intervention_ended", "The date \(day) is after the intervention ended (\(endedOn)).",
            "La data \(italian(day)) è successiva alla chiusura dell'intervento (\(italian(endedOn))).")
    }

    static func dateAfterClosure(_ day: CalendarDate, closedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_after_closure",
            "The date \(day) is after the case was closed or transferred (\(closedOn)); reopen the case to record what happened since.",
            "La data \(italian(day)) è successiva alla chiusura o al trasferimento del caso (\(italian(closedOn))): "
                + "per registrare quanto avvenuto dopo occorre riaprire il caso.")
    }

    static func dateAfterSuspension(_ day: CalendarDate, suspendedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_after_suspension", "The date \(day) is after the case was suspended (\(suspendedOn)); reopen it first.",
            "La data \(italian(day)) è successiva alla sospensione del caso (\(italian(suspendedOn))): riaprirlo prima.")
    }

    static func dateBeforeClosure(_ day: CalendarDate, closedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_before_closure", "A reopening dated \(day) is before the closure it ends (\(closedOn)).",
            "La riapertura del \(italian(day)) è anteriore alla chiusura (\(italian(closedOn))).")
    }

    static func dateBeforeSuspension(_ day: CalendarDate, suspendedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_before_suspension", "The date \(day) is before the suspension it ends (\(suspendedOn)).",
            "La data \(italian(day)) è anteriore alla sospensione (\(italian(suspendedOn))).")
    }

    static func dateOutsideOpenPeriods(_ day: CalendarDate) -> PathRuleViolation {
        violation(
            "date_outside_open_period", "The date \(day) is not inside a period in which the case file was open.",
            "La data \(italian(day)) non cade in un periodo in cui il fascicolo era aperto.")
    }

    static func dateAfterDeath(_ day: CalendarDate, diedOn: CalendarDate) -> PathRuleViolation {
        violation(
            "date_after_death", "The date \(day) is after the person's death (\(diedOn)).",
            "La data \(italian(day)) è successiva al decesso della persona (\(italian(diedOn))).")
    }

    static func dateInFuture(_ day: CalendarDate, today: CalendarDate) -> PathRuleViolation {
        violation(
            "date_in_future", "The date \(day) is in the future (today is \(today)).",
            "La data \(italian(day)) è nel futuro (oggi è il \(italian(today))).")
    }

    static func personDeceased(on day: CalendarDate?) -> PathRuleViolation {
        let english = day.map { " (\($0))" } ?? ""
        let italianDay = day.map { " (\(italian($0)))" } ?? ""
        return violation(
            "person_deceased",
            "The person died\(english): only corrections, the closure of the case and entries dated up to the death can be recorded; the case cannot be reopened.",
            "La persona è deceduta\(italianDay): si possono registrare solo correzioni, la chiusura del caso e voci con data "
                + "fino al decesso; il caso non può essere riaperto.")
    }

    static let closureAfterDeath = violation(
        "closure_after_death", "The person died: the case is closed for death (reason death).",
        "La persona è deceduta: il caso si chiude per decesso (motivo «decesso»).")

    static func cameOfAgeUnder18(closedOn: CalendarDate, birthYear: Int) -> PathRuleViolation {
        violation(
            "came_of_age_under_18",
            "A closure for coming of age on \(closedOn) is not possible: born in \(birthYear), the person is not yet 18 that year.",
            "Non è possibile chiudere per raggiunta maggiore età il \(italian(closedOn)): la persona, nata nel \(birthYear), "
                + "in quell'anno non ha ancora 18 anni.")
    }
}
