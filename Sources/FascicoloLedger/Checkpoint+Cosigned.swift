import FascicoloCrypto

extension Checkpoint {
    /// A checkpoint as this log signs it: `verify`, and the note must also carry the log key's
    /// `cosignature/v1` line (its timestamp), which Formats.md ("Checkpoints") requires. `verify`
    /// alone accepts a note without one, whose note signature is still valid — so a note stripped
    /// of that line would pass for this log's. Every check of a checkpoint that a caller hands in
    /// (a kept note, the daemon's answer) goes through here.
    public static func verifyCosigned(note: String, origin: String, publicKey: PublicKey) throws(Failure) -> Checkpoint {
        let checkpoint = try verify(note: note, origin: origin, publicKey: publicKey)
        guard checkpoint.timestampSeconds != nil else {
            throw .malformed("no cosignature/v1 line by the log's key (the signed time every checkpoint of this log carries)")
        }
        return checkpoint
    }
}

/// A witness's cosignature/v1 key (`<name>+<key id>+<base64(0x04 ‖ key)>`), as verifiers give it.
public struct WitnessVerifierKey: Sendable, Equatable {
    public let name: String
    public let publicKey: PublicKey

    public init?(_ text: String) {
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, let id = Hex.decode(String(parts[1])), id.count == 4,
            let blob = Base64.decode(String(parts[2])), blob.count == 33, blob[0] == SignedNote.cosignatureType,
            let key = PublicKey(Array(blob[1...])),
            SignedNote.keyID(name: String(parts[0]), publicKey: key, type: SignedNote.cosignatureType) == id
        else { return nil }
        name = String(parts[0])
        publicKey = key
    }
}

extension Checkpoint {
    /// The witnesses among `witnesses` whose cosignature/v1 line on `note` verifies, with the
    /// time each signed; fewer than `quorum` is a failure, and so is a line by one of these keys
    /// that does not verify (a forged cosignature is not a missing one). Lines of other keys are
    /// ignored. The note itself is checked by `verifyCosigned` first.
    public static func witnessed(
        note: String, witnesses: [WitnessVerifierKey], quorum: Int
    ) throws(Failure) -> [(name: String, timestampSeconds: UInt64)] {
        let parsed: SignedNote.Parsed
        do { parsed = try SignedNote.parse(note) } catch { throw .malformed("not a signed note") }
        var cosigned: [(name: String, timestampSeconds: UInt64)] = []
        for witness in witnesses {
            let id = SignedNote.keyID(name: witness.name, publicKey: witness.publicKey, type: SignedNote.cosignatureType)
            guard parsed.signatures.contains(where: { $0.name == witness.name && Array($0.blob.prefix(4)) == id }) else { continue }
            guard let time = SignedNote.validCosignatureTimestamp(parsed, name: witness.name, publicKey: witness.publicKey) else {
                throw .malformed("the cosignature of witness \(witness.name) does not verify")
            }
            cosigned.append((witness.name, time))
        }
        guard cosigned.count >= quorum else {
            throw .malformed("\(cosigned.count) of the witnesses given cosigned this checkpoint; the quorum is \(quorum)")
        }
        return cosigned
    }
}
