import CSodium
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage
import Glibc

/// Offline check of the domain's side tables against the signed log (`fascicolo verify`): they
/// are not signed, yet they decide answers — a missing data key shows a person as erased, a wrong
/// alias sends a codice fiscale to the wrong case file.
///
/// - `person_keys` has a row exactly for each person registered and not erased (a PersonRegistered
///   and no ErasureExecuted entry in their stream); with `records.key` at hand, each row opens with it.
/// - `person_aliases` has a row exactly for each IdentityLinked entry not voided: its
///   `linkedPseudonym` → the pseudonym of the stream that holds it.
/// - `siuss_cancellations` rows belong to erased persons only, and with `records.key` at hand
///   each opens with it to a codice fiscale.
public enum DomainTablesCheck {
    public struct Report: Sendable {
        public let persons: Int
        public let keyRows: Int
        public let aliasRows: Int
        /// Whether each data-key row was opened with records.key (not when the file is absent).
        public let keysOpened: Bool
    }

    /// Nil when the store has no domain tables (a log without case files).
    ///
    /// records.key is read from its file and the rows from a snapshot: an erasure's key rotation
    /// (PersonKeys) committed between the two makes them disagree for a moment, so a mismatch
    /// with records.key is checked again (twice, 200 ms apart) before it is reported.
    public static func verify(directory: String) throws -> Report? {
        for attempt in 1... {
            do {
                return try verifyOnce(directory: directory)
            } catch let mismatch as RecordsKeyMismatch {
                guard attempt < 3 else { throw fail(mismatch.table, mismatch.what) }
                usleep(200_000)
            }
        }
        preconditionFailure("the loop returns or throws")
    }

    /// Seen between records.key and the rows; maybe a rotation in between (see `verify`).
    struct RecordsKeyMismatch: Error {
        let table: String
        let what: String
    }

    static func verifyOnce(directory: String) throws -> Report? {
        let ledger = try LedgerReader.open(directory: directory)
        defer { ledger.close() }
        guard let keyTable = try ledger.sideTable(named: PersonKeys.tableName),
            let aliasTable = try ledger.sideTable(named: CaseFiles.aliasesTableName)
        else { return nil }
        let identityTable = try ledger.sideTable(named: PersonIdentities.tableName)
        let cancellationTable = try ledger.sideTable(named: PersonKeys.cancellationsTableName)
        let recordsKey = try? KeyFile.loadOrCreateSecret(directory: directory, name: PersonKeys.masterKeyFileName, create: false)
        let pseudonymKey = try? KeyFile.loadOrCreateSecret(directory: directory, name: Pseudonymizer.keyFileName, create: false)
        return try ledger.read { log in
            try checkKeyRows(log, pseudonymKey: pseudonymKey, recordsKey: recordsKey)
            var expectedKeys = Set<[UInt8]>()
            var erasedPersons = Set<[UInt8]>()
            var expectedAliases: [[UInt8]: [UInt8]] = [:]
            var persons = 0
            do {
                try log.forEachStream(withPrefix: Pseudonym.personPrefix) { stream, version in
                    let name = String(decoding: stream, as: UTF8.self)
                    guard let person = Pseudonym.owning(stream: name) else {
                        throw fail("streams", "the streams table has a person stream that is not named by a pseudonym")
                    }
                    persons += 1
                    let facts = try (1...max(version, 1)).map { streamVersion -> (CaseFact, [(key: String, value: JSON)]) in
                        guard let position = try log.position(ofStream: Array(stream), version: streamVersion),
                            let fact = try log.withEntry(
                                at: position,
                                { view in
                                    let data = StoredEvent(payload: view.payload)?.data ?? []
                                    return (
                                        CaseFact(
                                            version: streamVersion, type: String(decoding: view.eventType, as: UTF8.self),
                                            data: data, reference: nil), data
                                    )
                                })
                        else { throw fail("entries", "a person stream's entry cannot be read") }
                        return fact
                    }
                    let voided = Set(facts.filter { $0.0.kind == .voided }.compactMap { $0.0.reference })
                    // The daemon writes the key with the registration and deletes it only with an
                    // erasure (a registration is rectified, never voided): the same rule here.
                    let registered = facts.contains { $0.0.kind == .personRegistered }
                    let erased = facts.contains { $0.0.kind == .erasureExecuted }
                    if registered && !erased { expectedKeys.insert(person.bytes) }
                    if erased { erasedPersons.insert(person.bytes) }
                    for (fact, data) in facts where fact.kind == .identityLinked && !voided.contains(fact.version) {
                        guard let text = data.first(where: { $0.key == "linkedPseudonym" })?.value.string, let linked = Pseudonym(hex: text)
                        else {
                            throw fail("entries", "an IdentityLinked entry has no linkedPseudonym")
                        }
                        expectedAliases[linked.bytes] = person.bytes
                    }
                    return true
                }
            } catch let damage as DamagedData {
                throw fail(damage.table, damage.what)
            }
            var keyRows = 0
            try log.forEachRow(in: keyTable) { key, value in
                let key = Array(key)
                guard expectedKeys.remove(key) != nil else {
                    throw fail(
                        PersonKeys.tableName,
                        "a data key belongs to no registered, not erased person (a row was renamed or an erasure undone)")
                }
                if let recordsKey, let person = Pseudonym(bytes: key),
                    recordsKey.open(Array(value), associatedData: PersonKeys.associatedData(person)) == nil
                {
                    throw RecordsKeyMismatch(
                        table: PersonKeys.tableName,
                        what: "a data key does not open with records.key (a changed row, or the wrong records.key)")
                }
                keyRows += 1
                return true
            }
            guard expectedKeys.isEmpty else {
                throw fail(
                    PersonKeys.tableName,
                    "\(expectedKeys.count) registered, not erased person(s) have no data key (they would show as erased)")
            }
            // Whose codice fiscale a person's identity row may hold: their own pseudonym's, or
            // that of a link of theirs (read before the alias check consumes the links).
            var identities: [[UInt8]: Set<[UInt8]>] = [:]
            for (linked, person) in expectedAliases { identities[person, default: []].insert(linked) }
            var aliasRows = 0
            try log.forEachRow(in: aliasTable) { key, value in
                guard let target = expectedAliases.removeValue(forKey: Array(key)), target.elementsEqual(value) else {
                    throw fail(
                        "person_aliases", "an alias row matches no IdentityLinked entry of the log (changed, renamed or left after a void)")
                }
                aliasRows += 1
                return true
            }
            guard expectedAliases.isEmpty else {
                throw fail(
                    "person_aliases",
                    "\(expectedAliases.count) identity link(s) of the log have no alias row (a codice fiscale would not find its case file)"
                )
            }
            if let identityTable {
                try checkIdentityRows(
                    log, table: identityTable, keyTable: keyTable, identities: identities, keys: (recordsKey, pseudonymKey))
            }
            if let cancellationTable {
                try log.forEachRow(in: cancellationTable) { key, value in
                    guard let person = Pseudonym(bytes: Array(key)), erasedPersons.contains(person.bytes) else {
                        throw fail(PersonKeys.cancellationsTableName, "a codice fiscale is kept for cancellations of a person not erased")
                    }
                    if let recordsKey {
                        guard let opened = recordsKey.open(Array(value), associatedData: PersonKeys.cancellationData(person)) else {
                            throw RecordsKeyMismatch(
                                table: PersonKeys.cancellationsTableName,
                                what: "a row does not open with records.key (a changed row, or the wrong records.key)")
                        }
                        guard case .codiceFiscale? = try? PersonIdentifier(parsing: String(decoding: opened, as: UTF8.self)) else {
                            throw fail(PersonKeys.cancellationsTableName, "a row holds no codice fiscale")
                        }
                    }
                    return true
                }
            }
            return Report(persons: persons, keyRows: keyRows, aliasRows: aliasRows, keysOpened: recordsKey != nil)
        }
    }

