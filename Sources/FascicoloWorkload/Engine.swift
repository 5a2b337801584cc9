import FascicoloDomain
import FascicoloJSON

// MARK: - The engine

/// The events of one request being built, with the stream version each one will get.
struct Batch {
    let base: UInt64
    let day: Int
    var events: [JSON] = []
    var types: [String] = []
    var minute: Int
    let timed: Bool
    let correlationID: String?
    /// The ambito whose operator acts (the destination's, for a transfer in).
    var actorAmbito: String
    var actorOperator: String
    var actorRole = "assistente_sociale"
    /// Entries the daemon adds to the request's: an InterventionEnded for each intervention a
    /// closure, transfer out or death ends, right after it.
    var automatic = 0

    var nextVersion: UInt64 { base + UInt64(events.count + automatic) + 1 }
}

enum Next {
    case after(days: Int)
    case done
}

struct Engine: Sendable {
    var random: WorkloadRandom
    let seedTag: String
    let ambiti: [String]
    let ordinaryCodes: [String]
    let emergencyCodes: [String]
    let closureReasons: [String]
    let userAreas: [String]
    let firstDay: Int
    let lastDay: Int
    var readProbability = 0.3
    var collectsPersonalValues = true
    var erasesOnRequest = true
    var personalValues: Set<String> = []
    var eventCounts: [String: Int] = [:]
    var stepCounts: [String: Int] = [:]
    var requests = 0
    var usedCodiciFiscali: Set<String> = []
    var households: [String: Int] = [:]

    init(
        seed: UInt64, ambiti: [String], interventionCodes: [String], emergencyCodes: Set<String>, closureReasons: [String],
        userAreas: [String], firstDay: Int, lastDay: Int
    ) {
        random = WorkloadRandom(seed: seed)
        seedTag = String(seed, radix: 16)
        self.ambiti = ambiti
        ordinaryCodes = interventionCodes.filter { !emergencyCodes.contains($0) }
        self.emergencyCodes = interventionCodes.filter { emergencyCodes.contains($0) }
        self.closureReasons = closureReasons
        self.userAreas = userAreas
        self.firstDay = firstDay
        self.lastDay = lastDay
    }

    // MARK: Making persons

    mutating func makePerson(index: Int) -> Person {
        let ambito =
            index < ambiti.count
            ? ambiti[index]
            : random.weighted(ambiti.map { (Places.weight(of: $0), $0) })!
        let area = random.weighted(userAreas.map { (Self.areaWeight($0), $0) })!
        let kind: IdentifierKind =
            area == "immigrants"
            ? random.weighted([(45, .codiceFiscale), (35, .stp), (10, .eni), (10, .provisional)])!
            : random.weighted([(88, .codiceFiscale), (3, .stp), (3, .eni), (6, .provisional)])!
        let origin: Origin =
            switch kind {
            case .stp: .nonEU
            case .eni: .eu
            case .provisional: random.chance(0.6) ? .italian : .nonEU
            case .codiceFiscale:
                area == "immigrants"
                    ? (random.chance(0.7) ? .nonEU : .eu)
                    : random.weighted([(93, Origin.italian), (3, .eu), (4, .nonEU)])!
            }
        let female = random.chance(0.5)
        let sex = kind == .provisional && random.chance(0.03) ? "X" : female ? "F" : "M"
        let birthYear: Int =
            switch area {
            case "families_minors": random.chance(0.7) ? random.between(2008, 2022) : random.between(1975, 1995)
            case "elderly": random.between(1932, 1960)
            case "disability": random.between(1950, 2015)
            default: random.between(1960, 2004)
            }
        let (givenName, familyName) = name(origin: origin, female: female)
        let comuni = Places.comuni(of: ambito)
        let residence = random.pick(comuni)
        let homeless = kind != .codiceFiscale && random.chance(0.3)
        let address = homeless ? nil : "\(random.pick(Places.streets)) \(random.between(1, 180)), \(residence.postcode) \(residence.name)"
        let phone = random.chance(0.8) ? phoneNumber() : nil
        var household: String?
        if area == "families_minors" || random.chance(0.1) {
            let ambitoIndex = ambiti.firstIndex(of: ambito) ?? 0
            let next = households[ambito, default: 0]
            // Families: a new household, or the last one of the ambito (a sibling, a parent).
            let number = next > 0 && random.chance(0.35) ? next : next + 1
            households[ambito] = number
            household = "hh-\(ambitoIndex + 1)-\(number)"
        }

        let month = random.between(1, 12)
        let day = random.between(1, daysIn(month: month, year: birthYear))
        let birthplace: String =
            switch origin {
            case .italian: random.chance(0.8) ? residence.code : random.pick(Places.italianBirthplaces)
            case .eu: random.pick(Places.euBirthplaces)
            case .nonEU: random.pick(Places.nonEUBirthplaces)
            }
        func codiceFiscale() -> String {
            var omocodia = random.chance(0.03) ? random.between(1, 3) : 0
            while true {
                let code = CodiceFiscaleMaker.make(
                    familyName: familyName, givenName: givenName, birthYear: birthYear, month: month,
                    day: day, female: sex == "F", placeCode: birthplace, omocodia: omocodia)
                // The same data as someone else's: omocodia, as the Agenzia delle Entrate does it.
                if usedCodiciFiscali.insert(code).inserted { return code }
                omocodia += 1
                precondition(omocodia <= 7, "more than 128 people with the same codice fiscale data")
            }
        }
        let primary: String
        var linkTo: String?
        let region = "17\(random.pick(["0201", "0202"]))"  // Basilicata, ASP Potenza / ASM Matera
        switch kind {
        case .codiceFiscale: primary = codiceFiscale()
        case .stp: primary = "STP" + region + random.digits(7)
        case .eni: primary = "ENI" + region + random.digits(7)
        case .provisional:
            primary = "provisional:\(ambito.prefix(3))-\(random.between(2024, 2026))-\(random.digits(6))"
        }
        if kind != .codiceFiscale, random.chance(0.5) { linkTo = codiceFiscale() }
        note(primary)
        if let linkTo { note(linkTo) }

        var profile = Profile()
        profile.contactOnly = random.chance(0.12)
        profile.earlyEmergency = !emergencyCodes.isEmpty && random.chance(0.1)
        profile.emergencyBeforePlan = !emergencyCodes.isEmpty && !profile.earlyEmergency && random.chance(0.1)
        profile.judicial = random.chance(birthYear >= 2008 ? 0.4 : 0.06)
        profile.transfer = ambiti.count > 1 && random.chance(0.12)
        profile.suspend = random.chance(0.12)
        profile.closeAndReopen = random.chance(0.12)
        profile.mistakenClosure = random.chance(0.05)
        profile.mistakenTransfer = profile.transfer && random.chance(0.3)
        profile.corrections = random.chance(0.35)
        profile.consent = random.chance(0.45)
        profile.closeAtEnd = random.chance(0.75)
        profile.erase = random.chance(0.04)
        if profile.erase, random.chance(0.4) { profile.eraseAfterSteps = random.between(3, 30) }

        let operators = operatorsOf(ambito)
        let start = firstDay + random.below(max(1, lastDay - firstDay - 240))
        return Person(
            kind: kind, origin: origin, primary: primary, linkTo: linkTo, sex: sex, birthYear: birthYear,
            givenName: givenName, familyName: familyName, address: address, phone: phone, residence: residence,
            household: household, area: area, ambito: ambito, caseManager: random.pick(operators), profile: profile,
            day: start)
    }

