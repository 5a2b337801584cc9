import FascicoloCrypto
import FascicoloStorage

/// A change of the log's signing key, recorded in the log (Formats.md, "Key rotation").
///
/// The `KeyRotated` entry is the only entry of the stream `ledger:keys` (which no client can
/// append to). It is signed by the key it replaces; its payload names both keys and carries the
/// new key's signature over the change (proof that whoever rotated holds the new key):
///
///     {"previousKey":"<base64(32-byte public key)>","newKey":"<base64(…)>","proof":"<base64(64-byte signature)>"}
///
///     proof = Ed25519-Sign(new seed, "fascicolo/key-rotation/v1\n" ‖ origin ‖ "\n" ‖ decimal(position) ‖ "\n"
///                                    ‖ previous public key ‖ new public key)
///
/// Exactly those bytes, members in that order, no white space. The checkpoint of the size that
/// ends with the entry is signed by the previous key and carries the next-key line
/// (`lineLabel`), so a witness learns the new key from a checkpoint it can verify.
public struct KeyRotation: Sendable, Equatable {
    public static let stream = "ledger:keys"
    public static let eventType = "KeyRotated"
    /// Streams under this prefix are written by the ledger only.
    public static let reservedPrefix = "ledger:"
    /// The next-key extension line of a checkpoint: `fascicolo/next-key/v1 <verifier key>`.
    public static let lineLabel = "fascicolo/next-key/v1"

    public let position: UInt64
    public let previous: PublicKey
    public let next: PublicKey

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let reason: String
        /// The rotation entry at fault, when one is.
        public var position: UInt64?
        public init(reason: String, position: UInt64? = nil) {
            self.reason = reason
            self.position = position
        }
        public var description: String { "invalid key rotation: \(reason)" }
    }

    /// The signed message of the new key's proof.
    static func proofMessage(origin: String, position: UInt64, previous: PublicKey, next: PublicKey) -> [UInt8] {
        Array("fascicolo/key-rotation/v1\n\(origin)\n\(position)\n".utf8) + previous.bytes + next.bytes
    }

    /// The payload of the entry at `position` that hands the log from `previous` to `next`.
    static func payload(origin: String, position: UInt64, previous: PublicKey, next: SigningKey) -> [UInt8] {
        let proof = next.sign(proofMessage(origin: origin, position: position, previous: previous, next: next.publicKey))
        return Array(
            "{\"previousKey\":\"\(Base64.encode(previous.bytes))\",\"newKey\":\"\(Base64.encode(next.publicKey.bytes))\",\"proof\":\"\(Base64.encode(proof))\"}"
                .utf8)
    }

    /// Parses and checks a `KeyRotated` payload: the exact form above, the previous key the one
    /// expected, the new key a different one, and its proof valid.
    public static func parse(
        payload: some Collection<UInt8>, origin: String, position: UInt64, previous expected: PublicKey
    ) throws(Invalid) -> KeyRotation {
        let text = String(decoding: payload, as: UTF8.self)
        let parts = text.split(separator: "\"", omittingEmptySubsequences: false)
        // {"previousKey":"A","newKey":"B","proof":"C"}  →  { previousKey : A , newKey : B , proof : C }
        guard parts.count == 13, parts[0] == "{", parts[1] == "previousKey", parts[2] == ":", parts[4] == ",",
            parts[5] == "newKey", parts[6] == ":", parts[8] == ",", parts[9] == "proof", parts[10] == ":",
            parts[12] == "}"
        else { throw Invalid(reason: "the payload is not {\"previousKey\":…,\"newKey\":…,\"proof\":…}") }
        guard let previousBytes = Base64.decode(String(parts[3])), let previous = PublicKey(previousBytes),
            let nextBytes = Base64.decode(String(parts[7])), let next = PublicKey(nextBytes),
            let proof = Base64.decode(String(parts[11])), proof.count == Signature.byteCount,
            Base64.encode(previousBytes) == parts[3], Base64.encode(nextBytes) == parts[7], Base64.encode(proof) == parts[11]
        else { throw Invalid(reason: "a key or the proof is not canonical base64 of the right length") }
        guard previous == expected else { throw Invalid(reason: "it does not replace the key that was current") }
        guard next != previous else { throw Invalid(reason: "the new key is the key it replaces") }
        guard next.isValidSignature(proof, for: proofMessage(origin: origin, position: position, previous: previous, next: next))
        else { throw Invalid(reason: "the new key's proof does not verify") }
        return KeyRotation(position: position, previous: previous, next: next)
    }

    /// The next-key line of a checkpoint text.
    public static func line(origin: String, nextKey: PublicKey) -> String {
        "\(lineLabel) \(SignedNote.verifierKey(name: origin, publicKey: nextKey))\n"
    }

    /// The key named by a next-key line (without its newline), if the line is one for `origin`.
    public static func parseLine(_ line: Substring, origin: String) -> PublicKey? {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == lineLabel, let key = SignedNote.parseVerifierKey(String(parts[1])),
            key.name == origin, SignedNote.verifierKey(name: origin, publicKey: key.publicKey) == parts[1]
        else { return nil }
        return key.publicKey
    }
}

