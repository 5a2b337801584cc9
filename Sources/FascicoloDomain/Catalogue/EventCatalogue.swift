import FascicoloJSON

/// Every event type of the fascicolo sociale (DOMAIN.md's catalogue), with its schema.
///
/// Fields marked personal are sealed with the person's data key; the rest (codes, dates,
/// references, enumerations) stay in clear so that rules, projections and statistics work
/// without decrypting anything.
public enum EventCatalogue {
    public static let all: [EventSchema] =
        registry + access + caseFile + assessmentAndPlan + interventions
        + monitoring + closure + corrections + holds + records + transmissions

    /// By kind (`EventKind.rawValue`); nil for `other`.
    private static let byKind: [EventSchema?] = {
        var table = [EventSchema?](repeating: nil, count: EventKind.allCases.count)
        for schema in all {
            precondition(table[Int(schema.kind.rawValue)] == nil, "one schema per event kind")
            table[Int(schema.kind.rawValue)] = schema
        }
        return table
    }()

    public static func schema(_ type: String) -> EventSchema? { byKind[Int(EventKind(type).rawValue)] }

    public static func schema(_ kind: EventKind) -> EventSchema? { byKind[Int(kind.rawValue)] }

    // Field kinds used again and again.
    private static let note = FieldKind.text(maxLength: 4_000)
    private static let shortText = FieldKind.text(maxLength: 200)
    private static let consentScopes = [
        "sharing_with_provider", "sharing_with_asl", "sharing_with_school", "sharing_with_ambito", "contact_by_phone", "other",
    ]
    private static let operatorID = FieldKind.text(maxLength: 64)
    private static let reason = FieldKind.text(maxLength: 1_000)

    static let registry: [EventSchema] = [
        EventSchema(
            .personRegistered, "registrazione anagrafica", purpose: .registry, correction: .rectified,
            fields: [
                // Quasi-identifiers sealed since issue 21, so that erasure shreds them (entries
                // written before keep them in clear: the log is never rewritten). The domain opens
                // the birth year for the path rules, the households read model the household
                // (docs/domain.md, "What erasure leaves in clear").
                .required("birthYear", .integer(1900...2100), personal: true),
                .required("sex", .choice(["F", "M", "X"]), personal: true),
                .required("citizenship", .choice(["italian", "eu", "non_eu", "stateless", "unknown"]), personal: true),
                .required("comuneOfResidence", .text(maxLength: 4), personal: true),  // cadastral code, e.g. G942
                .optional("givenName", shortText, personal: true),
                .optional("familyName", shortText, personal: true),
                .optional("address", shortText, personal: true),
                .optional("phone", .text(maxLength: 40), personal: true),
                .optional("household", .text(maxLength: 64), personal: true),
            ]),
        EventSchema(
            .identityLinked, "collegamento al codice fiscale", purpose: .registry, correction: .voided,
            fields: [
                // The pseudonym of the codice fiscale this provisional record now belongs to.
                .required("linkedPseudonym", .text(maxLength: 64)),
                .required("source", .choice(["document_checked", "anagrafe", "agenzia_entrate", "declaration"])),
            ]),
        EventSchema(
            .consentRecorded, "consenso", purpose: .consent, correction: .none,
            fields: [
                .required("scope", .choice(consentScopes)),
                .optional("recipient", shortText),
                .optional("note", note, personal: true),
                // The ambito whose services may then read the file (CaseFiles.checkHolder): the
                // documented sharing rule across ambiti, until a ConsentWithdrawn of the same ambito.
                .only("ambito", .code(.ambiti), when: "scope", is: "sharing_with_ambito"),
            ]),
        EventSchema(
            .consentWithdrawn, "revoca del consenso", purpose: .consent, correction: .none,
            fields: [
                .required("scope", .choice(consentScopes)),
                .only("ambito", .code(.ambiti), when: "scope", is: "sharing_with_ambito"),
            ]),
        // Death ends the path: afterwards only corrections, the closure of the case and entries
        // dated up to the death are accepted (CaseState). Voided if recorded on the wrong person.
        EventSchema(
            .personDied, "decesso", purpose: .registry, correction: .voided,
            fields: [
                .required("date", .date),
                .optional("source", .choice(["anagrafe", "hospital", "family", "other_service", "other"])),
            ]),
    ]

