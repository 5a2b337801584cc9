import FascicoloCrypto
import FascicoloJSON
import Testing

@testable import FascicoloOperations

/// The parts of bundle verification that do not need a daemon: what "equal" means for `fields`
/// (Formats.md, rule 5), and the keys given on the command line. Exported bundles and every
/// tampering are tested end to end in FascicoloDaemonTests/BundleVerifyTests.
@Suite struct BundleVerificationTests {
    @Test func fieldsAreEqualAsJSONValuesNotAsText() throws {
        func equal(_ left: String, _ right: String) throws -> Bool { JSONValue.equal(try JSON.parse(left), try JSON.parse(right)) }
        #expect(try equal(#"{"a":1,"b":"x"}"#, #"{"b":"x","a":1}"#), "member order does not matter")
        #expect(try equal(#"{"n":1}"#, #"{"n":1.0}"#) && equal(#"{"n":100}"#, #"{"n":1e2}"#) && equal(#"{"n":0}"#, #"{"n":-0.0}"#))
        #expect(try equal(#"{"n":0.10}"#, #"{"n":1E-1}"#) && equal(#"{"s":"\u00e0"}"#, #"{"s":"à"}"#))
        #expect(try !equal(#"{"n":1}"#, #"{"n":true}"#), "true is not 1")
        #expect(try !equal(#"{"n":1}"#, #"{"n":-1}"#) && !equal(#"{"n":1}"#, #"{"n":10}"#) && !equal(#"{"n":12}"#, #"{"n":1.2}"#))
        #expect(try !equal(#"{"a":[1,2]}"#, #"{"a":[2,1]}"#), "array order matters")
        #expect(try !equal(#"{"a":1}"#, #"{"a":1,"b":null}"#) && !equal(#"{"a":null}"#, #"{"b":null}"#))
        #expect(try !equal(#"{"a":"1"}"#, #"{"a":1}"#))
    }

    @Test func keysAreSignedNoteKeysOfTheirTypeWithMatchingIDs() throws {
        // A key whose ID has a letter, so that its upper-case spelling differs.
        let signer = try #require(
            (UInt8(1)...UInt8(255)).lazy.compactMap { SigningKey(seed: [UInt8](repeating: $0, count: 32)) }.first {
                Hex.encode(SignedNote.keyID(name: "fascicolo.invalid/ledger", publicKey: $0.publicKey)).contains { $0.isLetter }
            })
        let vkey = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: signer.publicKey)
        let key = try BundleVerification.parseKey(vkey + "\n", type: SignedNote.ed25519Type, option: "--key")
        #expect(key.name == "fascicolo.invalid/ledger" && key.publicKey == signer.publicKey)
        let witnessID = SignedNote.keyID(name: "w", publicKey: signer.publicKey, type: SignedNote.cosignatureType)
        let witness = "w+\(Hex.encode(witnessID))+\(Base64.encode([SignedNote.cosignatureType] + signer.publicKey.bytes))"
        #expect(try BundleVerification.parseKey(witness, type: SignedNote.cosignatureType, option: "--witness").keyID == witnessID)
        let parts = vkey.split(separator: "+", maxSplits: 2).map(String.init)
        for bad in [
            witness,  // a witness key given as the log's
            "other+" + parts[1] + "+" + parts[2],  // the key ID does not match the name
            parts[0] + "+" + parts[1].uppercased() + "+" + parts[2],  // the key ID in upper case
            parts[0] + "+" + parts[2], "", "+++",
        ] {
            #expect(throws: OperationError(.invalidKey, "")) {
                try BundleVerification.parseKey(bad, type: SignedNote.ed25519Type, option: "--key")
            }
        }
        #expect(throws: OperationError(.invalidKey, "")) {
            try BundleVerification.parseKey(vkey, type: SignedNote.cosignatureType, option: "--witness")
        }
    }

    @Test func anUnreadableFileIsNotAFailedCheck() throws {
        #expect(throws: OperationError(.unreadable, "")) {
            try BundleVerification.run(path: "/nonexistent/bundle.json", key: nil, witnesses: [])
        }
        #expect(throws: OperationError(.verificationFailed, "")) {
            try BundleVerification.verify(Array("{".utf8), key: nil, witnesses: [])
        }
    }
}
