/// How a person is identified at the API, before pseudonymisation.
///
/// The associated value is personal data. `description`, `debugDescription` and the mirror show only
/// the kind, so string interpolation, `print`, `dump` and test-failure output cannot leak it; the value
/// leaves this type only through pattern matching and `canonicalText` (which is meant to be hashed).
public enum PersonIdentifier: Sendable, Equatable, Hashable {
    /// An Italian codice fiscale (persone fisiche): 16 uppercase characters, omocodia letters kept as
    /// given. An omocodic code names a different person from its base code, so the letters are not undone.
    case codiceFiscale(String)
    /// "STP" + 13 digits: Straniero Temporaneamente Presente.
    case stp(String)
    /// "ENI" + 13 digits: Europeo Non Iscritto.
    case eni(String)
    /// A local provisional id, without its "provisional:" prefix: 4...64 of [A-Za-z0-9-_.], case kept.
    case provisional(String)

    /// Parses the API's text form. Surrounding ASCII whitespace is ignored; a codice fiscale, STP or
    /// ENI code may be given in any case, a provisional id keeps its case.
    public init(parsing text: String) throws(PersonIdentifierError) {
        let bytes = ASCII.trimmed(Array(text.utf8))
        guard !bytes.isEmpty else {
            throw PersonIdentifierError(code: "empty_person_identifier", reason: "the person identifier is empty")
        }

        let provisionalPrefix = Array("provisional:".utf8)
        if bytes.count >= provisionalPrefix.count,
            bytes[..<provisionalPrefix.count].map(ASCII.lowercased).elementsEqual(provisionalPrefix)
        {
            let id = bytes[provisionalPrefix.count...]
            guard (4...64).contains(id.count), id.allSatisfy(ASCII.isProvisionalCharacter) else {
                throw PersonIdentifierError(
                    code: "invalid_provisional_id",
                    reason: "a provisional id is 4 to 64 letters, digits, '-', '_' or '.'")
            }
            self = .provisional(String(decoding: id, as: UTF8.self))
            return
        }

        let upper = bytes.map(ASCII.uppercased)
        let head = upper.prefix(3)
        // A codice fiscale has a letter in position 4, so "STP"/"ENI" followed by anything else (or by
        // nothing) can only be meant as an STP/ENI code: report it as such rather than as a bad codice fiscale.
        if head.elementsEqual("STP".utf8) || head.elementsEqual("ENI".utf8),
            upper.count == 3 || !ASCII.isLetter(upper[3])
        {
            let isSTP = head.elementsEqual("STP".utf8)
            guard upper.count == 16, upper[3...].allSatisfy(ASCII.isDigit) else {
                throw isSTP
                    ? PersonIdentifierError(code: "invalid_stp", reason: "an STP code is 'STP' followed by 13 digits")
                    : PersonIdentifierError(code: "invalid_eni", reason: "an ENI code is 'ENI' followed by 13 digits")
            }
            let code = String(decoding: upper, as: UTF8.self)
            self = isSTP ? .stp(code) : .eni(code)
            return
        }

        try CodiceFiscale.validate(upper)
        self = .codiceFiscale(String(decoding: upper, as: UTF8.self))
    }

    /// The kind's stable machine name.
    public var kind: String {
        switch self {
        case .codiceFiscale: "codice_fiscale"
        case .stp: "stp"
        case .eni: "eni"
        case .provisional: "provisional"
        }
    }

    /// The text hashed into the pseudonym: a short tag, ":", the normalised value. The tag keeps the
    /// kinds apart, so no value of one kind can collide with a value of another.
    public var canonicalText: String {
        switch self {
        case .codiceFiscale(let code): "CF:" + code
        case .stp(let code): "STP:" + code
        case .eni(let code): "ENI:" + code
        case .provisional(let id): "PROVISIONAL:" + id
        }
    }
}

extension PersonIdentifier: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "<person identifier: \(kind)>" }
    public var debugDescription: String { description }
    /// No children: `dump` and reflection-based printers would otherwise show the value.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// Why a text is not a person identifier. The reason names the rule broken, never the value itself:
/// errors end up in logs and problem responses, and the value is personal data.
public struct PersonIdentifierError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable machine code: "empty_person_identifier", "invalid_codice_fiscale", "invalid_stp",
    /// "invalid_eni" or "invalid_provisional_id".
    public let code: String
    /// An English sentence describing the rule broken.
    public let reason: String

    public var description: String { "\(code): \(reason)" }
}

extension PersonIdentifier {
    /// A complete codice fiscale from its first 15 characters (uppercase ASCII), with the check
    /// character computed — for generators and benchmarks that need valid codes.
    public static func codiceFiscale(completing first15: String) -> String {
        first15 + String(UnicodeScalar(CodiceFiscale.checkCharacter(ArraySlice(first15.utf8))))
    }
}

