import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// Where a domain append landed.
public struct RecordResult: Sendable {
    public let person: Pseudonym
    public let append: AppendResult
    public let codeTable: String
    /// The positions of the entries the daemon added to the request's (InterventionEnded with
    /// `endedWith`: the interventions a closure, transfer out or death ended), in order.
    public var automaticPositions: [UInt64] = []
}

extension CaseFiles {
    /// Validates the request's events (catalogue, reference data, path rules at the stream's
    /// current version), seals their personal fields and appends them atomically.
    ///
    /// A concurrent append to the same person makes the ledger refuse the version this was
    /// checked at; without an `expectedVersion` of its own the request is checked again against
    /// the new state (up to 5 times), with one it is a conflict.
    ///
    /// A service scoped to `ambiti` (nil: every ambito) writes only as an actor of one of them,
    /// and only on a person whose case one of them holds or is receiving (403 `ambito_not_allowed`).
    /// One scoped to `enti` records only as an operator of one of them (403 `ente_not_allowed`).
    public func record(
        _ request: RecordRequest, author: String, ambiti: Set<String>? = nil, enti: Set<String>? = nil
    ) async throws(DomainError) -> RecordResult {
        while true {
            var person = try resolve(request.person)
            let identityTurn = try await takeIdentityTurnIfNeeded(request, person: person)
            defer { if identityTurn { turns.end(Self.identityTurnKey) } }
            if identityTurn { person = try resolve(request.person) }
            let digest = idempotencyDigest(request, author: author)
            if let key = request.idempotencyKey, let digest {
                do {
                    if let stored = try ledger.storedAppend(idempotencyKey: key, digest: digest) {
                        var result = RecordResult(person: person, append: stored, codeTable: reference.current.version)
                        result.automaticPositions = try automaticPositions(in: stored)
                        return result
                    }
                } catch let error as LedgerError {
                    throw DomainError(error)
                } catch {
                    throw storageFailure(error)
                }
            }
            let actor = try Actor.parse(request.actor, reference: reference.current, field: "actor")
            if let ambiti, !ambiti.contains(actor.ambito) {
                throw DomainError(
                    .forbidden, code: "ambito_not_allowed", "the actor's ambito is not one this service acts for (access.ambiti)",
                    field: "actor.ambito")
            }
            if let enti, !enti.contains(actor.ente) {
                throw DomainError(
                    .forbidden, code: "ente_not_allowed", "the actor's ente is not one this service acts for (access.enti)",
                    field: "actor.ente")
            }
            let stream = person.stream
            await turns.begin(stream)
            defer { turns.end(stream) }
            // A void of an identity link, stored while this waited for the stream's turn, sends
            // the codice fiscale's entries elsewhere: start again from where they go now.
            guard try resolve(request.person) == person else { continue }
            do {
                return try await record(request, person: person, actor: actor, author: author, digest: digest, ambiti: ambiti)
            } catch let refusal {
                // A path rule's refusal tells the caller the person's phase (not registered, no
                // open case, closed…), a stale expected version how many entries the file has:
                // reads of their file, recorded as such.
                let revealing: Bool =
                    switch refusal.kind {
                    case .pathRule: true
                    case .ledger(.wrongExpectedVersion): true
                    default: false
                    }
                guard revealing else { throw refusal }
                let reader = Reader(author: author, role: "writer", purpose: nil, operatorID: actor.operatorID)
                try await recordAccess(to: person, by: reader, what: "refused_append", entries: 0)
                throw refusal
            }
        }
    }

