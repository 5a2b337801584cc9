import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import Glibc
import Testing

/// The daemon submits its checkpoints to witnesses (issue 20, part 1), with the real
/// `fascicolo-witness` binary: the cosignatures come back, are served with the checkpoints and
/// checked by `fascicolo checkpoint --witness --quorum`; a witness that is down blocks no append,
/// and it catches up once it is back.
@Suite(.serialized) struct WitnessingTests {
    static let witnessBinary = productsDirectory() + "/fascicolo-witness"

    /// A witness following the log of `logKey`, serving on a free port.
    struct Witness {
        let directory: String
        let configuration: String
        var pid: pid_t = 0
        var port = 0
        var verifierKey = ""

        init(directory: String, logKey: String, name: String = "witness.test/regione") throws {
            self.directory = directory
            mkdir(directory, 0o700)
            configuration = directory + "/witness.toml"
            try writeFile(
                configuration,
                """
                [witness]
                name = "\(name)"
                data_directory = "\(directory)/state"
                logs = ["\(logKey)"]
                [http]
                port = 0
                """)
            let initialised = try runProcess(WitnessingTests.witnessBinary, ["init", "--config", configuration])
            try #require(initialised.status == 0, "\(initialised.output)")
            verifierKey = String(initialised.output.split(separator: "\n").first ?? "")
        }

        mutating func start(port wanted: Int = 0) throws {
            if wanted != 0 {
                try writeFile(configuration, readFile(configuration).replacingOccurrences(of: "port = 0", with: "port = \(wanted)"))
            }
            let log = directory + "/witness-\(Int.random(in: 0...1_000_000)).log"
            pid = try spawn(WitnessingTests.witnessBinary, ["serve", "--config", configuration], outputFile: log)
            for _ in 0..<1_000 {
                if let match = readFile(log).firstMatch(of: /listening host=127\.0\.0\.1 port=(\d+)/), let bound = Int(match.1) {
                    port = bound
                    return
                }
                usleep(10_000)
            }
            kill(pid, SIGKILL)
            Issue.record("the witness did not start: \(readFile(log))")
        }

        func stop() {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    @Test func checkpointsAreWitnessedAndAWitnessDownBlocksNothing() throws {
        try #require(access(Self.witnessBinary, X_OK) == 0, "build fascicolo-witness first (tools/test does)")
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            // The log's key exists before the daemon starts, so that the witness can follow it.
            #expect(mkdir(directory + "/data", 0o700) == 0)
            let seed = (0..<SigningKey.seedByteCount).map { _ in UInt8.random(in: 0...255) }
            let key = try #require(SigningKey(seed: seed))
            try seed.withUnsafeBytes { try KeyFile.writeNewSecret(path: directory + "/data/" + KeyFile.secretName, bytes: $0) }
            let logKey = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: key.publicKey)
            var witness = try Witness(directory: directory, logKey: logKey)
            try witness.start()
            let stranger = try Witness(directory: directory + "/other", logKey: logKey)

            let daemon = try Self.daemon(in: directory, witnessedBy: witness)
            defer {
                daemon.kill(SIGKILL)
                witness.stop()
            }
            #expect(try daemon.append("case-w", #"{"events":[{"type":"X","data":{"n":1}}]}"#).status == 201)
            try waitForWitness(daemon, witness.verifierKey, size: 1)
            let checked = try cli(daemon, ["checkpoint", "--witness", witness.verifierKey, "--quorum", "1", "--key", logKey])
            #expect(checked.status == 0 && checked.output.contains("witnessed: cosigned by witness.test/regione"), "\(checked.output)")
            // A witness that did not cosign: the quorum is not met.
            let both = try cli(
                daemon, ["checkpoint", "--witness", witness.verifierKey, "--witness", stranger.verifierKey, "--key", logKey])
            #expect(both.status == 1 && both.output.contains("quorum"), "\(both.output)")
            #expect(try cli(daemon, ["checkpoint", "--witness", stranger.verifierKey, "--key", logKey]).status == 1)

            // The witness down: appends go on; back on the same port, it catches up, proving
            // consistency from the size it cosigned last.
            let port = witness.port
            witness.stop()
            for index in 2...5 {
                #expect(try daemon.append("case-w", #"{"events":[{"type":"X","data":{"n":\#(index)}}]}"#).status == 201)
            }
            try witness.start(port: port)
            try waitForWitness(daemon, witness.verifierKey, size: 5)
            let metrics = try daemon.call("/metrics").body
            #expect(metrics.contains(#"fascicolo_witness_cosigned_size{witness="witness.test/regione"} 5"#), "\(metrics)")
            #expect(metrics.contains("fascicolo_witness_failures_total"))

            // The proofs and the offline verify require the witness too.
            let proof = try cli(daemon, ["proof", "inclusion", "0", "--witness", witness.verifierKey, "--key", logKey])
            #expect(proof.status == 0 && proof.output.contains("witness.test/regione cosigned it"), "\(proof.output)")
            #expect(try cli(daemon, ["proof", "inclusion", "0", "--witness", stranger.verifierKey, "--key", logKey]).status == 1)
            let verified = try cli(["verify", "--fast", "--key", logKey, "--witness", witness.verifierKey, directory + "/data"])
            #expect(verified.status == 0 && verified.output.contains("witnessed: the checkpoint of 5 entries"), "\(verified.output)")
            let unwitnessed = try cli(["verify", "--fast", "--key", logKey, "--witness", stranger.verifierKey, directory + "/data"])
            #expect(unwitnessed.status == 1 && unwitnessed.output.contains("not witnessed"), "\(unwitnessed.output)")

            // The cosignatures survive a restart of the daemon (kept in the data directory).
            daemon.kill(SIGTERM)
            try daemon.start()
            let again = try cli(daemon, ["checkpoint", "--size", "5", "--witness", witness.verifierKey, "--key", logKey])
            #expect(again.status == 0, "\(again.output)")
        }
    }