    static func areaWeight(_ area: String) -> Double {
        switch area {
        case "families_minors", "poverty": 3
        case "disability", "elderly": 2
        case "immigrants", "addiction": 1
        case "multi_user": 0.5
        default: 1
        }
    }

    mutating func name(origin: Origin, female: Bool) -> (String, String) {
        switch origin {
        case .italian: (random.pick(female ? Places.italianWomen : Places.italianMen), random.pick(Places.italianSurnames))
        case .eu: (random.pick(female ? Places.euWomen : Places.euMen), random.pick(Places.euSurnames))
        case .nonEU: (random.pick(female ? Places.nonEUWomen : Places.nonEUMen), random.pick(Places.nonEUSurnames))
        }
    }

    mutating func phoneNumber() -> String {
        random.chance(0.8)
            ? "+39 3\(random.pick(["20", "27", "28", "33", "34", "38", "40", "45", "47", "66", "88", "92"])) \(random.digits(7))"
            : "\(random.pick(["0971", "0835", "0972", "0973", "0975"])) \(random.digits(6))"
    }

    func operatorsOf(_ ambito: String) -> [String] {
        let number = (ambiti.firstIndex(of: ambito) ?? 0) + 1
        return (1...(3 + Int(Places.weight(of: ambito) * 3))).map { "op-\(number)\($0 < 10 ? "0" : "")\($0)" }
    }

    func ente(_ ambito: String) -> String { "Comune di " + Places.comuni(of: ambito)[0].name }

    /// Records a personal value sent in clear and returns it.
    @discardableResult
    mutating func note(_ value: String) -> String {
        if collectsPersonalValues { personalValues.insert(value) }
        return value
    }

    // MARK: Steps

