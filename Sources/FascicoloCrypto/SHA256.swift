import COpenSSLHash

/// A 32-byte SHA-256 digest.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    // Four words instead of an array: no allocation per hash on the append and verify paths.
    public var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == Self.byteCount, "a digest is 32 bytes")
        a = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        b = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        c = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        d = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self = bytes.withUnsafeBytes { Digest(bytes: $0) }
    }

    public func withUnsafeBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try Swift.withUnsafeBytes(of: self) { try body($0) }
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// SHA-256 (FIPS 180-4), one-shot or incremental, from OpenSSL's libcrypto (hardware-accelerated).
public struct SHA256 {
    private var state = SHA256_CTX()

    public init() {
        SHA256_Init(&state)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        SHA256_Update(&state, bytes.baseAddress!, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(byte: UInt8) {
        withUnsafeBytes(of: byte) { update($0) }
    }

    public mutating func update(_ digest: Digest) {
        digest.withUnsafeBytes { update($0) }
    }

    public mutating func finalize() -> Digest {
        var out = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &out) { raw in
            SHA256_Final(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), &state)
            return Digest(bytes: UnsafeRawBufferPointer(raw))
        }
    }

    public static func hash(_ bytes: [UInt8]) -> Digest {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }
}
