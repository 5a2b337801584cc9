import Testing

@testable import FascicoloDomain

// MARK: - An independent codice fiscale model
//
// The expected check characters come from this small implementation, written over `Character`
// dictionaries rather than the library's byte tables, so a slip in one is not copied into the other.
// It agrees with the published examples RSSMRA85T10A562S and MRTMTT25D09F205Z (see `publishedExamples`).

private let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

/// The official "dispari" table, written out as in the decree.
private let dispari: [Character: Int] = [
    "0": 1, "1": 0, "2": 5, "3": 7, "4": 9, "5": 13, "6": 15, "7": 17, "8": 19, "9": 21,
    "A": 1, "B": 0, "C": 5, "D": 7, "E": 9, "F": 13, "G": 15, "H": 17, "I": 19, "J": 21,
    "K": 2, "L": 4, "M": 18, "N": 20, "O": 11, "P": 3, "Q": 6, "R": 8, "S": 12, "T": 14,
    "U": 16, "V": 10, "W": 22, "X": 25, "Y": 24, "Z": 23,
]

/// The "pari" table: a digit is itself, a letter its place in the alphabet from 0.
private func pari(_ character: Character) -> Int {
    character.wholeNumberValue ?? alphabet.firstIndex(of: character)!
}

/// The check character for the first 15 characters, as written.
private func checkCharacter(_ first15: String) -> Character {
    precondition(first15.count == 15)
    var sum = 0
    for (index, character) in first15.enumerated() {
        sum += (index + 1) % 2 == 1 ? dispari[character]! : pari(character)
    }
    return alphabet[sum % 26]
}

/// The first 15 characters completed with their check character.
private func complete(_ first15: String) -> String {
    first15 + String(checkCharacter(first15))
}

/// 1-based positions that omocodia substitutes, in the order it substitutes them.
private let omocodiaOrder = [15, 14, 13, 11, 10, 8, 7]
private let omocodiaLetters = Array("LMNPQRSTUV")

/// Replaces the digit at each 1-based position with its omocodia letter.
private func substituting(_ first15: String, positions: [Int]) -> String {
    var characters = Array(first15)
    for position in positions {
        characters[position - 1] = omocodiaLetters[characters[position - 1].wholeNumberValue!]
    }
    return String(characters)
}

/// The error thrown for `text`, or nil if it parses.
private func parseError(_ text: String) -> PersonIdentifierError? {
    do {
        _ = try PersonIdentifier(parsing: text)
        return nil
    } catch {
        return error
    }
}

/// The reason given for a refused codice fiscale, or nil if it parses or fails with another code.
private func codiceFiscaleReason(_ text: String) -> String? {
    guard let error = parseError(text), error.code == "invalid_codice_fiscale" else { return nil }
    return error.reason
}

private enum CodiceFiscaleReason {
    static let length = "a codice fiscale has 16 characters"
    static let letters = "characters 1–6 of a codice fiscale are letters"
    static let digits = "characters 7, 8, 10, 11, 13, 14 and 15 of a codice fiscale are digits or omocodia letters"
    static let omocodiaOrder = "omocodia letters must replace digits from the right"
    static let month = "character 9 is not a month letter"
    static let cadastral = "character 12 of a codice fiscale is a letter"
    static let day = "the day of birth is not valid"
    static let check = "the check character does not match"
}

// MARK: - Codice fiscale

@Suite("Codice fiscale")
struct CodiceFiscaleTests {
    @Test func independentModelAgreesWithPublishedExamples() {
        #expect(complete("RSSMRA85T10A562") == "RSSMRA85T10A562S")
        #expect(complete("MRTMTT25D09F205") == "MRTMTT25D09F205Z")
    }

    @Test(arguments: ["RSSMRA85T10A562S", "MRTMTT25D09F205Z"])
    func publishedExamples(code: String) throws {
        let id = try PersonIdentifier(parsing: code)
        #expect(id == .codiceFiscale(code))
        #expect(id.kind == "codice_fiscale")
        #expect(id.canonicalText == "CF:" + code)
    }

