import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// The state of every person's case, and what follows from it: the caseload per operator and
/// per ambito, the reviews due, and one row per case file for the Region's indicators. One
/// projection, because all of them follow from the same fold of the path rules (`CaseState`,
/// the rules' own state: what the rules accept, the read model shows).
///
/// Tables:
/// - `persons`: pseudonym → compact JSON of the case state (`phase`, `ambito`, `caseManager`,
///   `takenInChargeOn`, `nextReviewDue`, `caseFiles`, `erased`, `hasPreliminaryAnalysis`,
///   `hasInDepthAssessment`, `signedPlan`, `openInterventions`).
/// - `caseload`: `"ambito" ‖ 0x00 ‖ code` or `"operator" ‖ 0x00 ‖ id` → two u64 BE counters:
///   open case files, and of those taken in charge. Open: opened, taken in charge or suspended.
/// - `reviews`: next review date `YYYY-MM-DD` ‖ 0x00 ‖ pseudonym → `ambito ‖ 0x00 ‖ operator`,
///   for open case files with a review due (overdue = keys before today, at query time).
/// - `caseFiles`: pseudonym ‖ case-file number (u32 BE, from 1) → compact JSON: `ambito`,
///   `openedOn`, `firstContactOn`, `takenInChargeOn`?, `planSignedOn`?, `assessed`, `closedOn`?,
///   `closureReason`?, `transferredOutOn`?, `outcomes` {objectivesAchieved → count},
///   `goalsAchieved`, `goalsClosed`.
public final class Cases: Projection {
    public static let name = "cases"
    public static let version = 1
    public static let tables = ["persons", "caseload", "reviews", "caseFiles"]
    static let persons = 0
    static let caseload = 1
    static let reviews = 2
    static let caseFiles = 3

    /// Persons seen recently: their case state and case files, so that an entry costs O(1) and
    /// not a fold of the whole stream. A miss folds the stream's earlier entries from the log.
    private var cache: [Pseudonym: PersonCase] = [:]
    static let cacheCapacity = 20_000
    /// Persons whose shown state may have changed in this batch: their `persons` rows are
    /// written once, when the batch ends, not after each of their entries.
    private var changed: [Pseudonym: PersonCase] = [:]
    /// Persons whose entry at this position failed: their row is the fold of the entries before it.
    private var failedAt: [Pseudonym: UInt64] = [:]

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        guard case .person(let person) = event.subject, event.fact != nil else { return }
        do {
            try apply(event, person: person, to: &rows)
        } catch {
            // The cached case may have moved past the entry the rows roll back: fold it again.
            cache.removeValue(forKey: person)
            changed.removeValue(forKey: person)
            failedAt[person] = event.position
            throw error
        }
    }

    public func finishBatch(_ rows: inout ProjectionRows) throws {
        for (person, position) in failedAt {
            let before = PersonCase(try rows.log.events(of: person.stream, before: position))
            // A person whose first entry failed has no row, as before the batch.
            if before.entries > 0 { changed[person] = before }
        }
        failedAt.removeAll()
        for (person, personCase) in changed {
            let shown = personCase.shownState
            if shown != personCase.storedState {
                rows.put(Self.persons, person.bytes, shown.row)
                personCase.storedState = shown
            }
        }
        changed.removeAll(keepingCapacity: true)
    }

    private func apply(_ event: ProjectedEvent, person: Pseudonym, to rows: inout ProjectionRows) throws {
        let personCase: PersonCase
        if let hit = cache[person] {
            personCase = hit
        } else {
            // A miss folds the stream's earlier entries, which a first entry does not have.
            let earlier = event.streamVersion == 1 ? [] : try rows.log.events(of: person.stream, before: event.position)
            personCase = cached(PersonCase(earlier), for: person)
        }
        guard UInt64(personCase.entries) + 1 == event.streamVersion else {
            throw ProjectionFailure(
                "entry at position \(event.position) is version \(event.streamVersion) of its stream, expected \(personCase.entries + 1)")
        }
        let before = personCase.load
        let caseFilesBefore = personCase.files.count
        personCase.add(event)

        changed[person] = personCase
        try Self.move(person, from: before, to: personCase.load, in: &rows)
        if event.kind == .voided {
            for (index, file) in personCase.files.enumerated() { rows.put(Self.caseFiles, Self.caseFileKey(person, index + 1), file.bytes) }
            if caseFilesBefore > personCase.files.count {
                for number in (personCase.files.count + 1)...caseFilesBefore {
                    rows.delete(Self.caseFiles, Self.caseFileKey(person, number))
                }
            }
        } else if PersonCase.caseFileKinds.contains(event.kind), personCase.counts(event.streamVersion) {
            // Any other entry changes at most the newest case file.
            if let file = personCase.files.last { rows.put(Self.caseFiles, Self.caseFileKey(person, personCase.files.count), file.bytes) }
        }
    }

    private func cached(_ personCase: PersonCase, for person: Pseudonym) -> PersonCase {
        if cache.count >= Self.cacheCapacity {
            for key in cache.keys.prefix(Self.cacheCapacity / 10) { cache.removeValue(forKey: key) }
        }
        cache[person] = personCase
        return personCase
    }

    static func caseFileKey(_ person: Pseudonym, _ number: Int) -> [UInt8] {
        var key = person.bytes
        BigEndian.append(UInt32(number), to: &key)
        return key
    }

    static func caseloadKey(_ kind: String, _ id: String) -> [UInt8] { Array(kind.utf8) + [0] + Array(id.utf8) }

    static func reviewKey(_ due: CalendarDate, _ person: Pseudonym) -> [UInt8] { Array(due.description.utf8) + [0] + person.bytes }

    /// Moves the person's contribution to the caseload and the reviews due.
    private static func move(_ person: Pseudonym, from old: Load?, to new: Load?, in rows: inout ProjectionRows) throws {
        guard old != new else { return }
        for (load, sign) in [(old, Int64(-1)), (new, Int64(1))] {
            guard let load, load.open else { continue }
            let counts = [sign, load.takenInCharge ? sign : 0]
            if let ambito = load.ambito { try rows.add(caseload, caseloadKey("ambito", ambito), counts) }
            if let manager = load.caseManager { try rows.add(caseload, caseloadKey("operator", manager), counts) }
        }
        if old?.reviewDue != new?.reviewDue || old?.ambito != new?.ambito || old?.caseManager != new?.caseManager {
            if let due = old?.reviewDue { rows.delete(reviews, reviewKey(due, person)) }
            if let new, let due = new.reviewDue {
                rows.put(reviews, reviewKey(due, person), Array((new.ambito ?? "").utf8) + [0] + Array((new.caseManager ?? "").utf8))
            }
        }
    }
}

