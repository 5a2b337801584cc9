import FascicoloConcurrency
import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import FascicoloWitness
import Glibc
import Logging

let testOrigin = "fascicolo.test/ambito-rm1"

/// A real ledger in `directory`, signing as `testOrigin`; with `keyFrom`, it signs with the key of
/// another ledger's directory (the same log key on two diverging histories: a split view).
func openLedger(_ directory: String, keyFrom other: String? = nil) throws -> Ledger {
    if let other {
        mkdir(directory, 0o700)
        let seed = readBytes(other + "/" + KeyFile.secretName)
        try seed.withUnsafeBytes { try KeyFile.writeNewSecret(path: directory + "/" + KeyFile.secretName, bytes: $0) }
    }
    var configuration = LedgerConfiguration()
    configuration.origin = testOrigin
    configuration.unsafeNoSync = true  // the ledger is only the source of checkpoints here
    configuration.checkpointEveryEntries = 1_000_000
    configuration.checkpointEveryMilliseconds = 3_600_000
    return try Ledger.open(directory: directory, configuration: configuration)
}

/// Appends `count` entries tagged `tag` and returns the checkpoint covering them.
func grow(_ ledger: Ledger, by count: Int, tag: String) async throws -> Checkpoint {
    for index in 0..<count {
        _ = try await ledger.append(
            AppendRequest(
                stream: "case-\(tag)", events: [NewEvent(type: "TestEvent", payload: Array("\(tag)-\(index)".utf8))], author: "uid:1/test"))
    }
    return try await ledger.signCheckpoint()
}

/// The add-checkpoint body for `checkpoint`, with the proof from `oldSize` taken from `ledger`.
func request(_ checkpoint: Checkpoint, from oldSize: UInt64, ledger: Ledger) throws -> [UInt8] {
    let proof = oldSize == 0 ? [] : try ledger.consistencyProof(oldSize: oldSize, newSize: checkpoint.size)
    return Array(AddCheckpointRequest(oldSize: oldSize, proof: proof, note: checkpoint.note).body.utf8)
}

func logKey(_ ledger: Ledger) -> LogKey { LogKey(verifierKey: ledger.verifierKey)! }

/// A witness on a real LMDB state in `directory`.
func makeWitness(
    _ directory: String, logs: [LogKey], key: SigningKey = SigningKey(), seconds: Int64 = 1_800_000_000
) throws -> Witness {
    mkdir(directory, 0o700)
    let state = try WitnessState(directory: directory + "/state")
    return Witness(
        name: "witness.test/regione", key: key, logs: logs, state: state, wallClock: .fixed(millisecondsSinceEpoch: seconds * 1000),
        logger: Logger(label: "witness-test"))
}

/// The timestamp of the witness's valid cosignature of `note`, when `line` is one.
func cosignatureTimestamp(note: String, line: String, witness: Witness) -> UInt64? {
    guard let (name, key) = WitnessKey.parseVerifierKey(witness.verifierKey), let parsed = try? SignedNote.parse(note + line) else {
        return nil
    }
    return SignedNote.validCosignatureTimestamp(parsed, name: name, publicKey: key)
}