// Helpers are nested and fileprivate so that generic names like `ASCII` cannot clash with the module's other files.
extension PersonIdentifier {
    /// The checks for a codice fiscale of a natural person (DM 23/12/1976 and its omocodia rules).
    fileprivate enum CodiceFiscale {
        /// 0-based offsets of the characters that are digits in a base code and may become omocodia letters.
        static let omocodiaOffsets = [6, 7, 9, 10, 12, 13, 14]
        /// Omocodia letter for each digit 0-9.
        static let omocodiaLetters = Array("LMNPQRSTUV".utf8)
        /// Month letters January...December.
        static let monthLetters = Array("ABCDEHLMPRST".utf8)
        /// Longest day of each month; February allows 29 because the century, hence leap year, is unknown.
        static let monthDays = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        /// Value of a character in an odd (1-based) position; digits 0-9 take the values of A-J.
        static let oddValues = [
            1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18,  // A-M
            20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,  // N-Z
        ]

        /// `code` is uppercase ASCII bytes as given (not yet known to be 16 long).
        static func validate(_ code: [UInt8]) throws(PersonIdentifierError) {
            func fail(_ reason: String) -> PersonIdentifierError {
                PersonIdentifierError(code: "invalid_codice_fiscale", reason: reason)
            }
            guard code.count == 16 else { throw fail("a codice fiscale has 16 characters") }
            guard code[0..<6].allSatisfy(ASCII.isLetter) else {
                throw fail("characters 1–6 of a codice fiscale are letters")
            }
            guard omocodiaOffsets.allSatisfy({ digit(code[$0]) != nil }) else {
                throw fail("characters 7, 8, 10, 11, 13, 14 and 15 of a codice fiscale are digits or omocodia letters")
            }
            // Omocodia replaces digits from the right, so the letters must form a suffix of those positions.
            let isLetter = omocodiaOffsets.map { ASCII.isLetter(code[$0]) }
            guard !zip(isLetter, isLetter.dropFirst()).contains(where: { $0 && !$1 }) else {
                throw fail("omocodia letters must replace digits from the right")
            }
            guard let month = monthLetters.firstIndex(of: code[8]) else {
                throw fail("character 9 is not a month letter")
            }
            guard ASCII.isLetter(code[11]) else { throw fail("character 12 of a codice fiscale is a letter") }
            // Women have 40 added to the day of birth. Both characters were checked to be digit values above.
            let encodedDay = digit(code[9])! * 10 + digit(code[10])!
            let day = encodedDay > 40 ? encodedDay - 40 : encodedDay
            guard (1...31).contains(encodedDay) || (41...71).contains(encodedDay), day <= monthDays[month] else {
                throw fail("the day of birth is not valid")
            }
            guard code[15] == checkCharacter(code[0..<15]) else {
                throw fail("the check character does not match")
            }
        }

        /// The value of a digit position, whether written as a digit or as an omocodia letter.
        static func digit(_ byte: UInt8) -> Int? {
            if ASCII.isDigit(byte) { return Int(byte - UInt8(ascii: "0")) }
            return omocodiaLetters.firstIndex(of: byte)
        }

        /// The check letter over the first 15 characters as written (omocodia letters are not undone).
        static func checkCharacter(_ first15: ArraySlice<UInt8>) -> UInt8 {
            var sum = 0
            for (offset, byte) in first15.enumerated() {
                // Digits count as A-J in both tables.
                let index = ASCII.isDigit(byte) ? Int(byte - UInt8(ascii: "0")) : Int(byte - UInt8(ascii: "A"))
                // Offset 0 is position 1, an odd position.
                sum += offset.isMultiple(of: 2) ? oddValues[index] : index
            }
            return UInt8(ascii: "A") + UInt8(sum % 26)
        }
    }

    /// Byte-level ASCII helpers, so parsing needs no Foundation and never meets Unicode case rules.
    fileprivate enum ASCII {
        static func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) }
        static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

        static func uppercased(_ byte: UInt8) -> UInt8 {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
        }

        static func lowercased(_ byte: UInt8) -> UInt8 {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
        }

        static func isProvisionalCharacter(_ byte: UInt8) -> Bool {
            isLetter(uppercased(byte)) || isDigit(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }

        /// Drops leading and trailing spaces, tabs, carriage returns and line feeds.
        static func trimmed(_ bytes: [UInt8]) -> [UInt8] {
            let isSpace: (UInt8) -> Bool = { [0x20, 0x09, 0x0D, 0x0A].contains($0) }
            guard let first = bytes.firstIndex(where: { !isSpace($0) }),
                let last = bytes.lastIndex(where: { !isSpace($0) })
            else { return [] }
            return Array(bytes[first...last])
        }
    }
}