/// What one person adds to the caseload and the review calendar.
struct Load: Equatable {
    var ambito: String?
    var caseManager: String?
    var open: Bool
    var takenInCharge: Bool
    var reviewDue: CalendarDate?
}

/// One person's case state and case files, extended entry by entry (the path rules' own fold).
/// A class: the cache holds it and entries extend it in place.
final class PersonCase {
    /// The facts of the stream's entries so far, oldest first (a Voided folds them all again:
    /// it changes the past).
    private var facts: [CaseFact] = []
    /// What the case files need of the entries of `caseFileKinds` (a few in ten), oldest first.
    private var caseFileInputs: [CaseFileInput] = []
    private var state = CaseState()
    /// The person's case files, from the entries that still count.
    private(set) var files: [CaseFileRecord] = []
    /// The earliest contact or referral since the last case file ended, for the next one.
    private var firstContact: String?
    /// The state as last written, at the end of a batch (unchanged since: no write).
    var storedState: ShownState?

    /// Entries of the stream folded.
    var entries: Int { facts.count }

    // Read field by field: the whole `state` handed to a function is copied (a retain and a
    // release of each of its collections).
    var shownState: ShownState {
        ShownState(
            phase: state.phase, ambito: state.ambito, caseManager: state.caseManager, takenInChargeOn: state.takenInChargeOn,
            nextReviewDue: state.nextReviewDue, caseFiles: state.episodes, erased: state.erased,
            hasPreliminaryAnalysis: state.hasPreliminaryAnalysis, hasInDepthAssessment: state.hasInDepthAssessment,
            signedPlan: !state.signedPlans.isEmpty, openInterventions: state.openInterventions)
    }

    func counts(_ version: UInt64) -> Bool { state.counts(version) }

    /// The case folded from a stream's entries so far, oldest first.
    init(_ events: [ProjectedEvent]) {
        for event in events {
            facts.append(Self.fact(event))
            if let input = Self.caseFileInput(event) { caseFileInputs.append(input) }
        }
        state = CaseState.fold(facts)
        recomputeCaseFiles()
    }

    /// The next entry of the stream.
    func add(_ event: ProjectedEvent) {
        let fact = Self.fact(event)
        facts.append(fact)
        let input = Self.caseFileInput(event)
        if let input { caseFileInputs.append(input) }
        if fact.kind == .voided {
            // The void may take back any earlier entry: fold again, and derive every case file again.
            state = CaseState.fold(facts)
            recomputeCaseFiles()
        } else {
            state.absorb(fact)
            if let input, state.counts(event.streamVersion) { absorbIntoCaseFiles(input) }
        }
    }

