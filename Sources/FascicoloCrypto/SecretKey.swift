import CSodium
import Glibc

/// A 32-byte symmetric key in libsodium's guarded memory, for two jobs:
/// - sealing with XChaCha20-Poly1305 (IETF construction, 24-byte random nonces — random nonces
///   are safe at any volume with XChaCha's nonce size);
/// - keyed hashing with HMAC-SHA-256 (pseudonyms).
public final class SecretKey: @unchecked Sendable {
    // @unchecked: the key bytes are written once in init and only read afterwards.
    public static let byteCount = 32
    public static let nonceByteCount = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    public static let tagByteCount = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
    /// What sealing adds to a message: the nonce in front and the tag behind.
    public static let sealOverhead = nonceByteCount + tagByteCount

    private let secret: UnsafeMutablePointer<UInt8>
    private let guarded: Bool

    /// A new random key.
    public convenience init(guarded: Bool = true) {
        Sodium.ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        randombytes_buf(&bytes, bytes.count)
        defer { sodium_memzero(&bytes, bytes.count) }
        self.init(bytes: bytes, guarded: guarded)!
    }

    /// `guarded` keys live in libsodium's guarded memory (locked, fenced by guard pages) — right
    /// for long-lived keys. Short-lived ones (a person's data key, opened for one request) use
    /// plain memory, zeroed when released: each guarded allocation costs mmap and mprotect calls
    /// whose TLB shootdowns were the largest single cost of a domain append.
    public init?(bytes: [UInt8], guarded: Bool = true) {
        Sodium.ensureInitialized()
        guard bytes.count == Self.byteCount else { return nil }
        if guarded {
            guard let memory = sodium_malloc(Self.byteCount) else { return nil }
            secret = memory.assumingMemoryBound(to: UInt8.self)
        } else {
            secret = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.byteCount)
        }
        self.guarded = guarded
        bytes.withUnsafeBufferPointer { secret.update(from: $0.baseAddress!, count: Self.byteCount) }
    }

    deinit {
        if guarded {
            sodium_free(secret)
        } else {
            sodium_memzero(secret, Self.byteCount)
            secret.deallocate()
        }
    }

    /// Lends the key bytes, for writing them sealed or to a key file only.
    public func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeRawBufferPointer(start: secret, count: Self.byteCount))
    }

    /// nonce (24) ‖ ciphertext ‖ tag (16). `associatedData` is authenticated, not stored: the
    /// same bytes must be given to `open`, which binds the ciphertext to its context.
    public func seal(_ message: [UInt8], associatedData: [UInt8]) -> [UInt8] {
        seal(message, associatedData: associatedData, nonce: Self.randomNonces(count: 1)[...])
    }

    /// `count` fresh random nonces, concatenated: one call to the system's random source for a
    /// batch of boxes instead of one per box.
    public static func randomNonces(count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var nonces = [UInt8](repeating: 0, count: count * nonceByteCount)
        randombytes_buf(&nonces, nonces.count)
        return nonces
    }

    /// As `seal`, with the nonce given: 24 fresh random bytes (a slice of `randomNonces`); a
    /// nonce must never be used twice.
    public func seal(_ message: [UInt8], associatedData: [UInt8], nonce: ArraySlice<UInt8>) -> [UInt8] {
        precondition(nonce.count == Self.nonceByteCount, "an XChaCha20-Poly1305 nonce is 24 bytes")
        var output = Array(nonce)
        output.append(contentsOf: repeatElement(0, count: message.count + Self.tagByteCount))
        output.withUnsafeMutableBufferPointer { out in
            let nonce = out.baseAddress!
            var written: UInt64 = 0
            crypto_aead_xchacha20poly1305_ietf_encrypt(
                nonce + Self.nonceByteCount, &written, message, UInt64(message.count),
                associatedData, UInt64(associatedData.count), nil, nonce, secret)
        }
        return output
    }

    /// The message, or nil when the box was not sealed by this key with this associated data.
    public func open(_ box: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
        guard box.count >= Self.sealOverhead else { return nil }
        var message = [UInt8](repeating: 0, count: box.count - Self.sealOverhead)
        let status = box.withUnsafeBufferPointer { input in
            var written: UInt64 = 0
            return crypto_aead_xchacha20poly1305_ietf_decrypt(
                &message, &written, nil, input.baseAddress! + Self.nonceByteCount,
                UInt64(box.count - Self.nonceByteCount), associatedData, UInt64(associatedData.count),
                input.baseAddress!, secret)
        }
        return status == 0 ? message : nil
    }

    /// HMAC-SHA-256 of `message` under this key (32 bytes).
    public func authenticate(_ message: [UInt8]) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_BYTES))
        var state = crypto_auth_hmacsha256_state()
        crypto_auth_hmacsha256_init(&state, secret, Self.byteCount)
        crypto_auth_hmacsha256_update(&state, message, UInt64(message.count))
        crypto_auth_hmacsha256_final(&state, &tag)
        return tag
    }
}

extension KeyFile {
    /// Loads the symmetric key in `directory/name` (mode 0600, 32 raw bytes), creating it when
    /// absent and `create` is true. Refuses a file readable by group or others.
    public static func loadOrCreateSecret(directory: String, name: String, create: Bool) throws -> SecretKey {
        let path = directory + "/" + name
        if access(path, F_OK) != 0 {
            guard create else { throw Failure.unreadable(path: path, errno: ENOENT) }
            let key = SecretKey()
            try key.withBytes { bytes in try writeNew(path: path, bytes: bytes, mode: 0o600) }
            return key
        }
        try checkPermissions(path: path)
        var bytes = try readAll(path: path, limit: 64)
        defer { sodium_memzero(&bytes, bytes.count) }
        guard let key = SecretKey(bytes: bytes) else {
            throw Failure.malformed(path: path, reason: "expected a 32-byte key, found \(bytes.count) bytes")
        }
        return key
    }
}
