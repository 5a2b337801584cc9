import FascicoloConcurrency
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage
import Glibc
import Logging
import Synchronization

/// The fascicolo sociale on top of the ledger: records events for a person identified by
/// codice fiscale (validated against the catalogue, the reference data and the path rules, with
/// personal fields sealed under the person's data key), serves the person's case file (every
/// read recorded as a RecordAccessed entry), and executes erasures.
///
/// Streams: `person:<pseudonym>` holds the person's case file; `access:<pseudonym>` who read it.
public final class CaseFiles: Sendable {
    public let ledger: Ledger
    public let reference: ReferenceData
    public let limits: Limits
    let pseudonymizer: Pseudonymizer
    public let keys: PersonKeys
    /// Provisional, STP and ENI records later linked to a codice fiscale: the codice fiscale's
    /// pseudonym → the pseudonym whose stream holds the case file.
    let aliases: SideTable
    /// Each person's codice fiscale, sealed with their own data key (the SIUSS feed needs it).
    let identities: PersonIdentities
    let histories = HistoryCache()
    /// Appends to one person's stream are checked and submitted one at a time: racing them would
    /// only make all but one fail their version check and start again.
    let turns = TurnQueue()
    let logger: Logger
    /// The side table of `aliases`.
    static let aliasesTableName = "person_aliases"

    public struct Limits: Sendable {
        /// Events in one domain append.
        public var eventsPerRequestMax = 100
        /// Entries returned by one case-file read.
        public var entriesPerReadMax = 1_000
        /// How many days after today (UTC, on the ledger's wall clock) an event may still be dated:
        /// one, for a client whose day has begun before UTC's.
        public var futureToleranceDays = 1
        public init() {}
    }

    /// Opens the domain layer over an open ledger of `directory`, creating `pseudonym.key` and
    /// `records.key` (mode 0600) on first use. Refuses to create them for a log that already has
    /// person streams: data sealed or pseudonymised under lost keys would be lost for good.
    public static func open(
        ledger: Ledger, directory: String, reference: ReferenceData, limits: Limits = Limits(),
        logger: Logger = Logger(label: "fascicolo.domain")
    ) throws -> CaseFiles {
        let hasPeople = try ledger.read { log in try log.hasStream(withPrefix: Pseudonym.personPrefix) }
        for name in [Pseudonymizer.keyFileName, PersonKeys.masterKeyFileName] where hasPeople && access(directory + "/" + name, F_OK) != 0 {
            throw DomainKeyProblem.missing(path: directory + "/" + name)
        }
        try PersonKeys.finishInterruptedRotation(directory: directory, ledger: ledger)
        let pseudonymKey = try KeyFile.loadOrCreateSecret(directory: directory, name: Pseudonymizer.keyFileName, create: true)
        let masterKey = try KeyFile.loadOrCreateSecret(directory: directory, name: PersonKeys.masterKeyFileName, create: true)
        try DomainKeyProblem.checkOrRecord(
            pseudonymKey: pseudonymKey, masterKey: masterKey, ledger: ledger,
            directory: directory, hasPeople: hasPeople)
        let keys = try PersonKeys(ledger: ledger, directory: directory, masterKey: masterKey)
        // An erasure whose rotation did not finish before the daemon stopped: finished before
        // anything is served.
        if let count = try keys.rotateAfterErasure() {
            logger.notice("records.key rotated after an erasure (interrupted before)", metadata: ["rows": "\(count)"])
        }
        let aliases = try ledger.sideTable(named: aliasesTableName)
        return CaseFiles(
            ledger: ledger, reference: reference, limits: limits, pseudonymizer: Pseudonymizer(key: pseudonymKey),
            keys: keys, aliases: aliases, identities: try PersonIdentities(ledger: ledger), logger: logger)
    }

    private init(
        ledger: Ledger, reference: ReferenceData, limits: Limits, pseudonymizer: Pseudonymizer, keys: PersonKeys,
        aliases: SideTable, identities: PersonIdentities, logger: Logger
    ) {
        self.ledger = ledger
        self.reference = reference
        self.limits = limits
        self.pseudonymizer = pseudonymizer
        self.keys = keys
        self.aliases = aliases
        self.identities = identities
        self.logger = logger
    }

    /// The pseudonym whose stream holds `identifier`'s case file (following an identity link).
    public func pseudonym(for identifier: PersonIdentifier) throws -> Pseudonym {
        let own = pseudonymizer.pseudonym(for: identifier)
        guard let row = try ledger.read({ log in try log.value(in: aliases, key: own.bytes) }) else { return own }
        // A row that is not a pseudonym, or names a record that does not exist, is damage: never
        // fall back to a new, empty case file for this person.
        guard let linked = Pseudonym(bytes: row), try ledger.streamVersion(linked.stream) > 0 else {
            throw DamagedData(table: "person_aliases", what: "a row does not name an existing case file")
        }
        return linked
    }

