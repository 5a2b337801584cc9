import TOMLKit

/// The daemon's configuration file: TOML 1.0, read by TOMLKit (toml++), flattened to
/// `section.key` names with the value and the line each key is written on. What TOML refuses is a
/// `ParseError` naming the file's line; what the daemon has no key for, or a value of the wrong
/// type, is refused by `DaemonConfiguration`, again with the line — a typo in a records system's
/// configuration must stop the start, not be ignored.
public struct ConfigurationFile: Sendable {
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case integer(Int)
        /// An integer written in TOML's octal notation (`0o660`): a file mode. The notation is kept
        /// because `660` is another number, which a mode must refuse rather than misread.
        case octal(Int)
        case boolean(Bool)
        case string(String)
        case array([Value])
        /// A TOML value no key takes (a float, a date or time, a table in an array): its type's name.
        case unsupported(String)

        /// The value as TOML writes it (strings quoted and escaped, so that no control character
        /// of a file reaches a terminal through an error message).
        public var description: String {
            switch self {
            case .integer(let value): "\(value)"
            case .octal(let value): "0o" + String(value, radix: 8)
            case .boolean(let value): "\(value)"
            case .string(let value): Self.quoted(value)
            case .array(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
            case .unsupported(let type): "(a \(type))"
            }
        }

        /// What the value is, for "expected …, found …" messages.
        public var typeName: String {
            switch self {
            case .integer, .octal: "an integer"
            case .boolean: "a boolean"
            case .string: "a string"
            case .array: "an array"
            case .unsupported(let type): "a \(type)"
            }
        }

        static func quoted(_ text: String) -> String {
            var result = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": result += "\\\""
                case "\\": result += "\\\\"
                case "\n": result += "\\n"
                case "\t": result += "\\t"
                case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: result.unicodeScalars.append(scalar)
                }
            }
            return result + "\""
        }
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let source: String
        public let line: Int
        public let message: String
        public var description: String { "\(source):\(line): \(message)" }
    }

    public struct Entry: Sendable {
        public let value: Value
        /// The line the key is written on (the line of its table's header, or of the key holding
        /// it, when it is written inside an inline table or an array of tables).
        public let line: Int
    }

    /// `section.key` → value, with the line it came from.
    public private(set) var values: [String: Entry] = [:]
    public let source: String

    /// Reads a file's bytes: they must be UTF-8, as TOML requires (a byte that is not would
    /// otherwise be read as U+FFFD, silently).
    public init(bytes: [UInt8], source: String) throws {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let lenient = String(decoding: bytes, as: UTF8.self)
            let before = lenient.unicodeScalars.prefix { $0 != "\u{FFFD}" }
            let line = before.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
            throw ParseError(source: source, line: line, message: "not UTF-8 text")
        }
        try self.init(text: text, source: source)
    }

    public init(text: String, source: String) throws {
        self.source = source
        try Self.refuseWhatTOMLKitWouldCut(text, source: source)
        // Before toml++ reads the text: a header that does not start with a key, or an array closed
        // by `}`, trips an assertion in toml++ 3.4 (parse_table_header calls parse_key unchecked;
        // parse_array calls parse_value on a terminator): an abort in a debug build, undefined
        // behaviour where NDEBUG turns the assertion into an assumption.
        let places = KeyPlaces(text)
        if let line = places.headerWithoutKey {
            throw ParseError(source: source, line: line, message: "a table header must start with a key, and brackets must match")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let lineCount = text.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            throw ParseError(
                source: source, line: min(max(error.source.begin.line, 1), lineCount),
                message: Self.withoutQuotedText(error.description))
        }
        flatten(table, path: [], places: places)
    }

    private mutating func flatten(_ table: TOMLTable, path: [String], places: KeyPlaces) {
        for (key, node) in table {
            let keyPath = path + [key]
            if let inner = node.table {
                flatten(inner, path: keyPath, places: places)
                continue
            }
            var value = Self.value(node)
            if case .integer(let number) = value, places.writtenValue(of: keyPath)?.hasPrefix("0o") == true {
                value = .octal(number)
            }
            values[Self.name(keyPath)] = Entry(value: value, line: places.line(of: keyPath))
        }
    }

    private static func value(_ node: TOMLValueConvertible) -> Value {
        switch node.type {
        case .int: node.int.map(Value.integer) ?? .unsupported("integer")
        case .bool: node.bool.map(Value.boolean) ?? .unsupported("boolean")
        case .string: node.string.map(Value.string) ?? .unsupported("string")
        case .array: .array(node.array.map { $0.map(value) } ?? [])
        case .table: .unsupported("table")
        case .double: .unsupported("floating-point number")
        case .date: .unsupported("date")
        case .time: .unsupported("time")
        case .dateTime: .unsupported("date-time")
        }
    }

    /// `section.key`; a key that is not a plain TOML bare key is quoted, so that `"a.b"` is not
    /// taken for the key `b` of section `a`.
    static func name(_ path: [String]) -> String {
        path.map { segment in
            let bare =
                !segment.isEmpty
                && segment.utf8.allSatisfy {
                    (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                        || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
                }
            return bare ? segment : Value.quoted(segment)
        }.joined(separator: ".")
    }

    /// TOMLKit hands the text to toml++ as a C string and reads strings and keys back as C
    /// strings: a NUL, raw or escaped, would end them early and the rest would be lost silently.
    private static func refuseWhatTOMLKitWouldCut(_ text: String, source: String) throws {
        var line = 1
        var previous: [UInt8] = []
        for byte in text.utf8 {
            if byte == 0 { throw ParseError(source: source, line: line, message: "a NUL character") }
            if byte == UInt8(ascii: "\n") { line += 1 }
            previous.append(byte)
            if previous.count > 10 { previous.removeFirst() }
            if previous.suffix(6).elementsEqual("\\u0000".utf8) || previous.elementsEqual("\\U00000000".utf8) {
                throw ParseError(source: source, line: line, message: "a string holding the NUL character (\\u0000)")
            }
        }
    }

    /// toml++'s messages quote what they found ("'…' is not representable in 64 bits"): that can
    /// be a value, and a configuration's values stay out of messages. The line and column say where.
    static func withoutQuotedText(_ message: String) -> String {
        var result = ""
        var quoted = false
        for character in message {
            if character == "'" {
                quoted.toggle()
                result += quoted ? "'…" : "'"
            } else if !quoted {
                result.append(character)
            }
        }
        return result
    }
}