    @Test(arguments: ["rssmra85t10a562s", "RssMra85t10A562s", "  RSSMRA85T10A562S  ", "\tmrtmtt25d09f205z\r\n"])
    func lowercaseAndSurroundingSpaceAreNormalised(text: String) throws {
        let id = try PersonIdentifier(parsing: text)
        #expect(id.canonicalText == "CF:RSSMRA85T10A562S" || id.canonicalText == "CF:MRTMTT25D09F205Z")
    }

    @Test func spellingsOfOneCodeAreEqualAndHashAlike() throws {
        let ids: Set = [
            try PersonIdentifier(parsing: "rssmra85t10a562s"),
            try PersonIdentifier(parsing: " RSSMRA85T10A562S"),
        ]
        #expect(ids.count == 1)
    }

    /// Women have 40 added to the day: 41...71, still within the month's length.
    @Test(arguments: ["RSSMRA80A41H501", "RSSMRA80A71H501", "RSSMRA80D70H501", "RSSMRA80B69H501", "RSSMRA80B29H501"])
    func validDays(first15: String) throws {
        let code = complete(first15)
        #expect(try PersonIdentifier(parsing: code).canonicalText == "CF:" + code)
    }

    /// 00, 32...40 and 72+ are no one's day; 30 February (70 for a woman) and 31 April are no date.
    @Test(arguments: [
        "RSSMRA80A00H501", "RSSMRA80A32H501", "RSSMRA80A40H501", "RSSMRA80A72H501",
        "RSSMRA80A99H501", "RSSMRA80B30H501", "RSSMRA80B70H501", "RSSMRA80D31H501",
        "RSSMRA80D71H501",
    ])
    func invalidDays(first15: String) {
        #expect(codiceFiscaleReason(complete(first15)) == CodiceFiscaleReason.day)
    }

    /// Each step of omocodia (15, then 14, 13, 11, 10, 8, 7) gives a valid code once the check is recomputed,
    /// and a different identifier from the base code: omocodia exists because two people shared that code.
    @Test(arguments: 1...7)
    func omocodicCodesAreValidAndDistinct(steps: Int) throws {
        let base = "RSSMRA85T10A562"
        let first15 = substituting(base, positions: Array(omocodiaOrder.prefix(steps)))
        let code = complete(first15)
        let id = try PersonIdentifier(parsing: code.lowercased())
        let baseID = try PersonIdentifier(parsing: complete(base))
        #expect(id.canonicalText == "CF:" + code)
        #expect(id != baseID)
    }

    /// Substituting letters without recomputing the check character must be caught.
    @Test(arguments: 1...7)
    func omocodicCodeWithTheBaseCheckIsRefused(steps: Int) {
        let base = "RSSMRA85T10A562"
        let first15 = substituting(base, positions: Array(omocodiaOrder.prefix(steps)))
        let stale = first15 + String(checkCharacter(base))
        // Only meaningful where the two checks differ (1 chance in 26 that they coincide).
        if checkCharacter(first15) != checkCharacter(base) {
            #expect(codiceFiscaleReason(stale) == CodiceFiscaleReason.check)
        }
    }

    /// A letter before a digit among the omocodia positions cannot come from omocodia.
    @Test(arguments: [[7], [11], [8, 15], [13, 14], [7, 8, 10, 11, 13, 14]])
    func omocodiaOutOfOrderIsRefused(positions: [Int]) {
        let code = complete(substituting("RSSMRA85T10A562", positions: positions))
        #expect(codiceFiscaleReason(code) == CodiceFiscaleReason.omocodiaOrder)
    }

    @Test func everyWrongCheckCharacterIsRefused() {
        for letter in alphabet where letter != "S" {
            #expect(codiceFiscaleReason("RSSMRA85T10A562" + String(letter)) == CodiceFiscaleReason.check)
        }
        #expect(codiceFiscaleReason("RSSMRA85T10A5620") == CodiceFiscaleReason.check)
    }

