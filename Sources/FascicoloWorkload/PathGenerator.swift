import FascicoloDomain
import FascicoloJSON

/// One thing a client of the daemon does.
public enum WorkloadStep: Sendable, Equatable {
    /// A domain append: `body` is a `RecordRequest` JSON body (one or several events) for
    /// `person`, the identifier's text (codice fiscale, STP/ENI code or `provisional:<id>`).
    case record(person: String, body: [UInt8])
    /// An erasure (GDPR art. 17 or end of retention) of the person's personal data.
    case erase(person: String, legalGround: String, reference: String)
    /// A caseworker reads the person's case file.
    case read(person: String)

    /// The identifier text the step names.
    public var person: String {
        switch self {
        case .record(let person, _), .erase(let person, _, _), .read(let person): person
        }
    }
}

/// A seeded generator of realistic paths through the social services, for tests and benchmarks.
///
/// Hundreds (or thousands) of persons across the ambiti: registered by codice fiscale (valid,
/// some omocodic), STP/ENI code or provisional id (some later linked to a codice fiscale),
/// with contacts and referrals, case opening, appointments, presa in carico, assessments, plans,
/// goals, interventions (pronto intervento before a plan for some) with service deliveries,
/// reviews, judicial measures, consents, suspensions, closures and reopenings, transfers to
/// another ambito, outcomes, corrections (rectification, voiding — of a delivery, a contact, and
/// of a closure or transfer recorded by mistake — restriction and its lifting) — and reads,
/// retries of idempotent requests, and erasures (after which the person gets nothing more).
/// Each person's dates move forward in the window; persons interleave in date order.
///
/// Every step is one the path rules accept when the steps are applied in order to an empty data
/// directory: the generator follows each person's stream version (`.entry` fields are stream
/// versions) and case phase. The same seed and parameters give the same steps.
public struct PathGenerator: Sendable, IteratorProtocol {
    public let seed: UInt64
    /// Probability that a caseworker reads the file before a write (at most one read between
    /// two writes of a person). Set before the first `next()` to change the mix.
    public var readProbability: Double {
        get { engine.readProbability }
        set { engine.readProbability = newValue }
    }
    /// Keep every personal value put in clear into a request body (`personalValues`); turn off
    /// for long benchmark runs.
    public var collectsPersonalValues: Bool {
        get { engine.collectsPersonalValues }
        set { engine.collectsPersonalValues = newValue }
    }

    var engine: Engine
    var persons: [Person]
    var queue = DayQueue()

    /// - Parameters:
    ///   - ambiti, interventionCodes, closureReasons, userAreas: codes of the reference data the
    ///     daemon validates against; `emergencyCodes` are the pronto intervento codes (allowed
    ///     without a signed plan).
    ///   - firstDay, lastDay: the window of `occurredAt` and event dates (`YYYY-MM-DD`). The
    ///     default ends in the past, so that nothing is in the future whenever the steps are applied.
    public init(seed: UInt64, persons: Int, ambiti: [String], interventionCodes: [String], emergencyCodes: Set<String>,
                closureReasons: [String], userAreas: [String], firstDay: String = "2024-01-01", lastDay: String = "2026-06-30") {
        precondition(persons >= 0 && !ambiti.isEmpty && !closureReasons.isEmpty && !userAreas.isEmpty)
        precondition(interventionCodes.contains { !emergencyCodes.contains($0) }, "at least one ordinary intervention code")
        guard let first = CalendarDate(firstDay), let last = CalendarDate(lastDay), first < last else {
            preconditionFailure("firstDay and lastDay are dates, firstDay first")
        }
        self.seed = seed
        engine = Engine(seed: seed, ambiti: ambiti, interventionCodes: interventionCodes, emergencyCodes: emergencyCodes,
                        closureReasons: closureReasons, userAreas: userAreas,
                        firstDay: first.daysSinceEpoch, lastDay: last.daysSinceEpoch)
        self.persons = []
        self.persons.reserveCapacity(persons)
        for index in 0..<persons {
            let person = engine.makePerson(index: index)
            queue.push(day: person.day, tiebreak: engine.random.next(), index: index)
            self.persons.append(person)
        }
    }