/// The log's signing keys in order: the first key, then the key each `KeyRotated` entry names.
///
/// The entry at position p is signed by the key current at p: the first key until the first
/// rotation's position (that entry included), the next key after it, and so on. A checkpoint of
/// size n is signed by the key that signed entry n − 1.
public struct KeyChain: Sendable, Equatable {
    public let origin: String
    /// keys[0] is the first key; keys[i] is named by rotations[i - 1].
    public let keys: [PublicKey]
    public let rotations: [KeyRotation]

    public init(origin: String, first: PublicKey) {
        self.origin = origin
        keys = [first]
        rotations = []
    }

    init(origin: String, keys: [PublicKey], rotations: [KeyRotation]) {
        self.origin = origin
        self.keys = keys
        self.rotations = rotations
    }

    public var first: PublicKey { keys[0] }
    public var current: PublicKey { keys[keys.count - 1] }

    /// The chain after `rotation`, which must hand over from the current key.
    public func appending(_ rotation: KeyRotation) -> KeyChain {
        precondition(rotation.previous == current && (rotations.last.map { rotation.position > $0.position } ?? true))
        return KeyChain(origin: origin, keys: keys + [rotation.next], rotations: rotations + [rotation])
    }

    /// The key that must sign the entry at `position`.
    public func key(forEntryAt position: UInt64) -> PublicKey {
        // Rotations are few (one every few years): a scan from the newest is the cheap search.
        var index = rotations.count
        while index > 0 && rotations[index - 1].position >= position { index -= 1 }
        return keys[index]
    }

    /// The key that signs the checkpoint of `size` (≥ 1): the one that signed its last entry.
    public func key(forCheckpointSize size: UInt64) -> PublicKey {
        key(forEntryAt: size == 0 ? 0 : size - 1)
    }

    /// The key a checkpoint of `size` must name in its next-key line: the new key when its last
    /// entry is a rotation, otherwise nil (and the line must be absent).
    public func nextKey(forCheckpointSize size: UInt64) -> PublicKey? {
        rotations.first { $0.position + 1 == size }?.next
    }

    /// The key ID an entry signed by `key` carries.
    public func keyID(_ key: PublicKey) -> [UInt8] { SignedNote.keyID(name: origin, publicKey: key) }

    /// Verifies a checkpoint note of this log with the key of its size, and its next-key line
    /// against the chain. Throws `Checkpoint.Failure` or `Invalid`.
    public func verify(note: String) throws -> Checkpoint {
        let size = try Checkpoint.size(ofNote: note)
        let checkpoint = try Checkpoint.verify(note: note, origin: origin, publicKey: key(forCheckpointSize: size))
        guard checkpoint.nextKey == nextKey(forCheckpointSize: size) else {
            throw KeyRotation.Invalid(
                reason: checkpoint.nextKey == nil
                    ? "the checkpoint of size \(size) ends with a key rotation but does not name the new key"
                    : "the checkpoint of size \(size) names a next key that no rotation at its end names")
        }
        return checkpoint
    }