    static let access: [EventSchema] = [
        EventSchema(
            .accessContactRecorded, "contatto di segretariato sociale", purpose: .accessAndInformation, correction: .voided,
            fields: [
                .required("channel", .code(.accessChannels)),
                .required("needArea", .code(.userAreas)),
                .required("outcome", .choice(["information", "orientation", "referral", "assisted_application"])),
                .optional("notes", note, personal: true),
            ]),
        EventSchema(
            .referralReceived, "segnalazione", purpose: .accessAndInformation, correction: .voided,
            fields: [
                .required("source", .choice(["school", "asl", "police", "tribunale", "family", "self", "third_sector", "other_service"])),
                .required("urgency", .choice(["ordinary", "urgent", "emergency"])),
                .required("judicialFlag", .boolean),
                .optional("referrerName", shortText, personal: true),
                .optional("description", note, personal: true),
            ]),
    ]

    static let caseFile: [EventSchema] = [
        EventSchema(
            .caseOpened, "apertura del fascicolo", purpose: .caseManagement, correction: .voided,
            fields: [
                .required("area", .code(.userAreas)),
                .required("ente", shortText),
                .required("ambito", .code(.ambiti)),
            ]),
        EventSchema(
            .caseManagerAssigned, "assegnazione del case manager", purpose: .caseManagement, correction: .replacedByNext,
            fields: [
                .required("operator", operatorID),
                .optional("role", .choice(["assistente_sociale", "educatore", "psicologo", "mediatore", "other"])),
            ]),
        EventSchema(
            .takenInCharge, "presa in carico", purpose: .caseManagement, correction: .rectified,
            fields: [
                .required("date", .date),
                // adi: taken in charge for the Assegno di Inclusione (patto per l'inclusione), not home
                // care: assistenza domiciliare integrata is the intervention code ADI.
                .required("basis", .choice(["request", "referral", "adi", "judicial"])),
            ]),
        EventSchema(
            .appointmentScheduled, "convocazione", purpose: .caseManagement, correction: .rectified,
            fields: [
                .required("date", .date),
                .optional("place", shortText, personal: true),
            ]),
        EventSchema(
            .appointmentHeld, "colloquio", purpose: .caseManagement, correction: .rectified,
            fields: [
                .required("appointment", .entry),
                .required("date", .date),
                .optional("attendees", .textList(maxCount: 20, maxLength: 200), personal: true),
                .optional("notes", note, personal: true),
            ]),
        EventSchema(
            .appointmentMissed, "mancata presentazione", purpose: .caseManagement, correction: .rectified,
            fields: [
                .required("appointment", .entry),
                .required("justified", .boolean),
                .optional("notes", note, personal: true),
            ]),
        EventSchema(
            .judicialMeasureRecorded, "provvedimento dell'autorità giudiziaria", purpose: .judicial, correction: .rectified,
            judicial: true,
            fields: [
                .required(
                    "measureType",
                    .choice(["protection_order", "custody", "supervision", "placement", "limitation_of_parental_responsibility", "other"])),
                .required(
                    "authority", .choice(["tribunale_minorenni", "tribunale_ordinario", "procura_minorenni", "giudice_tutelare", "other"])),
                .required("date", .date),
                .optional("details", note, personal: true),
            ]),
        EventSchema(
            .caseSuspended, "sospensione del caso", purpose: .caseManagement, correction: .none,
            fields: [
                .required("reason", .choice(["hospitalisation", "temporarily_away", "person_request", "other"])),
                .optional("notes", note, personal: true),
            ]),
        EventSchema(
            .caseReopened, "riapertura del caso", purpose: .caseManagement, correction: .none,
            fields: [
                .required("reason", .choice(["new_need", "relapse", "closure_voided", "return_from_suspension", "other"])),
                .optional("notes", note, personal: true),
            ]),
        EventSchema(
            .caseTransferredOut, "trasferimento in uscita", purpose: .caseManagement, correction: .voided,
            fields: [
                // An ambito of the reference data, or one of another region (not in the reference
                // data): that transfer closes the case here with `transferred_other_region`.
                .required("toAmbito", .text(maxLength: 100)),
                .required("reason", .choice(["change_of_residence", "competence", "other"])),
            ]),
        EventSchema(
            .caseTransferredIn, "trasferimento in entrata", purpose: .caseManagement, correction: .voided,
            fields: [
                .required("fromAmbito", .code(.ambiti)),
                .required("ambito", .code(.ambiti)),
                .required("ente", shortText),
            ]),
    ]

