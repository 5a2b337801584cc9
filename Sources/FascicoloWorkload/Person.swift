import FascicoloDomain
import FascicoloJSON

// MARK: - Persons

/// The pieces of a person's case state the generator must follow to stay on the path rules'
/// side (a mirror of what `CaseState` folds from the stream, for the steps generated here).
enum Phase: Sendable { case noCase, opened, takenInCharge, suspended, closed, transferredOut }

enum Stage: Sendable {
    case register
    case intake(remaining: Int)
    case openCase, preCharge, assessment, inDepth, planning, signing, active, winding,
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
    /// A date that may not move earlier: the presa in carico is not dated before the case's opening.
    var onlyLater = false
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
    /// The day each intervention started: no delivery is dated before it.
    var interventionStartDays: [UInt64: Int] = [:]
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
    /// Legal holds in force: their LegalHoldPlaced versions, oldest first.
    var holds: [UInt64] = []
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
                let left = 2 * parent + 1
                let right = left + 1
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
