import FascicoloConcurrency
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// What a read did with an entry's personal fields (`personalData` in the answer).
public enum PersonalData: String, Sendable {
    /// The entry has no personal fields.
    case none
    /// Opened and included in `data`.
    case included
    /// The person's data key was destroyed (erasure).
    case erased
    /// Held back by a restriction of processing; only admins see them.
    case restricted
    /// Sealed fields that do not open with the person's key (logged).
    case unreadable
}

/// Who reads a person's data, and why — recorded in a RecordAccessed entry before anything is served.
public struct Reader: Sendable {
    /// The identity the daemon observed (`uid:N/service`), stamped as the access entry's author.
    public var author: String
    /// `writer`, `auditor` or `admin`.
    public var role: String
    /// The declared purpose; required from auditors.
    public var purpose: String?
    /// The operator on whose behalf a service reads, when it says so.
    public var operatorID: String?
    /// The ambiti a service acts for (`access.ambiti`); nil: every ambito.
    public var ambiti: Set<String>?

    public init(author: String, role: String, purpose: String?, operatorID: String?, ambiti: Set<String>? = nil) {
        self.author = author
        self.role = role
        self.purpose = purpose
        self.operatorID = operatorID
        self.ambiti = ambiti
    }
}

extension CaseFiles {
    /// The person's case file: entries from `version` on (at most `limit`), personal fields
    /// opened, corrections shown, erased or restricted content marked, and the case state.
    /// The read is recorded (RecordAccessed in the person's access stream) before it is served.
    public func caseFile(
        for identifier: PersonIdentifier, reader: Reader, from version: UInt64 = 1,
        limit: Int? = nil
    ) async throws(DomainError) -> CaseFile {
        let person: Pseudonym
        let history: CaseHistory
        do {
            person = try pseudonym(for: identifier)
            history = try self.history(of: person)
        } catch { throw storageFailure(error) }
        guard !history.facts.isEmpty else {
            throw DomainError(.notFound, code: "person_not_found", "no case file for this person")
        }
        let limit = min(max(limit ?? limits.entriesPerReadMax, 1), limits.entriesPerReadMax)
        let entries: [Entry]
        do { entries = try ledger.readStream(person.stream, from: max(version, 1), limit: limit) } catch { throw storageFailure(error) }
        try await recordAccess(to: person, by: reader, what: "case_file", entries: entries.count)

        let dataKey = try self.dataKey(for: person)
        let corrections = Corrections(history.facts, state: history.state)
        let read = entries.map { entry in
            caseFileEntry(entry, person: person, dataKey: dataKey, corrections: corrections, reader: reader)
        }
        return CaseFile(person: person, version: history.facts.count, state: history.state, today: today(), entries: read)
    }

    /// Whether the person's data were erased (ErasureExecuted in their stream).
    public func isErased(_ person: Pseudonym) throws(DomainError) -> Bool {
        do { return try history(of: person).state.erased } catch { throw storageFailure(error) }
    }

    /// Whether a service scoped to `ambiti` (nil: not scoped) may read `person` — the rule of
    /// `checkHolder` as a question, for reads that skip the persons it may not read (the other
    /// members of a household) instead of refusing.
    public func mayRead(_ person: Pseudonym, within ambiti: Set<String>?) throws(DomainError) -> Bool {
        guard let ambiti else { return true }
        let state: CaseState
        do { state = try history(of: person).state } catch { throw storageFailure(error) }
        do throws(DomainError) {
            try Self.checkHolder(of: state, within: ambiti, reading: true)
            return true
        } catch {
            return false
        }
    }