    @Test(arguments: ["F", "G", "I", "Z", "1"])
    func wrongMonthLetterIsRefused(month: String) {
        #expect(codiceFiscaleReason(complete("RSSMRA85" + month + "10A562")) == CodiceFiscaleReason.month)
    }

    @Test(arguments: ["", "R", "RSSMRA85T10A562", "RSSMRA85T10A562SS", "RSSMRA85T10A562S0000"])
    func wrongLengthIsRefused(text: String) {
        if text.isEmpty {
            #expect(parseError(text)?.code == "empty_person_identifier")
        } else {
            #expect(codiceFiscaleReason(text) == CodiceFiscaleReason.length)
        }
    }

    @Test func blankInputIsEmpty() {
        #expect(parseError("   ")?.code == "empty_person_identifier")
    }

    /// The letters rule is checked before the check character, so any 16th character will do.
    /// "RSSMRÀ5T10A562X" is 16 bytes in UTF-8: non-ASCII letters are not letters here.
    @Test(arguments: ["1SSMRA85T10A562X", "RSSMR185T10A562X", "RS-MRA85T10A562X", "RSSMRÀ5T10A562X"])
    func nonLettersInTheFirstSixAreRefused(text: String) {
        #expect(codiceFiscaleReason(text) == CodiceFiscaleReason.letters)
    }

    /// Letters outside LMNPQRSTUV are not omocodia letters.
    @Test(arguments: ["RSSMRA8AT10A562", "RSSMRA85T1WA562", "RSSMRA85T10A56Z", "RSSMRA85T10A5-2"])
    func nonDigitsInDigitPositionsAreRefused(first15: String) {
        #expect(codiceFiscaleReason(first15 + "S") == CodiceFiscaleReason.digits)
    }

    @Test func cadastralCodeStartsWithALetter() {
        #expect(codiceFiscaleReason(complete("RSSMRA85T101562")) == CodiceFiscaleReason.cadastral)
    }

    /// A codice fiscale may begin with S, T, P or E, N, I: letters in 4-6 make it a codice fiscale.
    @Test(arguments: ["STPMRA80A01H501", "ENIMRA80A01H501"])
    func codiceFiscaleStartingLikeSTPOrENI(first15: String) throws {
        let code = complete(first15)
        #expect(try PersonIdentifier(parsing: code).kind == "codice_fiscale")
    }
}

// MARK: - STP, ENI, provisional

@Suite("STP, ENI and provisional ids")
struct OtherIdentifierTests {
    @Test func validSTPAndENI() throws {
        #expect(try PersonIdentifier(parsing: "STP1234567890123") == .stp("STP1234567890123"))
        #expect(try PersonIdentifier(parsing: " stp0000000000000 ") == .stp("STP0000000000000"))
        #expect(try PersonIdentifier(parsing: "ENI9876543210987") == .eni("ENI9876543210987"))
        #expect(try PersonIdentifier(parsing: "eni9876543210987") == .eni("ENI9876543210987"))
        #expect(try PersonIdentifier(parsing: "STP1234567890123").kind == "stp")
        #expect(try PersonIdentifier(parsing: "ENI1234567890123").kind == "eni")
        #expect(try PersonIdentifier(parsing: "STP1234567890123").canonicalText == "STP:STP1234567890123")
        #expect(try PersonIdentifier(parsing: "ENI1234567890123").canonicalText == "ENI:ENI1234567890123")
    }

    @Test(arguments: ["STP", "STP123456789012", "STP12345678901234", "STP12345678901A3", "STP-234567890123"])
    func invalidSTP(text: String) {
        #expect(parseError(text)?.code == "invalid_stp")
        #expect(parseError("ENI" + text.dropFirst(3))?.code == "invalid_eni")
    }

    @Test(arguments: ["abcd", "Ab-_.9", "X1.y2_z3-", String(repeating: "a", count: 64)])
    func validProvisional(id: String) throws {
        let parsed = try PersonIdentifier(parsing: "provisional:" + id)
        #expect(parsed == .provisional(id))
        #expect(parsed.kind == "provisional")
        #expect(parsed.canonicalText == "PROVISIONAL:" + id)
        // The canonical text parses back to the same identifier, case kept.
        #expect(try PersonIdentifier(parsing: parsed.canonicalText) == parsed)
    }