    private static func fact(_ event: ProjectedEvent) -> CaseFact {
        event.fact ?? CaseFact(version: event.streamVersion, kind: event.kind)
    }

    /// Only the types that change a case file need the entry's day and code.
    private static func caseFileInput(_ event: ProjectedEvent) -> CaseFileInput? {
        guard caseFileKinds.contains(event.kind) else { return nil }
        return CaseFileInput(
            fact: fact(event), day: event.day,
            code: (event.data("reason") ?? event.data("objectivesAchieved") ?? event.data("achievement"))?.string)
    }

    /// What the case files need of an entry of `caseFileKinds`: its fact, its day and its
    /// closure or outcome code.
    struct CaseFileInput {
        let fact: CaseFact
        let day: String?
        let code: String?
    }

    private func recomputeCaseFiles() {
        files = []
        firstContact = nil
        for input in caseFileInputs where state.counts(input.fact.version) { absorbIntoCaseFiles(input) }
    }

    /// The types that can change a case file.
    static let caseFileKinds = EventKinds(
        .accessContactRecorded, .referralReceived, .caseOpened, .caseTransferredIn, .caseTransferredOut, .takenInCharge,
        .preliminaryAnalysisCompleted, .inDepthAssessmentCompleted, .planSigned, .caseClosed, .caseReopened,
        .outcomeRecorded, .goalClosed, .rectified)

    var load: Load? {
        switch state.phase {
        case .opened, .takenInCharge, .suspended: if state.erased { return nil }
        default: return nil
        }
        return Load(
            ambito: state.ambito, caseManager: state.caseManager, open: true,
            takenInCharge: state.takenInChargeOn != nil, reviewDue: state.nextReviewDue)
    }

    /// What the entry (one that counts) does to the case files.
    private func absorbIntoCaseFiles(_ input: CaseFileInput) {
        let (fact, day, code) = (input.fact, input.day, input.code)
        let last = files.count - 1
        let open = files.last.map { $0.closedOn == nil && $0.transferredOutOn == nil } ?? false
        switch fact.kind {
        case .accessContactRecorded, .referralReceived:
            if !open, let day { firstContact = min(firstContact ?? day, day) }
        case .caseOpened, .caseTransferredIn:
            files.append(CaseFileRecord(ambito: fact.ambito ?? "", openedOn: day ?? "", firstContactOn: firstContact ?? day ?? ""))
            firstContact = nil
        case .takenInCharge where last >= 0: files[last].takenInChargeOn = fact.date?.description
        case .rectified where last >= 0:
            // A rectified date of the presa in carico moves the indicators (the original stays in the log).
            if fact.field == "date", let target = fact.reference, target == state.takenInChargeVersion,
                let date = fact.newValue.flatMap(CalendarDate.init)
            {
                files[last].takenInChargeOn = date.description
            }
        case .preliminaryAnalysisCompleted, .inDepthAssessmentCompleted: if last >= 0 { files[last].assessed = true }
        case .planSigned where last >= 0:
            if files[last].planSignedOn == nil { files[last].planSignedOn = fact.date?.description }
        case .caseClosed where last >= 0:
            files[last].closedOn = fact.date?.description ?? day
            files[last].closureReason = code
        case .caseReopened where last >= 0:
            files[last].closedOn = nil
            files[last].closureReason = nil
        case .caseTransferredOut where last >= 0: files[last].transferredOutOn = day
        case .outcomeRecorded where last >= 0: files[last].outcomes[code ?? "unknown", default: 0] += 1
        case .goalClosed where last >= 0:
            files[last].goalsClosed += 1
            if code == "achieved" { files[last].goalsAchieved += 1 }
        default: break
        }
    }
}

/// What a `persons` row shows of a case state (see `Cases`).
public struct ShownState: Sendable, Equatable {
    public let phase: CasePhase
    public let ambito: String?
    public let caseManager: String?
    public let takenInChargeOn: CalendarDate?
    public let nextReviewDue: CalendarDate?
    public let caseFiles: Int
    public let erased: Bool
    public let hasPreliminaryAnalysis: Bool
    public let hasInDepthAssessment: Bool
    public let signedPlan: Bool
    public let openInterventions: [UInt64]

