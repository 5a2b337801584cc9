/// The path rules' refusals: stable codes with an English and an Italian sentence.
///
/// The Italian sentence is read by an operator: it names entries by the catalogue's Italian
/// term (`EventSchema.label`), never by the English type name.
enum Rule {
    private static func violation(_ code: String, _ english: String, _ italian: String) -> PathRuleViolation {
        PathRuleViolation(code: code, english: english, italian: italian)
    }

    /// The Italian term of an event type, quoted, for use inside an Italian sentence.
    static func italianTerm(_ type: String) -> String {
        EventCatalogue.schema(type).map { "«\($0.label)»" } ?? "di tipo non previsto dal catalogo"
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
        "case_closed", "The case is closed: only a reopening or a correction can be added.",
        "Il caso è chiuso: si possono registrare solo una riapertura o una correzione.")
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
        "Il trasferimento in entrata deve seguire un trasferimento in uscita, provenire dall'ambito che il caso ha lasciato ed entrare nell'ambito indicato in quel trasferimento.")
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

    static func wrongTarget(found: String, expected: [String]) -> PathRuleViolation {
        violation("wrong_target", "The entry referred to is a \(found), not a \(expected.joined(separator: " or ")).",
                  "La voce indicata è \(italianTerm(found)), non \(expected.map(italianTerm).joined(separator: " o ")).")
    }

    static func appointmentConcluded(_ fact: CaseFact) -> PathRuleViolation {
        var rule = violation("appointment_concluded", "That appointment was already recorded as held or missed.",
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
        let italian: String = switch current {
        case .requested: "è solo disposto"
        case .active: "è attivo"
        case .suspended: "è sospeso"
        case .ended: "è concluso"
        case nil: "non è un intervento di questo caso"
        }
        return violation("intervention_step", "This step is not possible for the intervention: \(english).",
                         "Questo passaggio non è possibile per l'intervento: \(italian).")
    }

    static func unknownField(type: String) -> PathRuleViolation {
        var rule = violation("unknown_field", "The rectified field is not a field of the \(type) entry.",
                             "Il campo da rettificare non fa parte della voce \(italianTerm(type)).")
        rule.field = "field"
        return rule
    }

    static func notCorrectable(type: String, correction: CorrectionKind, attempted: CorrectionKind) -> PathRuleViolation {
        let how: String = switch correction {
        case .rectified: "a rectification"
        case .voided: "voiding it"
        case .superseded: "recording a new \(type)"
        case .replacedByNext: "recording the next \(type)"
        case .none: "nothing: it is not corrected"
        }
        let come: String = switch correction {
        case .rectified: "una rettifica"
        case .voided: "l'annullamento"
        case .superseded, .replacedByNext: "una nuova voce \(italianTerm(type))"
        case .none: "nulla: non si corregge"
        }
        return violation("not_correctable", "A \(type) is corrected by \(how), not by \(attempted == .voided ? "voiding" : "a rectification").",
                         "Una voce \(italianTerm(type)) si corregge con \(come).")
    }
}