    /// The rest of `record`, holding the person's turn.
    private func record(
        _ request: RecordRequest, person: Pseudonym, actor: Actor, author: String,
        digest: Digest?, ambiti: Set<String>?
    ) async throws(DomainError) -> RecordResult {
        let stream = person.stream
        var attempt = 0
        while true {
            attempt += 1
            // The person's history is taken out of the cache while it is extended (no copy of
            // it), and put back only once the append is stored.
            var history: CaseHistory
            do { history = try self.history(of: person, taking: true) } catch { throw storageFailure(error) }
            let factsBefore = history.facts.count
            if let ambiti {
                do throws(DomainError) { try Self.checkHolder(of: history.state, within: ambiti, reading: false) } catch {
                    histories.put(stream, history)
                    throw error
                }
            }
            let prepared: Prepared
            do {
                prepared = try prepare(request, person: person, actor: actor, history: &history)
            } catch {
                // A refused first event left the history as it was (a refused step changes no state).
                if history.facts.count == factsBefore { histories.put(stream, history) }
                throw error
            }
            let append = AppendRequest(
                stream: stream, events: prepared.events, expectedVersion: .exactly(prepared.version),
                idempotencyKey: request.idempotencyKey, author: author,
                attachedWrites: prepared.attachedWrites, idempotencyDigest: digest)
            do {
                let result = try await ledger.append(append)
                if !result.deduplicated { histories.put(stream, history) }
                var recorded = RecordResult(person: person, append: result, codeTable: reference.current.version)
                recorded.automaticPositions =
                    result.deduplicated
                    ? try automaticPositions(in: result) : prepared.automatic.map { result.firstPosition + UInt64($0) }
                return recorded
            } catch LedgerError.wrongExpectedVersion(_, _, let actual) where request.expectedVersion == nil && attempt < 5 {
                logger.debug("concurrent append to a person's stream; checking again", metadata: ["version": "\(actual)"])
                continue
            } catch let error as LedgerError {
                throw DomainError(error)
            } catch {
                throw storageFailure(error)
            }
        }
    }

    /// Not a stream name (turns are otherwise keyed by the person's stream).
    static let identityTurnKey = "#identity"

    /// A link checks other persons' state: the codice fiscale must have no case file and no other
    /// link. A codice fiscale's first entry creates what that check looks for. Such requests
    /// take one shared turn, before the person's (always in that order), so that two of them
    /// never check at the same time and both get stored. The person is resolved again once the
    /// turn is taken (by the caller), as a link stored meanwhile changes where a codice fiscale's
    /// entries go. Throws only before the turn is taken, so the caller always ends what it got.
    private func takeIdentityTurnIfNeeded(_ request: RecordRequest, person: Pseudonym) async throws(DomainError) -> Bool {
        var needed = request.events.contains { $0.type == "IdentityLinked" }
        if !needed, case .codiceFiscale = request.person {
            do { needed = try ledger.streamVersion(person.stream) == 0 } catch { throw storageFailure(error) }
        }
        if needed { await turns.begin(Self.identityTurnKey) }
        return needed
    }

    private func resolve(_ identifier: PersonIdentifier) throws(DomainError) -> Pseudonym {
        do { return try pseudonym(for: identifier) } catch { throw storageFailure(error) }
    }

    private struct Prepared {
        var version: UInt64
        var events: [NewEvent] = []
        var attachedWrites: [AttachedWrite] = []
        /// The indices in `events` of the entries the daemon added (`automaticEnds`).
        var automatic: [Int] = []
    }

    /// An entry to seal and store: one of the request's, or one the daemon added.
    private struct ToStore {
        var occurredAt: String
        var correlationID: String?
        var causationID: String?
        var schema: EventSchema
        var validated: ValidatedData
    }

    /// The positions, among a stored append's, of the entries the daemon added (a retry answers
    /// them as the first answer did).
    private func automaticPositions(in append: AppendResult) throws -> [UInt64] {
        try ledger.entries(from: append.firstPosition, limit: append.leafHashes.count).compactMap { entry in
            guard entry.eventType == "InterventionEnded", let stored = StoredEvent(payload: entry.payload),
                stored.data.contains(where: { $0.key == "endedWith" })
            else { return nil }
            return entry.position
        }
    }