    @Test(arguments: ["", "abc", String(repeating: "a", count: 65), "ab cd", "abc/d", "àbcd", "abc:d"])
    func invalidProvisional(id: String) {
        #expect(parseError("provisional:" + id)?.code == "invalid_provisional_id")
    }
}

// MARK: - Privacy

@Suite("Identifiers never leak")
struct PrivacyTests {
    @Test(arguments: [
        "RSSMRA85T10A562X", "rssmra85t10a562x", "RSSMRA85F10A562S", "RSSMRA85T40A562S", "RSSMRAL5T10A562S",
        "RSSMRA85T10A562", "1SSMRA85T10A562S", "STP12345678901A3", "ENI12345", "provisional:a b c d",
        "provisional:abc", "XYZ",
    ])
    func errorsNeverContainTheInput(input: String) {
        guard let error = parseError(input) else {
            Issue.record("expected a refusal")
            return
        }
        for rendering in ["\(error)", String(reflecting: error), error.reason, error.code] {
            #expect(!rendering.lowercased().contains(input.lowercased()))
        }
        #expect("\(error)" == error.code + ": " + error.reason)
    }

    @Test(arguments: ["RSSMRA85T10A562S", "STP1234567890123", "ENI1234567890123", "provisional:secret-id"])
    func descriptionsNeverContainTheValue(text: String) throws {
        let id = try PersonIdentifier(parsing: text)
        let value = String(id.canonicalText.split(separator: ":", maxSplits: 1)[1])
        var dumped = ""
        dump(id, to: &dumped)
        for rendering in ["\(id)", String(describing: id), String(reflecting: id), dumped, "\([id])"] {
            #expect(!rendering.contains(value))
        }
        #expect("\(id)" == "<person identifier: \(id.kind)>")
    }
}

@Suite("Pseudonyms")
struct PseudonymTests {
    /// Every byte value in every position, through the text and back (the digits are read eight
    /// at a time with word arithmetic: a slip shows as a byte that does not come back).
    @Test func textRoundTripsEveryByteInEveryPosition() throws {
        for position in 0..<Pseudonym.byteCount {
            for value in 0...255 {
                var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: position * 37), count: Pseudonym.byteCount)
                bytes[position] = UInt8(value)
                let pseudonym = try #require(Pseudonym(bytes: bytes))
                #expect(pseudonym.bytes == bytes)
                #expect(pseudonym.description == bytes.map { String(format2: $0) }.joined())
                #expect(Pseudonym(hex: pseudonym.description) == pseudonym)
                #expect(pseudonym.stream == "person:" + pseudonym.description)
                #expect(pseudonym.accessStream == "access:" + pseudonym.description)
                #expect(
                    Pseudonym.owning(stream: pseudonym.stream) == pseudonym && Pseudonym.owning(stream: pseudonym.accessStream) == pseudonym
                )
            }
        }
    }

    /// Each position refuses every byte that is not a lower-case hex digit.
    @Test func onlyLowerCaseHexDigitsAreRead() {
        let valid = Array("0123456789abcdef".utf8)
        for position in 0..<(2 * Pseudonym.byteCount) {
            for byte in UInt8.min...UInt8.max {
                var text = [UInt8](repeating: UInt8(ascii: "7"), count: 2 * Pseudonym.byteCount)
                text[position] = byte
                let parsed = text.withUnsafeBytes { Pseudonym(hexUTF8: $0) }
                #expect((parsed != nil) == valid.contains(byte), "byte \(byte) at \(position)")
            }
        }
        #expect(Pseudonym(hex: String(repeating: "a", count: 31)) == nil)
        #expect(Pseudonym(hex: String(repeating: "a", count: 33)) == nil)
    }
}

extension String {
    /// Two lower-case hex digits.
    fileprivate init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