/// Where each key of a TOML document is written, and the text of its value as written.
///
/// TOMLKit 0.6.0 reports a position only for a syntax error (`TOMLParseError.source`); the nodes
/// of a parsed document carry none, though toml++ keeps them. So after TOMLKit has accepted the
/// text — it is valid TOML — this walks it once, knowing only what TOML 1.0 says of a line:
/// a line is blank, a comment, a `[table]` or `[[array]]` header, or `key = value`, where the
/// key and the start of the value are on that line and only strings (`"""`, `'''`) and arrays
/// continue the value on later lines. It skips values (strings with their escapes, brackets,
/// comments) without reading them. Keys inside inline tables and arrays of tables are not
/// recorded: they are placed on the line of the key or header that holds them.
/// Tested by ConfigurationTests (multi-line strings and arrays, quoted and dotted keys) and by
/// the fuzz target `config`, which checks every accepted document's keys against its lines.
struct KeyPlaces {
    private var lines: [[String]: Int] = [:]
    private var written: [[String]: Substring] = [:]
    /// The line of a `[` or `[[` header whose first character is not a key's, or of a value
    /// whose brackets do not match (`[ }`): not TOML, and more (see `ConfigurationFile.init`).
    private(set) var headerWithoutKey: Int?

    /// The line of the key, or of the nearest enclosing key or header written in the text.
    func line(of path: [String]) -> Int {
        for length in stride(from: path.count, through: 1, by: -1) {
            if let line = lines[Array(path.prefix(length))] { return line }
        }
        return 1
    }

    /// The value's first token as written (`0o660`), for a key written as `key = value`.
    func writtenValue(of path: [String]) -> Substring? { written[path] }

