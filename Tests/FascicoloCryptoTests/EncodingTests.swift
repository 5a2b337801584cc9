import FascicoloCrypto
import Testing

@Suite("Base64")
struct Base64Tests {
    // RFC 4648 section 10.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    @Test func rfc4648Vectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8), "decode \(encoded)")
        }
    }

    @Test func standardAlphabet() {
        // 0xfb 0xff 0xbf uses both characters that differ from the URL-safe alphabet.
        #expect(Base64.encode([0xfb, 0xff, 0xbf]) == "+/+/")
        #expect(Base64.decode("+/+/") == [0xfb, 0xff, 0xbf])
    }

    @Test func roundTripsEveryLengthAndByte() {
        for length in 0...130 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ length) }
            let encoded = Base64.encode(bytes)
            #expect(encoded.utf8.count == (length + 2) / 3 * 4)
            #expect(Base64.decode(encoded) == bytes, "length \(length)")
        }
        let all = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(all)) == all)
    }

    @Test(arguments: [
        "Zg",  // missing padding
        "Zg=",  // short padding
        "Zg===",  // too much padding
        "Z",  // a lone character
        "Zm9v!",  // not in the alphabet
        "Zm9v Yg==",  // inner whitespace
        "Zm9vYg==\n",  // trailing newline
        " Zm9v",  // leading space
        "Zg==Zg==",  // padding in the middle
        "-_-_",  // URL-safe alphabet
        "Zh==",  // non-zero bits after the last full byte (non-canonical)
        "Zm9=",  // non-canonical
        "====",
        "é===",
    ])
    func rejectsInvalidInput(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }
}

@Suite("Hex")
struct HexTests {
    @Test func encodesLowerCase() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x01, 0x7f, 0x80, 0xab, 0xff]) == "00017f80abff")
    }

    @Test func decodesBothCases() {
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("00017f80abff") == [0x00, 0x01, 0x7f, 0x80, 0xab, 0xff])
        #expect(Hex.decode("ABCDEF") == [0xab, 0xcd, 0xef])
        #expect(Hex.decode("aBcD") == [0xab, 0xcd])
    }

    @Test func roundTripsEveryByte() {
        let all = (0...255).map { UInt8($0) }
        let encoded = Hex.encode(all)
        #expect(encoded.utf8.count == 512)
        #expect(Hex.decode(encoded) == all)
        #expect(encoded == all.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
    }

    @Test(arguments: ["0", "abc", "0g", "g0", "zz", " 0", "0 ", "0x00", "-1", "éé"])
    func rejectsInvalidInput(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }
}
