import FascicoloCrypto
import Testing

/// The example of golang.org/x/mod/sumdb/note (package documentation and note_test.go): an
/// implementation independent of this one, so reproducing it byte for byte checks the key ID,
/// the verifier key string, the signature line and the note layout.
enum GoNoteExample {
    static let verifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    /// The base64 part of "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz":
    /// 0x01 ‖ the Ed25519 seed.
    static let privateKeyBase64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let name = "PeterNeumann"
    static let text =
        "If you think cryptography is the answer to your problem,\n"
        + "then you don't know what your problem is.\n"
    static let signatureLine =
        "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    static var note: String { text + "\n" + signatureLine }

    static func signingKey() throws -> SigningKey {
        let blob = try #require(Base64.decode(privateKeyBase64))
        try #require(blob.count == 33 && blob[0] == 0x01)
        return try #require(SigningKey(seed: Array(blob[1...])))
    }
}

/// The key ID of C2SP signed-note, computed here from its definition.
func independentKeyID(name: String, type: UInt8, publicKey: [UInt8]) -> [UInt8] {
    Array(SHA256.hash(Array(name.utf8) + [0x0A, type] + publicKey).bytes[0..<4])
}

@Suite("Signed notes")
struct SignedNoteTests {
    @Test func goVerifierKeyParsesAndRoundTrips() throws {
        let parsed = try #require(SignedNote.parseVerifierKey(GoNoteExample.verifierKey))
        #expect(parsed.name == GoNoteExample.name)
        let key = try GoNoteExample.signingKey()
        #expect(parsed.publicKey == key.publicKey)
        #expect(SignedNote.verifierKey(name: parsed.name, publicKey: parsed.publicKey) == GoNoteExample.verifierKey)
    }

