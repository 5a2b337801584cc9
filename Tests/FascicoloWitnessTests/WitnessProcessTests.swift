import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import FascicoloWitness
import Glibc
import Testing

/// The `fascicolo-witness` binary: init, serve over HTTP on a free port, and a SIGKILL in the
/// middle of a sequence of requests.
@Suite struct WitnessProcessTests {
    static var binary: String { productsDirectory() + "/fascicolo-witness" }

    /// A configuration following `ledger`, serving on a free port.
    static func writeConfiguration(_ directory: String, logs: [String], extra: String = "") throws -> String {
        let path = directory + "/witness.toml"
        let list = logs.map { "\"\($0)\"" }.joined(separator: ", ")
        try writeFile(
            path,
            """
            [witness]
            name = "witness.test/regione"
            data_directory = "\(directory)/witness"
            logs = [\(list)]

            [http]
            port = 0
            \(extra)
            """)
        return path
    }

    /// A running `serve`, and the port it bound (read from its log).
    struct Running {
        let pid: pid_t
        let port: Int
        let log: String
    }

    static func serve(_ configuration: String, log: String) throws -> Running {
        let pid = try spawn(binary, ["serve", "--config", configuration], outputFile: log)
        for _ in 0..<3_000 {  // up to 30 s: a loaded machine starts a process slowly
            if let match = readFile(log).firstMatch(of: /listening host=127\.0\.0\.1 port=(\d+)/), let port = Int(match.1) {
                return Running(pid: pid, port: port, log: log)
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { break }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        throw TCPClient.Failure(message: "the witness did not start: \(readFile(log))")
    }

    static func stop(_ running: Running, signal: Int32 = SIGTERM) -> Int32 {
        kill(running.pid, signal)
        var status: Int32 = 0
        waitpid(running.pid, &status, 0)
        return status
    }

    @Test func initCreatesAPrivateKeyAndRefusesToRunTwice() throws {
        try #require(access(Self.binary, X_OK) == 0, "build fascicolo-witness first")
        try withTemporaryDirectory { directory in
            let logKey = SignedNote.verifierKey(name: "log.test/a", publicKey: SigningKey().publicKey)
            let configuration = try Self.writeConfiguration(directory, logs: [logKey])
            let first = try runProcess(Self.binary, ["init", "--config", configuration])
            #expect(first.status == 0, "\(first.output)")
            let vkey = firstLine(first.output)
            let parsed = try #require(WitnessKey.parseVerifierKey(vkey), "\(first.output)")
            #expect(parsed.name == "witness.test/regione")
            var info = stat()
            #expect(stat(directory + "/witness/witness.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
            let seed = readBytes(directory + "/witness/witness.key")
            #expect(SigningKey(seed: seed)?.publicKey == parsed.publicKey)
            let second = try runProcess(Self.binary, ["init", "--config", configuration])
            #expect(second.status == 1 && second.output.contains("initialised once"), "\(second.output)")
            #expect(readBytes(directory + "/witness/witness.key") == seed, "the key is never replaced")

            // Refusals: a state that was never made, a bad log key, an unknown key (by line).
            let bad = directory + "/bad.toml"
            try writeFile(bad, "[witness]\nname = \"w.test/x\"\nlogs = [\"not a vkey\"]\n")
            let badKey = try runProcess(Self.binary, ["serve", "--config", bad])
            #expect(
                badKey.status == 1 && badKey.output.contains("bad.toml:3") && badKey.output.contains("verifier key"), "\(badKey.output)")
            try writeFile(bad, "[witness]\nname = \"w.test/x\"\nlogs = [\"\(logKey)\"]\n[http]\nprot = 80\n")
            let unknown = try runProcess(Self.binary, ["serve", "--config", bad])
            #expect(
                unknown.status == 1 && unknown.output.contains("http.prot") && unknown.output.contains("unknown key"), "\(unknown.output)")
            try writeFile(bad, "[witness]\nname = \"w.test/x\"\ndata_directory = \"\(directory)/nothing\"\nlogs = [\"\(logKey)\"]\n")
            let noState = try runProcess(Self.binary, ["serve", "--config", bad])
            #expect(noState.status == 1 && noState.output.contains("fascicolo-witness init"), "\(noState.output)")
            // The shipped example reads, and lacks only the logs an operator must list.
            let shipped = try runProcess(Self.binary, ["serve", "--config", packageDirectory() + "/Config/fascicolo-witness.toml"])
            #expect(shipped.status == 1 && shipped.output.contains("witness.logs lists no log"), "\(shipped.output)")
        }
    }

