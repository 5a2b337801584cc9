import ArgumentParser
import FascicoloLedger

/// `--witness VKEY` (repeatable) and `--quorum K`: the witnesses whose cosignatures a checkpoint
/// must carry before it is trusted (C2SP tlog-cosignature; Formats.md "Witness cosignatures").
struct WitnessOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A witness's cosignature key; its cosignature must be on the checkpoint (repeatable).", valueName: "vkey"))
    var witness: [String] = []

    @Option(help: "How many of the --witness keys must have cosigned (default: all of them).")
    var quorum: Int?

    var keys: [WitnessVerifierKey] { witness.compactMap(WitnessVerifierKey.init) }

    func validate() throws {
        for key in witness where WitnessVerifierKey(key) == nil {
            throw ValidationError("--witness takes a cosignature vkey '<name>+<key id>+<base64(0x04 ‖ key)>'")
        }
        if let quorum, quorum < 1 || quorum > witness.count {
            throw ValidationError("--quorum is between 1 and the number of --witness keys")
        }
    }

    /// The witnesses that cosigned `note`; throws when fewer than the quorum did, or when a line
    /// of one of these keys does not verify.
    func check(_ note: String) throws(Checkpoint.Failure) -> [(name: String, timestampSeconds: UInt64)] {
        try Checkpoint.witnessed(note: note, witnesses: keys, quorum: quorum ?? witness.count)
    }
}