    @Test func keyIDMatchesIndependentComputation() throws {
        let key = try GoNoteExample.signingKey()
        let id = SignedNote.keyID(name: GoNoteExample.name, publicKey: key.publicKey)
        #expect(Hex.encode(id) == "c74f20a3")
        #expect(id == independentKeyID(name: GoNoteExample.name, type: 0x01, publicKey: key.publicKey.bytes))

        // A cosignature/v1 (type 0x04) verifier key from transparency-dev/formats' tests.
        let cosigner = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
        let parts = cosigner.split(separator: "+", maxSplits: 2).map(String.init)
        let blob = try #require(Base64.decode(parts[2]))
        #expect(blob[0] == SignedNote.cosignatureType)
        let cosignerKey = try #require(PublicKey(Array(blob[1...])))
        let cosignerID = SignedNote.keyID(name: parts[0], publicKey: cosignerKey, type: SignedNote.cosignatureType)
        #expect(Hex.encode(cosignerID) == parts[1])
        #expect(cosignerID == independentKeyID(name: parts[0], type: 0x04, publicKey: cosignerKey.bytes))
        // Not an Ed25519 note key, so it is not a verifier key for note signatures.
        #expect(SignedNote.parseVerifierKey(cosigner) == nil)

        // Random keys and names, against the definition.
        for name in ["a", "example.com/log", "fascicolo.invalid/ledger"] {
            let random = SigningKey()
            #expect(
                SignedNote.keyID(name: name, publicKey: random.publicKey)
                    == independentKeyID(name: name, type: 0x01, publicKey: random.publicKey.bytes))
        }
    }

    @Test("a verifier key whose base64 contains '+' round trips")
    func verifierKeyWithPlusInBase64() throws {
        // From transparency-dev/formats' tests: the base64 part contains a '+'.
        let text = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
        let parsed = try #require(SignedNote.parseVerifierKey(text))
        #expect(parsed.name == "TEST")
        #expect(SignedNote.verifierKey(name: "TEST", publicKey: parsed.publicKey) == text)

        // And for generated keys: find seeds whose verifier key has a '+' in the base64.
        var found = 0
        for seedByte in 0...255 where found < 3 {
            let key = try #require(SigningKey(seed: [UInt8](repeating: UInt8(seedByte), count: 32)))
            let string = SignedNote.verifierKey(name: "log.example", publicKey: key.publicKey)
            guard string.split(separator: "+", maxSplits: 2)[2].contains("+") else { continue }
            found += 1
            let back = try #require(SignedNote.parseVerifierKey(string))
            #expect(back.name == "log.example" && back.publicKey == key.publicKey)
        }
        #expect(found == 3)
    }

    @Test func verifierKeyRoundTripForRandomKeys() throws {
        for name in ["example.com/log", "fascicolo.invalid/ledger", "x"] {
            let key = SigningKey()
            let string = SignedNote.verifierKey(name: name, publicKey: key.publicKey)
            let parsed = try #require(SignedNote.parseVerifierKey(string))
            #expect(parsed.name == name)
            #expect(parsed.publicKey == key.publicKey)
        }
    }

    @Test(arguments: [
        "PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // other name: key ID mismatch
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // wrong key ID
        "PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // short key ID
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",  // other public key
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // bad base64
        "PeterNeumann+c74f20a3+AhpcAAcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // key type 0x02
        "PeterNeumann+c74f20a3",
        "PeterNeumann",
        "",
    ])
    func rejectsBadVerifierKeys(_ text: String) {
        #expect(SignedNote.parseVerifierKey(text) == nil)
    }

    @Test func reproducesTheGoSignedNote() throws {
        let key = try GoNoteExample.signingKey()
        let line = SignedNote.signatureLine(text: GoNoteExample.text, name: GoNoteExample.name, key: key)
        #expect(line == GoNoteExample.signatureLine)
    }

    @Test func signedNoteParsesAndVerifies() throws {
        let parsed = try SignedNote.parse(GoNoteExample.note)
        #expect(parsed.text == GoNoteExample.text)
        #expect(parsed.signatures.count == 1)
        #expect(parsed.signatures.first?.name == GoNoteExample.name)
        #expect(parsed.signatures.first?.blob.count == 4 + 64)
        let publicKey = try GoNoteExample.signingKey().publicKey
        #expect(SignedNote.hasValidSignature(parsed, name: GoNoteExample.name, publicKey: publicKey))
        // Another key or another name does not verify it.
        #expect(!SignedNote.hasValidSignature(parsed, name: GoNoteExample.name, publicKey: SigningKey().publicKey))
        #expect(!SignedNote.hasValidSignature(parsed, name: "PeterNeumannn", publicKey: publicKey))
    }

    /// Lines of other keys (witnesses) are ignored; a second or a failing line of the key refuses
    /// the note, even beside a valid one.
    @Test func aRepeatedOrFailingLineOfTheKeyRefusesTheNote() throws {
        let publicKey = try GoNoteExample.signingKey().publicKey
        let witness = SignedNote.signatureLine(text: GoNoteExample.text, name: "witness.example", key: SigningKey())
        let bogus = GoNoteExample.signatureLine.replacingFirst("UgYN1", with: "UgYN2")
        func verifies(_ lines: [String]) throws -> Bool {
            let note = GoNoteExample.text + "\n" + lines.joined()
            return SignedNote.hasValidSignature(try SignedNote.parse(note), name: GoNoteExample.name, publicKey: publicKey)
        }
        #expect(try verifies([GoNoteExample.signatureLine, witness]))
        #expect(try verifies([witness, GoNoteExample.signatureLine]))
        #expect(try !verifies([GoNoteExample.signatureLine, GoNoteExample.signatureLine]))
        #expect(try !verifies([GoNoteExample.signatureLine, bogus]))
        #expect(try !verifies([bogus, GoNoteExample.signatureLine]))
    }

    @Test func anyChangedByteOfTheTextFailsVerification() throws {
        let publicKey = try GoNoteExample.signingKey().publicKey
        let text = Array(GoNoteExample.text.utf8)
        for index in text.indices {
            var changed = text
            changed[index] ^= 0x01  // ASCII stays ASCII
            let note = String(decoding: changed, as: UTF8.self) + "\n" + GoNoteExample.signatureLine
            let verifies =
                (try? SignedNote.parse(note)).map {
                    SignedNote.hasValidSignature($0, name: GoNoteExample.name, publicKey: publicKey)
                } ?? false
            #expect(!verifies, "changed byte \(index)")
        }
        // A changed byte of the signature (not of the key ID) fails too.
        let tampered = GoNoteExample.note.replacingFirst("UgYN1", with: "UgYN2")
        let parsed = try SignedNote.parse(tampered)
        #expect(!SignedNote.hasValidSignature(parsed, name: GoNoteExample.name, publicKey: publicKey))
    }

    @Test func signsAndVerifiesANewNote() throws {
        let key = SigningKey()
        let text = "example.com/log\n42\nAAAA\n\nsecond paragraph\n"
        let note = text + "\n" + SignedNote.signatureLine(text: text, name: "example.com/log", key: key)
        let parsed = try SignedNote.parse(note)
        #expect(parsed.text == text)
        #expect(SignedNote.hasValidSignature(parsed, name: "example.com/log", publicKey: key.publicKey))
    }

    @Test(arguments: [
        "text\n\n\u{2014} name AAAAAAAA",  // no final newline
        "text\n\u{2014} name AAAAAAAA\n",  // no blank line
        "text\n\n",  // no signature
        "text\n\n- name AAAAAAAA\n",  // hyphen instead of em dash
        "text\n\n\u{2014} name AAAAAAA\n",  // bad base64
        "text\n\n\u{2014} name AAAA\n",  // blob shorter than 5 bytes
        "text\n\n\u{2014} name\n",  // no blob
        "text\n\n\u{2014}  AAAAAAAA\n",  // empty name
        "text\n\n\u{2014} name AAAAAAAA extra\n",  // three fields
    ])
    func rejectsMalformedNotes(_ note: String) {
        #expect(throws: SignedNote.ParseError.self) { try SignedNote.parse(note) }
    }
}

