import CSodium

/// An Ed25519 public key (RFC 8032), 32 bytes.
public struct PublicKey: Hashable, Sendable {
    public static let byteCount = 32
    public let bytes: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: UnsafeRawBufferPointer, for message: UnsafeRawBufferPointer) -> Bool {
        Sodium.ensureInitialized()
        guard signature.count == Signature.byteCount else { return false }
        return bytes.withUnsafeBufferPointer { key in
            crypto_sign_verify_detached(
                signature.baseAddress!.assumingMemoryBound(to: UInt8.self),
                message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                key.baseAddress!) == 0
        }
    }

    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        signature.withUnsafeBytes { sig in message.withUnsafeBytes { isValidSignature(sig, for: $0) } }
    }
}

/// Namespace for the signature size.
public enum Signature {
    public static let byteCount = 64
}

/// An Ed25519 signing key. The secret lives in libsodium's guarded memory (locked, not swapped,
/// zeroed when freed) and never leaves this type except through `withSeed` for the key file.
public final class SigningKey: @unchecked Sendable {
    // @unchecked: the secret is written once in init and only read afterwards.
    public static let seedByteCount = 32
    private let secret: UnsafeMutablePointer<UInt8>  // crypto_sign_SECRETKEYBYTES (seed ‖ public key)
    public let publicKey: PublicKey

    /// A new random key.
    public convenience init() {
        Sodium.ensureInitialized()
        var seed = [UInt8](repeating: 0, count: Self.seedByteCount)
        randombytes_buf(&seed, seed.count)
        defer { sodium_memzero(&seed, seed.count) }
        self.init(seed: seed)!
    }

    /// The key derived from a 32-byte seed (RFC 8032's "private key").
    public init?(seed: [UInt8]) {
        Sodium.ensureInitialized()
        guard seed.count == Self.seedByteCount else { return nil }
        guard let memory = sodium_malloc(Int(crypto_sign_SECRETKEYBYTES)) else { return nil }
        secret = memory.assumingMemoryBound(to: UInt8.self)
        var publicBytes = [UInt8](repeating: 0, count: PublicKey.byteCount)
        crypto_sign_seed_keypair(&publicBytes, secret, seed)
        publicKey = PublicKey(publicBytes)!
    }

    deinit { sodium_free(secret) }

    /// Signs `message`, writing the 64-byte signature to `signature`. Thread-safe.
    public func sign(_ message: UnsafeRawBufferPointer, into signature: UnsafeMutableRawBufferPointer) {
        precondition(signature.count == Signature.byteCount, "an Ed25519 signature is 64 bytes")
        crypto_sign_detached(
            signature.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
            message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count), secret)
    }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Signature.byteCount)
        message.withUnsafeBytes { input in signature.withUnsafeMutableBytes { sign(input, into: $0) } }
        return signature
    }

    /// Lends the 32-byte seed, for writing the key file only.
    public func withSeed<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeRawBufferPointer(start: secret, count: Self.seedByteCount))
    }
}
