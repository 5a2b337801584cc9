import FascicoloCrypto
import FascicoloTesting
import Glibc
import Testing

/// Issue 20's split view: an operator restores an older backup and lets the daemon sign a second
/// history of the same origin, the same size as one the witness already cosigned. The witness
/// refuses it (its cosignature stays on the first history only), and `verify --witness` on the
/// restored directory reports that its checkpoint is not witnessed.
@Suite(.serialized) struct WitnessSplitViewTests {
    @Test func aDaemonRestoredFromAnOlderBackupCannotGetASecondHistoryWitnessed() throws {
        try #require(access(WitnessingTests.witnessBinary, X_OK) == 0, "build fascicolo-witness first (tools/test does)")
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            #expect(mkdir(directory + "/data", 0o700) == 0)
            let seed = (0..<SigningKey.seedByteCount).map { _ in UInt8.random(in: 0...255) }
            let key = try #require(SigningKey(seed: seed))
            try seed.withUnsafeBytes { try KeyFile.writeNewSecret(path: directory + "/data/" + KeyFile.secretName, bytes: $0) }
            let logKey = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: key.publicKey)
            var witness = try WitnessingTests.Witness(directory: directory + "/witness", logKey: logKey)
            try witness.start()
            let daemon = try WitnessingTests.daemon(in: directory, witnessedBy: witness)
            defer {
                daemon.kill(SIGKILL)
                witness.stop()
            }
            func append(_ text: String) throws {
                #expect(try daemon.append("case-s", #"{"events":[{"type":"X","data":{"t":"\#(text)"}}]}"#).status == 201)
            }
            for index in 0..<3 { try append("first \(index)") }
            try WitnessingTests.waitForWitness(daemon, size: 3)
            let backup = try cli(["backup", directory + "/data", directory + "/backup", "--include-secret-keys"])
            try #require(backup.status == 0, "\(backup.output)")
            for index in 3..<6 { try append("first \(index)") }
            try WitnessingTests.waitForWitness(daemon, size: 6)

            // The witness down, the latest checkpoint is not cosigned: a proof asking for the
            // witness is made against the newest checkpoint that is (6), not refused.
            let port = witness.port
            witness.stop()
            for index in 6..<8 { try append("unwitnessed \(index)") }
            sleepMilliseconds(200)
            let proof = try cli(daemon, ["proof", "inclusion", "1", "--witness", witness.verifierKey, "--key", logKey])
            #expect(
                proof.status == 0 && proof.output.contains("6 entries") && proof.output.contains("witness.test/regione cosigned it"),
                "\(proof.output)")
            // The same choice through the API, the vkey's + percent-encoded or not.
            for encoded in [witness.verifierKey.replacingOccurrences(of: "+", with: "%2B"), witness.verifierKey] {
                let chosen = try daemon.call("/v1/checkpoints/latest?witness=\(encoded)&quorum=1")
                #expect(chosen.status == 200 && chosen.body.hasPrefix("fascicolo.invalid/ledger\n6\n"), "\(chosen.body)")
            }
            let stranger = try WitnessingTests.Witness(directory: directory + "/stranger", logKey: logKey)
            let refused = try daemon.call(
                "/v1/checkpoints/latest?witness=\(stranger.verifierKey.replacingOccurrences(of: "+", with: "%2B"))")
            try daemon.expectProblem(refused, 409, "not_witnessed")
            try daemon.expectProblem(try daemon.call("/v1/checkpoints/latest?witness=nonsense"), 400, "invalid_parameter")
            try witness.start(port: port)
            try WitnessingTests.waitForWitness(daemon, size: 8)
            let honestLatest = try daemon.call("/v1/checkpoints/8").body

            // The old backup restored in place, and another history of the same size signed.
            daemon.kill(SIGTERM)
            let restored = try cli(["restore", directory + "/backup", directory + "/data", "--force"])
            try #require(restored.status == 0, "\(restored.output)")
            try daemon.start()
            for index in 3..<8 { try append("second \(index)") }
            sleepMilliseconds(1_500)
            let forked = try daemon.call("/v1/checkpoints/8").body
            #expect(forked.hasPrefix("fascicolo.invalid/ledger\n8\n") && forked != honestLatest)
            #expect(!forked.contains("\n— witness.test/regione "), "the witness cosigned a second history: \(forked)")
            let metrics = try daemon.call("/metrics").body
            #expect(
                metrics.contains(#"fascicolo_witness_failures_total{witness="witness.test/regione"}"#)
                    && !metrics.contains(#"fascicolo_witness_failures_total{witness="witness.test/regione"} 0"#), "\(metrics)")

            // The restored directory's checkpoint is not witnessed; the honest one was.
            daemon.kill(SIGTERM)
            let verified = try cli(["verify", "--fast", "--key", logKey, "--witness", witness.verifierKey, directory + "/data"])
            #expect(verified.status == 1 && verified.output.contains("not witnessed"), "\(verified.output)")
            let note = directory + "/honest.note"
            try writeFile(note, honestLatest)
            let honestChecked = try cli(["verify", "--fast", "--key", logKey, "--checkpoint", note, directory + "/data"])
            #expect(honestChecked.status == 1, "the honest checkpoint must not match the second history: \(honestChecked.output)")
        }
    }
}