    /// Validates every event against the state at the stream's current version and builds the
    /// stored payloads; `history` ends with the new events' facts (partly, if this throws).
    ///
    /// Three passes, so that a large request uses every core for what does not depend on the
    /// order: each event is checked alone (type, date, fields), then in order against the path
    /// rules, then sealed and encoded. Errors come out as one pass in order would give them: the
    /// first event at fault, and for it the first check it fails.
    private func prepare(
        _ request: RecordRequest, person: Pseudonym, actor: Actor,
        history: inout CaseHistory
    ) throws(DomainError) -> Prepared {
        let table = reference.current
        var prepared = Prepared(version: UInt64(history.facts.count))
        // A stale view of the stream is a conflict before it is anything else.
        if let expected = request.expectedVersion, !expected.isSatisfied(by: prepared.version) {
            throw DomainError(LedgerError.wrongExpectedVersion(stream: person.stream, expected: expected, actual: prepared.version))
        }
        let events = try resolvingReferences(in: request.events, of: person)
        let today = today()
        let latest = CalendarDate(daysSinceEpoch: today.daysSinceEpoch + limits.futureToleranceDays)
        let checked = ParallelMap.map(events.count) { index in
            Result { () throws(DomainError) in try Self.check(events[index], at: index, table: table, today: today, latest: latest) }
        }

        var dataKey: SecretKey?
        var ordered: [ToStore] = []
        ordered.reserveCapacity(events.count)
        for (index, event) in events.enumerated() {
            // Named in errors only: not built for every event.
            var path: String { "events[\(index)]" }
            let (schema, alone) = try checked[index].get()
            var validated: ValidatedData
            if let alone {
                validated = alone
            } else {
                // IdentityLinked: its codice fiscale becomes a pseudonym first, then it is checked.
                let data: JSON
                (data, prepared.attachedWrites) = try linkIdentity(
                    event.data, of: request.person, into: person, path: path + ".data",
                    attachedWrites: prepared.attachedWrites)
                validated = try EventValidator.validate(data, schema: schema, reference: table, fieldPrefix: path + ".data")
            }

            if let found = IdentifierScanner.firstIdentifier(in: .object(validated.open), path: path + ".data") {
                throw .identifierInClear(field: found)
            }
            try Self.checkServedInClear(validated.personal.filter { Self.servedInClear.contains($0.key) }, path: path + ".data")
            if schema.kind == .interventionRequested, history.state.phase == .noCase,
                !validated.open.contains(where: { $0.key == "ambito" })
            {
                // Pronto intervento sociale without a case file opens a minimal one, in the actor's ambito.
                validated.open.append((key: "ambito", value: .string(actor.ambito)))
            }
            if schema.kind == .rectified {
                try checkRectifiedValue(open: &validated.open, personal: &validated.personal, state: history.state, path: path + ".data")
                if let found = IdentifierScanner.firstIdentifier(in: .object(validated.open), path: path + ".data") {
                    throw .identifierInClear(field: found)
                }
                if let field = validated.open.first(where: { $0.key == "field" })?.value.string, Self.servedInClear.contains(field) {
                    try Self.checkServedInClear(
                        validated.personal.filter { $0.key == "newValue" || $0.key == "oldValue" }, path: path + ".data")
                }
            }
            if schema.kind == .interventionEnded, validated.open.contains(where: { $0.key == "endedWith" }) {
                throw Self.systemField(field: path + ".data.endedWith")
            }
            let version = prepared.version + UInt64(ordered.count) + 1
            var fact = CaseFact(version: version, kind: schema.kind, data: validated.open, reference: table, occurredAt: event.occurredAt)
            if fact.needsPersonalFields { fact.adopt(personal: validated.personal) }
            // A closure, transfer out or death ends the interventions still running: each end is
            // written as an entry of its own, right after it (see `automaticEnds`).
            let running = CaseState.endingKinds.contains(schema.kind) ? history.state.openInterventions : []
            do {
                try history.apply(fact)
            } catch {
                let field =
                    switch error.field {
                    case nil: path + ".type"
                    case "occurredAt": path + ".occurredAt"
                    case let name?: path + ".data." + name
                    }
                throw DomainError(error, field: field)
            }
            if schema.kind == .voided {
                if let target = fact.reference, history.state.kind(at: target) == .identityLinked {
                    prepared.attachedWrites.append(try unlinkIdentity(linkedAt: target, of: person))
                    prepared.attachedWrites.append(identities.remove(person))
                }
            }
            if schema.kind == .personRegistered {
                let (key, write) = keys.newKey(for: person)
                dataKey = key
                prepared.attachedWrites.append(write)
                // The codice fiscale the person is registered by, sealed with their own key.
                if case .codiceFiscale(let code) = request.person {
                    prepared.attachedWrites.append(identities.write(codiceFiscale: code, for: person, key: key))
                }
            }
            if schema.kind == .identityLinked, let text = event.data["codiceFiscale"]?.string,
                case .codiceFiscale(let code)? = try? PersonIdentifier(parsing: text)
            {
                if dataKey == nil {
                    do { dataKey = try keys.key(for: person) } catch { throw storageFailure(error) }
                }
                if let key = dataKey {
                    prepared.attachedWrites.append(identities.write(codiceFiscale: code, for: person, key: key))
                }
            }
            if !validated.personal.isEmpty {
                if dataKey == nil {
                    do { dataKey = try keys.key(for: person) } catch { throw storageFailure(error) }
                }
                guard dataKey != nil else {
                    throw DomainError(
                        .pathRule, code: "person_erased", "This person's data key no longer exists.",
                        italian: "La chiave dei dati di questa persona non esiste più.", field: path)
                }
            }
            ordered.append(
                ToStore(
                    occurredAt: event.occurredAt, correlationID: event.correlationID, causationID: event.causationID,
                    schema: schema, validated: validated))
            if !running.isEmpty {
                for end in try automaticEnds(
                    of: running, endedBy: fact, occurredAt: event.occurredAt, history: &history, table: table, path: path)
                {
                    prepared.automatic.append(ordered.count)
                    ordered.append(
                        ToStore(
                            occurredAt: event.occurredAt, correlationID: event.correlationID, causationID: nil,
                            schema: Self.interventionEndedSchema, validated: end))
                }
            }
        }

        // Every event with personal fields has found the key above.
        let (key, checkedInOrder) = (dataKey, ordered)
        let stream = person.stream
        let actorJSON = actor.json
        let nonces = SecretKey.randomNonces(count: checkedInOrder.count)
        prepared.events = ParallelMap.map(checkedInOrder.count) { index in
            let event = checkedInOrder[index]
            let (schema, validated) = (event.schema, event.validated)
            var sealed: [UInt8]?
            if let key, !validated.personal.isEmpty {
                sealed = key.seal(
                    JSON.object(validated.personal).bytes,
                    associatedData: StoredEvent.sealAssociatedData(stream: stream, type: schema.type),
                    nonce: nonces[(index * SecretKey.nonceByteCount)..<((index + 1) * SecretKey.nonceByteCount)])
            }
            let stored = StoredEvent(
                schemaVersion: schema.version, occurredAt: event.occurredAt, codeTable: table.version,
                purpose: schema.purpose.rawValue, actor: actorJSON, correlationID: event.correlationID,
                causationID: event.causationID, data: validated.open, sealed: sealed)
            return NewEvent(type: schema.type, payload: stored.bytes)
        }
        return prepared
    }

