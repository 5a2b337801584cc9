import Dispatch
import FascicoloConcurrency
import FascicoloJSON
import FascicoloLedger

extension CaseFiles {
    /// Erasure (GDPR art. 17, or the end of a retention period): destroys the person's data key
    /// and appends a signed ErasureExecuted entry, in one commit. Every sealed field of the person
    /// becomes unreadable for good; the log, its signatures and proofs still verify. Refused
    /// (409 `legal_hold`) at the person's request or for retention while a hold is in force
    /// (`LegalHold`); an erased person is refused by the path rules (`person_erased`).
    public func erase(
        _ identifier: PersonIdentifier, legalGround: String, reference reason: String,
        author: String
    ) async throws(DomainError) -> RecordResult {
        if IdentifierScanner.containsIdentifier(reason) { throw .identifierInClear(field: "reference") }
        if IdentifierScanner.containsIdentifier(legalGround) { throw .identifierInClear(field: "legalGround") }
        // Validated before the pseudonym is derived: a bad ground answers 422 whoever is named.
        guard let schema = EventCatalogue.schema("ErasureExecuted") else { preconditionFailure("the catalogue has ErasureExecuted") }
        let data = JSON.object([("legalGround", .string(legalGround)), ("reference", .string(reason))])
        _ = try EventValidator.validate(data, schema: schema, reference: reference.current, fieldPrefix: "body")
        let person: Pseudonym
        do { person = try pseudonym(for: identifier) } catch { throw storageFailure(error) }
        let result = try await eraseKeepingRecordsKey(person, legalGround: legalGround, reference: reason, author: author)
        // The erasure is stored: from here a failure is `erasure_pending`, never "nothing was stored".
        try await rotateRecordsKey()
        return result
    }

    /// The erasure of `person` without the rotation of `records.key` that completes it: the
    /// caller rotates once for a batch (retention erases thousands; each rotation seals every
    /// person's key again). The commit leaves `records_key_rotation_due`, so a crash before the
    /// rotation is finished at the next start.
    func eraseKeepingRecordsKey(
        _ person: Pseudonym, legalGround: String, reference reason: String, author: String
    ) async throws(DomainError) -> RecordResult {
        guard let schema = EventCatalogue.schema("ErasureExecuted") else { preconditionFailure("the catalogue has ErasureExecuted") }
        let data = JSON.object([("legalGround", .string(legalGround)), ("reference", .string(reason))])
        let validated = try EventValidator.validate(data, schema: schema, reference: reference.current, fieldPrefix: "body")
        await turns.begin(person.stream)
        defer { turns.end(person.stream) }
        for attempt in 1...5 {
            let history: CaseHistory
            do { history = try self.history(of: person) } catch { throw storageFailure(error) }
            guard !history.facts.isEmpty else { throw DomainError(.notFound, code: "person_not_found", "no case file for this person") }
            if LegalHold.blockedErasureGrounds.contains(legalGround) {
                let holds: [LegalHold]
                do { holds = try legalHolds(of: person, history: history, includingOpenCase: legalGround == "retention_ended") } catch {
                    throw storageFailure(error)
                }
                if let hold = holds.first { throw DomainError(.conflict, code: "legal_hold", hold.refusal) }
            }
            var state = history.state
            let version = UInt64(history.facts.count)
            do {
                try state.apply(CaseFact(version: version + 1, kind: schema.kind))
            } catch {
                throw DomainError(.pathRule, code: error.code, error.english, italian: error.italian)
            }
            let stored = StoredEvent(
                schemaVersion: schema.version, occurredAt: ledger.wallClock.timestamp, codeTable: reference.current.version,
                purpose: schema.purpose.rawValue, actor: .object([]), correlationID: nil, causationID: nil,
                data: validated.open, sealed: nil)
            var writes = keys.destroy(person) + [identities.remove(person)]
            do { if let kept = try keptForSiussCancellations(person) { writes.append(kept) } } catch { throw storageFailure(error) }
            let request = AppendRequest(
                stream: person.stream, events: [NewEvent(type: schema.type, payload: stored.bytes)],
                expectedVersion: .exactly(version), author: author, attachedWrites: writes)
            let result: AppendResult
            do {
                result = try await ledger.append(request)
            } catch LedgerError.wrongExpectedVersion where attempt < 5 {
                continue
            } catch let error as LedgerError {
                throw DomainError(error)
            } catch {
                throw storageFailure(error)
            }
            logger.notice("erasure executed", metadata: ["position": "\(result.firstPosition)", "ground": "\(legalGround)"])
            return RecordResult(person: person, append: result, codeTable: reference.current.version)
        }
        preconditionFailure("the loop returns or throws")
    }

    /// GDPR art. 19 (the recipients are told of an erasure): once SIUSS exports exist, the
    /// erased person's codice fiscale is kept — sealed under records.key, their own key being
    /// destroyed — for the cancellations of their records the next export sends; that export
    /// forgets it (docs/siuss.md, "Erased persons"). Nil when nothing was ever sent or the person
    /// has no codice fiscale on record.
    func keptForSiussCancellations(_ person: Pseudonym) throws -> AttachedWrite? {
        guard try ledger.streamVersion(SiussExport.stream) > 0, let key = try keys.key(for: person),
            let code = try identities.codiceFiscale(of: person, key: key, ledger: ledger)
        else { return nil }
        return keys.keepForCancellation(code, of: person)
    }

    /// Shreds for good: the erased row's bytes may stay in LMDB's free pages, so the records key
    /// that sealed them is replaced (see `PersonKeys`). Runs off the cooperative pool (file syncs
    /// and a write transaction over every person's row). The erasure is reported complete only
    /// after this; if it fails, the next start finishes it.
    func rotateRecordsKey() async throws(DomainError) {
        let keys = self.keys
        let outcome: Result<Int?, any Error> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Result { try keys.rotateAfterErasure() }) }
        }
        switch outcome {
        case .success(let rows):
            if let rows { logger.notice("records.key rotated after an erasure", metadata: ["rows": "\(rows)"]) }
        case .failure(let error):
            logger.error(
                "records.key rotation after an erasure failed; it is retried at the next start",
                metadata: ["error": "\(error)"])
            throw DomainError(
                .ledger(.storage(.init(error))), code: "erasure_pending",
                "the erasure is recorded but the old records key could not be replaced yet; "
                    + "it will be at the next start (fascicolo stat shows it pending)")
        }
    }
}
