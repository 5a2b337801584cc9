/// The free text caseworkers write (Italian), personal data every line of it: it names the
/// person, their family and their circumstances, so it must only ever be stored sealed.
enum Texts {
    static let months = [
        "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre",
        "novembre", "dicembre",
    ]

    static func title(_ person: Person) -> String { person.sex == "F" ? "la sig.ra" : "il sig." }
    static func fullName(_ person: Person) -> String { "\(person.givenName) \(person.familyName)" }
    static func relative(_ random: inout WorkloadRandom) -> String {
        random.pick(["la madre", "il padre", "la nonna", "lo zio", "la sorella maggiore", "il compagno della madre", "la figlia"])
    }

    static func contactNotes(_ person: Person, _ random: inout WorkloadRandom) -> String {
        switch random.below(5) {
        case 0:
            "Si presenta \(title(person)) \(person.familyName): chiede informazioni sul contributo per l'affitto, riferisce \(random.between(2, 5)) mensilità arretrate."
        case 1: "\(person.givenName) telefona per chiedere come presentare domanda per l'Assegno di inclusione; orientato/a al CAF."
        case 2:
            "Colloquio di segretariato con \(fullName(person)): perdita del lavoro a \(random.pick(months)), nucleo di \(random.between(2, 6)) persone."
        case 3:
            "\(relative(&random).capitalizedFirst) di \(person.givenName) chiede supporto per l'assistenza domiciliare; difficoltà negli spostamenti."
        default: "\(fullName(person)) riferisce conflitti familiari e chiede un appuntamento con l'assistente sociale."
        }
    }

    static func referrer(_ random: inout WorkloadRandom) -> String {
        random.pick(["prof.ssa", "dott.", "dott.ssa", "maresciallo", "don"]) + " "
            + random.pick(Places.italianWomen + Places.italianMen) + " " + random.pick(Places.italianSurnames)
    }

    static func referralDescription(_ person: Person, source: String, _ random: inout WorkloadRandom) -> String {
        switch source {
        case "school":
            "La scuola segnala che \(person.givenName) \(person.familyName) frequenta in modo discontinuo: \(random.between(12, 40)) assenze da \(random.pick(months))."
        case "asl": "Il consultorio segnala \(fullName(person)) per difficoltà nella cura dei figli e isolamento sociale."
        case "police": "Intervento dei Carabinieri presso l'abitazione di \(fullName(person)) per lite familiare; presenti minori."
        case "tribunale": "Richiesta di indagine socio-familiare del Tribunale per i minorenni sul nucleo di \(fullName(person))."
        case "family":
            "\(relative(&random).capitalizedFirst) segnala che \(person.givenName) vive da solo/a e non riesce più a gestire la casa."
        default: "Segnalazione relativa a \(fullName(person)): situazione di grave disagio abitativo e assenza di reddito."
        }
    }

    static func place(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.chance(0.3) && person.address != nil
            ? "Domicilio di \(fullName(person))"
            : "Sede dei servizi sociali di \(person.residence.name), stanza \(random.between(1, 12)) (per \(person.familyName))"
    }

    static func interviewNotes(_ person: Person, _ random: inout WorkloadRandom) -> String {
        switch random.below(4) {
        case 0: "Colloquio con \(fullName(person)): ricostruita la storia familiare; emerge una rete parentale debole."
        case 1:
            "\(person.givenName) si mostra collaborante; porta l'ISEE (\(random.between(1, 9)).\(random.between(100, 999)) euro) e il contratto di locazione."
        case 2: "Presente anche \(relative(&random)); \(person.givenName) riferisce problemi di salute che limitano il lavoro."
        default: "Visita domiciliare da \(fullName(person)): abitazione in condizioni igieniche precarie, riscaldamento assente."
        }
    }

    static func missedNotes(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.chance(0.5)
            ? "\(fullName(person)) non si presenta; contattato/a telefonicamente senza risposta."
            : "\(person.givenName) avvisa il giorno stesso: impegno di lavoro (\(random.pick(["turno in campagna", "visita medica", "figlio malato"])))."
    }

    static func summary(_ person: Person, _ random: inout WorkloadRandom) -> String {
        "Analisi preliminare per \(fullName(person)): bisogni prevalenti \(random.pick(["abitativi ed economici", "di cura", "educativi", "lavorativi"])); "
            + "risorse \(random.pick(["scarse", "presenti ma fragili", "buone"])); \(random.pick(["motivazione al cambiamento", "scarsa consapevolezza del problema"]))."
    }

    static func findings(_ person: Person, _ random: inout WorkloadRandom) -> String {
        "Quadro di analisi su \(fullName(person)): \(random.pick(["dipendenza da alcol in trattamento al SerD", "disturbo depressivo in cura al CSM", "invalidità civile al \(random.between(46, 100))%", "difficoltà scolastiche con certificazione DSA"])); "
            + "rete familiare \(random.pick(["assente", "conflittuale", "presente"]))."
    }