    /// The person's facts and state at the stream's current version (cached, extended from the
    /// log when the stream has grown).
    /// `taking`: the history is removed from the cache (the caller holds the person's turn and
    /// puts it back once extended); otherwise it is left there, extended if the log had grown.
    func history(of person: Pseudonym, taking: Bool = false) throws -> CaseHistory {
        let stream = person.stream
        var history = (taking ? histories.take(stream) : histories.get(stream)) ?? CaseHistory()
        let current = try ledger.streamVersion(stream)
        guard UInt64(history.facts.count) != current else { return history }
        if UInt64(history.facts.count) > current { history = CaseHistory() }
        var newFacts: [CaseFact] = []
        // The person's key, read once, when an entry has personal fields the rules need.
        var key: SecretKey??
        while UInt64(history.facts.count + newFacts.count) < current {
            let from = UInt64(history.facts.count + newFacts.count) + 1
            let entries = try ledger.readStream(stream, from: from, limit: 1_000)
            guard !entries.isEmpty else { break }
            for entry in entries {
                var fact = fact(of: entry)
                if fact.needsPersonalFields {
                    if key == nil { key = .some(try keys.key(for: person)) }
                    if let personal = Self.openPersonal(entry, of: person, key: key ?? nil) { fact.adopt(personal: personal) }
                }
                newFacts.append(fact)
            }
        }
        history.extend(with: newFacts)
        if !taking { histories.put(stream, history) }
        return history
    }

    /// The fact of a stored entry (from its clear fields, upcast to the current schema).
    func fact(of entry: Entry) -> CaseFact {
        guard let stored = StoredEvent(payload: entry.payload), let schema = EventCatalogue.schema(entry.eventType) else {
            return CaseFact(version: entry.streamVersion, type: entry.eventType)
        }
        let data = schema.upcast(.object(stored.data), from: stored.schemaVersion)?.members ?? stored.data
        return CaseFact(
            version: entry.streamVersion, type: entry.eventType, data: data,
            reference: reference.versions[stored.codeTable], occurredAt: stored.occurredAt)
    }

    /// The personal fields of `entry` (of `person`'s stream), opened with `key`; nil when the
    /// entry has none or the key is gone (an erased person: what the rules read went with it).
    static func openPersonal(_ entry: Entry, of person: Pseudonym, key: SecretKey?) -> [(key: String, value: JSON)]? {
        guard let key, let sealed = StoredEvent(payload: entry.payload)?.sealed,
            let opened = key.open(sealed, associatedData: StoredEvent.sealAssociatedData(stream: person.stream, type: entry.eventType))
        else { return nil }
        return (try? JSON.parse(opened))?.members
    }

    /// Today (UTC) on the ledger's wall clock: nothing may be recorded as having happened after
    /// it, and reviews due before it are overdue. One clock for the log and the domain, so an
    /// event's date and its entry's `recordedAt` agree.
    public func today() -> CalendarDate {
        CalendarDate(daysSinceEpoch: ledger.wallClock.daysSinceEpoch)
    }

}

/// The domain's key files do not belong to this log. Each key leaves a check value in the
/// `meta` table the first time it is used (`pseudonym_key_check`: the first 16 bytes of
/// HMAC-SHA-256(pseudonym.key, "fascicolo/pseudonym-key-check/v1"); `records_key_check`: an
/// empty message sealed with records.key under associated data "fascicolo/records-key-check/v1"),
/// so that a wrong key is refused at start instead of silently making new pseudonyms or failing
/// to open every sealed field.
public enum DomainKeyProblem: Error, CustomStringConvertible, Sendable {
    case missing(path: String)
    case wrong(path: String)

    /// The `meta` row of pseudonym.key's check value.
    static let pseudonymCheckRow = "pseudonym_key_check"

    public var description: String {
        switch self {
        case .missing(let path):
            "key file \(path) is missing but the log has case files that need it; restore it "
                + "(fascicolo restore --pseudonym-key / --records-key) — new keys are only made for a log without case files"
        case .wrong(let path):
            "key file \(path) is not the one this log's case files were made with; restore the right one "
                + "(fascicolo restore --pseudonym-key / --records-key)"
        }
    }

