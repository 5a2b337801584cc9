import FascicoloJSON
import FascicoloLedger

extension CaseFiles {
    /// The events with every reference to an earlier entry of the case file (a field of kind
    /// `entry`: a target, an intervention, a plan) given as its stream version, as it is stored.
    ///
    /// A backend that does not track stream versions names the entry by what it knows:
    /// - `{"idempotencyKey": K}` — the first entry it stored with that key; `"index": i` the
    ///   (i+1)-th of that request;
    /// - `{"position": P}` — the entry at that log position.
    /// Either must be an entry of this person's stream, stored before this request (422
    /// `unknown_reference` otherwise; the message names no key). A number is a stream version, as before.
    func resolvingReferences(in events: [RecordRequest.Event], of person: Pseudonym) throws(DomainError) -> [RecordRequest.Event] {
        var resolved = events
        for (index, event) in events.enumerated() {
            guard let schema = EventCatalogue.schema(event.type), case .object(var members) = event.data else { continue }
            var changed = false
            for (offset, member) in members.enumerated() {
                guard case .object = member.value, let spec = schema.field(member.key), case .entry = spec.kind else { continue }
                let version = try version(of: member.value, in: person, field: "events[\(index)].data.\(member.key)")
                members[offset].value = .number(String(version))
                changed = true
            }
            if changed { resolved[index].data = .object(members) }
        }
        return resolved
    }

    private func version(of reference: JSON, in person: Pseudonym, field: String) throws(DomainError) -> UInt64 {
        let unknown = DomainError(
            .invalid, code: "unknown_reference", "no entry of this case file is stored under that reference", field: field)
        let malformed = DomainError.schema(
            "a stream version, {\"idempotencyKey\": …, \"index\"?: …} or {\"position\": …} is expected", field: field)
        guard let members = reference.members else { throw malformed }
        let names = Set(members.map(\.key))
        let position: UInt64
        do {
            if names == ["position"] {
                guard let value = reference["position"]?.uint64 else { throw malformed }
                position = value
            } else if names == ["idempotencyKey"] || names == ["idempotencyKey", "index"] {
                guard let key = reference["idempotencyKey"]?.string, !key.isEmpty, key.utf8.count <= 512 else { throw malformed }
                let offset = reference["index"].map { $0.uint64 } ?? 0
                guard let offset else { throw malformed }
                guard let stored = try ledger.storedPositions(idempotencyKey: key), offset < UInt64(stored.count) else { throw unknown }
                position = stored.lowerBound + offset
            } else {
                throw malformed
            }
            guard let entry = try ledger.entry(at: position), entry.stream == person.stream else { throw unknown }
            return entry.streamVersion
        } catch let error as DomainError {
            throw error
        } catch let error as LedgerError {
            // A key the ledger would refuse (too long, not ASCII) names no stored entry.
            if case .invalidIdempotencyKey = error { throw unknown }
            throw DomainError(error)
        } catch {
            throw storageFailure(error)
        }
    }
}
