import FascicoloCrypto

/// A person's identity in the log: the first 16 bytes of HMAC-SHA-256 over the identifier's
/// canonical text (`CF:…`, `STP:…`, `ENI:…`, `PROVISIONAL:…`), under the data directory's
/// `pseudonym.key`. Without that key the pseudonym cannot be computed from a codice fiscale, nor
/// reversed; with it, the same person always gets the same pseudonym.
public struct Pseudonym: Sendable, Hashable, CustomStringConvertible {
    public static let byteCount = 16
    /// The 16 bytes as two big-endian words: nothing allocated per pseudonym (projections read
    /// one from every entry and key their caches with it).
    private let high: UInt64
    private let low: UInt64

    public var bytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: high.bigEndian, as: UInt64.self)
            raw.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return bytes
    }

    /// The 32 lower-case hex digits. Computed when asked for, not kept: projections read a
    /// pseudonym from every entry of a person's stream and hardly ever need its text.
    public var description: String { Self.text(prefix: "", high, low) }

    /// `prefix` then the 32 hex digits, written straight into the string (streams are named by
    /// pseudonym on every append and every read).
    private static func text(prefix: StaticString, _ high: UInt64, _ low: UInt64) -> String {
        let digits: StaticString = "0123456789abcdef"
        let prefixCount = prefix.utf8CodeUnitCount
        return String(unsafeUninitializedCapacity: prefixCount + 2 * byteCount) { buffer in
            for index in 0..<prefixCount { buffer[index] = prefix.utf8Start[index] }
            func write(_ word: UInt64, at start: Int) {
                for nibble in 0..<16 {
                    buffer[start + nibble] = digits.utf8Start[Int(truncatingIfNeeded: word >> UInt64(60 - 4 * nibble)) & 0xF]
                }
            }
            write(high, at: prefixCount)
            write(low, at: prefixCount + 16)
            return prefixCount + 2 * byteCount
        }
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        (high, low) = bytes.withUnsafeBytes { raw in
            (
                UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
    }

    /// Parses the 32 lower-case hex digits of `description` given as UTF-8 (a stream name's
    /// suffix, read straight from the log by projections).
    public init?(hexUTF8 hex: UnsafeRawBufferPointer) {
        guard hex.count == 2 * Self.byteCount, let high = Self.word(hex, from: 0), let low = Self.word(hex, from: 16) else { return nil }
        self.high = high
        self.low = low
    }

    /// Parses the 32 lower-case hex digits of `description`.
    public init?(hex: String) {
        var hex = hex
        guard let parsed = hex.withUTF8({ Pseudonym(hexUTF8: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    /// Sixteen lower-case hex digits from `start` as a word.
    private static func word(_ hex: UnsafeRawBufferPointer, from start: Int) -> UInt64? {
        guard let high = eightDigits(hex.loadUnaligned(fromByteOffset: start, as: UInt64.self)),
            let low = eightDigits(hex.loadUnaligned(fromByteOffset: start + 8, as: UInt64.self))
        else { return nil }
        return high << 32 | low
    }

    /// Eight lower-case hex digits (as loaded from memory: the first in the lowest byte) as a
    /// 32-bit value, checked and converted all eight at once: a branch per digit cost more than
    /// the rest of reading an entry's header.
    private static func eightDigits(_ loaded: UInt64) -> UInt64? {
        let chars = UInt64(littleEndian: loaded)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs = ones &* 0x80
        guard chars & highs == 0 else { return nil }
        // A byte's high bit, set where the byte is at least `bound` (no carry: every byte < 0x80).
        func atLeast(_ bound: UInt64) -> UInt64 { (chars &+ ones &* (0x80 - bound)) & highs }
        let digit = atLeast(0x30) & ~atLeast(0x3A)  // 0-9
        let letter = atLeast(0x61) & ~atLeast(0x67)  // a-f
        guard digit | letter == highs else { return nil }
        // Each byte's value: its low nibble, plus 9 for a letter.
        let values = (chars & (ones &* 0x0F)) &+ (letter >> 7) &* 9
        // First digit in the highest byte, then byte pairs → bytes, 16-bit pairs → 16 bits, …
        var packed = values.byteSwapped
        packed = (packed >> 4 | packed) & 0x00FF_00FF_00FF_00FF
        packed = (packed >> 8 | packed) & 0x0000_FFFF_0000_FFFF
        packed = (packed >> 16 | packed) & 0x0000_0000_FFFF_FFFF
        return packed
    }

    /// The person's case-file stream.
    public var stream: String { Self.text(prefix: Self.personStreamPrefix, high, low) }
    /// The stream of RecordAccessed entries: who read this person's data.
    public var accessStream: String { Self.text(prefix: Self.accessStreamPrefix, high, low) }

    private static let personStreamPrefix: StaticString = "person:"
    private static let accessStreamPrefix: StaticString = "access:"
    public static let personPrefix = personStreamPrefix.description
    public static let accessPrefix = accessStreamPrefix.description

    /// The pseudonym whose person or access stream this is, if it is one.
    public static func owning(stream: String) -> Pseudonym? {
        for prefix in [personPrefix, accessPrefix] where stream.hasPrefix(prefix) {
            return Pseudonym(hex: String(stream.dropFirst(prefix.count)))
        }
        return nil
    }
}

/// Turns identifiers into pseudonyms with the data directory's pseudonym key.
public struct Pseudonymizer: Sendable {
    public static let keyFileName = "pseudonym.key"
    private let key: SecretKey

    public init(key: SecretKey) { self.key = key }

    public func pseudonym(for identifier: PersonIdentifier) -> Pseudonym {
        Pseudonym(bytes: Array(key.authenticate(Array(identifier.canonicalText.utf8)).prefix(Pseudonym.byteCount)))!
    }
}
