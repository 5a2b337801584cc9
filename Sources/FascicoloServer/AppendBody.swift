import FascicoloJSON
import FascicoloLedger

/// The body of `POST /v1/streams/{stream}/events`, read strictly in one pass by the JSON reader:
///
///     {"events":[{"type":"…","data":<any JSON>}, …], "expectedVersion":"any"|"no_stream"|N,
///      "idempotencyKey":"…"}
///
/// Each event's `data` is kept as the exact bytes the client sent (read once, never
/// re-encoded): those bytes are the payload that is signed and served back. Unknown or
/// duplicate members (in `data` too), trailing bytes, invalid UTF-8 and nesting deeper than
/// `JSON.depthMax` (in `data`, counted from `data`) are refused.
package struct AppendBody {
    package struct Event {
        var type: String
        /// The data as sent: the payload.
        var data: ArraySlice<UInt8>
        /// The same data read, for the checks made before storing it.
        var value: JSON
    }

    package var events: [Event] = []
    var expectedVersion: ExpectedVersion = .any
    var idempotencyKey: String?

    /// Why a body is refused, with the byte it was refused at. Never the client's text: member
    /// names are the client's too, so refusals name the allowed ones instead.
    package struct Failure: Error {
        package let reason: String
    }

    package static func parse(_ bytes: [UInt8]) throws(Failure) -> AppendBody {
        do throws(JSON.Malformed) {
            return try JSON.read(bytes) { (body) throws(JSON.Malformed) in try read(body: &body, bytes) }
        } catch {
            throw Failure(reason: "\(error.reason) (at byte \(error.offset))")
        }
    }

    private static func read(body reader: inout JSON.ValueReader, _ bytes: [UInt8]) throws(JSON.Malformed) -> AppendBody {
        var body = AppendBody()
        var sawEvents = false
        try reader.members(expected: "the body is not an object") { (name, value) throws(JSON.Malformed) in
            switch name {
            case "events":
                sawEvents = true
                try value.elements(expected: "events is an array") { (event) throws(JSON.Malformed) in
                    body.events.append(try readEvent(&event, bytes))
                }
            case "expectedVersion":
                body.expectedVersion = try readExpectedVersion(&value)
            case "idempotencyKey":
                body.idempotencyKey = try value.string(expected: "idempotencyKey is a string")
            default:
                throw value.refusal("an unknown member (the members are events, expectedVersion, idempotencyKey)")
            }
        }
        guard sawEvents else { throw reader.refusal("the body has no events") }
        return body
    }

    private static func readEvent(_ reader: inout JSON.ValueReader, _ bytes: [UInt8]) throws(JSON.Malformed) -> Event {
        var type: String?
        var data: (value: JSON, source: Range<Int>)?
        let shape = "an event has exactly the members type and data, once each"
        try reader.members(expected: shape) { (name, value) throws(JSON.Malformed) in
            switch name {
            case "type": type = try value.string(expected: "an event's type is a string")
            case "data": data = try value.buildKeepingSource()
            default: throw value.refusal(shape)
            }
        }
        guard let type, let data else { throw reader.refusal("an event has a type and data") }
        return Event(type: type, data: bytes[data.source], value: data.value)
    }

    private static func readExpectedVersion(_ reader: inout JSON.ValueReader) throws(JSON.Malformed) -> ExpectedVersion {
        if reader.isString {
            switch try reader.string() {
            case "any": return .any
            case "no_stream": return .noStream
            default: throw reader.refusal("expectedVersion is \"any\", \"no_stream\" or a number")
            }
        }
        let expected = "expectedVersion is \"any\", \"no_stream\" or a non-negative integer"
        guard let version = UInt64(try reader.number(expected: expected)) else { throw reader.refusal(expected) }
        return .exactly(version)
    }
}