    static let assessmentAndPlan: [EventSchema] = [
        EventSchema(
            .preliminaryAnalysisCompleted, "analisi preliminare", purpose: .assessment, correction: .superseded,
            fields: [
                .required("outcome", .choice(["simple_pact", "in_depth_assessment", "specialist_services", "employment_centre"])),
                .required("date", .date),
                .optional("summary", note, personal: true),
            ]),
        EventSchema(
            .inDepthAssessmentCompleted, "quadro di analisi approfondito", purpose: .assessment, correction: .superseded,
            fields: [
                .required("team", .textList(maxCount: 20, maxLength: 64)),
                .required("dimensions", .textList(maxCount: 20, maxLength: 64)),
                .required("instrument", .choice(["svama", "svamdi", "icf", "gepi_quadro", "other"])),
                .required("date", .date),
                .optional("findings", note, personal: true),
            ]),
        EventSchema(
            .planDrafted, "progetto personalizzato", purpose: .planning, correction: .replacedByNext,
            fields: [
                .required("objectives", .textList(maxCount: 30, maxLength: 500), personal: true),
                .optional("supports", .textList(maxCount: 30, maxLength: 200)),
                .optional("commitments", .textList(maxCount: 30, maxLength: 500), personal: true),
            ]),
        EventSchema(
            .planSigned, "sottoscrizione del patto", purpose: .planning, correction: .replacedByNext,
            fields: [
                .required("plan", .entry),
                .required("date", .date),
                .required("signatories", .textList(maxCount: 20, maxLength: 200), personal: true),
            ]),
        EventSchema(
            .planRevised, "revisione del progetto", purpose: .planning, correction: .replacedByNext,
            fields: [
                .required("plan", .entry),
                .required("date", .date),
                .required("changes", note, personal: true),
            ]),
        EventSchema(
            .goalSet, "obiettivo / risultato atteso", purpose: .planning, correction: .superseded,
            fields: [
                .required("target", note, personal: true),
                .required("dueDate", .date),
                .optional(
                    "domain", .choice(["income", "housing", "employment", "education", "health", "family", "autonomy", "social_inclusion"])),
            ]),
        EventSchema(
            .goalReviewed, "verifica dell'obiettivo", purpose: .monitoring, correction: .superseded,
            fields: [
                .required("goal", .entry),
                .required("status", .choice(["not_started", "in_progress", "partially_achieved", "achieved", "not_achieved"])),
                .optional("notes", note, personal: true),
            ]),
        EventSchema(
            .goalClosed, "chiusura dell'obiettivo", purpose: .monitoring, correction: .superseded,
            fields: [
                .required("goal", .entry),
                .required("achievement", .choice(["achieved", "partially_achieved", "not_achieved", "dropped"])),
            ]),
        EventSchema(
            .commitmentBreached, "inadempienza agli impegni", purpose: .monitoring, correction: .voided,
            fields: [
                .required("commitment", .text(maxLength: 500), personal: true),
                .required("justified", .boolean),
            ]),
    ]