    /// Over HTTP: cosignatures, the 409 with its `text/x.tlog.size` body, 404, 413 for a body over
    /// the limit, 404 (or 405) for other paths and methods; a clean stop on SIGTERM.
    @Test func theServerAnswersAsTheSpecSays() async throws {
        try #require(access(Self.binary, X_OK) == 0, "build fascicolo-witness first")
        try await withTemporaryDirectory { directory in
            let ledger = try openLedger(directory + "/log")
            defer { ledger.close() }
            let configuration = try Self.writeConfiguration(directory, logs: [ledger.verifierKey], extra: "body_bytes_max = 4096")
            let initialised = try runProcess(Self.binary, ["init", "--config", configuration])
            let vkey = try #require(WitnessKey.parseVerifierKey(firstLine(initialised.output)))
            // Bodies first: a keep-alive connection idle for idle_timeout_milliseconds (30 s) is
            // closed, and a loaded machine can take that long to grow a ledger.
            let first = try await grow(ledger, by: 3, tag: "a")
            let firstBody = try request(first, from: 0, ledger: ledger)
            let other = try openLedger(directory + "/other-log")
            defer { other.close() }
            let otherBody = try request(try await grow(other, by: 1, tag: "o"), from: 0, ledger: other)
            let running = try Self.serve(configuration, log: directory + "/witness.log")
            let client = try TCPClient(port: running.port)

            let cosigned = try client.request("POST", "/add-checkpoint", body: firstBody)
            #expect(cosigned.status == 200, "\(cosigned.text)")
            let parsed = try SignedNote.parse(first.note + cosigned.text)
            #expect(SignedNote.validCosignatureTimestamp(parsed, name: vkey.name, publicKey: vkey.publicKey) != nil)

            let conflict = try client.request("POST", "/add-checkpoint", body: firstBody)
            #expect(conflict.status == 409 && conflict.headers["content-type"] == "text/x.tlog.size" && conflict.text == "3\n")
            let unknown = try client.request("POST", "/add-checkpoint", body: otherBody)
            #expect(unknown.status == 403, "same origin, another key")
            let large = try client.request("POST", "/add-checkpoint", body: Array(repeating: 0x41, count: 5_000))
            #expect(large.status == 413)
            #expect([404, 405].contains(try TCPClient(port: running.port).request("GET", "/add-checkpoint").status))
            #expect(try TCPClient(port: running.port).request("POST", "/elsewhere").status == 404)
            let status = Self.stop(running)
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0, "\(readFile(running.log))")
            #expect(!readFile(running.log).contains(Base64.encode(readBytes(directory + "/witness/witness.key"))))
        }
    }

    /// A witness killed with SIGKILL while a log submits a growing sequence (and again at a
    /// random point in later rounds): after a restart its state holds at least the last size it
    /// answered 200 for, a split view at that size is refused, and the log carries on from it.
    @Test func aWitnessKilledMidSequenceKeepsItsWord() async throws {
        try #require(access(Self.binary, X_OK) == 0, "build fascicolo-witness first")
        try await withTemporaryDirectory { directory in
            let honest = try openLedger(directory + "/honest")
            defer { honest.close() }
            let forked = try openLedger(directory + "/forked", keyFrom: directory + "/honest")
            defer { forked.close() }
            let configuration = try Self.writeConfiguration(directory, logs: [honest.verifierKey])
            _ = try runProcess(Self.binary, ["init", "--config", configuration])

            var cosigned: UInt64 = 0
            var answered: [UInt64] = []
            var interrupted = 0
            for round in 0..<4 {
                let running = try Self.serve(configuration, log: directory + "/witness-\(round).log")
                // Learn the size the witness holds (tlog-witness: "a old size of zero to obtain it").
                let port = running.port
                func post(_ body: [UInt8]) throws -> TCPClient.Response {
                    // A connection per request: one idle for 30 s (a loaded machine growing the
                    // ledger) would be closed by the witness, and that is not the kill.
                    try TCPClient(port: port).request("POST", "/add-checkpoint", body: body)
                }
                var known = try honest.latestCheckpoint()
                if known == nil { known = try await grow(honest, by: 1, tag: "a") }
                let latest = try #require(known)
                let probe = try post(request(latest, from: 0, ledger: honest))
                let held = probe.status == 200 ? latest.size : UInt64(firstLine(probe.text)) ?? 0
                #expect(held >= cosigned, "round \(round): the witness holds \(held), it cosigned \(cosigned)")
                cosigned = probe.status == 200 ? latest.size : held

                // The other history at the held size never gets a cosignature.
                // (The forked history shares no entry with the honest one: its root differs at
                // every size, so its own proof from the held size cannot verify: 422, or 409 at
                // the held size itself.)
                let forkedNow = try await grow(forked, by: Int(honest.size - forked.size), tag: "b")
                let split = try post(request(forkedNow, from: cosigned, ledger: forked))
                #expect(split.status == 409 || split.status == 422, "round \(round): \(split.status)")

                // Submissions race with a SIGKILL sent a random 5-60 ms after the round's first
                // cosignature (after, so that a loaded machine still answers some before it).
                let pid = running.pid
                var killer: Task<Void, Never>?
                do {
                    for _ in 0..<200 {
                        let next = try await grow(honest, by: Int.random(in: 1...3), tag: "a")
                        let answer = try post(request(next, from: cosigned, ledger: honest))
                        #expect(answer.status == 200, "\(answer.status) \(answer.text)")
                        cosigned = next.size
                        answered.append(next.size)
                        if killer == nil {
                            killer = Task {
                                try? await Task.sleep(for: .milliseconds(Int.random(in: 5...60)))
                                kill(pid, SIGKILL)
                            }
                        }
                    }
                } catch is TCPClient.Failure {
                    interrupted += 1
                    // The connection died with the process: the size of the last request may or
                    // may not be recorded, which the probe of the next round finds out.
                }
                await killer?.value
                kill(pid, SIGKILL)  // if all 200 were answered first
                var status: Int32 = 0
                waitpid(running.pid, &status, 0)
            }
            #expect(!answered.isEmpty && interrupted >= 3, "\(answered.count) answered, \(interrupted) rounds cut by the kill")
        }
    }
}

/// `text` without its final newlines.
func firstLine(_ text: String) -> String {
    var result = text
    while result.last == "\n" { result.removeLast() }
    return result
}
