// The generic append body (FascicoloServer's AppendBody, read through JSON.read) against the
// strict JSON reader's whole-document parse: a body it accepts is JSON `parse` accepts too
// (unless nested deeper than `parse` allows around the events: `data` counts its nesting from
// itself), read the same way — each event's type, its
// data bytes as sent and their value, the expected version, the idempotency key — and a body of
// the right shape that the reader accepts is not refused.
import FascicoloJSON
import FascicoloLedger

@testable import FascicoloServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let body = try? AppendBody.parse(input)
    let json: JSON?
    var tooDeep = false
    do throws(JSON.Malformed) { json = try JSON.parse(input) } catch {
        json = nil
        tooDeep = error.reason == "nested too deeply"
    }

    if let body {
        for event in body.events {
            check((try? JSON.parse(event.data)) == event.value, "an event's data bytes do not read as its value")
            check(
                event.data.first.map { ![0x20, 0x09, 0x0A, 0x0D].contains($0) } ?? false,
                "an event's data starts with whitespace or is empty")
        }
        guard let json else {
            check(tooDeep, "AppendBody accepts a body the JSON reader refuses")
            return 0
        }
        let events = json["events"]?.array ?? []
        check(events.count == body.events.count, "a different number of events")
        for (event, parsed) in zip(events, body.events) {
            check(event["type"]?.string == parsed.type, "an event's type reads differently")
            check(event["data"] == parsed.value, "an event's data reads differently")
        }
        switch (json["expectedVersion"], body.expectedVersion) {
        case (nil, .any), (.string("any"), .any), (.string("no_stream"), .noStream): break
        case (.some(let value), .exactly(let version)): check(value.uint64 == version, "expectedVersion reads differently")
        default: check(false, "expectedVersion reads differently")
        }
        check(json["idempotencyKey"]?.string == body.idempotencyKey, "idempotencyKey reads differently")
    } else if let json, hasAppendShape(json) {
        check(false, "AppendBody refuses a well-formed append body: \(json.compact)")
    }
    return 0
}

/// What the append body's grammar allows, read off a parsed value.
private func hasAppendShape(_ json: JSON) -> Bool {
    guard let members = json.members, members.allSatisfy({ ["events", "expectedVersion", "idempotencyKey"].contains($0.key) }),
        let events = json["events"]?.array
    else { return false }
    for event in events {
        guard let eventMembers = event.members, eventMembers.count == 2, event["type"]?.string != nil, event["data"] != nil else {
            return false
        }
    }
    switch json["expectedVersion"] {
    case nil, .string("any"), .string("no_stream"): break
    case .some(let value) where value.uint64 != nil: break
    default: return false
    }
    if let key = json["idempotencyKey"], key.string == nil { return false }
    return true
}
