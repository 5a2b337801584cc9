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
