/// Keeps a person's identifier out of what the command line prints.
///
/// The person commands send the codice fiscale (or STP, ENI or provisional code) to the daemon in
/// a body or a header and print only the pseudonym the daemon answers with. The daemon's answers
/// and problem details never contain the identifier; this is the second line of defence: every
/// line the person commands print goes through `apply`, which replaces the identifier given on
/// the command line, and anything shaped like a codice fiscale, with `<person>`.
///
/// The default value changes nothing (the other commands print the daemon's data unchanged).
struct Redaction: Sendable {
    static let placeholder = "<person>"

    /// Exact identifiers to hide, matched without regard to ASCII case as whole tokens.
    private let identifiers: [[UInt8]]
    /// Whether anything shaped like a codice fiscale is hidden too.
    private let codiciFiscali: Bool

    /// Redacts nothing.
    init() {
        identifiers = []
        codiciFiscali = false
    }

    /// Redacts `identifier` (also without its `provisional:` prefix) and every codice fiscale.
    init(person identifier: String?) {
        var values: [[UInt8]] = []
        if let identifier {
            let trimmed = Array(identifier.trimmingWhitespace().utf8).map(Self.upper)
            if !trimmed.isEmpty { values.append(trimmed) }
            let prefix = Array("PROVISIONAL:".utf8)
            if trimmed.starts(with: prefix), trimmed.count > prefix.count { values.append(Array(trimmed.dropFirst(prefix.count))) }
        }
        identifiers = values.sorted { $0.count > $1.count }  // the longer first: "provisional:x" before "x"
        codiciFiscali = true
    }

    func apply(_ text: String) -> String {
        guard codiciFiscali || !identifiers.isEmpty else { return text }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        var changed = false
        scan: while index < bytes.count {
            let atTokenStart = index == 0 || !Self.isTokenByte(bytes[index - 1])
            if atTokenStart {
                for identifier in identifiers where matches(identifier, in: bytes, at: index) {
                    output += Array(Self.placeholder.utf8)
                    index += identifier.count
                    changed = true
                    continue scan
                }
                if codiciFiscali, Self.isCodiceFiscale(bytes, at: index) {
                    output += Array(Self.placeholder.utf8)
                    index += 16
                    changed = true
                    continue scan
                }
            }
            output.append(bytes[index])
            index += 1
        }
        return changed ? String(decoding: output, as: UTF8.self) : text
    }

    /// `identifier` (upper case) at `index` in `bytes`, ending a token.
    private func matches(_ identifier: [UInt8], in bytes: [UInt8], at index: Int) -> Bool {
        let end = index + identifier.count
        guard end <= bytes.count else { return false }
        for offset in 0..<identifier.count where Self.upper(bytes[index + offset]) != identifier[offset] { return false }
        return end == bytes.count || !Self.isTokenByte(bytes[end])
    }

    /// 16 characters at `index` shaped like a codice fiscale (omocodia letters allowed), ending a token.
    static func isCodiceFiscale(_ bytes: [UInt8], at index: Int) -> Bool {
        guard index + 16 <= bytes.count, index + 16 == bytes.count || !isTokenByte(bytes[index + 16]) else { return false }
        // Letters: surname and name (6), month (8), check character (15); digits or omocodia
        // letters: year (6-7), day (9-10), comune (12-14); the comune's letter (11).
        let digitPositions: Set<Int> = [6, 7, 9, 10, 12, 13, 14]
        let omocodia = Array("LMNPQRSTUV".utf8)
        for offset in 0..<16 {
            let byte = upper(bytes[index + offset])
            let isLetter = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            if digitPositions.contains(offset) {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || omocodia.contains(byte) else { return false }
            } else {
                guard isLetter else { return false }
            }
        }
        return true
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func upper(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
    }
}

extension String {
    /// Without surrounding ASCII whitespace (spaces, tabs, line ends).
    func trimmingWhitespace() -> String {
        let isSpace: (UInt8) -> Bool = { [0x20, 0x09, 0x0A, 0x0D].contains($0) }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
