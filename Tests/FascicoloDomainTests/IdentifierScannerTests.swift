import FascicoloJSON
import Testing

@testable import FascicoloDomain

/// What counts as a personal identifier in clear text (`IdentifierScanner`).
@Suite struct IdentifierScannerTests {
    @Test(arguments: [
        "RSSMRA85T10A562S", "RSSMRA85T10A562X",  // valid, wrong check character: the structure counts
        "RSSMRA85T10A5MNS", "RSSMRALRTMNAVPQZ",  // omocodia
        "utente RSSMRA85T10A562S residente", "case-RSSMRA85T10A562S-1", "xRSSMRA85T10A562Sy",  // capitals count anywhere
        "rssmra85t10a562s", "case-rssmra85t10a562s", "Rssmra85T10a562s.",  // lower case standing alone
        "STP1234567890123", "eni1234567890123", "codice STP1234567890123.",
    ])
    func identifiersAreFound(text: String) {
        #expect(IdentifierScanner.containsIdentifier(text), "\(text)")
    }

    @Test(arguments: [
        "", "RSSMRA85T10A562", "RSSMRA85Z10A562S",  // too short, not a month letter
        "aGVsbG8rssmra85t10a562sd29ybGQ",  // lower case inside a longer run (base64)
        "1f0c2d8e9a7b6c5d4e3f2a1b0c9d8e7f", "person:1f0c2d8e9a7b6c5d4e3f2a1b0c9d8e7f",  // pseudonyms
        "STP12345678901234", "STP123456789012",  // 14 and 12 digits
        "Comune di Potenza", "op-7", "AMB-03",
    ])
    func otherTextIsNot(text: String) {
        #expect(!IdentifierScanner.containsIdentifier(text), "\(text)")
    }

    @Test func theFirstPathIsNamedWithoutRepeatingTheValue() throws {
        let value = try JSON.parse(#"{"a":1,"b":[{"c":"ok"},{"d":"x RSSMRA85T10A562S"}],"RSSMRA85T10A562S":2}"#)
        #expect(IdentifierScanner.firstIdentifier(in: value, path: "data") == "data.b[1].d")
        let inName = try JSON.parse(#"{"a":{"RSSMRA85T10A562S":1}}"#)
        #expect(IdentifierScanner.firstIdentifier(in: inName, path: "data") == "data.a")
        #expect(IdentifierScanner.firstIdentifier(in: try JSON.parse(#"{"a":"b"}"#), path: "data") == nil)
    }

    /// Every identifier the parser accepts is one the scanner finds, in any case.
    @Test func whatThePersonParserAcceptsTheScannerFinds() throws {
        for text in ["RSSMRA85T10A562S", "RSSMRA85T10A56NH", "VRDLGU70A41F052O", "STP1234567890123", "ENI1234567890123"] {
            _ = try PersonIdentifier(parsing: text)
            #expect(IdentifierScanner.containsIdentifier(text) && IdentifierScanner.containsIdentifier(text.lowercased()), "\(text)")
        }
    }
}