    /// A client sent `endedWith`, which only the daemon writes (the ends a closure makes).
    static func systemField(field: String) -> DomainError {
        DomainError(
            .invalid, code: "system_field", "endedWith is written by the daemon itself, with the closure, transfer or death",
            italian:
                "La chiusura degli interventi insieme al caso (chiusura, trasferimento, decesso) è registrata dal sistema: "
                + "non va inviata.",
            field: field)
    }

    private static let interventionEndedSchema = EventCatalogue.schema(.interventionEnded)!

    /// The InterventionEnded entries that record, explicitly, what `closing` (a CaseClosed,
    /// CaseTransferredOut or PersonDied just applied to `history`) did to the interventions that
    /// were `running`: each ended on the closing entry's day, with the reason (`case_closed`,
    /// `case_transferred`, `death`) and `endedWith` pointing at the closing entry. They follow
    /// it in the stream; `history` ends with their facts.
    private func automaticEnds(
        of running: [UInt64], endedBy closing: CaseFact, occurredAt: String, history: inout CaseHistory,
        table: ReferenceTable, path: String
    ) throws(DomainError) -> [ValidatedData] {
        guard let day = closing.day else { return [] }
        let reason =
            switch closing.kind {
            case .personDied: "death"
            // To another ambito here or to another region: the case goes on elsewhere.
            case .caseTransferredOut: "case_transferred"
            default: closing.reason == "death" ? "death" : "case_closed"
            }
        var ends: [ValidatedData] = []
        for (offset, intervention) in running.enumerated() {
            let open: [(key: String, value: JSON)] = [
                ("intervention", .number(String(intervention))), ("date", .string(day.description)),
                ("reason", .string(reason)), ("endedWith", .number(String(closing.version))),
            ]
            let fact = CaseFact(
                version: closing.version + UInt64(offset) + 1, kind: .interventionEnded, data: open, reference: table,
                occurredAt: occurredAt)
            do { try history.apply(fact) } catch {
                // Cannot happen: the closing entry has just ended these interventions on that day.
                throw DomainError(error, field: path + ".type")
            }
            ends.append(ValidatedData(open: open, personal: []))
        }
        return ends
    }