    /// Appends a RecordAccessed entry for a read of `person`'s data and waits until it is durable:
    /// a read that cannot be recorded is not served. Returns the entry's position.
    @discardableResult
    public func recordAccess(to person: Pseudonym, by reader: Reader, what: String, entries: Int) async throws(DomainError) -> UInt64 {
        let purpose = try Self.checkPurpose(reader)
        if let ambiti = reader.ambiti {
            let state: CaseState
            do { state = try history(of: person).state } catch { throw storageFailure(error) }
            try Self.checkHolder(of: state, within: ambiti, reading: true)
        }
        var actor: [(key: String, value: JSON)] = []
        if let operatorID = reader.operatorID { actor.append(("operator", .string(operatorID))) }
        let stored = StoredEvent(
            schemaVersion: 1, occurredAt: ledger.wallClock.timestamp, codeTable: reference.current.version,
            purpose: ProcessingPurpose.accountability.rawValue, actor: .object(actor), correlationID: nil, causationID: nil,
            data: [
                ("what", .string(what)), ("purpose", .string(purpose)), ("role", .string(reader.role)),
                ("entries", .number(String(entries))),
            ]
                // A scoped service reads for its ambiti: the person's listing of who read their
                // file names them (the service's configuration may change later; the entry stays).
                + (reader.ambiti.map { [("ambiti", .array($0.sorted().map(JSON.string)))] } ?? []),
            sealed: nil)
        let request = AppendRequest(
            stream: person.accessStream, events: [NewEvent(type: "RecordAccessed", payload: stored.bytes)],
            author: reader.author)
        do {
            return try await ledger.append(request).firstPosition
        } catch let error as LedgerError {
            throw DomainError(.ledger(error), code: error.code, "the read could not be recorded, so it is not served: \(error)")
        } catch {
            throw storageFailure(error)
        }
    }

    /// A service scoped to `ambiti` acts for a person only while their case is held by one of
    /// them, or is being transferred to one (a person with no case file yet is no one's). The
    /// refusal names no ambito: which one holds a case is itself about the person.
    static func checkHolder(of state: CaseState, within ambiti: Set<String>, reading: Bool) throws(DomainError) {
        guard let holder = state.ambito, !ambiti.contains(holder) else { return }
        if let destination = state.pendingTransferTo, ambiti.contains(destination) { return }
        // The documented sharing rule: the person's consent to share with an ambito lets its
        // services read the file; the holding ambito alone records on it.
        if reading && !state.sharedWith.isDisjoint(with: ambiti) { return }
        throw DomainError(
            .forbidden, code: "ambito_not_allowed",
            "this person's case is held by an ambito this service does not act for (access.ambiti)")
    }