    init(_ text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        // toml++ skips a byte order mark at the start; read as the start of a key, it would make
        // the first key run on to the next `=` and lose every line after it. (Stepped over, not
        // removed: tokens are cut from `text` at the scanner's offsets.)
        if scanner.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { scanner.advance(3) }
        var table: [String] = []
        while let byte = scanner.peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                scanner.advance()
            case UInt8(ascii: "#"):
                scanner.skipComment()
            case UInt8(ascii: "["):
                let line = scanner.line
                scanner.advance()
                if scanner.peek() == UInt8(ascii: "[") { scanner.advance() }
                scanner.skipBlanks()
                if let first = scanner.peek(), !Scanner.isBareKey(first),
                    !"\"']".utf8.contains(first), headerWithoutKey == nil
                {
                    headerWithoutKey = line
                }
                table = scanner.keyPath()
                if lines[table] == nil { lines[table] = line }
                scanner.skipLine()
            default:
                let line = scanner.line
                let path = table + scanner.keyPath()
                guard scanner.peek() == UInt8(ascii: "=") else { return }  // not TOML after all
                scanner.advance()
                scanner.skipBlanks()
                if lines[path] == nil { lines[path] = line }
                written[path] = scanner.token(in: text)
                if !scanner.skipValue(), headerWithoutKey == nil { headerWithoutKey = line }
            }
        }
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        func peek(_ offset: Int = 0) -> UInt8? {
            index + offset < bytes.count ? bytes[index + offset] : nil
        }

        mutating func advance(_ count: Int = 1) {
            for _ in 0..<count where index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") { line += 1 }
                index += 1
            }
        }

        mutating func skipBlanks() {
            while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
        }

        mutating func skipComment() {
            while let byte = peek(), byte != UInt8(ascii: "\n") { advance() }
        }

        /// The rest of a header line (its closing brackets and a comment).
        mutating func skipLine() { skipComment() }

        /// `a.b."c d".'e'`: the key's segments, up to the `=` or `]` after it.
        mutating func keyPath() -> [String] {
            var segments: [String] = []
            while true {
                skipBlanks()
                guard let byte = peek() else { return segments }
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    advance()
                    var segment: [UInt8] = []
                    while let next = peek(), next != byte {
                        // Only \" and \\ are unescaped: a key with another escape is not found, and
                        // is placed on its table's line.
                        if byte == UInt8(ascii: "\""), next == UInt8(ascii: "\\"), let escaped = peek(1) {
                            let plain = escaped == UInt8(ascii: "\\") || escaped == UInt8(ascii: "\"")
                            segment += plain ? [escaped] : [next, escaped]
                            advance(2)
                        } else {
                            segment.append(next)
                            advance()
                        }
                    }
                    advance()
                    segments.append(String(decoding: segment, as: UTF8.self))
                } else {
                    let start = index
                    while let next = peek(), Self.isBareKey(next) { advance() }
                    guard index > start else { return segments }
                    segments.append(String(decoding: bytes[start..<index], as: UTF8.self))
                }
                skipBlanks()
                guard peek() == UInt8(ascii: ".") else { return segments }
                advance()
            }
        }

        static func isBareKey(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }

        /// The value's text up to a blank, a comma, a bracket, a comment or the end of the line.
        func token(in text: String) -> Substring {
            var end = index
            while end < bytes.count, !" \t\r\n#,]}".utf8.contains(bytes[end]) { end += 1 }
            let utf8 = text.utf8
            let from = utf8.index(utf8.startIndex, offsetBy: index)
            let to = utf8.index(utf8.startIndex, offsetBy: end)
            return Substring(utf8[from..<to])
        }

        /// A value, however many lines its strings and arrays take, up to the end of its line.
        /// False when a bracket closes what it did not open (`[ }`).
        @discardableResult
        mutating func skipValue() -> Bool {
            var open: [UInt8] = []
            var matched = true
            while let byte = peek() {
                switch byte {
                case UInt8(ascii: "\n") where open.isEmpty:
                    return matched
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    skipString(quote: byte)
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    open.append(byte)
                    advance()
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    let opener = byte == UInt8(ascii: "]") ? UInt8(ascii: "[") : UInt8(ascii: "{")
                    if open.popLast() != opener { matched = false }
                    advance()
                case UInt8(ascii: "#"):
                    skipComment()
                default:
                    advance()
                }
            }
            return matched
        }

        /// A basic (`"`) or literal (`'`) string, single- or multi-line; basic strings have escapes.
        mutating func skipString(quote: UInt8) {
            let multiline = peek(1) == quote && peek(2) == quote
            advance(multiline ? 3 : 1)
            while let byte = peek() {
                if quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") {
                    advance(2)
                } else if byte == quote, !multiline {
                    advance()
                    return
                } else if byte == quote, peek(1) == quote, peek(2) == quote {
                    advance(3)
                    // A multi-line string may end with one or two quotes of its own before the three.
                    while peek() == quote { advance() }
                    return
                } else {
                    advance()
                }
            }
        }
    }
}