@Suite("Cosignatures")
struct CosignatureTests {
    static let name = "example.com/log"
    static let text = "example.com/log\n7\nCm8JjHGqUsC8aF0dZ4ZNcXFTkW4P1jBfmvVFEIXbvFM=\n"

    static func note(key: SigningKey, timestamp: UInt64) -> String {
        text + "\n" + SignedNote.signatureLine(text: text, name: name, key: key)
            + SignedNote.cosignatureLine(text: text, name: name, key: key, timestampSeconds: timestamp)
    }

    @Test(arguments: [UInt64(0), 1, 1_700_000_000, 4_102_444_800, UInt64.max])
    func timestampRoundTrip(_ timestamp: UInt64) throws {
        let key = SigningKey()
        let parsed = try SignedNote.parse(Self.note(key: key, timestamp: timestamp))
        #expect(parsed.text == Self.text)
        #expect(parsed.signatures.count == 2)
        #expect(SignedNote.hasValidSignature(parsed, name: Self.name, publicKey: key.publicKey))
        #expect(SignedNote.validCosignatureTimestamp(parsed, name: Self.name, publicKey: key.publicKey) == timestamp)
        #expect(SignedNote.validCosignatureTimestamp(parsed, name: Self.name, publicKey: SigningKey().publicKey) == nil)
    }

    /// The cosignature line checked against c2sp.org/tlog-cosignature directly: key ID of type
    /// 0x04, big-endian timestamp, and an Ed25519 signature of "cosignature/v1\ntime <t>\n" ‖ text.
    @Test func lineLayoutFollowsTheSpecification() throws {
        let key = try GoNoteExample.signingKey()
        let timestamp: UInt64 = 1_234_567_890
        let line = SignedNote.cosignatureLine(text: Self.text, name: Self.name, key: key, timestampSeconds: timestamp)
        let prefix = "\u{2014} \(Self.name) "
        try #require(line.hasPrefix(prefix) && line.hasSuffix("\n"))
        let blob = try #require(Base64.decode(String(line.dropFirst(prefix.count).dropLast())))
        #expect(blob.count == 4 + 8 + 64)
        #expect(Array(blob[0..<4]) == independentKeyID(name: Self.name, type: 0x04, publicKey: key.publicKey.bytes))
        #expect(Array(blob[4..<12]) == [0, 0, 0, 0, 0x49, 0x96, 0x02, 0xd2])
        let message = Array("cosignature/v1\ntime 1234567890\n\(Self.text)".utf8)
        #expect(key.publicKey.isValidSignature(Array(blob[12...]), for: message))
    }

    @Test func tamperedCosignaturesAreRejected() throws {
        let key = SigningKey()
        let note = Self.note(key: key, timestamp: 1_700_000_000)
        let parsed = try SignedNote.parse(note)
        let cosignature = try #require(parsed.signatures.last)

        // Another timestamp in the blob: the signature no longer matches.
        var blob = cosignature.blob
        blob[11] ^= 0x01
        let changedTime = Self.text + "\n\u{2014} \(Self.name) \(Base64.encode(blob))\n"
        #expect(
            SignedNote.validCosignatureTimestamp(
                try SignedNote.parse(changedTime), name: Self.name,
                publicKey: key.publicKey) == nil)

        // Another text.
        let otherText = note.replacingFirst("\n7\n", with: "\n8\n")
        #expect(
            SignedNote.validCosignatureTimestamp(
                try SignedNote.parse(otherText), name: Self.name,
                publicKey: key.publicKey) == nil)

        // A note signature alone carries no timestamp, and a cosignature alone is no note signature.
        let signatureOnly = Self.text + "\n" + SignedNote.signatureLine(text: Self.text, name: Self.name, key: key)
        #expect(
            SignedNote.validCosignatureTimestamp(
                try SignedNote.parse(signatureOnly), name: Self.name,
                publicKey: key.publicKey) == nil)
        let cosignatureOnly =
            Self.text + "\n"
            + SignedNote.cosignatureLine(text: Self.text, name: Self.name, key: key, timestampSeconds: 5)
        let parsedCosignatureOnly = try SignedNote.parse(cosignatureOnly)
        #expect(!SignedNote.hasValidSignature(parsedCosignatureOnly, name: Self.name, publicKey: key.publicKey))
        #expect(SignedNote.validCosignatureTimestamp(parsedCosignatureOnly, name: Self.name, publicKey: key.publicKey) == 5)
    }
}

extension String {
    /// `self` with the first occurrence of `target` replaced; a missing target is a test bug.
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let bytes = Array(utf8)
        let needle = Array(target.utf8)
        for start in 0...(bytes.count - needle.count) where Array(bytes[start..<(start + needle.count)]) == needle {
            return String(
                decoding: bytes[..<start] + Array(replacement.utf8) + bytes[(start + needle.count)...],
                as: UTF8.self)
        }
        preconditionFailure("\(target) not found")
    }
}