    /// The person's step on `day`, and the day of their next one (nil: their path is over).
    mutating func advance(_ person: inout Person, day: Int) -> (WorkloadStep?, Int?) {
        person.day = day
        if case .finished = person.stage { return (nil, nil) }
        if case .erasing = person.stage {
            person.stage = .finished
            return (erasure(person), nil)
        }
        if let retry = person.retry {
            person.retry = nil
            stepCounts["retry", default: 0] += 1
            return (retry, day)
        }
        if person.version > 0, !person.justRead, random.chance(readProbability) {
            person.justRead = true
            stepCounts["read", default: 0] += 1
            return (.read(person: person.identifier(&random)), day)
        }
        person.justRead = false

        var batch = Batch(
            base: person.version, day: day, minute: random.between(0, 9 * 60 - 30), timed: random.chance(0.7),
            correlationID: random.chance(0.3) ? "corr-\(seedTag)-\(requests)" : nil,
            actorAmbito: person.ambito,
            actorOperator: random.chance(0.85) ? person.caseManager : random.pick(operatorsOf(person.ambito)))
        let next = act(&person, &batch)
        person.steps += 1
        let step = batch.events.isEmpty ? nil : request(&person, batch)

        var nextDay: Int?
        switch next {
        case .after(let days): nextDay = day + max(0, days)
        case .done: nextDay = nil
        }
        if person.profile.erase, erasesOnRequest, person.version > 0,
            nextDay == nil || nextDay! > lastDay || person.steps >= (person.profile.eraseAfterSteps ?? .max)
        {
            person.stage = .erasing
            return (step, min(day + random.between(0, 30), lastDay))
        }
        if let next = nextDay, next > lastDay { nextDay = nil }  // the path goes on after the window
        if nextDay == nil { person.stage = .finished }
        return (step, nextDay)
    }

    mutating func erasure(_ person: Person) -> WorkloadStep {
        stepCounts["erase", default: 0] += 1
        // Not `retention_ended`: an erasure for retention is refused while the case is open
        // (issue 21), and retention erases through `fascicolo retention apply`, not a request.
        let drawn = random.weighted([(8, "art17_request"), (1, "unlawful_processing"), (1, "court_order")])!
        // A person under a legal hold is erased only by an order of the court (the others are refused).
        let ground = person.holds.isEmpty ? drawn : "court_order"
        let reference =
            ground == "court_order"
            ? "Ordinanza n. \(random.between(10, 999))/\(random.between(2024, 2026))"
            : "Istanza prot. n. \(random.between(1000, 99_999))/\(random.between(2024, 2026))"
        return .erase(person: person.identifier(&random), legalGround: ground, reference: reference)
    }

    /// Builds the request body from the batch and moves the person's version on.
    mutating func request(_ person: inout Person, _ batch: Batch) -> WorkloadStep {
        requests += 1
        stepCounts["record", default: 0] += 1
        let actor = JSON.object([
            ("operator", .string(batch.actorOperator)), ("role", .string(batch.actorRole)),
            ("ente", .string(ente(batch.actorAmbito))), ("ambito", .string(batch.actorAmbito)),
        ])
        // IdentityLinked is sent under the identifier being linked, never under the codice fiscale.
        let identifier = batch.types.contains("IdentityLinked") ? person.primary : person.identifier(&random)
        var members: [(key: String, value: JSON)] = [
            ("person", .string(identifier)), ("actor", actor), ("events", .array(batch.events)),
        ]
        if random.chance(0.2) {
            members.append(("expectedVersion", batch.base == 0 && random.chance(0.5) ? .string("no_stream") : .number(String(batch.base))))
        }
        let idempotent = random.chance(0.25)
        if idempotent { members.append(("idempotencyKey", .string("wl-\(seedTag)-\(requests)"))) }
        person.version += UInt64(batch.events.count + batch.automatic)
        let step = WorkloadStep.record(person: identifier, body: JSON.object(members).bytes)
        if idempotent, random.chance(0.05) { person.retry = step }
        return step
    }

    /// Adds an event to the batch; returns its stream version.
    @discardableResult
    mutating func add(_ person: inout Person, _ batch: inout Batch, _ type: String, _ data: [(key: String, value: JSON)]) -> UInt64 {
        let version = batch.nextVersion
        var event: [(key: String, value: JSON)] = [
            ("type", .string(type)), ("occurredAt", .string(occurredAt(&batch))), ("data", .object(data)),
        ]
        if let correlationID = batch.correlationID { event.append(("correlationId", .string(correlationID))) }
        batch.events.append(.object(event))
        batch.types.append(type)
        eventCounts[type, default: 0] += 1
        switch type {
        case "AccessContactRecorded", "ReferralReceived", "ServiceDelivered", "CommitmentBreached":
            person.voidable.append(version)
        default: break
        }
        switch type {
        case "PersonRegistered", "ReferralReceived", "JudicialMeasureRecorded", "InDepthAssessmentCompleted", "AppointmentHeld",
            "ReviewHeld", "AccessContactRecorded", "PreliminaryAnalysisCompleted":
            person.restrictable.append(version)
        default: break
        }
        return version
    }

    mutating func occurredAt(_ batch: inout Batch) -> String {
        let date = CalendarDate(daysSinceEpoch: batch.day).description
        guard batch.timed else { return date }
        batch.minute = min(batch.minute + random.between(0, 20), 9 * 60 + 59)
        let hour = 8 + batch.minute / 60
        let minute = batch.minute % 60
        return "\(date)T\(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute):00Z"
    }

    /// A date field: clamped to the window.
    func date(_ day: Int) -> JSON { .string(CalendarDate(daysSinceEpoch: max(firstDay, min(day, lastDay))).description) }
}