    /// Until the log has case files its keys may change freely (a restored log without them gets
    /// new ones): the check values are then written again rather than checked.
    static func checkOrRecord(
        pseudonymKey: SecretKey, masterKey: SecretKey, ledger: Ledger, directory: String,
        hasPeople: Bool
    ) throws {
        let pseudonymCheck = Array(pseudonymKey.authenticate(Array("fascicolo/pseudonym-key-check/v1".utf8)).prefix(16))
        let recordsContext = Array("fascicolo/records-key-check/v1".utf8)
        var (storedPseudonym, storedRecords) = try ledger.read { log in
            (try log.metaValue(pseudonymCheckRow), try log.metaValue(PersonKeys.checkRow))
        }
        if !hasPeople {
            if storedPseudonym != pseudonymCheck { storedPseudonym = nil }
            if let stored = storedRecords, masterKey.open(stored, associatedData: recordsContext) == nil { storedRecords = nil }
        }
        // With case files in the log, a missing check row is damage: without it a wrong key would pass.
        if hasPeople && (storedPseudonym == nil || storedRecords == nil) {
            throw DamagedData(table: "meta", what: "a domain key's check row is missing though the log has case files")
        }
        if let storedPseudonym, storedPseudonym != pseudonymCheck { throw wrong(path: directory + "/" + Pseudonymizer.keyFileName) }
        if let storedRecords, masterKey.open(storedRecords, associatedData: recordsContext) == nil {
            throw wrong(path: directory + "/" + PersonKeys.masterKeyFileName)
        }
        guard storedPseudonym == nil || storedRecords == nil else { return }
        try ledger.writeSideTables { writer in
            if storedPseudonym == nil { try writer.setMeta(pseudonymCheckRow, pseudonymCheck) }
            if storedRecords == nil { try writer.setMeta(PersonKeys.checkRow, masterKey.seal([], associatedData: recordsContext)) }
        }
    }
}

/// A stream's facts and the state folded from them.
struct CaseHistory: Sendable {
    private(set) var facts: [CaseFact] = []
    private(set) var state = CaseState()

    /// Checks `fact`, the stream's next entry, against the path rules and adds it.
    mutating func apply(_ fact: CaseFact) throws(PathRuleViolation) {
        try state.apply(fact)
        facts.append(fact)
        if fact.kind == .voided { state = CaseState.fold(facts) }
    }

    /// Adds the stream's next facts; the state follows them one by one, or is folded again from
    /// the start when one of them voids an earlier entry.
    mutating func extend(with newFacts: [CaseFact]) {
        guard !newFacts.isEmpty else { return }
        facts += newFacts
        if newFacts.contains(where: { $0.kind == .voided }) {
            state = CaseState.fold(facts)
        } else {
            for fact in newFacts { state.absorb(fact) }
        }
    }
}

/// Recently used histories, so that an append does not read the person's whole stream again.
/// Bounded: when full, an arbitrary tenth is dropped (a miss costs one stream read).
final class HistoryCache: Sendable {
    private let entries = Mutex<[String: CaseHistory]>([:])
    static let capacity = 50_000

    func get(_ stream: String) -> CaseHistory? { entries.withLock { $0[stream] } }

    /// Removes and returns the history, so that the caller extends it without copying it.
    func take(_ stream: String) -> CaseHistory? { entries.withLock { $0.removeValue(forKey: stream) } }

    func put(_ stream: String, _ history: CaseHistory) {
        entries.withLock { entries in
            if entries.count >= Self.capacity, entries[stream] == nil {
                for key in entries.keys.prefix(Self.capacity / 10) { entries.removeValue(forKey: key) }
            }
            entries[stream] = history
        }
    }
}

/// One turn at a time per key, in arrival order, for async callers.
final class TurnQueue: Sendable {
    private let waiting = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

    /// Returns when it is the caller's turn for `key`; the caller must `end` it.
    func begin(_ key: String) async {
        // Uncontended (the usual case): take the turn without suspending the task.
        let free = waiting.withLock { waiting in
            guard waiting[key] == nil else { return false }
            waiting[key] = []
            return true
        }
        if free { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let mine = waiting.withLock { waiting in
                if waiting[key] != nil {
                    waiting[key]!.append(continuation)
                    return false
                }
                waiting[key] = []
                return true
            }
            if mine { continuation.resume() }
        }
    }

    func end(_ key: String) {
        let next = waiting.withLock { waiting -> CheckedContinuation<Void, Never>? in
            guard let queue = waiting[key], !queue.isEmpty else {
                waiting[key] = nil
                return nil
            }
            waiting[key] = Array(queue.dropFirst())
            return queue.first
        }
        next?.resume()
    }
}
