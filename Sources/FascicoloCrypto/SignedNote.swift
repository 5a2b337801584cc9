/// Signed notes as specified by C2SP `signed-note` (https://c2sp.org/signed-note), with Ed25519
/// signatures (type 0x01) and timestamped cosignatures (`cosignature/v1`, type 0x04,
/// https://c2sp.org/tlog-cosignature).
///
/// A note is UTF-8 text ending in a newline, then an empty line, then one or more signature lines
/// `— <key name> <base64(key ID ‖ signature)>`, each ending in a newline (— is U+2014).
/// The key ID is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ type ‖ public key).
public enum SignedNote {
    public static let ed25519Type: UInt8 = 0x01
    public static let cosignatureType: UInt8 = 0x04
    static let dash = "\u{2014} "

    /// The 4-byte key ID of `publicKey` under `name` for signature `type`.
    public static func keyID(name: String, publicKey: PublicKey, type: UInt8 = ed25519Type) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(Array(name.utf8))
        hasher.update(byte: 0x0A)
        hasher.update(byte: type)
        hasher.update(publicKey.bytes)
        return Array(hasher.finalize().bytes.prefix(4))
    }

    /// The verifier key string `<name>+<hex key ID>+<base64(0x01 ‖ public key)>` that note tooling
    /// (golang.org/x/mod/sumdb/note, litewitness, sigsum) reads.
    public static func verifierKey(name: String, publicKey: PublicKey) -> String {
        "\(name)+\(Hex.encode(keyID(name: name, publicKey: publicKey)))+\(Base64.encode([ed25519Type] + publicKey.bytes))"
    }

    /// Parses a verifier key string back into its name and public key.
    public static func parseVerifierKey(_ text: String) -> (name: String, publicKey: PublicKey)? {
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let id = Hex.decode(String(parts[1])), id.count == 4,
            let blob = Base64.decode(String(parts[2])), blob.count == 33, blob[0] == ed25519Type,
            let key = PublicKey(Array(blob[1...]))
        else { return nil }
        let name = String(parts[0])
        guard keyID(name: name, publicKey: key) == id else { return nil }
        return (name, key)
    }

    /// The signature line for `text`, signed by `key` under `name`.
    public static func signatureLine(text: String, name: String, key: SigningKey) -> String {
        let signature = key.sign(Array(text.utf8))
        return dash + name + " " + Base64.encode(keyID(name: name, publicKey: key.publicKey) + signature) + "\n"
    }

    /// A timestamped cosignature line (`cosignature/v1`): the key signs
    /// "cosignature/v1\ntime <seconds>\n" followed by the note text, and the line carries
    /// key ID ‖ timestamp (8 bytes, big-endian seconds since the Unix epoch) ‖ signature.
    public static func cosignatureLine(text: String, name: String, key: SigningKey, timestampSeconds: UInt64) -> String {
        let message = cosignedMessage(text: text, timestampSeconds: timestampSeconds)
        let signature = key.sign(Array(message.utf8))
        var blob = keyID(name: name, publicKey: key.publicKey, type: cosignatureType)
        withUnsafeBytes(of: timestampSeconds.bigEndian) { blob.append(contentsOf: $0) }
        blob += signature
        return dash + name + " " + Base64.encode(blob) + "\n"
    }

    static func cosignedMessage(text: String, timestampSeconds: UInt64) -> String {
        "cosignature/v1\ntime \(timestampSeconds)\n" + text
    }

    /// A note split into its text and signature lines, without checking any signature.
    public struct Parsed: Sendable {
        public let text: String
        public let signatures: [(name: String, blob: [UInt8])]
    }

    public enum ParseError: Error, Equatable, Sendable {
        case malformed(String)
    }

    public static func parse(_ note: String) throws(ParseError) -> Parsed {
        // The last "\n\n" separates the text from the signatures; the text keeps its final newline.
        let bytes = Array(note.utf8)
        guard bytes.last == 0x0A else { throw .malformed("a note ends with a newline") }
        var split: Int?
        var index = bytes.count - 2
        while index > 0 {
            if bytes[index] == 0x0A && bytes[index - 1] == 0x0A {
                split = index
                break
            }
            index -= 1
        }
        guard let split else { throw .malformed("no blank line before the signatures") }
        let text = String(decoding: bytes[..<split], as: UTF8.self)
        let signatureBlock = String(decoding: bytes[(split + 1)...], as: UTF8.self)
        var signatures: [(String, [UInt8])] = []
        for line in signatureBlock.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            guard line.hasPrefix(dash) else { throw .malformed("a signature line starts with an em dash and a space") }
            let fields = line.dropFirst(dash.count).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, let blob = Base64.decode(String(fields[1])), blob.count >= 5 else {
                throw .malformed("a signature line is '— <name> <base64>'")
            }
            signatures.append((String(fields[0]), blob))
        }
        guard !signatures.isEmpty else { throw .malformed("a note has at least one signature") }
        return Parsed(text: text, signatures: signatures)
    }

    /// Whether `parsed` carries exactly one signature line by `publicKey` under `name`, and it
    /// verifies. As Go's `note.Open`: a failing or repeated line of the key refuses the note;
    /// lines of other keys (witnesses) are ignored.
    public static func hasValidSignature(_ parsed: Parsed, name: String, publicKey: PublicKey) -> Bool {
        let lines = linesOf(parsed, name: name, keyID: keyID(name: name, publicKey: publicKey))
        guard lines.count == 1, let blob = lines.first, blob.count == 4 + Signature.byteCount else { return false }
        return publicKey.isValidSignature(Array(blob.dropFirst(4)), for: Array(parsed.text.utf8))
    }

    /// The signature blobs under `name` whose key ID is `keyID`.
    private static func linesOf(_ parsed: Parsed, name: String, keyID: [UInt8]) -> [[UInt8]] {
        parsed.signatures.filter { $0.name == name && Array($0.blob.prefix(4)) == keyID }.map(\.blob)
    }

    /// The timestamp of the `cosignature/v1` by `publicKey` under `name`: nil unless exactly one
    /// such line is there and it verifies.
    public static func validCosignatureTimestamp(_ parsed: Parsed, name: String, publicKey: PublicKey) -> UInt64? {
        let lines = linesOf(parsed, name: name, keyID: keyID(name: name, publicKey: publicKey, type: cosignatureType))
        guard lines.count == 1, let blob = lines.first, blob.count == 4 + 8 + Signature.byteCount else { return nil }
        let timestamp = blob[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let message = cosignedMessage(text: parsed.text, timestampSeconds: timestamp)
        return publicKey.isValidSignature(Array(blob.suffix(Signature.byteCount)), for: Array(message.utf8)) ? timestamp : nil
    }
}
