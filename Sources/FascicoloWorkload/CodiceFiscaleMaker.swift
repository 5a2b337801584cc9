/// Builds valid codici fiscali (DM 23/12/1976): surname and name codes, year, month letter, day
/// (+40 for women), the place-of-birth code, the check character; and omocodic variants, where
/// digits are replaced by letters from the right as the Agenzia delle Entrate does when two
/// people would otherwise share a code.
enum CodiceFiscaleMaker {
    static let monthLetters = Array("ABCDEHLMPRST")
    /// 0-based offsets of the digits omocodia replaces, rightmost first.
    static let omocodiaOffsets = [14, 13, 12, 10, 9, 7, 6]
    static let omocodiaLetters = Array("LMNPQRSTUV")
    /// Value of a character in an odd (1-based) position; digits take the values of A-J.
    static let oddValues = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]

    /// The 16-character code. `omocodia` is how many digits (0...7) are replaced by letters.
    static func make(
        familyName: String, givenName: String, birthYear: Int, month: Int, day: Int, female: Bool,
        placeCode: String, omocodia: Int = 0
    ) -> String {
        var characters = Array(surnameCode(familyName) + nameCode(givenName))
        characters += Array(twoDigits(birthYear % 100))
        characters.append(monthLetters[month - 1])
        characters += Array(twoDigits(day + (female ? 40 : 0)))
        characters += Array(placeCode)
        precondition(characters.count == 15, "a place code is one letter and three digits")
        for offset in omocodiaOffsets.prefix(omocodia) {
            characters[offset] = omocodiaLetters[Int(characters[offset].asciiValue! - UInt8(ascii: "0"))]
        }
        return String(characters) + String(checkCharacter(characters))
    }

    static func checkCharacter(_ first15: [Character]) -> Character {
        var sum = 0
        for (offset, character) in first15.enumerated() {
            let byte = character.asciiValue!
            let index =
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : Int(byte - UInt8(ascii: "A"))
            sum += offset.isMultiple(of: 2) ? oddValues[index] : index
        }
        return Character(Unicode.Scalar(UInt8(ascii: "A") + UInt8(sum % 26)))
    }

    /// Consonants, then vowels, then X, three of them.
    static func surnameCode(_ name: String) -> String {
        let (consonants, vowels) = split(name)
        return String((consonants + vowels + Array("XXX")).prefix(3))
    }

    /// With four consonants or more: the first, third and fourth; otherwise as for the surname.
    static func nameCode(_ name: String) -> String {
        let (consonants, vowels) = split(name)
        if consonants.count >= 4 { return String([consonants[0], consonants[2], consonants[3]]) }
        return String((consonants + vowels + Array("XXX")).prefix(3))
    }

    /// Letters only, uppercase, accents dropped (apostrophes, spaces and hyphens do not count).
    static func split(_ name: String) -> (consonants: [Character], vowels: [Character]) {
        var consonants: [Character] = []
        var vowels: [Character] = []
        for scalar in name.unicodeScalars {
            guard let letter = plainLetter(scalar) else { continue }
            if "AEIOU".contains(letter) { vowels.append(letter) } else { consonants.append(letter) }
        }
        return (consonants, vowels)
    }

    static func plainLetter(_ scalar: Unicode.Scalar) -> Character? {
        switch scalar {
        case "a"..."z": return Character(Unicode.Scalar(scalar.value - 32)!)
        case "A"..."Z": return Character(scalar)
        case "à", "á", "â", "ä", "ă", "À", "Á": return "A"
        case "è", "é", "ê", "ë", "È", "É": return "E"
        case "ì", "í", "î", "ï", "Ì", "Í": return "I"
        case "ò", "ó", "ô", "ö", "Ò", "Ó": return "O"
        case "ù", "ú", "û", "ü", "Ù", "Ú": return "U"
        case "ç", "č", "ć", "Ç": return "C"
        case "ș", "ş", "š", "Ș", "Ş": return "S"
        case "ț", "ţ", "Ț": return "T"
        case "ñ": return "N"
        default: return nil
        }
    }

    static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