    /// The same, with the codes of a reference table (`emergency` interventions are pronto intervento).
    public init(seed: UInt64, persons: Int, reference: ReferenceTable, firstDay: String = "2024-01-01", lastDay: String = "2026-06-30") {
        func codes(_ list: ReferenceList) -> [String] { (reference.labels[list] ?? [:]).keys.sorted() }
        self.init(seed: seed, persons: persons, ambiti: codes(.ambiti), interventionCodes: reference.interventions.keys.sorted(),
                  emergencyCodes: Set(reference.interventions.values.filter(\.emergency).map(\.code)),
                  closureReasons: codes(.closureReasons), userAreas: codes(.userAreas), firstDay: firstDay, lastDay: lastDay)
    }

    /// The next step, or nil when every person's path is over.
    public mutating func next() -> WorkloadStep? {
        while let (day, index) = queue.pop() {
            let (step, nextDay) = engine.advance(&persons[index], day: day)
            if let nextDay { queue.push(day: nextDay, tiebreak: engine.random.next(), index: index) }
            if let step { return step }
        }
        return nil
    }

    /// Every remaining step.
    public mutating func steps() -> [WorkloadStep] {
        var steps: [WorkloadStep] = []
        while let step = next() { steps.append(step) }
        return steps
    }

    /// Every personal value put in clear into the request bodies so far (identifiers, names,
    /// addresses, phone numbers, free text), distinct and sorted: none of them may be found in
    /// the data directory's files.
    public var personalValues: [String] { engine.personalValues.sorted() }

    /// Events generated so far, by type.
    public var eventCounts: [String: Int] { engine.eventCounts }

    /// Steps generated so far, by kind (`record`, `erase`, `read`, and `retry`: a `record` step
    /// sent again with its idempotency key, which must be answered from the first append).
    public var stepCounts: [String: Int] { engine.stepCounts }
}

// MARK: - Persons

/// The pieces of a person's case state the generator must follow to stay on the path rules'
/// side (a mirror of what `CaseState` folds from the stream, for the steps generated here).
enum Phase: Sendable { case noCase, opened, takenInCharge, suspended, closed, transferredOut }

enum Stage: Sendable {
    case register, intake(remaining: Int), openCase, preCharge, assessment, inDepth, planning, signing, active, winding,
         terminal, suspended, closedAwaitingReopen, transferIn, erasing, finished
    /// A closure or a transfer out recorded by mistake, to be voided (the case goes on as before).
    case voidMistake(UInt64)
}

enum IdentifierKind: Sendable { case codiceFiscale, stp, eni, provisional }
enum Origin: Sendable { case italian, eu, nonEU }

/// What kind of path a person will have.
struct Profile: Sendable {
    var contactOnly = false
    var earlyEmergency = false
    var emergencyBeforePlan = false
    var judicial = false
    var transfer = false
    var suspend = false
    var closeAndReopen = false
    /// The closure turns out to be a mistake and is voided.
    var mistakenClosure = false
    /// The transfer out turns out to be a mistake and is voided (before the transfer in).
    var mistakenTransfer = false
    var corrections = false
    var consent = false
    var closeAtEnd = true
    var erase = false
    /// Steps after which the erasure comes (nil: at the end of the path).
    var eraseAfterSteps: Int?
}

struct Rectifiable: Sendable {
    enum Kind: Sendable { case date, address, phone, interventionEndReason }
    let version: UInt64
    let field: String
    var old: String
    let kind: Kind
}

struct Person: Sendable {
    let kind: IdentifierKind
    let origin: Origin
    let primary: String
    let linkTo: String?
    var linked = false
    let sex: String
    let birthYear: Int
    let givenName: String
    let familyName: String
    var address: String?
    var phone: String?
    let residence: Places.Comune
    let household: String?
    let area: String
    var ambito: String
    var caseManager: String
    var profile: Profile
    /// The day of the person's next (or current) step.
    var day: Int
    var stage = Stage.register
    var steps = 0
    var justRead = false
    /// A request sent again with its idempotency key, as a client does after a timeout.
    var retry: WorkloadStep?

    // The mirror of the stream.
    var version: UInt64 = 0
    var phase = Phase.noCase
    var beforeSuspension = Phase.opened
    var beforeClosure = Phase.opened
    var beforeTransfer = Phase.opened
    var destination: String?
    var transferred = false
    var reopened = false
    var suspendedOnce = false
    var intakeHeld = false
    var missedAppointments = 0
    var hadReferral = false
    var hadJudicialMeasure = false
    var appointment: (version: UInt64, date: Int)?
    var pendingDraft: UInt64?
    var signedPlans: [UInt64] = []
    var goals: [UInt64] = []
    var interventions: [UInt64: InterventionPhase] = [:]
    var interventionCodes: [UInt64: String] = [:]
    /// Interventions the last closure or transfer out ended, with their phase before it.
    var endedWithTheCase: [UInt64: InterventionPhase] = [:]
    var pendingEmergency: UInt64?
    var hadEmergency = false
    var budget = 0
    var suspendAt = -1
    var lastReview: Int?
    var consents: [String] = []
    var voidable: [UInt64] = []
    var rectifiable: [Rectifiable] = []
    var restrictable: [UInt64] = []
    /// Active restrictions: the Restricted entry's version → the entry it restricts.
    var restrictions: [UInt64: UInt64] = [:]
    /// A restricted entry found wrong, to be voided.
    var pendingVoid: UInt64?