    /// `person_identities`: every row belongs to a person with a data key (so none outlives an
    /// erasure); with the keys at hand, it opens with that person's data key and holds the
    /// codice fiscale the person is registered by or linked to (a row moved to another person,
    /// or left after a void of the link, is refused). Persons registered before the table
    /// existed have no row: a missing row is not damage.
    static func checkIdentityRows(
        _ log: LedgerSnapshot, table: SideTable, keyTable: SideTable, identities: [[UInt8]: Set<[UInt8]>],
        keys: (records: SecretKey?, pseudonym: SecretKey?)
    ) throws {
        try log.forEachRow(in: table) { key, value in
            let key = Array(key)
            guard let person = Pseudonym(bytes: key), let sealedKey = try log.value(in: keyTable, key: key) else {
                throw fail(PersonIdentities.tableName, "a codice fiscale is kept for no registered, not erased person")
            }
            guard let recordsKey = keys.records, var dataKey = recordsKey.open(sealedKey, associatedData: PersonKeys.associatedData(person))
            else { return true }
            defer { sodium_memzero(&dataKey, dataKey.count) }
            guard
                let opened = SecretKey(bytes: dataKey, guarded: false)?.open(
                    Array(value), associatedData: PersonIdentities.associatedData(person)),
                case .codiceFiscale? = try? PersonIdentifier(parsing: String(decoding: opened, as: UTF8.self))
            else {
                throw fail(
                    PersonIdentities.tableName, "a row does not open with its person's data key (changed, or moved from another person)")
            }
            if let pseudonymKey = keys.pseudonym {
                let named = Pseudonymizer(key: pseudonymKey).pseudonym(for: .codiceFiscale(String(decoding: opened, as: UTF8.self)))
                guard named == person || identities[key]?.contains(named.bytes) == true else {
                    throw fail(PersonIdentities.tableName, "a row holds a codice fiscale its person is neither registered by nor linked to")
                }
            }
            return true
        }
    }

    /// With case files, `meta` holds both key check rows, and the keys at hand match them.
    static func checkKeyRows(_ log: LedgerSnapshot, pseudonymKey: SecretKey?, recordsKey: SecretKey?) throws {
        guard try log.hasStream(withPrefix: Pseudonym.personPrefix) else { return }
        guard let pseudonymCheck = try log.metaValue(DomainKeyProblem.pseudonymCheckRow),
            let recordsCheck = try log.metaValue(PersonKeys.checkRow)
        else {
            throw fail("meta", "a domain key's check row is missing though the log has case files")
        }
        if let pseudonymKey, Array(pseudonymKey.authenticate(Array("fascicolo/pseudonym-key-check/v1".utf8)).prefix(16)) != pseudonymCheck {
            throw fail("meta", "pseudonym_key_check does not match pseudonym.key (a changed row, or the wrong key file)")
        }
        if let recordsKey, recordsKey.open(recordsCheck, associatedData: PersonKeys.checkContext) == nil {
            throw RecordsKeyMismatch(
                table: "meta", what: "records_key_check does not open with records.key (a changed row, or the wrong key file)")
        }
    }

    static func fail(_ table: String, _ what: String) -> Verifier.Failure {
        Verifier.Failure(position: nil, problem: "\(DamagedData(table: table, what: what))")
    }
}