    /// A key rotation and entries after it (made while the daemon is stopped): after its restart
    /// the daemon does not know the witness's size, its latest checkpoint is signed by the new key,
    /// and the witness cannot verify the new key's notes before it has cosigned the rotation
    /// checkpoint — so the daemon sends that one first, then the latest, which the witness checks
    /// with the key it learnt.
    @Test func aWitnessIsToldOfAKeyRotationBeforeTheNewKeysCheckpoints() async throws {
        try #require(access(Self.witnessBinary, X_OK) == 0, "build fascicolo-witness first (tools/test does)")
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            #expect(mkdir(directory + "/data", 0o700) == 0)
            let key = SigningKey()
            try key.withSeed { seed in try KeyFile.writeNewSecret(path: directory + "/data/" + KeyFile.secretName, bytes: seed) }
            let origin = "fascicolo.invalid/ledger"
            let firstKey = SignedNote.verifierKey(name: origin, publicKey: key.publicKey)
            var witness = try Witness(directory: directory, logKey: firstKey)
            try witness.start()
            defer { witness.stop() }
            let daemon = try Self.daemon(in: directory, witnessedBy: witness)
            defer { daemon.kill(SIGKILL) }
            #expect(try daemon.append("case-w", #"{"events":[{"type":"X","data":{"n":1}}]}"#).status == 201)
            try waitForWitness(daemon, witness.verifierKey, size: 1)
            #expect(daemon.kill(SIGTERM) == 0)

            var configuration = LedgerConfiguration()
            configuration.origin = origin
            let ledger = try Ledger.open(directory: directory + "/data", configuration: configuration)
            let rotation = try await ledger.rotateKey(author: "uid:0", retire: .destroy)
            for index in 2...3 {
                _ = try await ledger.append(
                    AppendRequest(stream: "case-w", events: [NewEvent(type: "X", payload: Array("after \(index)".utf8))], author: "uid:0"))
            }
            _ = try await ledger.signCheckpoint()
            ledger.close()
            #expect(rotation.position == 1)

            // A second witness, added now and configured with the new key: it refuses the
            // rotation checkpoint (403), so the daemon goes on to the latest.
            var late = try Witness(directory: directory + "/late", logKey: rotation.newVerifierKey, name: "witness.test/late")
            try late.start()
            defer { late.stop() }
            let config = directory + "/fascicolod.toml"
            try writeFile(
                config,
                readFile(config).replacingOccurrences(
                    of: "http://127.0.0.1:\(witness.port)\"]",
                    with: "http://127.0.0.1:\(witness.port)\", \"\(late.verifierKey) http://127.0.0.1:\(late.port)\"]"))

            try daemon.start()  // its latest checkpoint (4) is signed by the new key
            try waitForWitness(daemon, witness.verifierKey, size: 4)
            try waitForWitness(daemon, witness.verifierKey, size: 2)  // the rotation checkpoint, cosigned on the way
            try waitForWitness(daemon, late.verifierKey, size: 4)
            for key in [witness.verifierKey, late.verifierKey] {
                let checked = try cli(
                    daemon, ["checkpoint", "--size", "4", "--witness", key, "--quorum", "1", "--key", rotation.newVerifierKey])
                #expect(checked.status == 0, "\(checked.output)")
            }
        }
    }

    /// A daemon on `directory/data` (its signing.key written first, so that the witness can
    /// follow it) submitting every checkpoint (one each 50 ms) to `witness`.
    static func daemon(in directory: String, witnessedBy witness: Witness) throws -> RunningDaemon {
        let socket = directory + "/api.sock"
        let config = directory + "/fascicolod.toml"
        try writeFile(
            config,
            """
            [storage]
            data_directory = "\(directory)/data"
            [socket]
            path = "\(socket)"
            [access]
            admin = "uid:0"
            [ledger]
            checkpoint_every_milliseconds = 50
            [domain]
            reference_directory = "\(packageDirectory())/Config/reference"
            [witnesses]
            list = ["\(witness.verifierKey) http://127.0.0.1:\(witness.port)"]
            timeout_milliseconds = 2000
            """)
        return try RunningDaemon(directory: directory, configPath: config, socket: socket)
    }

    /// Waits until the checkpoint of `size` entries is served with the witness's cosignature.
    private func waitForWitness(_ daemon: RunningDaemon, _ witnessKey: String, size: Int) throws {
        try Self.waitForWitness(daemon, size: size, name: String(witnessKey.prefix { $0 != "+" }))
    }

    static func waitForWitness(_ daemon: RunningDaemon, size: Int, name: String = "witness.test/regione") throws {
        for _ in 0..<300 {
            let note = try daemon.call("/v1/checkpoints/\(size)")
            if note.status == 200, note.body.contains("\n— \(name) ") { return }
            sleepMilliseconds(50)
        }
        Issue.record("the checkpoint of \(size) entries was not witnessed: \(try daemon.call("/v1/checkpoints/latest").body)")
    }
}