    static let interventions: [EventSchema] = [
        EventSchema(
            .interventionRequested, "sostegno disposto", purpose: .interventions, correction: .voided,
            fields: [
                .required("code", .code(.interventions)),
                .required("provider", shortText),
                .required("fundingLine", .code(.fundingLines)),
                .optional("notes", note, personal: true),
                // The beneficiary's ISEE in euro, when known (a PSA benefit is conditional on it):
                // sent to SIUSS (VALORE_ISEE). Personal: an exact value singles a household out,
                // so it is sealed and erasure shreds it.
                .optional("isee", .amount, personal: true),
                // Pronto intervento sociale for a person without a case file opens a minimal one in
                // this ambito (the actor's when not given).
                .optional("ambito", .code(.ambiti)),
            ]),
        EventSchema(
            .interventionStarted, "attivazione dell'intervento", purpose: .interventions, correction: .rectified,
            fields: [
                .required("intervention", .entry), .required("date", .date),
            ]),
        EventSchema(
            .interventionSuspended, "sospensione dell'intervento", purpose: .interventions, correction: .rectified,
            fields: [
                .required("intervention", .entry), .required("date", .date), .required("reason", reason, personal: true),
            ]),
        EventSchema(
            .interventionResumed, "ripresa dell'intervento", purpose: .interventions, correction: .rectified,
            fields: [
                .required("intervention", .entry), .required("date", .date),
            ]),
        EventSchema(
            .interventionEnded, "chiusura dell'intervento", purpose: .interventions, correction: .rectified,
            fields: [
                .required("intervention", .entry), .required("date", .date),
                .required(
                    "reason",
                    .choice([
                        "completed", "objectives_met", "dropped_out", "no_longer_eligible", "case_closed", "other",
                        "case_transferred", "death",
                    ])),
                // Written by the daemon only: the closure, transfer out or death (the entry just
                // before, or a few before) that ended this intervention with the case. A void of
                // that entry takes this one back with it.
                .optional("endedWith", .entry),
            ]),
        // v1 recorded `hours` (a decimal); v2 records whole `minutes`, as providers invoice them.
        EventSchema(
            .serviceDelivered, "erogazione della prestazione", version: 2, purpose: .interventions, correction: .voided,
            fields: [
                .required("intervention", .entry),
                .required("date", .date),
                .optional("minutes", .integer(1...1_440)),
                .optional("amount", .amount),
            ], upcasters: [1: upcastServiceDeliveredHoursToMinutes]),
    ]

    static let monitoring: [EventSchema] = [
        EventSchema(
            .reviewHeld, "monitoraggio / verifica", purpose: .monitoring, correction: .rectified,
            fields: [
                .required("date", .date),
                .required("nextReviewDue", .date),
                .optional("findings", note, personal: true),
            ]),
        EventSchema(
            .outcomeRecorded, "esito", purpose: .monitoring, correction: .superseded,
            fields: [
                // A GoalSet or InterventionRequested entry of the same case file.
                .required("refersTo", .entry),
                .required("objectivesAchieved", .choice(["none", "some", "most", "all"])),
                .optional("employment", .choice(["employed", "training", "unemployed", "not_applicable"])),
                .optional("autonomy", .choice(["improved", "unchanged", "worsened"])),
            ]),
    ]

    static let closure: [EventSchema] = [
        EventSchema(
            .caseClosed, "chiusura della presa in carico", purpose: .caseManagement, correction: .voided,
            fields: [
                .required("reason", .code(.closureReasons)),
                .required("date", .date),
                .optional("situation", note, personal: true),
            ])
    ]

    static let corrections: [EventSchema] = [
        EventSchema(
            .rectified, "rettifica", purpose: .dataSubjectRights, retention: .accountability, correction: .none,
            fields: [
                .required("target", .entry),
                .required("field", .text(maxLength: 64)),
                // Old and new values are sealed: they may be personal, and the old one is the original's.
                .required("newValue", .text(maxLength: 4_000), personal: true),
                .optional("oldValue", .text(maxLength: 4_000), personal: true),
                .required("reason", reason),
                .required("authorisedBy", operatorID),
            ]),
        EventSchema(
            .voided, "annullamento", purpose: .dataSubjectRights, retention: .accountability, correction: .none,
            fields: [
                .required("target", .entry),
                .required("reason", reason),
                .required("authorisingAct", shortText),
            ]),
        EventSchema(
            .restricted, "limitazione del trattamento", purpose: .dataSubjectRights, retention: .accountability, correction: .none,
            fields: [
                .required("target", .entry),
                .required("ground", .choice(["accuracy_contested", "unlawful_processing", "legal_claims", "objection_pending"])),
            ]),
        EventSchema(
            .restrictionLifted, "revoca della limitazione", purpose: .dataSubjectRights, retention: .accountability, correction: .none,
            fields: [
                .required("restriction", .entry),
                .required("reason", reason),
            ]),
    ]

