import FascicoloCrypto
import Testing

/// RFC 8032 section 7.1, "Test Vectors for Ed25519". The RFC's SECRET KEY is the 32-byte seed.
struct RFC8032Vector: Sendable, CustomTestStringConvertible {
    let name: String
    let seed: String
    let publicKey: String
    let message: String
    let signature: String

    var testDescription: String { name }

    static let all: [RFC8032Vector] = [
        RFC8032Vector(
            name: "TEST 1",
            seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature:
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ),
        RFC8032Vector(
            name: "TEST 2",
            seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature:
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ),
        RFC8032Vector(
            name: "TEST 3",
            seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature:
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        ),
        // The message is SHA-512("abc").
        RFC8032Vector(
            name: "TEST SHA(abc)",
            seed: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            message:
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            signature:
                "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"
        ),
    ]
}

@Suite("Ed25519")
struct Ed25519Tests {
    @Test("RFC 8032 known answers", arguments: RFC8032Vector.all)
    func knownAnswer(_ vector: RFC8032Vector) throws {
        let key = try #require(SigningKey(seed: hex(vector.seed)))
        #expect(Hex.encode(key.publicKey.bytes) == vector.publicKey)
        let message = hex(vector.message)
        let signature = key.sign(message)
        #expect(Hex.encode(signature) == vector.signature)

        let publicKey = try #require(PublicKey(hex(vector.publicKey)))
        #expect(publicKey == key.publicKey)
        #expect(publicKey.isValidSignature(hex(vector.signature), for: message))
    }

    @Test("a flipped bit anywhere makes verification fail", arguments: RFC8032Vector.all)
    func flippedBits(_ vector: RFC8032Vector) throws {
        let publicKey = try #require(PublicKey(hex(vector.publicKey)))
        let message = hex(vector.message)
        let signature = hex(vector.signature)
        for index in signature.indices {
            #expect(
                !publicKey.isValidSignature(flipping(signature, byte: index, bit: index % 8), for: message),
                "signature byte \(index)")
        }
        for index in message.indices {
            #expect(
                !publicKey.isValidSignature(signature, for: flipping(message, byte: index, bit: 7 - index % 8)),
                "message byte \(index)")
        }
        #expect(!publicKey.isValidSignature(signature, for: message + [0]))
        let otherKey = try #require(PublicKey(flipping(publicKey.bytes, byte: 0)))
        #expect(!otherKey.isValidSignature(signature, for: message))
    }

    @Test func wrongLengthsAreRejected() throws {
        #expect(SigningKey(seed: [UInt8](repeating: 7, count: 31)) == nil)
        #expect(SigningKey(seed: [UInt8](repeating: 7, count: 33)) == nil)
        #expect(PublicKey([UInt8](repeating: 7, count: 31)) == nil)
        #expect(PublicKey([UInt8](repeating: 7, count: 33)) == nil)

        let vector = RFC8032Vector.all[1]
        let publicKey = try #require(PublicKey(hex(vector.publicKey)))
        let signature = hex(vector.signature)
        #expect(!publicKey.isValidSignature(Array(signature.dropLast()), for: hex(vector.message)))
        #expect(!publicKey.isValidSignature(signature + [0], for: hex(vector.message)))
        #expect(!publicKey.isValidSignature([], for: hex(vector.message)))
    }

    @Test func randomKeysSignAndVerify() throws {
        let first = SigningKey()
        let second = SigningKey()
        #expect(first.publicKey != second.publicKey)
        let message = Array("the quick brown fox".utf8)
        let signature = first.sign(message)
        #expect(first.publicKey.isValidSignature(signature, for: message))
        #expect(!second.publicKey.isValidSignature(signature, for: message))
        // Ed25519 is deterministic.
        #expect(first.sign(message) == signature)
    }

    @Test func seedRoundTrip() throws {
        let key = SigningKey()
        let seed = key.withSeed { Array($0) }
        #expect(seed.count == SigningKey.seedByteCount)
        let again = try #require(SigningKey(seed: seed))
        #expect(again.publicKey == key.publicKey)

        let vector = RFC8032Vector.all[0]
        let known = try #require(SigningKey(seed: hex(vector.seed)))
        #expect(known.withSeed { Array($0) } == hex(vector.seed))
    }

    @Test func signIntoBufferMatchesArrayForm() throws {
        let vector = RFC8032Vector.all[2]
        let key = try #require(SigningKey(seed: hex(vector.seed)))
        let message = hex(vector.message)
        var signature = [UInt8](repeating: 0, count: Signature.byteCount)
        message.withUnsafeBytes { input in signature.withUnsafeMutableBytes { key.sign(input, into: $0) } }
        #expect(Hex.encode(signature) == vector.signature)
    }
}
