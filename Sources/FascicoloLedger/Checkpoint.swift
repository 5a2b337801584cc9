import FascicoloCrypto

/// A signed checkpoint in the C2SP `tlog-checkpoint` format (https://c2sp.org/tlog-checkpoint):
///
///     <origin>\n
///     <tree size, decimal>\n
///     <root hash, standard base64>\n
///     fascicolo/stream-heads/v1 <stream-head map root, standard base64>\n
///     \n
///     — <origin> <base64(key ID ‖ Ed25519 signature of the three lines above)>\n
///     — <origin> <base64(cosignature key ID ‖ timestamp ‖ signature)>\n
///
/// The first signature line is the log's note signature (type 0x01). The second is a
/// `cosignature/v1` by the same key (type 0x04), which binds the time the checkpoint was made.
/// The fourth text line, an extension line, commits to the head of every stream (see
/// `StreamHeadMap`); notes signed before it existed have three lines. The checkpoint that
/// ends with a `KeyRotated` entry has a fifth, the next-key line (`KeyRotation.lineLabel`): it is
/// signed by the key being replaced and names its successor, which signs every later entry and
/// checkpoint — the way a witness, which sees checkpoints only, learns the new key.
public struct Checkpoint: Sendable, Equatable {
    public let origin: String
    public let size: UInt64
    public let root: Digest
    /// The root of the stream-head map over the same entries (Formats.md, "The stream-head
    /// map"); nil for a note signed before checkpoints carried it.
    public let streamHeadsRoot: Digest?
    /// The key that signs from the next entry on, when this checkpoint's last entry is a
    /// `KeyRotated` entry (its next-key line); nil otherwise.
    public let nextKey: PublicKey?
    /// When the log signed it (seconds since the Unix epoch), from its verified `cosignature/v1`
    /// line; nil for a note without one (a checkpoint read from elsewhere, say).
    public let timestampSeconds: UInt64?
    /// The whole signed note, as stored and served.
    public let note: String

    /// The checkpoint body (the signed text).
    public static func body(
        origin: String, size: UInt64, root: Digest, streamHeadsRoot: Digest?, nextKey: PublicKey? = nil
    ) -> String {
        var text = "\(origin)\n\(size)\n\(Base64.encode(root.bytes))\n"
        guard let streamHeadsRoot else { return text }
        text += "\(StreamHeadMap.lineLabel) \(Base64.encode(streamHeadsRoot.bytes))\n"
        if let nextKey { text += KeyRotation.line(origin: origin, nextKey: nextKey) }
        return text
    }

    static func sign(
        origin: String, size: UInt64, root: Digest, streamHeadsRoot: Digest, nextKey: PublicKey? = nil, key: SigningKey,
        timestampSeconds: UInt64
    ) -> Checkpoint {
        let text = body(origin: origin, size: size, root: root, streamHeadsRoot: streamHeadsRoot, nextKey: nextKey)
        let note =
            text + "\n"
            + SignedNote.signatureLine(text: text, name: origin, key: key)
            + SignedNote.cosignatureLine(text: text, name: origin, key: key, timestampSeconds: timestampSeconds)
        return Checkpoint(
            origin: origin, size: size, root: root, streamHeadsRoot: streamHeadsRoot, nextKey: nextKey,
            timestampSeconds: timestampSeconds, note: note)
    }

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case malformed(String)
        case badSignature
        case badCosignature
        case wrongOrigin(String)

        public var description: String {
            switch self {
            case .malformed(let why): "malformed checkpoint: \(why)"
            case .badSignature: "checkpoint signature does not verify"
            case .badCosignature: "checkpoint cosignature/v1 (its timestamp) does not verify"
            case .wrongOrigin(let origin): "checkpoint origin \(origin) is not this log's"
            }
        }
    }

    /// Parses a note and checks its Ed25519 signature by `publicKey` under `origin`.
    public static func verify(note: String, origin: String, publicKey: PublicKey) throws(Failure) -> Checkpoint {
        let parsed: SignedNote.Parsed
        do {
            parsed = try SignedNote.parse(note)
        } catch {
            throw .malformed("\(error)")
        }
        let lines = parsed.text.split(separator: "\n", omittingEmptySubsequences: false)
        // Three body lines, four with the stream-heads line, five with the next-key line after
        // it (the only extension lines this log writes), each ending in a newline.
        guard (4...6).contains(lines.count), lines.last == "" else {
            throw .malformed("a checkpoint body has three lines, four with the stream-heads line, five with a next-key line")
        }
        guard lines[0] == origin else { throw .wrongOrigin(String(lines[0])) }
        guard let size = UInt64(lines[1]), String(size) == lines[1] else { throw .malformed("bad tree size") }
        guard let rootBytes = Base64.decode(String(lines[2])), let root = Digest(rootBytes) else {
            throw .malformed("bad root hash")
        }
        var streamHeadsRoot: Digest?
        if lines.count >= 5 {
            let parts = lines[3].split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == StreamHeadMap.lineLabel, let bytes = Base64.decode(String(parts[1])),
                let digest = Digest(bytes), Base64.encode(bytes) == parts[1]
            else { throw .malformed("the fourth line is not a stream-heads line") }
            streamHeadsRoot = digest
        }
        var nextKey: PublicKey?
        if lines.count == 6 {
            guard let key = KeyRotation.parseLine(lines[4], origin: origin) else {
                throw .malformed("the fifth line is not a next-key line")
            }
            nextKey = key
        }
        guard SignedNote.hasValidSignature(parsed, name: origin, publicKey: publicKey) else { throw .badSignature }
        // A cosignature line by this key must verify; a note without one is still a checkpoint.
        let cosignatureID = SignedNote.keyID(name: origin, publicKey: publicKey, type: SignedNote.cosignatureType)
        let hasCosignature = parsed.signatures.contains { $0.name == origin && Array($0.blob.prefix(4)) == cosignatureID }
        let timestamp = SignedNote.validCosignatureTimestamp(parsed, name: origin, publicKey: publicKey)
        if hasCosignature && timestamp == nil { throw .badCosignature }
        return Checkpoint(
            origin: origin, size: size, root: root, streamHeadsRoot: streamHeadsRoot, nextKey: nextKey,
            timestampSeconds: timestamp, note: note)
    }
}
