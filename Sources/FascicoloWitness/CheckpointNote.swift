import FascicoloCrypto
import FascicoloLedger

/// A checkpoint as a witness reads it (C2SP `tlog-checkpoint`, https://c2sp.org/tlog-checkpoint):
///
/// > The note text is a sequence of at least three non-empty lines, separated by newlines
/// > (U+000A). [origin, tree size, root hash] 4. Any following lines are **extension lines**,
/// > opaque and OPTIONAL. Extension lines, if any, MUST be non-empty.
///
/// A witness reads no meaning into extension lines — Fascicolo's `fascicolo/stream-heads/v1`
/// line included: tlog-cosignature says they "if present MUST be included in the cosigned
/// message. However, [...] the cosigner is asserting observation of correct append-only
/// operation of the log based on the first three lines of the checkpoint". So this parser is
/// not `Checkpoint.verify` (which knows this log's one extension line): any log's checkpoint is
/// accepted, and the whole text is what the witness signs.
///
/// One extension line does mean something to the witness: Fascicolo's next-key line
/// (`fascicolo/next-key/v1 <vkey>`, Formats.md "Key rotation"), by which a log signed by the key
/// the witness trusts names the key that signs its later checkpoints. A note has at most one,
/// after the third line, naming an Ed25519 vkey of the note's origin; anything else under that
/// label is malformed.
public struct CheckpointNote: Sendable {
    public let origin: String
    public let size: UInt64
    public let root: Digest
    /// The key named by the next-key line, if the note has one.
    public let nextKey: PublicKey?
    /// The note text (every line, extension lines included, with the final newline): what a
    /// cosignature/v1 signs.
    public let text: String
    public let parsed: SignedNote.Parsed

    public init(note: String) throws(AddCheckpointRequest.Malformed) {
        do {
            parsed = try SignedNote.parse(note)
        } catch {
            throw .init(reason: "the checkpoint is not a signed note")
        }
        text = parsed.text
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()  // the text ends in "\n"
        guard lines.count >= 3, lines.allSatisfy({ !$0.isEmpty }) else {
            throw .init(reason: "a checkpoint has at least three non-empty lines")
        }
        origin = String(lines[0])
        guard let size = AddCheckpointRequest.decimal(lines[1].utf8) else {
            throw .init(reason: "the tree size is a decimal without leading zeroes")
        }
        self.size = size
        let encodedRoot = String(lines[2])
        guard let bytes = Base64.decode(encodedRoot), let root = Digest(bytes), Base64.encode(bytes) == encodedRoot else {
            throw .init(reason: "the root hash is one base64 SHA-256 hash")
        }
        self.root = root
        let nextKeyLines = lines.dropFirst(3).filter { $0.hasPrefix(KeyRotation.lineLabel + " ") }
        guard nextKeyLines.count <= 1 else { throw .init(reason: "a checkpoint has at most one next-key line") }
        if let line = nextKeyLines.first {
            let vkey = String(line.dropFirst(KeyRotation.lineLabel.count + 1))
            guard let key = SignedNote.parseVerifierKey(vkey), key.name == origin,
                SignedNote.verifierKey(name: origin, publicKey: key.publicKey) == vkey
            else { throw .init(reason: "the next-key line names no Ed25519 verifier key of this origin") }
            nextKey = key.publicKey
        } else {
            nextKey = nil
        }
    }

    /// Whether a key the witness trusts for this origin signed the note (signed-note: "If the key
    /// name and ID match a known key, verifiers MUST verify the signature. If a signature from a
    /// known key fails to verify, clients SHOULD reject the whole note. If no signature from a
    /// known key verifies successfully, clients MUST reject the note"; tlog-witness: "it MUST
    /// ignore signatures from unknown keys").
    public func isSigned(byAnyOf keys: [LogKey]) -> Bool { signer(amongst: keys) != nil }

    /// The trusted key whose signature verifies (the first, when several do); nil when none
    /// does or one of them fails (see `isSigned`).
    public func signer(amongst keys: [LogKey]) -> LogKey? {
        var verified: LogKey?
        for key in keys {
            let id = SignedNote.keyID(name: key.name, publicKey: key.publicKey)
            for signature in parsed.signatures where signature.name == key.name && Array(signature.blob.prefix(4)) == id {
                guard signature.blob.count == 4 + Signature.byteCount,
                    key.publicKey.isValidSignature(Array(signature.blob.dropFirst(4)), for: Array(text.utf8))
                else { return nil }
                verified = verified ?? key
            }
        }
        return verified
    }
}

/// A log's verifier key, as configured: its signed-note vkey `<name>+<key id>+<base64(0x01 ‖ key)>`.
/// The key name is the log's origin (tlog-checkpoint: "The log’s key name in its signature line
/// SHOULD match the origin line", and Fascicolo's logs sign under their origin).
public struct LogKey: Sendable, Equatable {
    public let name: String
    public let publicKey: PublicKey

    public init(name: String, publicKey: PublicKey) {
        self.name = name
        self.publicKey = publicKey
    }

    public init?(verifierKey: String) {
        guard let parsed = SignedNote.parseVerifierKey(verifierKey) else { return nil }
        self.init(name: parsed.name, publicKey: parsed.publicKey)
    }
}
