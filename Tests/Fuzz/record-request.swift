// The domain request body (RecordRequest.parse): hostile bytes are refused with a DomainError,
// never a trap; what is accepted holds no identifier in clear outside `person`, and its digest
// is there exactly when an idempotency key is.
import FascicoloDomain
import FascicoloJSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let request: RecordRequest
    do throws(DomainError) { request = try RecordRequest.parse(input, eventsMax: 16) } catch {
        // The error never repeats the identifier the body named.
        if let person = (try? JSON.parse(input))?["person"]?.string, person.utf8.count >= 16 {
            check(!error.description.contains(person), "an error repeats the person identifier")
        }
        return 0
    }
    check((try? JSON.parse(input)) != nil, "accepted a body the JSON reader refuses")
    check((1...16).contains(request.events.count), "accepted \(request.events.count) events")
    check(IdentifierScanner.firstIdentifier(in: request.actor, path: "actor") == nil, "an identifier in the actor")
    for event in request.events {
        check(event.data.isObject, "an event's data is not an object")
        for text in [event.type, event.correlationID, event.causationID].compactMap({ $0 }) {
            check(!IdentifierScanner.containsIdentifier(text), "an identifier in clear in an event")
        }
    }
    if let key = request.idempotencyKey { check(!IdentifierScanner.containsIdentifier(key), "an identifier in the idempotency key") }
    check((request.contentDigest != nil) == (request.idempotencyKey != nil), "a content digest without a key, or a key without one")
    return 0
}
