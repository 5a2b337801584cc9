/// A strict reader for the small TOML subset the configuration uses: `[section]` headers,
/// `key = value` lines with integer, boolean or double-quoted string values, `#` comments.
/// Anything else — an unknown key, a duplicate, a value of the wrong type — is an error that
/// names the line, the key and the value, because a typo in a records system's configuration
/// must stop the start, not be ignored.
public struct ConfigurationFile: Sendable {
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case integer(Int)
        case boolean(Bool)
        case string(String)

        public var description: String {
            switch self {
            case .integer(let value): "\(value)"
            case .boolean(let value): "\(value)"
            case .string(let value): "\"\(value)\""
            }
        }
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let source: String
        public let line: Int
        public let message: String
        public var description: String { "\(source):\(line): \(message)" }
    }

    /// `section.key` → value, with the line it came from.
    public private(set) var values: [String: (value: Value, line: Int)] = [:]
    public let source: String

    public init(text: String, source: String) throws {
        self.source = source
        var section = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = Self.stripComment(rawLine).trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw ParseError(source: source, line: lineNumber, message: "a section header is [name]")
                }
                section = String(line.dropFirst().dropLast()).trimmingWhitespace()
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(source: source, line: lineNumber, message: "expected key = value, found \(line)")
            }
            let key = String(line[..<equals]).trimmingWhitespace()
            let rawValue = String(line[line.index(after: equals)...]).trimmingWhitespace()
            let name = section.isEmpty ? key : section + "." + key
            guard values[name] == nil else {
                throw ParseError(source: source, line: lineNumber, message: "\(name) is set twice")
            }
            guard let value = Self.parseValue(rawValue) else {
                throw ParseError(source: source, line: lineNumber,
                                 message: "\(name) = \(rawValue): expected an integer, true/false or a \"string\"")
            }
            values[name] = (value, lineNumber)
        }
    }

    private static func stripComment(_ line: Substring) -> String {
        var inString = false
        var result = ""
        for character in line {
            if character == "\"" { inString.toggle() }
            if character == "#" && !inString { break }
            result.append(character)
        }
        return result
    }

    private static func parseValue(_ text: String) -> Value? {
        if text == "true" { return .boolean(true) }
        if text == "false" { return .boolean(false) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") {
            let inner = text.dropFirst().dropLast()
            guard !inner.contains("\""), !inner.contains("\\") else { return nil }
            return .string(String(inner))
        }
        if let integer = Int(text.replacingUnderscores()) { return .integer(integer) }
        return nil
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice.removeLast() }
        return String(slice)
    }

    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
