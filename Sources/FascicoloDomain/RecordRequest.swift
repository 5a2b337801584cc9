import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger

/// The body of `POST /v1/persons/events`:
///
///     {"person": "<codice fiscale | STP… | ENI… | provisional:…>",
///      "actor": {"operator": "…", "role": "…", "ente": "…", "ambito": "…", "onBehalfOf": "…"?},
///      "events": [{"type": "…", "occurredAt": "YYYY-MM-DD[THH:MM:SSZ]", "data": {…},
///                  "correlationId": "…"?, "causationId": "…"?}, …],
///      "expectedVersion": N | "any" | "no_stream",   (optional)
///      "idempotencyKey": "…"}                         (optional)
public struct RecordRequest: Sendable {
    public struct Event: Sendable {
        public var type: String
        public var occurredAt: String
        public var data: JSON
        public var correlationID: String?
        public var causationID: String?
    }

    public var person: PersonIdentifier
    public var actor: JSON
    public var events: [Event]
    public var expectedVersion: ExpectedVersion?
    public var idempotencyKey: String?
    /// SHA-256 of the body as sent: what "the same content" means for an idempotent retry. Nil
    /// without an idempotency key (nothing compares it then).
    public var contentDigest: Digest?

    public static func parse(_ bytes: [UInt8], eventsMax: Int) throws(DomainError) -> RecordRequest {
        let body: JSON
        do { body = try JSON.parse(bytes) } catch { throw .malformed("\(error)") }
        guard let members = body.members else { throw .malformed("the body is a JSON object") }
        // Unknown names are not echoed: a client could send anything as a name, a codice fiscale too.
        let bodyMembers = ["person", "actor", "events", "expectedVersion", "idempotencyKey"]
        for member in members where !bodyMembers.contains(member.key) {
            throw .malformed("an unknown member (the members are \(bodyMembers.joined(separator: ", ")))")
        }
        guard let personText = body["person"]?.string else {
            throw DomainError(
                .invalid, code: "invalid_person_identifier",
                "person is required: a codice fiscale, an STP or ENI code, or provisional:<id>", field: "person")
        }
        let person: PersonIdentifier
        do { person = try PersonIdentifier(parsing: personText) } catch {
            throw DomainError(.invalid, code: error.code, error.reason, field: "person")
        }
        guard let actor = body["actor"] else { throw .schema("actor is required", field: "actor") }
        guard let eventValues = body["events"]?.array, !eventValues.isEmpty else {
            throw .schema("events is a non-empty array", field: "events")
        }
        guard eventValues.count <= eventsMax else {
            throw DomainError(.invalid, code: "too_many_events", "at most \(eventsMax) events per request", field: "events")
        }
        var events: [Event] = []
        for (index, value) in eventValues.enumerated() {
            // Named in errors only: not built for every event.
            var path: String { "events[\(index)]" }
            guard let eventMembers = value.members else { throw .schema("an event is an object", field: path) }
            let allowed = ["type", "occurredAt", "data", "correlationId", "causationId"]
            for member in eventMembers where !allowed.contains(member.key) {
                throw .schema("an event has an unknown member (its members are \(allowed.joined(separator: ", ")))", field: path)
            }
            guard let type = value["type"]?.string else { throw .schema("type is required", field: path + ".type") }
            guard let occurredAt = value["occurredAt"]?.string, OccurredAt.isValid(occurredAt) else {
                throw .schema("occurredAt is a date (YYYY-MM-DD) or an RFC 3339 date-time", field: path + ".occurredAt")
            }
            guard let data = value["data"], data.members != nil else { throw .schema("data is an object", field: path + ".data") }
            func identifier(_ key: String) throws(DomainError) -> String? {
                guard let member = value[key] else { return nil }
                guard let text = member.string, (1...128).contains(text.utf8.count), text.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
                else {
                    throw .schema("\(key) is 1 to 128 printable ASCII characters without spaces", field: path + "." + key)
                }
                return text
            }
            events.append(
                Event(
                    type: type, occurredAt: occurredAt, data: data,
                    correlationID: try identifier("correlationId"), causationID: try identifier("causationId")))
        }
        var expectedVersion: ExpectedVersion?
        switch body["expectedVersion"] {
        case nil: break
        case .string("any"): expectedVersion = .any
        case .string("no_stream"): expectedVersion = .noStream
        case .some(let value):
            guard let version = value.uint64 else {
                throw .malformed("expectedVersion is \"any\", \"no_stream\" or a non-negative integer", field: "expectedVersion")
            }
            expectedVersion = .exactly(version)
        }
        var idempotencyKey: String?
        if let key = body["idempotencyKey"] {
            guard let text = key.string else { throw .malformed("idempotencyKey is a string", field: "idempotencyKey") }
            idempotencyKey = text
        }
        // What is stored in clear never names a person: only `person` (pseudonymised) and the
        // personal fields of `data` (sealed; checked with the schema, which knows them) may.
        if let found = IdentifierScanner.firstIdentifier(in: actor, path: "actor") { throw .identifierInClear(field: found) }
        if let idempotencyKey, IdentifierScanner.containsIdentifier(idempotencyKey) { throw .identifierInClear(field: "idempotencyKey") }
        for (index, event) in events.enumerated() {
            for (key, value) in [("type", event.type), ("correlationId", event.correlationID), ("causationId", event.causationID)]
            where value.map(IdentifierScanner.containsIdentifier) ?? false {
                throw .identifierInClear(field: "events[\(index)].\(key)")
            }
        }
        var contentDigest: Digest?
        if idempotencyKey != nil {
            var hasher = SHA256()
            hasher.update(bytes)
            contentDigest = hasher.finalize()
        }
        return RecordRequest(
            person: person, actor: actor, events: events, expectedVersion: expectedVersion,
            idempotencyKey: idempotencyKey, contentDigest: contentDigest)
    }
}
