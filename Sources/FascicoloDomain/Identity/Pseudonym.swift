import FascicoloCrypto

/// A person's identity in the log: the first 16 bytes of HMAC-SHA-256 over the identifier's
/// canonical text (`CF:…`, `STP:…`, `ENI:…`, `PROVISIONAL:…`), under the data directory's
/// `pseudonym.key`. Without that key the pseudonym cannot be computed from a codice fiscale, nor
/// reversed; with it, the same person always gets the same pseudonym.
public struct Pseudonym: Sendable, Hashable, CustomStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    /// The 32 lower-case hex digits. Computed when asked for, not kept: projections read a
    /// pseudonym from every entry of a person's stream and hardly ever need its text.
    public var description: String { Hex.encode(bytes) }

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses the 32 lower-case hex digits of `description` given as UTF-8 (a stream name's
    /// suffix, read straight from the log by projections).
    public init?(hexUTF8 hex: UnsafeRawBufferPointer) {
        guard hex.count == 2 * Self.byteCount, !hex.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) }),
              let bytes = Hex.decode(utf8: hex) else { return nil }
        self.bytes = bytes
    }

    /// Parses the 32 lower-case hex digits of `description`.
    public init?(hex: String) {
        guard hex.utf8.count == 2 * Self.byteCount, hex == hex.lowercased(), let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    public static func == (lhs: Pseudonym, rhs: Pseudonym) -> Bool { lhs.bytes == rhs.bytes }
    /// As two words (always 16 bytes): the caches keyed by person hash one per entry.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { raw in
            hasher.combine(raw.loadUnaligned(as: UInt64.self))
            hasher.combine(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    /// The person's case-file stream.
    public var stream: String { Self.personPrefix + description }
    /// The stream of RecordAccessed entries: who read this person's data.
    public var accessStream: String { Self.accessPrefix + description }

    public static let personPrefix = "person:"
    public static let accessPrefix = "access:"

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
