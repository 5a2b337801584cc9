/// The JSON writer: every answer of the daemon, every stored payload and control record, and the
/// command line's JSON are written here, and this is the one place strings are escaped.
///
/// JSON text built as bytes: responses are assembled from already-valid pieces (the stored
/// payloads are JSON), so nothing is decoded and encoded again on the read path, and strings are
/// copied whole unless they need escaping. Objects and arrays are written with `object` and
/// `array`, members with `member` (or `key` then a value), and the commas are put in; `raw`
/// writes text as is, for the few writers that place their own punctuation (the signed payloads,
/// whose bytes must not change).
public struct JSONBytes: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    /// Appends JSON punctuation or a literal, as is.
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends bytes that are already JSON (a stored payload).
    public mutating func raw(_ json: some Collection<UInt8>) {
        bytes.append(contentsOf: json)
    }

    /// Appends a stored JSON payload with its line breaks turned into spaces, so that an entry
    /// stays on one NDJSON line. In valid JSON a raw CR or LF can only be whitespace between
    /// tokens (inside strings they must be escaped), so the value is unchanged; the exact stored
    /// bytes remain available as `signedBytes`.
    public mutating func payload(_ json: [UInt8]) {
        separate()
        guard json.contains(where: { $0 == 0x0A || $0 == 0x0D }) else {
            bytes.append(contentsOf: json)
            return
        }
        bytes.append(contentsOf: json.map { $0 == 0x0A || $0 == 0x0D ? UInt8(ascii: " ") : $0 })
    }

    public mutating func number(_ value: some BinaryInteger) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func bool(_ value: Bool) {
        separate()
        value ? raw("true") : raw("false")
    }

    /// Appends a quoted, escaped JSON string.
    public mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { string(utf8: $0) }
    }

    public mutating func string(utf8: UnsafeBufferPointer<UInt8>) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        if JSON.plainRun(utf8, from: 0) == utf8.count {
            bytes.append(contentsOf: utf8)
        } else {
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0x00..<0x20:
                    raw("\\u00")
                    let digits: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(digits[Int(byte >> 4)])
                    bytes.append(digits[Int(byte & 0x0F)])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends a parsed value as compact JSON.
    public mutating func value(_ value: JSON) {
        separate()
        switch value {
        case .null: raw("null")
        case .bool(let flag): bool(flag)
        case .number(let text): raw(text.utf8)
        case .string(let text): string(text)
        case .array(let values):
            raw("[")
            for (index, element) in values.enumerated() {
                if index > 0 { raw(",") }
                self.value(element)
            }
            raw("]")
        case .object(let members):
            raw("{")
            for (index, member) in members.enumerated() {
                if index > 0 { raw(",") }
                string(member.key)
                raw(":")
                self.value(member.value)
            }
            raw("}")
        }
    }
}

// MARK: - Objects and arrays, commas put in

extension JSONBytes {
    /// Writes `{`, the members `body` writes (`member`, or `key` then a value), and `}`.
    public mutating func object(_ body: (inout JSONBytes) throws -> Void) rethrows {
        separate()
        bytes.append(UInt8(ascii: "{"))
        try body(&self)
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes `[`, the values `body` writes, and `]`.
    public mutating func array(_ body: (inout JSONBytes) throws -> Void) rethrows {
        separate()
        bytes.append(UInt8(ascii: "["))
        try body(&self)
        bytes.append(UInt8(ascii: "]"))
    }

    /// A member's name and its colon, in an object: the value written next is the member's.
    /// The name is the program's own, plain text (nothing to escape).
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        raw(name)
        raw("\":")
    }

    /// A member's name (escaped) and its colon: for names that come from data.
    public mutating func key(_ name: String) {
        separate()
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func member(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    public mutating func member(_ name: StaticString, _ value: some BinaryInteger) {
        key(name)
        number(value)
    }

    public mutating func member(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    public mutating func member(_ name: StaticString, _ value: JSON) {
        key(name)
        self.value(value)
    }

    public mutating func null() {
        separate()
        raw("null")
    }

    /// The comma before a value or a member, unless it is the first of its object or array,
    /// follows a name, or follows a comma or line break written by hand (`raw` writers place
    /// their own punctuation; NDJSON puts one value per line).
    mutating func separate() {
        guard let last = bytes.last else { return }
        switch last {
        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: ":"), UInt8(ascii: ","), 0x0A: return
        default: bytes.append(UInt8(ascii: ","))
        }
    }
}
