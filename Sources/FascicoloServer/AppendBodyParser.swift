import FascicoloJSON
import FascicoloLedger

/// The body of `POST /v1/streams/{stream}/events`, parsed strictly in one pass over the bytes:
///
///     {"events":[{"type":"…","data":<any JSON>}, …], "expectedVersion":"any"|"no_stream"|N,
///      "idempotencyKey":"…"}
///
/// Each event's `data` is kept as the exact bytes the client sent (validated as JSON, never
/// re-encoded): those bytes are the payload that is signed and served back. Unknown or
/// duplicate keys, trailing bytes, invalid UTF-8 and nesting deeper than 64 are refused.
struct AppendBodyParser {
    struct Body {
        /// Each event's type, its data as sent (the payload), and that data read (for checks).
        var events: [(type: String, data: ArraySlice<UInt8>, value: JSON)] = []
        var expectedVersion: ExpectedVersion = .any
        var idempotencyKey: String?
    }

    struct Failure: Error {
        let reason: String
    }

    static let depthMax = 64

    private let bytes: [UInt8]
    private var index = 0

    static func parse(_ bytes: [UInt8]) throws(Failure) -> Body {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw Failure(reason: "the body is not UTF-8") }
        var parser = AppendBodyParser(bytes: bytes)
        let body = try parser.parseBody()
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("unexpected bytes after the body") }
        return body
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func parseBody() throws(Failure) -> Body {
        var body = Body()
        var seen = Set<String>()
        var sawEvents = false
        try parseObject { (parser: inout AppendBodyParser, key: String) throws(Failure) in
            // Member names are the client's text: errors name the allowed ones instead.
            guard seen.insert(key).inserted else { throw parser.failure("a member appears twice") }
            switch key {
            case "events":
                sawEvents = true
                try parser.parseArray { (parser: inout AppendBodyParser) throws(Failure) in
                    body.events.append(try parser.parseEvent())
                }
            case "expectedVersion":
                if parser.peek == UInt8(ascii: "\"") {
                    switch try parser.parseString() {
                    case "any": body.expectedVersion = .any
                    case "no_stream": body.expectedVersion = .noStream
                    default: throw parser.failure("expectedVersion is \"any\", \"no_stream\" or a number")
                    }
                } else {
                    let range = try parser.parseNumber()
                    guard let version = UInt64(String(decoding: parser.bytes[range], as: UTF8.self)) else {
                        throw parser.failure("expectedVersion is \"any\", \"no_stream\" or a non-negative integer")
                    }
                    body.expectedVersion = .exactly(version)
                }
            case "idempotencyKey":
                body.idempotencyKey = try parser.parseString()
            default:
                throw parser.failure("an unknown member (the members are events, expectedVersion, idempotencyKey)")
            }
        }
        guard sawEvents else { throw failure("the body has no events") }
        return body
    }

    private mutating func parseEvent() throws(Failure) -> (type: String, data: ArraySlice<UInt8>, value: JSON) {
        var type: String?
        var data: ArraySlice<UInt8>?
        var value: JSON?
        try parseObject { (parser: inout AppendBodyParser, key: String) throws(Failure) in
            switch key {
            case "type" where type == nil: type = try parser.parseString()
            case "data" where data == nil:
                let start = parser.index
                try parser.skipValue(depth: 2)
                data = parser.bytes[start..<parser.index]
                // The payload is stored as sent, so it is held to the strict reader's rules too:
                // a member name twice in one object (also when spelled with escapes) is refused.
                do throws(JSON.Malformed) { value = try JSON.parse(data!) } catch {
                    throw parser.failure("data is not strict JSON: \(error.reason)")
                }
            default: throw parser.failure("an event has exactly the members type and data, once each")
            }
        }
        guard let type, let data, let value else { throw failure("an event has a type and data") }
        return (type, data, value)
    }

    // MARK: - JSON grammar (RFC 8259)

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func failure(_ reason: String) -> Failure { Failure(reason: "\(reason) (at byte \(index))") }

    private mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Failure) {
        skipWhitespace()
        guard peek == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    private mutating func parseObject(_ member: (inout AppendBodyParser, String) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peek == UInt8(ascii: "}") { index += 1; return }
        while true {
            skipWhitespace()
            let key = try parseString()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            if peek == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    private mutating func parseArray(_ element: (inout AppendBodyParser) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if peek == UInt8(ascii: "]") { index += 1; return }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            if peek == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "]"))
            return
        }
    }

    /// Validates any JSON value and moves past it.
    private mutating func skipValue(depth: Int) throws(Failure) {
        guard depth <= Self.depthMax else { throw failure("data is nested deeper than \(Self.depthMax)") }
        skipWhitespace()
        switch peek {
        case UInt8(ascii: "{"):
            try parseObject { (parser: inout AppendBodyParser, _: String) throws(Failure) in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            try parseArray { (parser: inout AppendBodyParser) throws(Failure) in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): _ = try parseString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try parseNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count,
              bytes[index..<(index + count)].elementsEqual(UnsafeBufferPointer(start: word.utf8Start, count: count)) else {
            throw failure("invalid literal")
        }
        index += count
    }

    private mutating func parseNumber() throws(Failure) -> Range<Int> {
        let start = index
        func digits() -> Int {
            let first = index
            while let byte = peek, (0x30...0x39).contains(byte) { index += 1 }
            return index - first
        }
        if peek == UInt8(ascii: "-") { index += 1 }
        if peek == UInt8(ascii: "0") { index += 1 } else if digits() == 0 { throw failure("invalid number") }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw failure("invalid number") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw failure("invalid number") }
        }
        return start..<index
    }

    /// Parses a string and returns it decoded.
    private mutating func parseString() throws(Failure) -> String {
        guard peek == UInt8(ascii: "\"") else { throw failure("expected a string") }
        index += 1
        var decoded: [UInt8] = []
        while true {
            guard let byte = peek else { throw failure("unterminated string") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = peek else { throw failure("unterminated string") }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escaped)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                            throw failure("unpaired surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
                    decoded.append(contentsOf: Array(String(Character(unicode)).utf8))
                default: throw failure("invalid escape")
                }
            case 0x00..<0x20:
                throw failure("control character in a string")
            default:
                decoded.append(byte)
            }
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("invalid \\u escape") }
        var value: UInt32 = 0
        for byte in bytes[index..<(index + 4)] {
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw failure("invalid \\u escape")
            }
            value = value << 4 | digit
        }
        index += 4
        return value
    }
}