    static func objective(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.pick([
            "Ricerca attiva di lavoro per \(person.givenName) con il centro per l'impiego entro sei mesi",
            "Regolarizzare la frequenza scolastica di \(person.givenName) \(person.familyName)",
            "Trovare una soluzione abitativa stabile per il nucleo \(person.familyName)",
            "Mantenere \(person.givenName) al proprio domicilio con assistenza adeguata",
            "Rafforzare le competenze genitoriali di \(fullName(person))",
            "Gestione autonoma del bilancio familiare da parte di \(fullName(person))",
        ])
    }

    static func commitment(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.pick([
            "\(person.givenName) si impegna a presentarsi ai colloqui mensili",
            "\(fullName(person)) si impegna a frequentare il corso di formazione",
            "\(person.givenName) \(person.familyName) accompagnerà i figli a scuola ogni giorno",
            "\(fullName(person)) si impegna a seguire il percorso al SerD",
            "\(person.givenName) cercherà attivamente lavoro e ne darà prova ogni mese",
        ])
    }

    static func goal(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.pick([
            "\(person.givenName) ottiene un contratto di lavoro di almeno sei mesi",
            "Nessuna assenza ingiustificata di \(person.givenName) nel trimestre",
            "Il nucleo \(person.familyName) salda gli arretrati dell'affitto",
            "\(fullName(person)) partecipa a un gruppo di sostegno alla genitorialità",
            "\(person.givenName) esce di casa almeno due volte a settimana con l'educatore",
        ])
    }

    static func goalNotes(_ person: Person, _ random: inout WorkloadRandom) -> String {
        "\(person.givenName): \(random.pick(["progressi costanti", "andamento altalenante", "nessun progresso", "obiettivo quasi raggiunto"])) al \(random.pick(months))."
    }

    static func planChanges(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.pick([
            "Aggiunto sostegno educativo domiciliare per i figli di \(fullName(person))",
            "Ridotte le ore di assistenza domiciliare: \(person.givenName) è più autonomo/a",
            "Rinviata la ricerca di lavoro di \(person.givenName) per motivi di salute",
            "Inserito il tirocinio di inclusione presso un'azienda agricola per \(fullName(person))",
        ])
    }

    static func interventionNotes(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.pick([
            "\(person.givenName) preferisce gli interventi al mattino: il pomeriggio lavora",
            "Accesso al domicilio di \(fullName(person)) concordato con \(relative(&random))",
            "Urgenza: \(fullName(person)) senza alloggio da \(random.between(2, 10)) giorni",
        ])
    }

    static func interventionSuspension(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.pick([
            "Ricovero di \(person.givenName) all'ospedale San Carlo",
            "\(fullName(person)) fuori regione per lavoro stagionale",
            "\(person.givenName) chiede una pausa per motivi familiari",
        ])
    }

    static func reviewFindings(_ person: Person, _ random: inout WorkloadRandom) -> String {
        "Verifica con \(fullName(person)): \(random.pick(["impegni rispettati", "impegni rispettati in parte", "impegni non rispettati"])); "
            + "\(random.pick(["situazione stabile", "miglioramento della situazione abitativa", "nuove difficoltà economiche", "peggioramento della salute"]))."
    }

    static func judicialDetails(_ person: Person, _ random: inout WorkloadRandom) -> String {
        "Decreto n. \(random.between(10, 999))/\(random.between(2023, 2026)) relativo a \(fullName(person)): "
            + random.pick([
                "affidamento al servizio sociale", "incontri protetti con il padre", "collocamento presso i nonni materni",
                "amministrazione di sostegno",
            ])
    }

    static func consentNote(_ person: Person, _ random: inout WorkloadRandom) -> String {
        "\(fullName(person)) acconsente \(random.pick(["solo per il periodo dell'intervento", "esclusi i dati sanitari", "anche per \(relative(&random))"]))"
    }

    static func suspension(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.pick([
            "\(fullName(person)) ricoverato/a per \(random.between(3, 8)) settimane",
            "\(person.givenName) in Romania per assistere un familiare",
            "\(person.givenName) \(person.familyName) chiede di sospendere fino a \(random.pick(months))",
        ])
    }

    static func reopening(_ person: Person, _ random: inout WorkloadRandom) -> String {
        random.pick([
            "\(person.givenName) rientra a domicilio dopo il ricovero", "Nuova richiesta di \(fullName(person)) dopo lo sfratto",
            "\(fullName(person)) torna al servizio: perso di nuovo il lavoro",
        ])
    }

    static func closingSituation(_ person: Person, _ random: inout WorkloadRandom) -> String {
        "Alla chiusura \(fullName(person)) \(random.pick(["ha un lavoro stabile", "vive con i figli in un alloggio ERP", "è seguito/a dal CSM", "risulta irreperibile", "si è trasferito/a al nord"]))."
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