    /// The identifier a request names: once linked, the codice fiscale more often than not.
    func identifier(_ random: inout WorkloadRandom) -> String {
        if linked, let linkTo, random.chance(0.6) { return linkTo }
        return primary
    }

    var isMinor: Bool { birthYear >= 2008 }

    var openInterventions: [UInt64] { interventions.filter { $0.value != .ended }.keys.sorted() }

    func interventions(in phase: InterventionPhase) -> [UInt64] {
        interventions.filter { $0.value == phase }.keys.sorted()
    }
}

/// Persons by the day of their next step (ties broken by a random number), a binary min-heap.
struct DayQueue: Sendable {
    private var heap: [(day: Int, tiebreak: UInt64, index: Int)] = []

    mutating func push(day: Int, tiebreak: UInt64, index: Int) {
        heap.append((day, tiebreak, index))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (day: Int, index: Int)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count, less(left, smallest) { smallest = left }
                if right < heap.count, less(right, smallest) { smallest = right }
                guard smallest != parent else { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return (top.day, top.index)
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (heap[a].day, heap[a].tiebreak) < (heap[b].day, heap[b].tiebreak)
    }
}

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

    var nextVersion: UInt64 { base + UInt64(events.count) + 1 }
}

enum Next { case after(days: Int), done }

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
    var personalValues: Set<String> = []
    var eventCounts: [String: Int] = [:]
    var stepCounts: [String: Int] = [:]
    var requests = 0
    var usedCodiciFiscali: Set<String> = []
    var households: [String: Int] = [:]

    init(seed: UInt64, ambiti: [String], interventionCodes: [String], emergencyCodes: Set<String>, closureReasons: [String],
         userAreas: [String], firstDay: Int, lastDay: Int) {
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
        let ambito = index < ambiti.count ? ambiti[index]
            : random.weighted(ambiti.map { (Places.weight(of: $0), $0) })!
        let area = random.weighted(userAreas.map { (Self.areaWeight($0), $0) })!
        let kind: IdentifierKind = area == "immigrants"
            ? random.weighted([(45, .codiceFiscale), (35, .stp), (10, .eni), (10, .provisional)])!
            : random.weighted([(88, .codiceFiscale), (3, .stp), (3, .eni), (6, .provisional)])!
        let origin: Origin = switch kind {
        case .stp: .nonEU
        case .eni: .eu
        case .provisional: random.chance(0.6) ? .italian : .nonEU
        case .codiceFiscale: area == "immigrants" ? (random.chance(0.7) ? .nonEU : .eu)
            : random.weighted([(93, Origin.italian), (3, .eu), (4, .nonEU)])!
        }
        let female = random.chance(0.5)
        let sex = kind == .provisional && random.chance(0.03) ? "X" : female ? "F" : "M"
        let birthYear: Int = switch area {
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
        let birthplace: String = switch origin {
        case .italian: random.chance(0.8) ? residence.code : random.pick(Places.italianBirthplaces)
        case .eu: random.pick(Places.euBirthplaces)
        case .nonEU: random.pick(Places.nonEUBirthplaces)
        }
        func codiceFiscale() -> String {
            var omocodia = random.chance(0.03) ? random.between(1, 3) : 0
            while true {
                let code = CodiceFiscaleMaker.make(familyName: familyName, givenName: givenName, birthYear: birthYear, month: month,
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
        return Person(kind: kind, origin: origin, primary: primary, linkTo: linkTo, sex: sex, birthYear: birthYear,
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

        var batch = Batch(base: person.version, day: day, minute: random.between(0, 9 * 60 - 30), timed: random.chance(0.7),
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
        if person.profile.erase, person.version > 0,
           nextDay == nil || nextDay! > lastDay || person.steps >= (person.profile.eraseAfterSteps ?? .max) {
            person.stage = .erasing
            return (step, min(day + random.between(0, 30), lastDay))
        }
        if let next = nextDay, next > lastDay { nextDay = nil }  // the path goes on after the window
        if nextDay == nil { person.stage = .finished }
        return (step, nextDay)
    }

    mutating func erasure(_ person: Person) -> WorkloadStep {
        stepCounts["erase", default: 0] += 1
        let ground = random.weighted([(5, "art17_request"), (3, "retention_ended"), (1, "unlawful_processing"), (1, "court_order")])!
        let reference = ground == "court_order" ? "Ordinanza n. \(random.between(10, 999))/\(random.between(2024, 2026))"
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
        person.version += UInt64(batch.events.count)
        let step = WorkloadStep.record(person: identifier, body: JSON.object(members).bytes)
        if idempotent, random.chance(0.05) { person.retry = step }
        return step
    }

    /// Adds an event to the batch; returns its stream version.
    @discardableResult
    mutating func add(_ person: inout Person, _ batch: inout Batch, _ type: String, _ data: [(key: String, value: JSON)]) -> UInt64 {
        let version = batch.nextVersion
        var event: [(key: String, value: JSON)] = [("type", .string(type)), ("occurredAt", .string(occurredAt(&batch))), ("data", .object(data))]
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
        let hour = 8 + batch.minute / 60, minute = batch.minute % 60
        return "\(date)T\(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute):00Z"
    }

    /// A date field: clamped to the window.
    func date(_ day: Int) -> JSON { .string(CalendarDate(daysSinceEpoch: max(firstDay, min(day, lastDay))).description) }

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
        if person.linkTo != nil, !person.linked, person.version >= 1, [Phase.noCase, .opened, .takenInCharge, .suspended].contains(person.phase),
           random.chance(0.25) {
            add(&person, &batch, "IdentityLinked", [
                ("codiceFiscale", .string(person.linkTo!)),
                ("source", .string(random.weighted([(6, "document_checked"), (2, "anagrafe"), (1, "agenzia_entrate"), (1, "declaration")])!)),
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
        let citizenship: String = switch (person.kind, person.origin) {
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
        if let address = person.address { person.rectifiable.append(Rectifiable(version: version, field: "address", old: address, kind: .address)) }
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
        add(&person, &batch, "CaseOpened", [
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
                close(&person, &batch, reason: closureReasons.contains("untraceable") ? "untraceable" : random.pick(closureReasons))
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
        let basis = person.hadJudicialMeasure && random.chance(0.7) ? "judicial"
            : person.hadReferral && random.chance(0.6) ? "referral" : person.area == "poverty" && random.chance(0.4) ? "adi" : "request"
        let version = add(&person, &batch, "TakenInCharge", [("date", date(batch.day)), ("basis", .string(basis))])
        person.rectifiable.append(Rectifiable(version: version, field: "date", old: CalendarDate(daysSinceEpoch: batch.day).description, kind: .date))
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
        let outcome = random.weighted([(45, "simple_pact"), (35, "in_depth_assessment"), (10, "specialist_services"), (10, "employment_centre")])!
        var data: [(key: String, value: JSON)] = [("outcome", .string(outcome)), ("date", date(batch.day))]
        if random.chance(0.7) { data.append(("summary", .string(note(Texts.summary(person, &random))))) }
        add(&person, &batch, "PreliminaryAnalysisCompleted", data)
        person.stage = outcome == "in_depth_assessment" ? .inDepth : .planning
        return .after(days: random.between(5, 30))
    }

    mutating func inDepth(_ person: inout Person, _ batch: inout Batch) -> Next {
        let team = ["assistente_sociale"] + Array(["psicologo_asp", "educatore", "medico_mmg", "npi_asp", "operatore_cpi", "mediatore_culturale"]
            .shuffledPrefix(random.between(1, 3), &random))
        let dimensions = Array(["salute", "abitazione", "lavoro", "istruzione", "relazioni_familiari", "reddito", "autonomia"]
            .shuffledPrefix(random.between(2, 4), &random))
        var data: [(key: String, value: JSON)] = [
            ("team", .array(team.map(JSON.string))), ("dimensions", .array(dimensions.map(JSON.string))),
            ("instrument", .string(person.area == "elderly" || person.area == "disability" ? random.pick(["svama", "svamdi", "icf"])
                : random.pick(["gepi_quadro", "icf", "other"]))),
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
        add(&person, &batch, "PlanSigned", [
            ("plan", .number(String(draft))), ("date", date(batch.day)),
            ("signatories", .array([.string(note("\(person.givenName) \(person.familyName)")), .string(note("A.S. " + random.pick(Places.professionals)))])),
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
                ("reason", .string(random.pick(["hospitalisation", "temporarily_away", "person_request", "other"]))),
            ]
            if random.chance(0.6) { data.append(("notes", .string(note(Texts.suspension(person, &random))))) }
            add(&person, &batch, "CaseSuspended", data)
            person.beforeSuspension = person.phase
            person.phase = .suspended
            person.suspendedOnce = true
            person.stage = .suspended
            return .after(days: random.between(20, 90))
        }
        enum Move { case start, deliver, suspendIntervention, resume, endEarly, request, review, schedule, conclude, reviewGoal, setGoal,
                    closeGoal, breach, revise, consent, withdraw, manager, judicial, contact, referral }
        let requested = person.interventions(in: .requested), running = person.interventions(in: .active)
        let suspended = person.interventions(in: .suspended)
        let appointmentDue = person.appointment.map { $0.date <= batch.day } ?? false
        let reviewDue = person.lastReview.map { batch.day - $0 >= 60 } ?? true
        let move = random.weighted([
            (requested.isEmpty ? 0 : 6, Move.start), (running.isEmpty ? 0 : 5, .deliver), (running.isEmpty ? 0 : 0.4, .suspendIntervention),
            (suspended.isEmpty ? 0 : 3, .resume), (person.openInterventions.isEmpty ? 0 : 0.3, .endEarly),
            (person.signedPlans.isEmpty || person.openInterventions.count >= 3 ? 0 : (person.openInterventions.isEmpty ? 3 : 0.8), .request),
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
            add(&person, &batch, "InterventionSuspended", [
                ("intervention", .number(String(intervention))), ("date", date(batch.day)),
                ("reason", .string(note(Texts.interventionSuspension(person, &random)))),
            ])
            person.interventions[intervention] = .suspended
        case .resume:
            let intervention = random.pick(suspended)
            add(&person, &batch, "InterventionResumed", [("intervention", .number(String(intervention))), ("date", date(batch.day))])
            person.interventions[intervention] = .active
        case .endEarly:
            endIntervention(&person, &batch, random.pick(person.openInterventions),
                            reason: random.pick(["dropped_out", "no_longer_eligible", "objectives_met", "other"]))
        case .request:
            let intervention = requestIntervention(&person, &batch, emergency: !emergencyCodes.isEmpty && random.chance(0.05))
            if random.chance(0.3) { startIntervention(&person, &batch, intervention) }
        case .review:
            var data: [(key: String, value: JSON)] = [("date", date(batch.day)), ("nextReviewDue", date(batch.day + 90))]
            if random.chance(0.8) { data.append(("findings", .string(note(Texts.reviewFindings(person, &random))))) }
            let version = add(&person, &batch, "ReviewHeld", data)
            person.rectifiable.append(Rectifiable(version: version, field: "nextReviewDue",
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
                ("status", .string(random.pick(["not_started", "in_progress", "in_progress", "partially_achieved", "achieved", "not_achieved"]))),
            ]
            if random.chance(0.6) { data.append(("notes", .string(note(Texts.goalNotes(person, &random))))) }
            add(&person, &batch, "GoalReviewed", data)
        case .setGoal:
            setGoal(&person, &batch)
        case .closeGoal:
            closeGoal(&person, &batch, random.pick(person.goals))
        case .breach:
            add(&person, &batch, "CommitmentBreached", [
                ("commitment", .string(note(Texts.commitment(person, &random)))), ("justified", .bool(random.chance(0.4))),
            ])
        case .revise:
            add(&person, &batch, "PlanRevised", [
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
            let transfer = add(&person, &batch, "CaseTransferredOut", [
                ("toAmbito", .string(destination)), ("reason", .string(random.weighted([(6, "change_of_residence"), (2, "competence"), (1, "other")])!)),
            ])
            person.destination = destination
            person.beforeTransfer = person.phase
            person.phase = .transferredOut
            endInterventionsWithTheCase(&person)
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
            person.stage = .voidMistake(close(&person, &batch, reason: finalReason(person)))
            return .after(days: random.between(1, 20))
        }
        if person.profile.closeAndReopen, !person.reopened {
            close(&person, &batch, reason: finalReason(person))
            person.stage = .closedAwaitingReopen
            return .after(days: random.between(40, 200))
        }
        if person.profile.closeAtEnd { close(&person, &batch, reason: finalReason(person)) }
        return .done
    }

    /// Voids a closure or a transfer out recorded by mistake: the stream is folded again without
    /// it, so the case is where it was before (the generator ended its interventions and closed
    /// its goals before either, so nothing else comes back).
    mutating func voidMistake(_ person: inout Person, _ batch: inout Batch, _ ending: UInt64) -> Next {
        batch.actorRole = "coordinatore"
        add(&person, &batch, "Voided", [
            ("target", .number(String(ending))),
            ("reason", .string(person.phase == .closed ? "chiusura registrata per errore" : "trasferimento non dovuto: residenza non cambiata")),
            ("authorisingAct", .string("Disposizione del responsabile del servizio prot. n. \(random.between(100, 9_999))/\(CalendarDate(daysSinceEpoch: batch.day).year)")),
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
            close(&person, &batch, reason: finalReason(person))
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
                add(&person, &batch, "PlanRevised", [
                    ("plan", .number(String(plan))), ("date", date(batch.day)), ("changes", .string(note(Texts.planChanges(person, &random)))),
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
        let origin = person.ambito, destination = person.destination!
        let operators = operatorsOf(destination)
        batch.actorAmbito = destination
        batch.actorOperator = random.pick(operators)
        add(&person, &batch, "CaseTransferredIn", [
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
        let source = person.isMinor ? random.pick(["school", "asl", "police", "tribunale", "family"])
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
        let authority = person.isMinor ? random.pick(["tribunale_minorenni", "procura_minorenni", "tribunale_minorenni"])
            : random.pick(["tribunale_ordinario", "giudice_tutelare", "other"])
        let measure = person.isMinor ? random.pick(["protection_order", "custody", "supervision", "placement", "limitation_of_parental_responsibility"])
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
        if random.chance(0.7) { data.append(("role", .string(random.weighted([(8, "assistente_sociale"), (1, "educatore"), (1, "psicologo")])!))) }
        add(&person, &batch, "CaseManagerAssigned", data)
    }

    mutating func scheduleAppointment(_ person: inout Person, _ batch: inout Batch, inDays days: Int) {
        let day = min(batch.day + days, lastDay)
        var data: [(key: String, value: JSON)] = [("date", date(day))]
        if random.chance(0.6) { data.append(("place", .string(note(Texts.place(person, &random))))) }
        let version = add(&person, &batch, "AppointmentScheduled", data)
        person.appointment = (version, day)
        person.rectifiable.append(Rectifiable(version: version, field: "date", old: CalendarDate(daysSinceEpoch: day).description, kind: .date))
    }

    mutating func appointmentHeld(_ person: inout Person, _ batch: inout Batch, _ appointment: UInt64) {
        var data: [(key: String, value: JSON)] = [("appointment", .number(String(appointment))), ("date", date(batch.day))]
        if random.chance(0.6) {
            data.append(("attendees", .array([.string(note("\(person.givenName) \(person.familyName)")),
                                             .string(note("A.S. " + random.pick(Places.professionals)))])))
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
            data.append(("domain", .string(random.pick(["income", "housing", "employment", "education", "health", "family", "autonomy", "social_inclusion"]))))
        }
        person.goals.append(add(&person, &batch, "GoalSet", data))
    }

    mutating func closeGoal(_ person: inout Person, _ batch: inout Batch, _ goal: UInt64) {
        add(&person, &batch, "GoalClosed", [
            ("goal", .number(String(goal))),
            ("achievement", .string(random.weighted([(4, "achieved"), (3, "partially_achieved"), (2, "not_achieved"), (1, "dropped")])!)),
        ])
        person.goals.removeAll { $0 == goal }
        if random.chance(0.5) { outcome(&person, &batch, refersTo: goal) }
    }

    mutating func outcome(_ person: inout Person, _ batch: inout Batch, refersTo target: UInt64) {
        var data: [(key: String, value: JSON)] = [
            ("refersTo", .number(String(target))), ("objectivesAchieved", .string(random.pick(["none", "some", "most", "all"]))),
        ]
        if random.chance(0.5) { data.append(("employment", .string(random.pick(["employed", "training", "unemployed", "not_applicable"])))) }
        if random.chance(0.6) { data.append(("autonomy", .string(random.pick(["improved", "unchanged", "worsened"])))) }
        add(&person, &batch, "OutcomeRecorded", data)
    }

    /// An intervention fitting the person's area (pronto intervento when `emergency`); returns its version.
    mutating func requestIntervention(_ person: inout Person, _ batch: inout Batch, emergency: Bool) -> UInt64 {
        let code = emergency ? random.pick(emergencyCodes) : interventionCode(for: person.area)
        let fundingLine: String = switch code {
        case "PIS", "CONTR-REDD", "SEGR": random.pick(["fondo_poverta", "comunale"])
        case "SAD", "ADI": random.pick(["fna", "comunale", "regionale"])
        case "TIS": random.pick(["fondo_poverta", "pnrr", "adi"])
        case "CONTR-CASA": random.pick(["comunale", "regionale"])
        default: random.pick(["fnps", "comunale", "regionale", "pnrr", "other"])
        }
        var data: [(key: String, value: JSON)] = [
            ("code", .string(code)), ("provider", .string(random.pick(Places.providers))), ("fundingLine", .string(fundingLine)),
        ]
        if random.chance(0.4) { data.append(("notes", .string(note(Texts.interventionNotes(person, &random))))) }
        let version = add(&person, &batch, "InterventionRequested", data)
        person.interventions[version] = .requested
        person.interventionCodes[version] = code
        if emergency { person.hadEmergency = true }
        return version
    }

    /// A code the person's area usually gets, or now and then any ordinary one.
    mutating func interventionCode(for area: String) -> String {
        let preferred: [String] = switch area {
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
        let version = add(&person, &batch, "InterventionStarted", [("intervention", .number(String(intervention))), ("date", date(batch.day))])
        person.interventions[intervention] = .active
        person.rectifiable.append(Rectifiable(version: version, field: "date", old: CalendarDate(daysSinceEpoch: batch.day).description, kind: .date))
    }

    mutating func deliver(_ person: inout Person, _ batch: inout Batch, _ intervention: UInt64) {
        let code = person.interventionCodes[intervention] ?? ""
        var data: [(key: String, value: JSON)] = [("intervention", .number(String(intervention))), ("date", date(batch.day - random.between(0, 6)))]
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
        let version = add(&person, &batch, "InterventionEnded", [
            ("intervention", .number(String(intervention))), ("date", date(batch.day)), ("reason", .string(reason)),
        ])
        person.interventions[intervention] = .ended
        person.rectifiable.append(Rectifiable(version: version, field: "reason", old: reason, kind: .interventionEndReason))
        if random.chance(0.6) { outcome(&person, &batch, refersTo: intervention) }
    }

    @discardableResult
    mutating func close(_ person: inout Person, _ batch: inout Batch, reason: String) -> UInt64 {
        var data: [(key: String, value: JSON)] = [("reason", .string(reason)), ("date", date(batch.day))]
        if random.chance(0.6) { data.append(("situation", .string(note(Texts.closingSituation(person, &random))))) }
        let version = add(&person, &batch, "CaseClosed", data)
        person.beforeClosure = person.phase
        person.phase = .closed
        person.appointment = nil
        person.pendingEmergency = nil
        endInterventionsWithTheCase(&person)
        return version
    }

    /// A closure or a transfer out ends the interventions still open; a void of it brings them back.
    func endInterventionsWithTheCase(_ person: inout Person) {
        person.endedWithTheCase = person.interventions.filter { $0.value != .ended }
        for intervention in person.endedWithTheCase.keys { person.interventions[intervention] = .ended }
    }

    mutating func finalReason(_ person: Person) -> String {
        var options: [(weight: Double, value: String)] = closureReasons.map { reason in
            let weight: Double = switch reason {
            case "needs_resolved": 8
            case "family_request": 2
            case "untraceable": 2
            case "transferred_other_region", "transferred_same_region": 1.5
            case "came_of_age": person.isMinor ? 4 : 0
            case "repatriation": person.origin == .italian ? 0 : 2
            case "death": person.birthYear < 1955 ? 3 : 0.1
            default: 1
            }
            return (weight, reason)
        }
        if options.allSatisfy({ $0.weight <= 0 }) { options = closureReasons.map { (1, $0) } }
        return random.weighted(options)!
    }

    // MARK: Corrections

    /// A rectification, a voiding (a delivery voided is recorded again, right), a restriction or
    /// its lifting — whichever has a target. False when none has.
    mutating func correct(_ person: inout Person, _ batch: inout Batch) -> Bool {
        enum Correction { case rectify, void, restrict, lift }
        guard let correction = random.weighted([
            (person.rectifiable.isEmpty ? 0 : 3, Correction.rectify), (person.voidable.isEmpty ? 0 : 2, .void),
            (person.restrictable.isEmpty ? 0 : 1.5, .restrict), (person.restrictions.isEmpty ? 0 : 3, .lift),
        ]) else { return false }
        batch.actorRole = random.chance(0.5) ? "coordinatore" : "assistente_sociale"
        let authoriser = random.pick(operatorsOf(person.ambito))
        switch correction {
        case .rectify:
            let index = random.below(person.rectifiable.count)
            let target = person.rectifiable[index]
            let new: String
            var reason = "errore materiale nella registrazione"
            switch target.kind {
            case .date:
                let old = CalendarDate(target.old)!.daysSinceEpoch
                new = CalendarDate(daysSinceEpoch: max(firstDay, min(old + random.pick([-3, -2, -1, 1, 2]), lastDay))).description
                reason = "data trascritta in modo errato"
            case .address:
                new = note("\(random.pick(Places.streets)) \(random.between(1, 180)), \(person.residence.postcode) \(person.residence.name)")
                reason = "cambio di indirizzo comunicato dall'interessato"
            case .phone:
                new = note(phoneNumber())
                reason = "recapito aggiornato su richiesta dell'interessato"
            case .interventionEndReason:
                new = random.pick(["completed", "objectives_met", "dropped_out", "no_longer_eligible", "other"].filter { $0 != target.old })
                reason = "motivo di chiusura corretto dopo verifica"
            }
            var data: [(key: String, value: JSON)] = [("target", .number(String(target.version))), ("field", .string(target.field)),
                                                       ("newValue", .string(new))]
            if random.chance(0.8) { data.append(("oldValue", .string(target.old))) }
            data += [("reason", .string(reason)), ("authorisedBy", .string(authoriser))]
            add(&person, &batch, "Rectified", data)
            person.rectifiable[index].old = new
        case .void:
            voidEntry(&person, &batch, person.voidable[random.below(person.voidable.count)])
        case .restrict:
            // A restricted entry may still be voided: the restriction holds on the voided entry.
            // Contested contacts and referrals most of all (and those may later be voided too).
            let contested = person.restrictable.indices.filter { person.voidable.contains(person.restrictable[$0]) }
            let target = person.restrictable.remove(at: !contested.isEmpty && random.chance(0.5) ? random.pick(contested)
                                                        : random.below(person.restrictable.count))
            let ground = random.pick(["accuracy_contested", "unlawful_processing", "legal_claims", "objection_pending"])
            let restriction = add(&person, &batch, "Restricted", [("target", .number(String(target))), ("ground", .string(ground))])
            person.restrictions[restriction] = target
            // Contested, checked, found wrong: the entry is voided (the restriction holds on it).
            if person.voidable.contains(target), ground == "accuracy_contested" || random.chance(0.3) { person.pendingVoid = target }
        case .lift:
            let restriction = random.pick(person.restrictions.keys.sorted())
            person.restrictions[restriction] = nil
            add(&person, &batch, "RestrictionLifted", [
                ("restriction", .number(String(restriction))),
                ("reason", .string(random.pick(["esattezza verificata", "opposizione respinta", "contenzioso concluso"]))),
            ])
        }
        return true
    }

    /// Voids a contact, referral, delivery or breach (a delivery is recorded again, right, while
    /// its intervention runs).
    mutating func voidEntry(_ person: inout Person, _ batch: inout Batch, _ target: UInt64) {
        batch.actorRole = "coordinatore"
        person.voidable.removeAll { $0 == target }
        person.restrictable.removeAll { $0 == target }
        add(&person, &batch, "Voided", [
            ("target", .number(String(target))),
            ("reason", .string(random.pick(["registrazione duplicata", "registrata sulla persona sbagliata", "dati non corrispondenti al verbale"]))),
            ("authorisingAct", .string("Disposizione del responsabile del servizio prot. n. \(random.between(100, 9_999))/\(CalendarDate(daysSinceEpoch: batch.day).year)")),
        ])
        if person.phase == .takenInCharge, let running = person.interventions(in: .active).first, random.chance(0.6) {
            deliver(&person, &batch, running)
        }
    }
}

extension Array {
    /// `count` elements in a random order (fewer if the array is shorter).
    func shuffledPrefix(_ count: Int, _ random: inout WorkloadRandom) -> [Element] {
        var elements = self
        var result: [Element] = []
        while result.count < count, !elements.isEmpty { result.append(elements.remove(at: random.below(elements.count))) }
        return result
    }
}

func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
}