    init(
        phase: CasePhase, ambito: String?, caseManager: String?, takenInChargeOn: CalendarDate?, nextReviewDue: CalendarDate?,
        caseFiles: Int, erased: Bool, hasPreliminaryAnalysis: Bool, hasInDepthAssessment: Bool, signedPlan: Bool,
        openInterventions: [UInt64]
    ) {
        self.phase = phase
        self.ambito = ambito
        self.caseManager = caseManager
        self.takenInChargeOn = takenInChargeOn
        self.nextReviewDue = nextReviewDue
        self.caseFiles = caseFiles
        self.erased = erased
        self.hasPreliminaryAnalysis = hasPreliminaryAnalysis
        self.hasInDepthAssessment = hasInDepthAssessment
        self.signedPlan = signedPlan
        self.openInterventions = openInterventions
    }

    /// Reads a `persons` row back (`row` wrote it); nil if it is not one.
    init?(row: [UInt8]) {
        guard let json = try? JSON.parse(row), let phase = json["phase"]?.string.flatMap(CasePhase.init(rawValue:)),
            let caseFiles = json["caseFiles"]?.int, let erased = json["erased"]?.bool,
            let preliminary = json["hasPreliminaryAnalysis"]?.bool, let inDepth = json["hasInDepthAssessment"]?.bool,
            let signedPlan = json["signedPlan"]?.bool, let open = json["openInterventions"]?.array
        else { return nil }
        let interventions = open.compactMap(\.uint64)
        guard interventions.count == open.count else { return nil }
        func date(_ key: String) -> CalendarDate? { json[key]?.string.flatMap(CalendarDate.init) }
        self.init(
            phase: phase, ambito: json["ambito"]?.string, caseManager: json["caseManager"]?.string,
            takenInChargeOn: date("takenInChargeOn"), nextReviewDue: date("nextReviewDue"), caseFiles: caseFiles,
            erased: erased, hasPreliminaryAnalysis: preliminary, hasInDepthAssessment: inDepth, signedPlan: signedPlan,
            openInterventions: interventions)
    }

    var row: [UInt8] {
        var json = JSONBytes(capacity: 256)
        json.raw("{\"phase\":")
        json.string(phase.rawValue)
        for (key, value) in [
            ("ambito", ambito), ("caseManager", caseManager),
            ("takenInChargeOn", takenInChargeOn?.description), ("nextReviewDue", nextReviewDue?.description),
        ] {
            guard let value else { continue }
            json.raw(",")
            json.string(key)
            json.raw(":")
            json.string(value)
        }
        json.raw(",\"caseFiles\":")
        json.number(caseFiles)
        json.raw(",\"erased\":")
        json.bool(erased)
        json.raw(",\"hasPreliminaryAnalysis\":")
        json.bool(hasPreliminaryAnalysis)
        json.raw(",\"hasInDepthAssessment\":")
        json.bool(hasInDepthAssessment)
        json.raw(",\"signedPlan\":")
        json.bool(signedPlan)
        json.raw(",\"openInterventions\":[")
        for (index, version) in openInterventions.enumerated() {
            if index > 0 { json.raw(",") }
            json.number(version)
        }
        json.raw("]}")
        return json.bytes
    }
}

struct CaseFileRecord {
    var ambito: String
    var openedOn: String
    var firstContactOn: String
    var takenInChargeOn: String?
    var planSignedOn: String?
    var assessed = false
    var closedOn: String?
    var closureReason: String?
    var transferredOutOn: String?
    var outcomes: [String: Int] = [:]
    var goalsAchieved = 0
    var goalsClosed = 0

    init(ambito: String, openedOn: String, firstContactOn: String) {
        self.ambito = ambito
        self.openedOn = openedOn
        self.firstContactOn = firstContactOn
    }

    var bytes: [UInt8] {
        var json = JSONBytes(capacity: 256)
        json.raw("{")
        for (index, (key, value)) in [
            ("ambito", ambito), ("openedOn", openedOn), ("firstContactOn", firstContactOn),
            ("takenInChargeOn", takenInChargeOn), ("planSignedOn", planSignedOn),
        ].enumerated() {
            guard let value else { continue }
            if index > 0 { json.raw(",") }
            json.string(key)
            json.raw(":")
            json.string(value)
        }
        json.raw(",\"assessed\":")
        json.bool(assessed)
        for (key, value) in [("closedOn", closedOn), ("closureReason", closureReason), ("transferredOutOn", transferredOutOn)] {
            guard let value else { continue }
            json.raw(",")
            json.string(key)
            json.raw(":")
            json.string(value)
        }
        json.raw(",\"outcomes\":{")
        for (index, key) in outcomes.keys.sorted().enumerated() {
            if index > 0 { json.raw(",") }
            json.string(key)
            json.raw(":")
            json.number(outcomes[key]!)
        }
        json.raw("},\"goalsAchieved\":")
        json.number(goalsAchieved)
        json.raw(",\"goalsClosed\":")
        json.number(goalsClosed)
        json.raw("}")
        return json.bytes
    }
}