    /// One event on its own: a client type of the catalogue, dates not in the future (beyond
    /// `Limits.futureToleranceDays`), and (but for IdentityLinked, checked once its link is made)
    /// its fields.
    private static func check(
        _ event: RecordRequest.Event, at index: Int, table: ReferenceTable,
        today: CalendarDate, latest: CalendarDate
    ) throws(DomainError) -> (EventSchema, ValidatedData?) {
        var path: String { "events[\(index)]" }
        guard let schema = EventCatalogue.schema(event.type) else {
            throw DomainError(
                .invalid, code: "unknown_event_type", "not an event type of the catalogue (GET /v1/catalogue lists them)",
                field: path + ".type")
        }
        guard !EventCatalogue.systemKinds.contains(schema.kind) else {
            throw DomainError(
                .invalid, code: "system_event_type", "\(schema.type) entries are written by the daemon itself", field: path + ".type")
        }
        if let occurred = OccurredAt.date(event.occurredAt), occurred > latest {
            throw DomainError(Rule.dateInFuture(occurred, today: today), field: path + ".occurredAt")
        }
        guard schema.kind != .identityLinked else { return (schema, nil) }
        let validated = try EventValidator.validate(event.data, schema: schema, reference: table, fieldPrefix: path + ".data")
        // The day the entry is placed on the path (an appointment's own `date` may be ahead).
        if schema.kind != .appointmentScheduled, let text = validated.open.first(where: { $0.key == "date" })?.value.string,
            let day = CalendarDate(text), day > latest
        {
            throw DomainError(Rule.dateInFuture(day, today: today), field: path + ".data.date")
        }
        return (schema, validated)
    }

    /// Personal fields that a read model keeps in clear while the person is not erased (the
    /// households read model groups members by the household id): sealed in the log, and like a
    /// clear field refused when they hold something shaped like an identifier.
    static let servedInClear: Set<String> = ["household"]

    private static func checkServedInClear(_ served: [(key: String, value: JSON)], path: String) throws(DomainError) {
        guard !served.isEmpty else { return }
        if let found = IdentifierScanner.firstIdentifier(in: .object(served), path: path) {
            throw .identifierInClear(field: found)
        }
    }

    /// A Rectified's `newValue` is checked as the field it corrects would be (a date as a date,
    /// a code against the reference data), and kept in clear when that field is: the case state
    /// and the read models then apply it. Given as text, as Rectified's schema says (`"1980"`,
    /// `"true"`). A target or field that does not exist is left to the path rules to refuse.
    private func checkRectifiedValue(
        open: inout [(key: String, value: JSON)], personal: inout [(key: String, value: JSON)],
        state: CaseState, path: String
    ) throws(DomainError) {
        guard let target = open.first(where: { $0.key == "target" })?.value.uint64,
            let kind = state.kind(at: target), let schema = EventCatalogue.schema(kind),
            let name = open.first(where: { $0.key == "field" })?.value.string, let field = schema.field(name),
            let index = personal.firstIndex(where: { $0.key == "newValue" }), let text = personal[index].value.string
        else { return }
        let value: JSON =
            switch field.kind {
            case .integer, .amount, .entry: .number(text)
            case .boolean: text == "true" ? .bool(true) : text == "false" ? .bool(false) : .string(text)
            default: .string(text)
            }
        if case .textList = field.kind {
        } else {
            try EventValidator.check(value, kind: field.kind, reference: reference.current, path: path + ".newValue")
        }
        guard !field.personal else { return }
        // Clear, in the schema's order (target, field, newValue, oldValue, reason, authorisedBy).
        var moved = [personal.remove(at: index)]
        if let old = personal.firstIndex(where: { $0.key == "oldValue" }) { moved.append(personal.remove(at: old)) }
        let at = open.firstIndex(where: { $0.key == "reason" }) ?? open.endIndex
        open.insert(contentsOf: moved, at: at)
    }