    /// Auditors must say why they read; services default to case work, admins to administration.
    /// Services must name the operator who asked (`Fascicolo-Operator`): a service reads for a
    /// person, and the person's record of who read their file must name that person.
    static func checkPurpose(_ reader: Reader) throws(DomainError) -> String {
        if reader.role == "writer" && reader.operatorID == nil {
            throw DomainError(
                .malformed, code: "operator_required",
                "services name the operator who asked for a read in the Fascicolo-Operator header")
        }
        guard let purpose = reader.purpose else {
            if reader.role == "auditor" {
                throw DomainError(
                    .malformed, code: "purpose_required",
                    "auditors state the purpose of a read in the Fascicolo-Purpose header")
            }
            return reader.role == "admin" ? "administration" : "case_work"
        }
        let scalars = purpose.unicodeScalars
        guard (3...200).contains(scalars.count), !scalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            throw DomainError(.malformed, code: "invalid_purpose", "the purpose is 3 to 200 characters without control characters")
        }
        return purpose
    }

    /// Which entries were voided, rectified or restricted, and by which entry.
    struct Corrections {
        var voidedBy: [UInt64: UInt64] = [:]
        var rectifiedBy: [UInt64: [UInt64]] = [:]
        var restrictedBy: [UInt64: UInt64] = [:]

        init(_ facts: [CaseFact], state: CaseState) {
            for fact in facts {
                guard let target = fact.reference else { continue }
                switch fact.kind {
                case .voided: voidedBy[target] = fact.version
                case .rectified where !state.voided.contains(fact.version): rectifiedBy[target, default: []].append(fact.version)
                default: break
                }
            }
            for (restriction, target) in state.restrictions { restrictedBy[target] = restriction }
        }
    }

    private func caseFileEntry(
        _ entry: Entry, person: Pseudonym, dataKey: SecretKey?, corrections: Corrections,
        reader: Reader
    ) -> CaseFileEntry {
        let schema = EventCatalogue.schema(entry.eventType)
        guard let stored = StoredEvent(payload: entry.payload) else {
            return CaseFileEntry(
                version: entry.streamVersion, position: entry.position, recordedAtMilliseconds: entry.recordedAtMilliseconds,
                author: entry.author, type: entry.eventType, label: schema?.label, content: nil, personalData: .none,
                voidedBy: nil, rectifiedBy: nil, restrictedBy: nil)
        }
        let restriction = corrections.restrictedBy[entry.streamVersion]
        let (personalData, personal) = personalFields(
            stored.sealed, of: entry, person: person, dataKey: dataKey,
            restricted: restriction != nil, reader: reader)
        var data = stored.data + personal
        if let schema, let upcast = schema.upcast(.object(data), from: stored.schemaVersion)?.members {
            // Clear and opened personal fields back in the schema's order.
            data = schema.fields.compactMap { field in upcast.first { $0.key == field.name } }
        }
        let content = CaseFileEntry.Content(
            schemaVersion: stored.schemaVersion, occurredAt: stored.occurredAt, codeTable: stored.codeTable, purpose: stored.purpose,
            actor: stored.actor, correlationID: stored.correlationID, causationID: stored.causationID, data: data)
        return CaseFileEntry(
            version: entry.streamVersion, position: entry.position, recordedAtMilliseconds: entry.recordedAtMilliseconds,
            author: entry.author, type: entry.eventType, label: schema?.label, content: content,
            personalData: personalData, voidedBy: corrections.voidedBy[entry.streamVersion],
            rectifiedBy: corrections.rectifiedBy[entry.streamVersion], restrictedBy: restriction)
    }

    /// The person's data key; nil once their data has been erased.
    public func dataKey(for person: Pseudonym) throws(DomainError) -> SecretKey? {
        do {
            if let key = try keys.key(for: person) { return key }
            // No key: right after an erasure, damage before one (the person would show as
            // erased with no erasure in the log).
            let state = try history(of: person).state
            if state.registered && !state.erased {
                throw DamagedData(
                    table: PersonKeys.tableName, what: "a registered person's data key is missing, with no erasure in the log")
            }
            return nil
        } catch { throw storageFailure(error) }
    }

    /// The personal fields of `entry` (an entry of `person`'s stream) that `reader` may see,
    /// opened with the person's data key (`dataKey(for:)`), and what became of them. Shared by
    /// every read that serves personal data, so that each applies erasure and restriction alike.
    public func personalFields(
        of entry: Entry, person: Pseudonym, dataKey: SecretKey?, restricted: Bool,
        reader: Reader
    ) -> (PersonalData, [(key: String, value: JSON)]) {
        personalFields(
            StoredEvent(payload: entry.payload)?.sealed, of: entry, person: person, dataKey: dataKey,
            restricted: restricted, reader: reader)
    }

    func personalFields(
        _ sealed: [UInt8]?, of entry: Entry, person: Pseudonym, dataKey: SecretKey?, restricted: Bool,
        reader: Reader
    ) -> (PersonalData, [(key: String, value: JSON)]) {
        guard let sealed else { return (.none, []) }
        guard let dataKey else { return (.erased, []) }
        // Only admins see what a restriction (GDPR art. 18) holds back.
        if restricted && reader.role != "admin" { return (.restricted, []) }
        if let opened = dataKey.open(sealed, associatedData: StoredEvent.sealAssociatedData(stream: person.stream, type: entry.eventType)),
            let personal = try? JSON.parse(opened).members
        {
            return (.included, personal)
        }
        logger.error("a sealed field does not open with the person's key", metadata: ["position": "\(entry.position)"])
        return (.unreadable, [])
    }
}
