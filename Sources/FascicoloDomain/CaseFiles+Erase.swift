import Dispatch
import FascicoloConcurrency
import FascicoloJSON
import FascicoloLedger

extension CaseFiles {
    /// Erasure (GDPR art. 17, or the end of a retention period): destroys the person's data key
    /// and appends a signed ErasureExecuted entry, in one commit. Every sealed field of the person
    /// becomes unreadable for good; the log, its signatures and proofs still verify.
    public func erase(
        _ identifier: PersonIdentifier, legalGround: String, reference reason: String,
        author: String
    ) async throws(DomainError) -> RecordResult {
        guard let schema = EventCatalogue.schema("ErasureExecuted") else { preconditionFailure("the catalogue has ErasureExecuted") }
        if IdentifierScanner.containsIdentifier(reason) { throw .identifierInClear(field: "reference") }
        if IdentifierScanner.containsIdentifier(legalGround) { throw .identifierInClear(field: "legalGround") }
        let data = JSON.object([("legalGround", .string(legalGround)), ("reference", .string(reason))])
        let validated = try EventValidator.validate(data, schema: schema, reference: reference.current, fieldPrefix: "body")
        let person: Pseudonym
        do { person = try pseudonym(for: identifier) } catch { throw storageFailure(error) }
        await turns.begin(person.stream)
        defer { turns.end(person.stream) }
        for attempt in 1...5 {
            let history: CaseHistory
            do { history = try self.history(of: person) } catch { throw storageFailure(error) }
            guard !history.facts.isEmpty else { throw DomainError(.notFound, code: "person_not_found", "no case file for this person") }
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
            let request = AppendRequest(
                stream: person.stream, events: [NewEvent(type: schema.type, payload: stored.bytes)],
                expectedVersion: .exactly(version), author: author,
                attachedWrites: keys.destroy(person) + [identities.remove(person)])
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
            // The erasure is stored: from here a failure is `erasure_pending`, never "nothing was stored".
            try await rotateRecordsKey()
            return RecordResult(person: person, append: result, codeTable: reference.current.version)
        }
        preconditionFailure("the loop returns or throws")
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