    /// IdentityLinked arrives with the codice fiscale (`data.codiceFiscale`) and is stored with
    /// its pseudonym (`linkedPseudonym`); the alias row makes later requests by that codice fiscale
    /// reach this case file.
    private func linkIdentity(
        _ data: JSON, of identifier: PersonIdentifier, into person: Pseudonym, path: String,
        attachedWrites: [AttachedWrite]
    ) throws(DomainError) -> (JSON, [AttachedWrite]) {
        if case .codiceFiscale = identifier {
            throw DomainError(.invalid, code: "already_identified", "this person is already identified by a codice fiscale", field: path)
        }
        guard data["linkedPseudonym"] == nil else {
            throw .schema("give the codiceFiscale; the daemon computes the pseudonym", field: path + ".linkedPseudonym")
        }
        guard let members = data.members, let text = data["codiceFiscale"]?.string else {
            throw .schema("codiceFiscale is required for IdentityLinked", field: path + ".codiceFiscale")
        }
        let codiceFiscale: PersonIdentifier
        do { codiceFiscale = try PersonIdentifier(parsing: text) } catch {
            throw DomainError(.invalid, code: error.code, error.reason, field: path + ".codiceFiscale")
        }
        guard case .codiceFiscale = codiceFiscale else {
            throw DomainError(.invalid, code: "invalid_codice_fiscale", "a codice fiscale is expected", field: path + ".codiceFiscale")
        }
        let linked = pseudonymizer.pseudonym(for: codiceFiscale)
        let taken: Bool
        do {
            taken = try ledger.streamVersion(linked.stream) > 0 || pseudonym(for: codiceFiscale) != linked
        } catch { throw storageFailure(error) }
        if taken {
            throw DomainError(
                .conflict, code: "identity_already_registered",
                "that codice fiscale already has its own case file; the two records must be reconciled by an admin",
                field: path + ".codiceFiscale")
        }
        let stored = JSON.object(
            members.map { $0.key == "codiceFiscale" ? (key: "linkedPseudonym", value: .string(linked.description)) : $0 })
        return (stored, attachedWrites + [AttachedWrite(table: aliases, key: linked.bytes, value: person.bytes)])
    }

    /// Voiding an IdentityLinked removes its alias row in the same commit: the codice fiscale
    /// reaches its own (possibly new) case file again.
    private func unlinkIdentity(linkedAt version: UInt64, of person: Pseudonym) throws(DomainError) -> AttachedWrite {
        let entry: Entry?
        do { entry = try ledger.readStream(person.stream, from: version, limit: 1).first } catch { throw storageFailure(error) }
        guard let entry, let stored = StoredEvent(payload: entry.payload),
            let text = stored.data.first(where: { $0.key == "linkedPseudonym" })?.value.string,
            let linked = Pseudonym(hex: text)
        else {
            throw storageFailure(StoredEvent.Unreadable(position: entry?.position))
        }
        return AttachedWrite(table: aliases, key: linked.bytes, value: nil)
    }

    /// Nil without an idempotency key.
    private func idempotencyDigest(_ request: RecordRequest, author: String) -> Digest? {
        guard let contentDigest = request.contentDigest else { return nil }
        var hasher = SHA256()
        hasher.update(Array("fascicolo/domain-append/v1".utf8) + [0] + Array(author.utf8) + [0])
        hasher.update(contentDigest.bytes)
        return hasher.finalize()
    }

    func storageFailure(_ error: any Error) -> DomainError {
        if let damage = error as? DamagedData {
            logger.error("damaged data", metadata: ["table": "\(damage.table)", "problem": "\(damage.what)"])
            return DomainError(
                .ledger(.damaged(.init(damage))), code: "storage_damaged",
                "a stored row is damaged; nothing was stored or served (fascicolo verify reports it)")
        }
        if error is PersonKeys.CorruptKey {
            logger.error("damaged data", metadata: ["table": "\(PersonKeys.tableName)", "problem": "a row does not open with records.key"])
            return DomainError(
                .ledger(.damaged(.init(error))), code: "storage_damaged",
                "a stored row is damaged; nothing was stored or served (fascicolo verify reports it)")
        }
        logger.error("storage failure in the domain layer", metadata: ["error": "\(error)"])
        return DomainError(.ledger(.storage(.init(error))), code: "storage_failure", "the store failed; nothing was stored")
    }
}
