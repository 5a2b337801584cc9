import Glibc

/// A small JSON reader and compact writer (no Foundation needed), used by the daemon for domain
/// payloads and by the command line for the daemon's answers.
///
/// Numbers keep their source text and objects keep their member order, so a value read and
/// written again is the same JSON a person would recognise. Parsing is strict, since its input is
/// hostile: invalid UTF-8, duplicate member names, nesting beyond `depthMax` and trailing text are
/// refused.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text as it appeared.
    case number(String)
    case string(String)
    case array([JSON])
    case object([(key: String, value: JSON)])

    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    public struct Malformed: Error, CustomStringConvertible, Sendable {
        public let reason: String
        public let offset: Int
        public var description: String { "not valid JSON: \(reason) at byte \(offset)" }
    }

    /// The deepest nesting accepted.
    public static let depthMax = 64

    public static func parse(_ text: String) throws(Malformed) -> JSON {
        try parse(Array(text.utf8))
    }

    public static func parse(_ bytes: some Collection<UInt8>) throws(Malformed) -> JSON {
        try withBuffer(bytes) { bytes in
            Result { () throws(Malformed) -> JSON in
                guard isValidUTF8(bytes) else { throw Malformed(reason: "invalid UTF-8", offset: 0) }
                var parser = Parser(bytes: bytes)
                parser.skipWhitespace()
                let value = try parser.value(depth: 0)
                parser.skipWhitespace()
                guard parser.offset == bytes.count else {
                    throw Malformed(reason: "unexpected text after the value", offset: parser.offset)
                }
                return value
            }
        }.get()
    }

    /// The bytes as one contiguous buffer: in place when they are (an array, a buffer from
    /// LMDB), copied once otherwise. The parser reads through the buffer without bounds checks
    /// of its own beyond `count`.
    private static func withBuffer<T>(_ bytes: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        if let result = bytes.withContiguousStorageIfAvailable(body) { return result }
        return Array(bytes).withUnsafeBufferPointer(body)
    }

    /// ASCII (most JSON) is checked in one pass without building a string.
    private static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var combined: UInt8 = 0
        for byte in bytes { combined |= byte }
        return combined < 0x80 || String(validating: bytes, as: UTF8.self) != nil
    }

    /// The members of a top-level object, each value as its exact source bytes — so that a body
    /// can be amended without re-encoding the events in it (the daemon stores `data` as sent).
    public static func rawMembers(_ bytes: [UInt8]) throws(Malformed) -> [(key: String, value: ArraySlice<UInt8>)] {
        try bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(Malformed) -> [(key: String, value: ArraySlice<UInt8>)] in
                var members: [(key: String, value: ArraySlice<UInt8>)] = []
                var parser = Parser(bytes: buffer)
                try parser.topLevelMembers { (key, parser) throws(Malformed) in
                    let start = parser.offset
                    _ = try parser.value(depth: 1)
                    members.append((key, bytes[start..<parser.offset]))
                }
                return members
            }
        }.get()
    }

    /// Walks a top-level object (and checks nothing follows it), handing `body` each member's
    /// name as its raw bytes between the quotes — escapes not decoded: for matching names known
    /// to be plain — and the value, which `body` must build or skip. For reading a few members
    /// of documents validated when they were written (the log's payloads) with no string made
    /// for a name and no array of members.
    public static func visitMembers(
        _ bytes: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer, inout ValueReader) throws(Malformed) -> Void
    ) throws(Malformed) {
        var parser = Parser(bytes: bytes.assumingMemoryBound(to: UInt8.self))
        try parser.topLevelObject { (parser) throws(Malformed) in
            try parser.eachMemberRaw { (name, _, parser) throws(Malformed) in
                var value = ValueReader(parser: parser, depth: 1)
                try body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: name)), &value)
                parser = try value.finished()
            }
        }
    }

    /// Reads a hostile document whose shape the caller knows, in one pass: `body` takes the
    /// top-level value apart with a `ValueReader` (its members, elements, strings and numbers,
    /// or any value built with the exact bytes it was written as). The bytes are checked as
    /// UTF-8 first; duplicate member names, nesting beyond `depthMax` and text after the value
    /// are refused, as `parse` refuses them.
    public static func read<T>(_ bytes: [UInt8], _ body: (inout ValueReader) throws(Malformed) -> T) throws(Malformed) -> T {
        try bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(Malformed) -> T in
                guard isValidUTF8(buffer) else { throw Malformed(reason: "invalid UTF-8", offset: 0) }
                var parser = Parser(bytes: buffer)
                parser.skipWhitespace()
                var reader = ValueReader(parser: parser, depth: 0)
                let result = try body(&reader)
                parser = try reader.finished()
                parser.skipWhitespace()
                guard parser.offset == buffer.count else { throw parser.fail("unexpected text after the value") }
                return result
            }
        }.get()
    }

    /// One value of a document being read (`read`, `visitMembers`): taken apart, built or
    /// stepped over, once.
    public struct ValueReader {
        fileprivate var parser: Parser
        /// How deep the value is nested (the top-level value is 0).
        fileprivate let depth: Int
        fileprivate var consumed = false

        fileprivate init(parser: Parser, depth: Int) {
            self.parser = parser
            self.depth = depth
        }

        /// The parser past the value, which must have been read.
        fileprivate func finished() throws(Malformed) -> Parser {
            guard consumed else { throw parser.fail("value not read") }
            return parser
        }

        private mutating func consume() {
            precondition(!consumed, "a value is read once")
            consumed = true
        }

        /// A refusal of this value, at its offset (the reason must not repeat the document's text).
        public func refusal(_ reason: String) -> Malformed { parser.fail(reason) }

        public mutating func build() throws(Malformed) -> JSON {
            consume()
            return try parser.value(depth: depth)
        }

        /// The value, and its exact bytes (offsets in the document: from its first byte to past
        /// its last). Its nesting is counted as a document of its own, since that is how it
        /// will be read again: a payload kept as sent.
        public mutating func buildKeepingSource() throws(Malformed) -> (value: JSON, source: Range<Int>) {
            consume()
            let start = parser.offset
            let value = try parser.value(depth: 0)
            return (value, start..<parser.offset)
        }

        public mutating func skip() throws(Malformed) {
            consume()
            try parser.skipValue(depth: depth)
        }

        /// The value as a string (decoded), or a refusal that says `expected`.
        public mutating func string(expected: String = "expected a string") throws(Malformed) -> String {
            consume()
            guard parser.peek == UInt8(ascii: "\"") else { throw parser.fail(expected) }
            return try parser.string()
        }

        /// True when the value is a string (it is not read).
        public var isString: Bool { parser.peek == UInt8(ascii: "\"") }

        /// The value as a number's text, or a refusal that says `expected`.
        public mutating func number(expected: String = "expected a number") throws(Malformed) -> String {
            consume()
            guard let byte = parser.peek, byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw parser.fail(expected)
            }
            return try parser.number()
        }

        /// Walks the value as an object (or refuses it, saying `expected`), handing `body` each
        /// member's name (decoded) and value, which `body` must read. A name twice is refused.
        public mutating func members(
            expected: String = "expected an object",
            _ body: (String, inout ValueReader) throws(Malformed) -> Void
        ) throws(Malformed) {
            consume()
            guard parser.peek == UInt8(ascii: "{") else { throw parser.fail(expected) }
            guard depth < JSON.depthMax else { throw parser.fail("nested too deeply") }
            var names = MemberNames()
            let depth = self.depth
            try parser.eachMember { (name, parser) throws(Malformed) in
                guard names.insert(name) else { throw parser.fail("duplicate member name") }
                var value = ValueReader(parser: parser, depth: depth + 1)
                try body(name, &value)
                parser = try value.finished()
            }
        }

        /// Walks the value as an array (or refuses it, saying `expected`), handing `body` each
        /// element, which `body` must read.
        public mutating func elements(
            expected: String = "expected an array",
            _ body: (inout ValueReader) throws(Malformed) -> Void
        ) throws(Malformed) {
            consume()
            guard parser.peek == UInt8(ascii: "[") else { throw parser.fail(expected) }
            guard depth < JSON.depthMax else { throw parser.fail("nested too deeply") }
            let depth = self.depth
            try parser.eachElement { (parser) throws(Malformed) in
                var value = ValueReader(parser: parser, depth: depth + 1)
                try body(&value)
                parser = try value.finished()
            }
        }
    }

    /// The bytes without the whitespace around them.
    public static func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let isSpace: (UInt8) -> Bool = { [0x20, 0x09, 0x0A, 0x0D].contains($0) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return []
        }
        return bytes[first...last]
    }

    // MARK: - Access

    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var uint64: UInt64? {
        if case .number(let text) = self { return UInt64(text) }
        return nil
    }

    public var int: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var array: [JSON]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    /// Compact JSON text.
    public var compact: String { String(decoding: bytes, as: UTF8.self) }

    /// Compact JSON as UTF-8 bytes.
    public var bytes: [UInt8] {
        var writer = JSONBytes()
        writer.value(self)
        return writer.bytes
    }

    public var members: [(key: String, value: JSON)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The index of the first byte from `start` that ends a plain stretch of a string: a quote,
    /// a backslash or a control character (or the end) — what a reader stops at, and what a
    /// writer must escape. Sixteen, then eight bytes at a time: the strings read, stepped over
    /// and written are mostly long base64 boxes and plain text.
    static func plainRun(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var index = start
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        // A byte of `word` is zero: (word - ones) & ~word & highs is non-zero.
        func hasZeroByte(_ word: UInt64) -> Bool { (word &- ones) & ~word & highs != 0 }
        if let base = bytes.baseAddress {
            // One compare each on SSE2.
            let quotes = SIMD16<UInt8>(repeating: 0x22)
            let backslashes = SIMD16<UInt8>(repeating: 0x5C)
            let spaces = SIMD16<UInt8>(repeating: 0x20)
            while index + 16 <= bytes.count {
                let chunk = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD16<UInt8>.self)
                if any((chunk .== quotes) .| (chunk .== backslashes) .| (chunk .< spaces)) { break }
                index += 16
            }
            while index + 8 <= bytes.count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                let control = (word &- 0x2020_2020_2020_2020) & ~word & highs  // a byte below 0x20
                if control != 0 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C)) { break }
                index += 8
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            index += 1
        }
        return index
    }

    // MARK: - Parsing

    /// Reads a buffer that outlives it (the entry points hold it for the parse).
    fileprivate struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var offset = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while offset < bytes.count {
                switch bytes[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        func fail(_ reason: String) -> Malformed { Malformed(reason: reason, offset: offset) }

        var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }

        mutating func value(depth: Int) throws(Malformed) -> JSON {
            guard depth < JSON.depthMax else { throw fail("nested too deeply") }
            guard offset < bytes.count else { throw fail("unexpected end") }
            switch bytes[offset] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("unexpected character")
            }
        }

        /// Reads a top-level object (and nothing after it), handing each member's name to `body`
        /// with the parser at its value; `body` must consume the value.
        mutating func topLevelMembers(_ body: (String, inout Parser) throws(Malformed) -> Void) throws(Malformed) {
            try topLevelObject { (parser) throws(Malformed) in try parser.eachMember(body) }
        }

        /// Checks the buffer holds one object and nothing after it; `walk` reads it from its `{`.
        mutating func topLevelObject(_ walk: (inout Parser) throws(Malformed) -> Void) throws(Malformed) {
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "{") else { throw fail("expected an object") }
            try walk(&self)
            skipWhitespace()
            guard offset == bytes.count else { throw fail("unexpected text after the value") }
        }

        /// Walks an object from its `{` to past its `}`, handing each member's name to `body`
        /// with the parser at its value; `body` must consume the value.
        mutating func eachMember(_ body: (String, inout Parser) throws(Malformed) -> Void) throws(Malformed) {
            try eachMemberRaw { (name, escaped, parser) throws(Malformed) in
                if escaped {
                    var nameParser = Parser(bytes: parser.bytes)
                    nameParser.offset = name.startIndex - 1
                    try body(try nameParser.string(), &parser)
                } else {
                    try body(String(decoding: name, as: UTF8.self), &parser)
                }
            }
        }

        /// `eachMember` with each name as its raw bytes between the quotes, and whether it has
        /// an escape (then those bytes are not the name).
        mutating func eachMemberRaw(_ body: (Slice<UnsafeBufferPointer<UInt8>>, Bool, inout Parser) throws(Malformed) -> Void)
            throws(Malformed)
        {
            offset += 1
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                return
            }
            while true {
                skipWhitespace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let nameStart = offset + 1
                let escaped = try skipString()
                let name = bytes[nameStart..<(offset - 1)]
                skipWhitespace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                offset += 1
                skipWhitespace()
                try body(name, escaped, &self)
                skipWhitespace()
                guard offset < bytes.count else { throw fail("unexpected end in an object") }
                if bytes[offset] == UInt8(ascii: ",") {
                    offset += 1
                } else if bytes[offset] == UInt8(ascii: "}") {
                    offset += 1
                    return
                } else {
                    throw fail("expected ',' or '}'")
                }
            }
        }

        /// Walks an array from its `[` to past its `]`, with `body` called at each value (which
        /// it must consume).
        mutating func eachElement(_ body: (inout Parser) throws(Malformed) -> Void) throws(Malformed) {
            offset += 1
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                return
            }
            while true {
                skipWhitespace()
                try body(&self)
                skipWhitespace()
                guard offset < bytes.count else { throw fail("unexpected end in an array") }
                if bytes[offset] == UInt8(ascii: ",") {
                    offset += 1
                } else if bytes[offset] == UInt8(ascii: "]") {
                    offset += 1
                    return
                } else {
                    throw fail("expected ',' or ']'")
                }
            }
        }

        /// Steps over a value without building it: strings are scanned to their closing quote
        /// (escapes stepped over, not decoded), objects and arrays walked, numbers and literals
        /// checked as `value` checks them.
        mutating func skipValue(depth: Int) throws(Malformed) {
            guard depth < JSON.depthMax else { throw fail("nested too deeply") }
            guard offset < bytes.count else { throw fail("unexpected end") }
            switch bytes[offset] {
            case UInt8(ascii: "\""): try skipString()
            case UInt8(ascii: "{"): try eachMember { (_, parser) throws(Malformed) in try parser.skipValue(depth: depth + 1) }
            case UInt8(ascii: "["): try eachElement { (parser) throws(Malformed) in try parser.skipValue(depth: depth + 1) }
            default: _ = try value(depth: depth)
            }
        }

        /// Steps over a string; true if it has an escape.
        @discardableResult
        private mutating func skipString() throws(Malformed) -> Bool {
            offset += 1
            var escaped = false
            while true {
                offset = plainRun(from: offset)
                guard offset < bytes.count else { throw fail("unterminated string") }
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    offset += 1
                    return escaped
                }
                guard byte >= 0x20 else { throw fail("control character in a string") }
                escaped = true
                offset += 2  // a backslash and the character it escapes
            }
        }

        func plainRun(from start: Int) -> Int { JSON.plainRun(bytes, from: start) }

        mutating func literal(_ word: StaticString) throws(Malformed) {
            let count = word.utf8CodeUnitCount
            guard offset + count <= bytes.count, memcmp(bytes.baseAddress! + offset, word.utf8Start, count) == 0 else {
                throw fail("expected \(word)")
            }
            offset += count
        }

        mutating func object(depth: Int) throws(Malformed) -> JSON {
            var members: [(key: String, value: JSON)] = []
            // Small objects (nearly all) are searched in place; a large one gets a set, so that a
            // hostile body of a million members costs a million lookups, not 10^12 compares.
            var names: Set<String>?
            try eachMember { (key, parser) throws(Malformed) in
                let duplicate: Bool
                if members.count < Self.linearSearchMembersMax {
                    duplicate = members.contains { $0.key == key }
                } else {
                    if names == nil { names = Set(members.map(\.key)) }
                    duplicate = !names!.insert(key).inserted
                }
                guard !duplicate else { throw parser.fail("duplicate member name") }
                members.append((key, try parser.value(depth: depth + 1)))
            }
            return .object(members)
        }

        static let linearSearchMembersMax = 16

        mutating func array(depth: Int) throws(Malformed) -> JSON {
            var values: [JSON] = []
            try eachElement { (parser) throws(Malformed) in values.append(try parser.value(depth: depth + 1)) }
            return .array(values)
        }

        mutating func number() throws(Malformed) -> String {
            let start = offset
            func digits(_ offset: inout Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Int {
                let first = offset
                while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
                return offset - first
            }
            if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard offset < bytes.count else { throw fail("bad number") }
            if bytes[offset] == UInt8(ascii: "0") {
                offset += 1
            } else if digits(&offset, bytes) == 0 {
                throw fail("bad number")
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
                offset += 1
                guard digits(&offset, bytes) > 0 else { throw fail("bad number") }
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
                offset += 1
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
                guard digits(&offset, bytes) > 0 else { throw fail("bad number") }
            }
            return String(decoding: bytes[start..<offset], as: UTF8.self)
        }

        mutating func string() throws(Malformed) -> String {
            offset += 1
            var run = offset  // start of the current stretch without escapes
            var text = ""
            while true {
                offset = plainRun(from: offset)
                guard offset < bytes.count else { throw fail("unterminated string") }
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    // Most strings have no escape: one string, made once.
                    let tail = String(decoding: bytes[run..<offset], as: UTF8.self)
                    offset += 1
                    return text.isEmpty ? tail : text + tail
                }
                guard byte >= 0x20 else { throw fail("control character in a string") }
                text += String(decoding: bytes[run..<offset], as: UTF8.self)
                offset += 1
                guard offset < bytes.count else { throw fail("unterminated escape") }
                let escape = bytes[offset]
                offset += 1
                switch escape {
                case UInt8(ascii: "\""): text.unicodeScalars.append("\"")
                case UInt8(ascii: "\\"): text.unicodeScalars.append("\\")
                case UInt8(ascii: "/"): text.unicodeScalars.append("/")
                case UInt8(ascii: "b"): text.unicodeScalars.append("\u{08}")
                case UInt8(ascii: "f"): text.unicodeScalars.append("\u{0C}")
                case UInt8(ascii: "n"): text.unicodeScalars.append("\n")
                case UInt8(ascii: "r"): text.unicodeScalars.append("\r")
                case UInt8(ascii: "t"): text.unicodeScalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate")
                        }
                        offset += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("unpaired surrogate") }
                    text.unicodeScalars.append(scalar)
                default: throw fail("bad escape")
                }
                run = offset
            }
        }

        mutating func hex4() throws(Malformed) -> UInt32 {
            guard offset + 4 <= bytes.count else { throw fail("bad \\u escape") }
            var value: UInt32 = 0
            for byte in bytes[offset..<(offset + 4)] {
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail("bad \\u escape")
                }
                value = value << 4 | digit
            }
            offset += 4
            return value
        }
    }
}

/// The member names of an object walked by a `ValueReader`, to refuse a name twice: searched in
/// place while few (nearly always), in a set beyond, so that a hostile body of a million members
/// costs a million lookups, not 10^12 compares (`Parser.object` does the same over its members).
private struct MemberNames {
    private var list: [String] = []
    private var set: Set<String>?
    private static let linearSearchMax = JSON.Parser.linearSearchMembersMax

    /// False when `name` was there already.
    mutating func insert(_ name: String) -> Bool {
        if var set {
            self.set = nil  // one reference: inserted in place
            defer { self.set = set }
            return set.insert(name).inserted
        }
        if list.contains(name) { return false }
        list.append(name)
        if list.count > Self.linearSearchMax {
            set = Set(list)
            list = []
        }
        return true
    }
}
