import FascicoloCrypto
import Testing

@Suite("SHA-256")
struct SHA256Tests {
    // FIPS 180-2 appendix B and the NIST example values.
    @Test func emptyString() {
        #expect(SHA256.hash([]).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func abc() {
        #expect(SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func twoBlockMessage() {
        let message = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hash(message).hex == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("one million times 'a', incrementally")
    func millionA() {
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000)
        var hasher = SHA256()
        for _ in 0..<1_000 { hasher.update(chunk) }
        #expect(hasher.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShot() {
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let oneShot = SHA256.hash(message)
        for split in [0, 1, 63, 64, 65, 299, 300] {
            var hasher = SHA256()
            hasher.update(Array(message[..<split]))
            hasher.update([])
            hasher.update(Array(message[split...]))
            #expect(hasher.finalize() == oneShot, "split at \(split)")
        }
        var byBytes = SHA256()
        for byte in message { byBytes.update(byte: byte) }
        #expect(byBytes.finalize() == oneShot)
    }

    @Test func digestUpdateHashesItsBytes() {
        let inner = SHA256.hash(Array("abc".utf8))
        var hasher = SHA256()
        hasher.update(inner)
        #expect(hasher.finalize() == SHA256.hash(inner.bytes))
    }

    @Test func digestBytesRoundTrip() throws {
        let bytes = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let digest = try #require(Digest(bytes))
        #expect(digest.bytes == bytes)
        #expect(digest == SHA256.hash(Array("abc".utf8)))
        #expect(digest.description == digest.hex)
        #expect(Digest(Array(bytes.dropLast())) == nil)
        #expect(Digest(bytes + [0]) == nil)
        #expect(Digest(flipping(bytes, byte: 31)) != digest)
    }
}