    /// Legal holds (issue 21): while one is in force the person's data may not be erased, neither
    /// at the person's request nor at the end of its retention period (GDPR art. 17(3)(e): the
    /// data are needed for legal claims; a judicial measure; an inspection). Accepted in every
    /// phase of the path, a closed case or a death included: that is when retention runs.
    static let holds: [EventSchema] = [
        EventSchema(
            .legalHoldPlaced, "blocco della cancellazione", purpose: .dataSubjectRights, retention: .accountability,
            correction: .none,
            fields: [
                .required("ground", .choice(LegalHold.grounds)),
                // The measure's, the case's or the inspection's reference (R.G. number, protocol):
                // in clear, so the refusal of an erasure and the auditors' register name it.
                .required("reference", shortText),
                .required("authorisedBy", operatorID),
            ]),
        EventSchema(
            .legalHoldReleased, "revoca del blocco della cancellazione", purpose: .dataSubjectRights, retention: .accountability,
            correction: .none,
            fields: [
                .required("hold", .entry),
                .required("reason", reason),
                .required("authorisedBy", operatorID),
            ]),
    ]

    /// Written by the daemon itself, never through the domain append.
    static let records: [EventSchema] = [
        EventSchema(
            .erasureExecuted, "cancellazione dei dati personali", purpose: .dataSubjectRights, retention: .accountability,
            correction: .none,
            fields: [
                .required("legalGround", .choice(["art17_request", "retention_ended", "unlawful_processing", "court_order"])),
                .required("reference", shortText),
            ]),
        EventSchema(
            .recordAccessed, "consultazione del fascicolo", purpose: .accountability, retention: .accessLog, correction: .none,
            fields: [
                .required(
                    "what",
                    .choice([
                        "case_file", "stream", "timeline", "case_state", "access_log", "export", "reads", "household_timeline",
                        "log", "entry", "subscribe", "refused_append", "siuss_export",
                    ])),
                .required("purpose", .text(maxLength: 200)),
                .required("role", .choice(["writer", "auditor", "admin"])),
                .optional("entries", .integer(0...Int64.max)),
                // The ambiti of a scoped service (access.ambiti), as configured when it read.
                .optional("ambiti", .textList(maxCount: 100, maxLength: 100)),
            ]),
    ]

    /// Written by the daemon itself, on the stream `siuss:exports` (no person's stream): what one
    /// SIUSS export sent (SiussExport). One export is one append of one or more parts, so that a
    /// large export stays under the payload limit; the first part names the files.
    static let transmissions: [EventSchema] = [
        EventSchema(
            .siussExported, "trasmissione al SIUSS (d.lgs. 147/2017 art. 24)", purpose: .interventions,
            retention: .accountability, correction: .none,
            fields: [
                .required("from", .date),
                .required("to", .date),
                .required("layout", .text(maxLength: 32)),
                .required("part", .integer(1...1_000_000)),
                .required("parts", .integer(1...1_000_000)),
                // "<section> <file name> <sha-256 hex> <records>", on the first part only.
                .optional("files", .textList(maxCount: 8, maxLength: 200)),
                // "I <section> <record id> <content digest> <codice ente>" (insertion) or
                // "A <section> <record id>" (cancellation).
                .required("sent", .textList(maxCount: SiussExport.itemsPerPart, maxLength: 80)),
            ])
    ]

    /// Types only the daemon writes (erasure through its own admin endpoint, reads as they
    /// happen, SIUSS transmissions).
    public static let systemKinds = EventKinds(.erasureExecuted, .recordAccessed, .siussExported)

    /// ServiceDelivered v1 → v2: `hours` (decimal) becomes whole `minutes`, rounded.
    @Sendable static func upcastServiceDeliveredHoursToMinutes(_ data: JSON) -> JSON {
        guard let members = data.members else { return data }
        return .object(
            members.map { member in
                guard member.key == "hours", case .number(let text) = member.value, let hours = Double(text) else { return member }
                return (key: "minutes", value: .number(String(Int((hours * 60).rounded()))))
            })
    }
}