    /// Follows the chain from a trusted checkpoint of the key current at its size: each rotation
    /// checkpoint (with a next-key line) must verify with the key before it.
    ///
    /// This is how a client that holds only a checkpoint sequence learns the keys: `notes` are
    /// the rotation checkpoints, in size order, as served by `GET /v1/keys`.
    public static func following(
        rotationCheckpoints notes: [String], origin: String, first: PublicKey
    ) throws -> KeyChain {
        var chain = KeyChain(origin: origin, first: first)
        for note in notes {
            let checkpoint: Checkpoint
            do { checkpoint = try Checkpoint.verifyCosigned(note: note, origin: origin, publicKey: chain.current) } catch {
                throw KeyRotation.Invalid(reason: "a rotation checkpoint does not verify with the key it replaces: \(error)")
            }
            guard let next = checkpoint.nextKey, checkpoint.size > (chain.rotations.last.map { $0.position + 1 } ?? 0)
            else { throw KeyRotation.Invalid(reason: "a rotation checkpoint has no next-key line, or is out of order") }
            chain = chain.appending(KeyRotation(position: checkpoint.size - 1, previous: chain.current, next: next))
        }
        return chain
    }
}

extension KeyChain {
    /// The chain of a stored log: the rotations are the entries of `KeyRotation.stream`, each
    /// checked (signed by the key it replaces, payload valid). `first` is the first key when the
    /// log has no rotation; with rotations, the first key is the first rotation's previous key,
    /// and `first`, if given, must be one of the chain's keys.
    static func load(txn: ReadTransaction, store: LedgerStore, origin: String, anchor: PublicKey) throws -> KeyChain {
        guard let chain = try loadRotations(txn: txn, store: store, origin: origin) else {
            return KeyChain(origin: origin, first: anchor)
        }
        guard chain.keys.contains(anchor) else {
            throw KeyRotation.Invalid(reason: "the trusted key is none of the keys the log's rotations name")
        }
        return chain
    }

    /// The chain the log's rotations give, each checked; nil when the log has none.
    static func loadRotations(txn: ReadTransaction, store: LedgerStore, origin: String) throws -> KeyChain? {
        let snapshot = LedgerSnapshot(transaction: txn, store: store)
        let stream = Array(KeyRotation.stream.utf8)
        let count = try snapshot.streamVersion(stream)
        guard count > 0 else { return nil }
        var records: [(position: UInt64, entry: Entry)] = []
        for version in 1...count {
            guard let position = try snapshot.position(ofStream: stream, version: version),
                let entry = try snapshot.entry(at: position)
            else { throw DamagedData(table: "stream_index", what: "a key rotation's entry is missing") }
            records.append((position, entry))
        }
        // The first rotation names the first key; it is trusted only through the anchor (below).
        guard let firstPayload = records.first?.entry.payload,
            let firstKey = Self.previousKey(inPayload: firstPayload)
        else {
            throw KeyRotation.Invalid(reason: "the first rotation's payload names no previous key", position: records.first?.position)
        }
        var chain = KeyChain(origin: origin, first: firstKey)
        for (position, entry) in records {
            guard entry.eventType == KeyRotation.eventType else {
                throw KeyRotation.Invalid(
                    reason: "the entry at position \(position) of \(KeyRotation.stream) is not a \(KeyRotation.eventType)",
                    position: position)
            }
            let rotation: KeyRotation
            do {
                rotation = try KeyRotation.parse(payload: entry.payload, origin: origin, position: position, previous: chain.current)
            } catch {
                throw KeyRotation.Invalid(reason: error.reason, position: position)
            }
            guard entry.keyID == chain.keyID(chain.current),
                chain.current.isValidSignature(entry.signature, for: Array(entry.record.dropLast(Signature.byteCount)))
            else {
                throw KeyRotation.Invalid(
                    reason: "the rotation at position \(position) is not signed by the key it replaces", position: position)
            }
            chain = chain.appending(rotation)
        }
        return chain
    }

    private static func previousKey(inPayload payload: [UInt8]) -> PublicKey? {
        let parts = String(decoding: payload, as: UTF8.self).split(separator: "\"", omittingEmptySubsequences: false)
        guard parts.count == 13, parts[1] == "previousKey", let bytes = Base64.decode(String(parts[3])) else { return nil }
        return PublicKey(bytes)
    }
}

extension Checkpoint {
    /// The tree size a note claims, read before its signature is checked (to pick the key).
    public static func size(ofNote note: String) throws(Failure) -> UInt64 {
        let lines = note.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard lines.count == 3, let size = UInt64(lines[1]), String(size) == lines[1] else { throw .malformed("bad tree size") }
        return size
    }
}
