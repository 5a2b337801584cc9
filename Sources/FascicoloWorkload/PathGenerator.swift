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
    /// Persons erased on request along their path (about 4 %). Each erasure seals every other
    /// person's key again (a records.key rotation), so a population of 100,000 built with them
    /// spends hours rotating; the retention benchmark turns them off and erases in batches.
    /// The draws are the same either way: only the erasure steps are left out.
    public var erasesOnRequest: Bool {
        get { engine.erasesOnRequest }
        set { engine.erasesOnRequest = newValue }
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
    public init(
        seed: UInt64, persons: Int, ambiti: [String], interventionCodes: [String], emergencyCodes: Set<String>,
        closureReasons: [String], userAreas: [String], firstDay: String = "2024-01-01", lastDay: String = "2026-06-30"
    ) {
        precondition(persons >= 0 && !ambiti.isEmpty && !closureReasons.isEmpty && !userAreas.isEmpty)
        precondition(interventionCodes.contains { !emergencyCodes.contains($0) }, "at least one ordinary intervention code")
        guard let first = CalendarDate(firstDay), let last = CalendarDate(lastDay), first < last else {
            preconditionFailure("firstDay and lastDay are dates, firstDay first")
        }
        self.seed = seed
        engine = Engine(
            seed: seed, ambiti: ambiti, interventionCodes: interventionCodes, emergencyCodes: emergencyCodes,
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
        self.init(
            seed: seed, persons: persons, ambiti: codes(.ambiti), interventionCodes: reference.interventions.keys.sorted(),
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
