import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import Foundation
import Glibc
import Testing

/// The operators' command line against a real daemon, as operators run it: the socket commands,
/// their exit statuses and messages, the proofs verified locally, backup and restore.
@Suite(.serialized) struct CLITests {
    @Test func appendThenReadRoundTripAndTheReadingCommands() throws {
        try withDaemon { daemon in
            let health = try cli(daemon, "health")
            #expect(
                health.status == 0 && health.output.contains("live     yes") && health.output.contains("ready    yes, 0 entries")
                    && health.output.contains("fascicolod 0.1.0, API v1"), "\(health.output)")

            // The data goes out exactly as typed: the daemon signs those bytes.
            let data = #" {"ambito": "AMB-03", "b":[1, 2.50], "s":"x\/y\u00e9"} "#
            let appended = try cli(
                daemon, "append", "case-cli", "--type", "CaseOpened", "--data", data,
                "--expected-version", "no_stream", "--idempotency-key", "cli-1")
            #expect(
                appended.status == 0 && appended.output.contains("appended 1 event to case-cli: position 0, stream version 1"),
                "\(appended.output)")
            let stored = try daemon.json("/v1/entries/0")
            let signedBytes = try #require(Base64.decode(stored["signedBytes"] as? String ?? ""))
            #expect(String(decoding: signedBytes, as: UTF8.self).hasSuffix(#"{"ambito": "AMB-03", "b":[1, 2.50], "s":"x\/y\u00e9"}"#))
            let retried = try cli(
                daemon, "append", "case-cli", "--type", "CaseOpened", "--data", data,
                "--expected-version", "no_stream", "--idempotency-key", "cli-1")
            #expect(
                retried.status == 0 && retried.output.contains("already stored") && retried.output.contains("position 0"),
                "\(retried.output)")

            // A prepared body of two events, from a file.
            let file = daemon.directory + "/events.json"
            try writeFile(
                file, #"{"events":[{"type":"Note","data":"first"},{"type":"Note","data":{"text": "second"}}],"expectedVersion":1}"#)
            let batch = try cli(daemon, "append", "case-cli", "--file", file, "--idempotency-key", "batch-1")
            #expect(
                batch.status == 0 && batch.output.contains("appended 2 events to case-cli: positions 1–2, stream versions 2–3"),
                "\(batch.output)")
            let second = try daemon.json("/v1/entries/2")
            #expect(
                String(decoding: try #require(Base64.decode(second["signedBytes"] as? String ?? "")), as: UTF8.self)
                    .hasSuffix(#"{"text": "second"}"#))
            let batchAgain = try cli(daemon, "append", "case-cli", "--file", file, "--idempotency-key", "batch-1")
            #expect(batchAgain.status == 0 && batchAgain.output.contains("already stored"), "\(batchAgain.output)")

            let read = try cli(daemon, "read", "case-cli")
            let lines = read.output.split(separator: "\n")
            #expect(read.status == 0 && lines.count == 4, "\(read.output)")
            #expect(lines.first?.hasPrefix("VERSION  POSITION  TYPE") == true)
            #expect(
                lines.dropFirst().first?.contains(#"CaseOpened  "#) == true
                    && read.output.contains(#"{"ambito":"AMB-03","b":[1,2.50],"s":"x/yé"}"#))
            #expect(read.output.contains(#"{"text":"second"}"#) && read.output.contains("uid:0/unnamed"))

            let newest = try cli(daemon, "read", "case-cli", "--backwards", "--limit", "1")
            #expect(newest.status == 0 && newest.output.contains(#"{"text":"second"}"#) && !newest.output.contains("AMB-03"))
            #expect(newest.output.contains("more may follow: fascicolo read case-cli --backwards --from 2"), "\(newest.output)")
            let fromTwo = try cli(daemon, "read", "case-cli", "--from", "2")
            #expect(fromTwo.status == 0 && !fromTwo.output.contains("AMB-03") && fromTwo.output.contains("first"))

            let log = try cli(daemon, "log", "--from", "1", "--limit", "5")
            #expect(
                log.status == 0 && log.output.contains("POSITION  STREAM    VERSION") && !log.output.contains("CaseOpened"),
                "\(log.output)")
            #expect(log.output.split(separator: "\n").count == 3)

            let entry = try cli(daemon, "entry", "0")
            #expect(
                entry.status == 0 && entry.output.contains("stream          case-cli")
                    && entry.output.contains("signature       valid (Ed25519")
                    && entry.output.contains(#"{"ambito": "AMB-03", "b":[1, 2.50], "s":"x\/y\u00e9"}"#),
                "\(entry.output)")

            // Refusals: 4xx exits 1 with the problem's detail and code.
            let conflict = try cli(daemon, "append", "case-cli", "--type", "X", "--data", "1", "--expected-version", "0")
            #expect(conflict.status == 1, "\(conflict.output)")
            #expect(
                conflict.output.contains("error: the stream is at version 3, expected 0 (wrong_expected_version, HTTP 409)"),
                "\(conflict.output)")
            let reused = try cli(daemon, "append", "case-cli", "--type", "Other", "--data", "1", "--idempotency-key", "cli-1")
            #expect(reused.status == 1 && reused.output.contains("(idempotency_conflict, HTTP 409)"), "\(reused.output)")
            let missing = try cli(daemon, "entry", "99")
            #expect(
                missing.status == 1 && missing.output.contains("error: no entry at position 99 (not_found, HTTP 404)"), "\(missing.output)")
            let noStream = try cli(daemon, "read", "nobody")
            #expect(noStream.status == 1 && noStream.output.contains("(not_found, HTTP 404)"))
            // Stream names may hold ':' and '@'.
            let odd = try cli(daemon, "append", "case:2026@ambito-3", "--type", "X", "--data", "1")
            #expect(odd.status == 0, "\(odd.output)")
            let oddRead = try cli(daemon, "read", "case:2026@ambito-3")
            #expect(oddRead.status == 0 && oddRead.output.split(separator: "\n").count == 2, "\(oddRead.output)")
            let invalid = try cli(daemon, "append", "bad name", "--type", "X", "--data", "1")
            #expect(invalid.status == 1 && invalid.output.contains("(invalid_stream_name, HTTP 422)"), "\(invalid.output)")

            // Bad arguments exit 2 before anything is sent.
            for arguments in [
                ["append", "case-cli", "--type", "X", "--data", "{not json"], ["append", "case-cli", "--type", "X"],
                ["read", "case-cli", "--limit", "0"], ["append", "s", "--type", "X", "--data", "1", "--expected-version", "soon"],
                ["log", "--from", "minus-one"], ["frobnicate"],
            ] {
                let result = try cli(daemon, arguments)
                #expect(result.status == 2, "\(arguments) → \(result.status) \(result.output)")
            }
            #expect(try daemon.json("/v1/health/ready")["entries"] as? Int == 4)  // nothing of the refusals was stored

            // The socket from the environment.
            let fromEnvironment = try runProcess("/usr/bin/env", ["FASCICOLO_SOCKET=\(daemon.socket)", fascicoloBinary(), "health"])
            #expect(fromEnvironment.status == 0 && fromEnvironment.output.contains("ready    yes, 4 entries"), "\(fromEnvironment.output)")
        }
    }

    @Test func jsonOutputIsTheDaemonsJSON() throws {
        try withDaemon { daemon in
            let appended = try cliStandardOutput(daemon, "append", "case-j", "--type", "CaseOpened", "--data", #"{"n":1}"#, "--json")
            let result = try parseObject(appended)
            #expect(result["positions"] as? [Int] == [0] && result["deduplicated"] as? Bool == false)
            _ = try cli(daemon, "append", "case-j", "--type", "Note", "--data", #""x""#)
            try waitForCheckpoint(daemon, size: 2)

            let read = try parseObject(try cliStandardOutput(daemon, "read", "case-j", "--json"))
            #expect((read["entries"] as? [[String: Any]])?.count == 2)
            // Unchanged: the same bytes curl gets.
            #expect(try cliStandardOutput(daemon, "log", "--json") == daemon.call("/v1/log").body + "\n")
            #expect(try cliStandardOutput(daemon, "entry", "1", "--json") == daemon.call("/v1/entries/1").body + "\n")
            let health = try parseObject(try cliStandardOutput(daemon, "health", "--json"))
            #expect((health["ready"] as? [String: Any])?["entries"] as? Int == 2)
            let checkpoint = try parseObject(try cliStandardOutput(daemon, "checkpoint", "--verify", "--json"))
            #expect(checkpoint["verified"] as? Bool == true && checkpoint["size"] as? Int == 2)
            for command in [["proof", "inclusion", "0"], ["proof", "consistency", "1"]] {
                let proof = try parseObject(try cliStandardOutput(daemon, command + ["--json"]))
                #expect(proof["verified"] as? Bool == true && proof["proof"] is [String: Any], "\(command)")
            }
            // A refusal with --json: the problem document on standard output.
            let conflict = try cliStandardOutput(
                daemon, "append", "case-j", "--type", "X", "--data", "1", "--expected-version", "no_stream", "--json")
            #expect(try parseObject(conflict)["code"] as? String == "wrong_expected_version")
        }
    }

    @Test func checkpointAndProofsAreVerifiedLocally() throws {
        try withDaemon { daemon in
            for index in 0..<5 {
                #expect(try cli(daemon, "append", "case-\(index % 2)", "--type", "X", "--data", "\(index)").status == 0)
            }
            try waitForCheckpoint(daemon, size: 5)
            let verifierKey = try #require(try daemon.json("/v1/keys")["verifierKey"] as? String)

            let note = try cliStandardOutput(daemon, "checkpoint")
            #expect(note.hasPrefix("fascicolo.invalid/ledger\n5\n") && note.contains("\n\n— fascicolo.invalid/ledger "), "\(note)")
            let checkedNote = try cli(daemon, "checkpoint", "--verify", "--key", verifierKey)
            #expect(checkedNote.status == 0 && checkedNote.output.contains("verified: checkpoint of 5 entries"), "\(checkedNote.output)")
            let savedNote = daemon.directory + "/checkpoint-5.note"
            try writeFile(savedNote, note)

            // A key that did not sign the log: the checkpoint does not verify, exit 1.
            let stranger = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: SigningKey().publicKey)
            let wrongKey = try cli(daemon, "checkpoint", "--verify", "--key", stranger)
            #expect(
                wrongKey.status == 1 && wrongKey.output.contains("FAILED: the key given with --key is not one of the log's keys"),
                "\(wrongKey.output)")
            let wrongKeyProof = try cli(daemon, "proof", "inclusion", "0", "--key", stranger)
            #expect(wrongKeyProof.status == 1 && wrongKeyProof.output.contains("FAILED"), "\(wrongKeyProof.output)")
            #expect(try cli(daemon, "checkpoint", "--verify", "--key", "not-a-key").status == 2)

            let inclusion = try cli(daemon, "proof", "inclusion", "3", "--key", verifierKey)
            #expect(inclusion.status == 0, "\(inclusion.output)")
            #expect(
                inclusion.output.contains("VERIFIED locally (RFC 9162): entry 3 is in the log signed at 5 entries"), "\(inclusion.output)")
            #expect(!inclusion.output.contains("came from the daemon"))  // the key was given
            let smallerTree = try cli(daemon, "proof", "inclusion", "1", "--tree-size", "3")
            #expect(
                smallerTree.status == 0 && smallerTree.output.contains("tree of 3") && smallerTree.output.contains("VERIFIED"),
                "\(smallerTree.output)")
            #expect(smallerTree.output.contains("note: the verifier key came from the daemon itself"))
            #expect(try cli(daemon, "proof", "inclusion", "1", "--tree-size", "99").status == 2)
            #expect(try cli(daemon, "proof", "inclusion", "42").status == 1)

            for index in 5..<9 {
                #expect(try cli(daemon, "append", "case-x", "--type", "X", "--data", "\(index)").status == 0)
            }
            try waitForCheckpoint(daemon, size: 9)
            let consistency = try cli(daemon, "proof", "consistency", "--old-checkpoint", savedNote, "--key", verifierKey)
            #expect(consistency.status == 0, "\(consistency.output)")
            #expect(
                consistency.output.contains("VERIFIED locally (RFC 9162): the log signed at 9 entries extends, unchanged, the 5 entries"),
                "\(consistency.output)")
            let derived = try cli(daemon, "proof", "consistency", "3", "--to", "7")
            #expect(
                derived.status == 0 && derived.output.contains("tree of 3") && derived.output.contains("tree of 7"), "\(derived.output)")
            let root = try Checkpoint.verify(
                note: note, origin: "fascicolo.invalid/ledger",
                publicKey: try #require(SignedNote.parseVerifierKey(verifierKey)).publicKey
            ).root
            #expect(try cli(daemon, "proof", "consistency", "5", "--old-root", root.hex).status == 0)
            let wrongRoot = try cli(daemon, "proof", "consistency", "5", "--old-root", String(repeating: "ab", count: 32))
            #expect(
                wrongRoot.status == 1 && wrongRoot.output.contains("FAILED: the consistency proof from 5 to 9 entries does not verify"),
                "\(wrongRoot.output)")
        }
    }

    /// The point of verifying locally: a daemon (or anything between) that serves a wrong proof,
    /// a wrong entry or a forged checkpoint is caught, and the command exits 1.
    @Test func aTamperedAnswerIsCaught() throws {
        try withDaemon { daemon in
            for index in 0..<6 {
                #expect(try cli(daemon, "append", "case-t", "--type", "CaseOpened", "--data", "\(index)").status == 0)
            }
            try waitForCheckpoint(daemon, size: 6)
            let proxySocket = daemon.directory + "/proxy.sock"

            // Faithful, but every answer re-framed with chunked transfer encoding in small pieces.
            try withProxy(at: proxySocket, to: daemon.socket, chunked: true, tamper: { _, body in body }) {
                let read = try cli(["read", "case-t", "--socket", proxySocket])
                #expect(read.status == 0 && read.output.split(separator: "\n").count == 7, "\(read.output)")
                #expect(try cli(["proof", "inclusion", "4", "--socket", proxySocket]).status == 0)
            }
            // One proof hash changed.
            try withProxy(
                at: proxySocket, to: daemon.socket, chunked: false,
                tamper: { target, body in
                    guard target.hasPrefix("/v1/proofs/inclusion") else { return body }
                    guard let range = body.range(of: #""proof":[""#), let first = body[range.upperBound...].first else { return body }
                    return body.replacingFirst(#""proof":[""#, with: #""proof":[""# + (first == "A" ? "B" : "A"), droppingNext: 1)
                }
            ) {
                let result = try cli(["proof", "inclusion", "2", "--socket", proxySocket])
                #expect(result.status == 1 && result.output.contains("FAILED: the inclusion proof of position 2"), "\(result.output)")
            }
            // The entry's summary says something its signed bytes do not.
            try withProxy(
                at: proxySocket, to: daemon.socket, chunked: false,
                tamper: { target, body in
                    target.hasPrefix("/v1/entries/") ? body.replacingFirst("CaseOpened", with: "CaseClosed") : body
                }
            ) {
                let result = try cli(["entry", "1", "--socket", proxySocket])
                #expect(
                    result.status == 1 && result.output.contains("the daemon's fields type differ from the signed bytes"),
                    "\(result.output)")
                #expect(try cli(["proof", "inclusion", "1", "--socket", proxySocket]).status == 1)
            }
            // A checkpoint whose tree size was changed: its signature no longer verifies.
            try withProxy(
                at: proxySocket, to: daemon.socket, chunked: false,
                tamper: { target, body in
                    target.hasPrefix("/v1/checkpoints/latest") ? body.replacingFirst("\n6\n", with: "\n7\n") : body
                }
            ) {
                let result = try cli(["proof", "consistency", "2", "--socket", proxySocket])
                #expect(result.status == 1 && result.output.contains("FAILED: the latest checkpoint does not verify"), "\(result.output)")
                #expect(try cli(["checkpoint", "--verify", "--socket", proxySocket]).status == 1)
            }
        }
    }

    /// The log as C2SP tlog-tiles (issue 20): `fascicolo tiles export` writes a directory, and the
    /// independent client written from the specs (tools/tlog-tiles-check.py) verifies both that
    /// directory and what the running daemon serves under /v1/tlog on its socket.
    @Test func theLogIsPublishedAsTilesThatAnIndependentClientVerifies() throws {
        guard try runProcess("/usr/bin/env", ["python3", "-c", "import nacl"]).status == 0 else {
            Issue.record("pynacl is missing: tools/bootstrap installs it")
            return
        }
        try withDaemon { daemon in
            for batch in 0..<3 {
                let events = (0..<100).map { #"{"type":"X","data":{"n":\#(batch * 100 + $0)}}"# }.joined(separator: ",")
                #expect(try daemon.append("case-\(batch)", #"{"events":[\#(events)]}"#).status == 201)
            }
            try waitForCheckpoint(daemon, size: 300)
            let verifierKey = try #require(try daemon.json("/v1/keys")["verifierKey"] as? String)
            let tiles = daemon.directory + "/tiles"
            let exported = try cli(["tiles", "export", daemon.directory + "/data", tiles, "--entries"])
            #expect(exported.status == 0 && exported.output.contains("exported the checkpoint of 300 entries"), "\(exported.output)")
            let fromFiles = try runProcess("/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", verifierKey, tiles, "--entries"])
            #expect(fromFiles.status == 0 && fromFiles.output.contains("300 entries checked"), "\(fromFiles.output)")
            let fromSocket = try runProcess(
                "/usr/bin/env", ["python3", "tools/tlog-tiles-check.py", verifierKey, "--unix-socket", daemon.socket, "--entries"])
            #expect(fromSocket.status == 0 && fromSocket.output.contains("300 entries checked"), "\(fromSocket.output)")
            // Again with nothing new: every tile is kept.
            let again = try cli(["tiles", "export", daemon.directory + "/data", tiles])
            #expect(again.status == 0 && again.output.contains("0 tiles written"), "\(again.output)")
        }
    }

    /// The log signs every checkpoint twice: the note signature and a `cosignature/v1` line that
    /// binds its time (Formats.md, "Checkpoints"). A note stripped of that line still carries a
    /// valid note signature, but it is not a checkpoint of this log: `checkpoint --verify`, the
    /// proofs and `verify --checkpoint` refuse it.
    @Test func aCheckpointWithoutItsCosignatureLineIsRefused() throws {
        try withDaemon { daemon in
            for index in 0..<3 {
                #expect(try cli(daemon, "append", "case-c", "--type", "X", "--data", "\(index)").status == 0)
            }
            try waitForCheckpoint(daemon, size: 3)
            let verifierKey = try #require(try daemon.json("/v1/keys")["verifierKey"] as? String)
            let note = try cliStandardOutput(daemon, "checkpoint")
            let stripped = Self.withoutCosignature(note)
            #expect(stripped != note && stripped.hasSuffix("\n"), "\(stripped)")
            let publicKey = try #require(SignedNote.parseVerifierKey(verifierKey)).publicKey
            // Still a valid note signature: only the missing line tells it apart.
            #expect((try? Checkpoint.verify(note: stripped, origin: "fascicolo.invalid/ledger", publicKey: publicKey)) != nil)

            let proxySocket = daemon.directory + "/proxy.sock"
            try withProxy(
                at: proxySocket, to: daemon.socket, chunked: false,
                tamper: { target, body in target.hasPrefix("/v1/checkpoints/") ? Self.withoutCosignature(body) : body }
            ) {
                let checked = try cli(["checkpoint", "--verify", "--key", verifierKey, "--socket", proxySocket])
                #expect(
                    checked.status == 1 && checked.output.contains("FAILED") && checked.output.contains("cosignature"), "\(checked.output)")
                let proof = try cli(["proof", "inclusion", "1", "--key", verifierKey, "--socket", proxySocket])
                #expect(proof.status == 1 && proof.output.contains("cosignature"), "\(proof.output)")
            }
            let kept = daemon.directory + "/stripped.note"
            try writeFile(kept, stripped)
            let offline = try cli(["verify", "--key", verifierKey, "--checkpoint", kept, daemon.directory + "/data"])
            #expect(offline.status == 1 && offline.output.contains("cosignature"), "\(offline.output)")
            let keptWhole = daemon.directory + "/whole.note"
            try writeFile(keptWhole, note)
            #expect(try cli(["verify", "--key", verifierKey, "--checkpoint", keptWhole, daemon.directory + "/data"]).status == 0)
        }
    }

    /// `checkpoints` lists the stored checkpoints; `checkpoint --size N` prints (and checks) the
    /// one of exactly N entries, and catches a daemon that answers with another size's note;
    /// `log --signed --json` carries each entry's signed bytes.
    @Test func checkpointsOfAnyStoredSizeAndSignedLogPages() throws {
        try withDaemon { daemon in
            for size in 1...3 {
                #expect(try cli(daemon, "append", "case-s", "--type", "X", "--data", "\(size)").status == 0)
                try waitForCheckpoint(daemon, size: size)
            }
            let verifierKey = try #require(try daemon.json("/v1/keys")["verifierKey"] as? String)
            let publicKey = try #require(SignedNote.parseVerifierKey(verifierKey)).publicKey
            let second = try cliStandardOutput(daemon, "checkpoint", "--size", "2")
            let checkpoint = try Checkpoint.verifyCosigned(note: second, origin: "fascicolo.invalid/ledger", publicKey: publicKey)
            #expect(checkpoint.size == 2)

            let listed = try cli(daemon, "checkpoints")
            let lines = listed.output.split(separator: "\n")
            #expect(listed.status == 0 && lines.count == 4 && lines[0].hasPrefix("SIZE"), "\(listed.output)")
            #expect(lines[2].hasPrefix("2 ") && lines[2].contains(checkpoint.root.hex), "\(listed.output)")
            let firstPage = try cli(daemon, "checkpoints", "--limit", "2")
            #expect(firstPage.output.contains("more follow: fascicolo checkpoints --from 3"), "\(firstPage.output)")
            let page = try parseObject(try cliStandardOutput(daemon, "checkpoints", "--from", "2", "--json"))
            #expect((page["checkpoints"] as? [[String: Any]])?.map { $0["size"] as? Int } == [2, 3], "\(page)")

            let verified = try cli(daemon, "checkpoint", "--size", "2", "--verify", "--key", verifierKey)
            #expect(verified.status == 0 && verified.output.contains("verified: checkpoint of 2 entries"), "\(verified.output)")
            #expect(try cli(daemon, "checkpoint", "--size", "99").status == 1)  // none stored: the daemon's 404
            #expect(try cli(daemon, "checkpoints", "--limit", "0").status == 2)

            // Asked for size 2, answered with the (validly signed) note of size 3.
            let third = try cliStandardOutput(daemon, "checkpoint", "--size", "3")
            let proxySocket = daemon.directory + "/proxy.sock"
            try withProxy(
                at: proxySocket, to: daemon.socket, chunked: false,
                tamper: { target, body in target == "/v1/checkpoints/2" ? third : body }
            ) {
                let swapped = try cli(["checkpoint", "--size", "2", "--verify", "--key", verifierKey, "--socket", proxySocket])
                #expect(swapped.status == 1 && swapped.output.contains("not 2"), "\(swapped.output)")
            }

            let signed = try parseObject(try cliStandardOutput(daemon, "log", "--signed", "--json", "--limit", "2"))
            let entries = try #require(signed["entries"] as? [[String: Any]])
            #expect(entries.count == 2 && entries.allSatisfy { $0["signedBytes"] is String }, "\(signed)")
            // Without --json, each entry's signature is checked here.
            let checked = try cli(daemon, "log", "--signed", "--key", verifierKey)
            #expect(
                checked.status == 0 && checked.output.contains("SIGNATURE") && checked.output.contains("verified: 3 signatures valid"),
                "\(checked.output)")
            // A page with its first entry left out, or a summary that is not what was signed: exit 1.
            try withProxy(
                at: proxySocket, to: daemon.socket, chunked: false,
                tamper: { target, body in
                    guard target.hasPrefix("/v1/log"),
                        var page = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                        var entries = page["entries"] as? [Any]
                    else { return body }
                    entries.removeFirst()
                    page["entries"] = entries
                    return String(decoding: (try? JSONSerialization.data(withJSONObject: page)) ?? Data(), as: UTF8.self)
                }
            ) {
                let dropped = try cli(["log", "--signed", "--key", verifierKey, "--socket", proxySocket])
                #expect(
                    dropped.status == 1 && dropped.output.contains("FAILED: entry 0: the signed bytes are of position 1"),
                    "\(dropped.output)")
            }
            try withProxy(
                at: proxySocket, to: daemon.socket, chunked: false,
                tamper: { target, body in target.hasPrefix("/v1/log") ? body.replacingFirst(#""type":"X""#, with: #""type":"Y""#) : body }
            ) {
                let altered = try cli(["log", "--signed", "--key", verifierKey, "--socket", proxySocket])
                #expect(altered.status == 1 && altered.output.contains("fields type differ from the signed bytes"), "\(altered.output)")
            }
        }
    }

    /// The note without its last signature line (the log's `cosignature/v1`).
    static func withoutCosignature(_ note: String) -> String {
        var lines = note.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 2, lines.last == "" else { return note }
        lines.remove(at: lines.count - 2)
        return lines.joined(separator: "\n")
    }

    @Test func tailFollowsTheLogAcrossADaemonRestartWithNoGapAndNoDuplicate() throws {
        try withDaemon { daemon in
            #expect(try daemon.append("s-0", #"{"events":[{"type":"X","data":0},{"type":"Y","data":1}]}"#).status == 201)
            let output = daemon.directory + "/tail.ndjson"
            let tail = try spawn(fascicoloBinary(), ["tail", "--from", "0", "--json", "--socket", daemon.socket], outputFile: output)
            var running = true
            defer {
                if running {
                    kill(tail, SIGKILL)
                    var status: Int32 = 0
                    waitpid(tail, &status, 0)
                }
            }
            /// The positions of the entry lines so far (standard error's notices go to the same file).
            func positions(atLeast count: Int) -> [Int] {
                var found: [Int] = []
                for _ in 0..<1_500 {
                    found = readFile(output).split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
                        (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["position"] as? Int
                    }
                    if found.count >= count { break }
                    sleepMilliseconds(10)
                }
                return found
            }
            for index in 1...10 {
                #expect(try daemon.append("s-\(index % 3)", #"{"events":[{"type":"X","data":\#(index)}]}"#).status == 201)
            }
            #expect(positions(atLeast: 12) == Array(0..<12), "in order, no gap: \(readFile(output))")
            #expect(!readFile(output).contains("heartbeat"), "heartbeats are not printed")
            let firstLine = try #require(readFile(output).split(separator: "\n").first)
            #expect(try daemon.call("/v1/log?from=0&limit=1").body.contains(String(firstLine)), "--json prints the daemon's line unchanged")

            // The daemon dies and comes back: tail reconnects and resumes after the last entry it printed.
            daemon.kill(SIGKILL)
            try daemon.restart()
            for index in 11...20 {
                #expect(try daemon.append("s-\(index % 3)", #"{"events":[{"type":"X","data":\#(index)}]}"#).status == 201)
            }
            #expect(positions(atLeast: 22) == Array(0..<22), "no gap, no duplicate after the restart: \(readFile(output))")
            #expect(readFile(output).contains("fascicolo tail: reconnected after"), "\(readFile(output))")

            // A clean shutdown of the daemon ends the stream with resumeFrom; tail resumes there.
            #expect(daemon.kill(SIGTERM) == 0)
            try daemon.restart()
            #expect(try daemon.append("s-0", #"{"events":[{"type":"X","data":"after"}]}"#).status == 201)
            #expect(positions(atLeast: 23) == Array(0..<23), "\(readFile(output))")
            #expect(readFile(output).contains("the daemon ended the stream (shutting_down)"), "\(readFile(output))")

            kill(tail, SIGTERM)
            var status: Int32 = 0
            waitpid(tail, &status, 0)
            running = false
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0, "SIGTERM stops tail cleanly with status 0 (\(status))")
        }
    }

    @Test func tailPrintsOneLinePerEntryWithoutTheDataAndExits2WithoutADaemon() throws {
        try withDaemon { daemon in
            for index in 0..<3 {
                #expect(
                    try daemon.append("case-\(index)", #"{"events":[{"type":"CaseOpened","data":{"secret":"s\#(index)"}}]}"#).status == 201)
            }
            let output = daemon.directory + "/tail.txt"
            let tail = try spawn(fascicoloBinary(), ["tail", "--from", "1", "--socket", daemon.socket], outputFile: output)
            var running = true
            defer {
                if running {
                    kill(tail, SIGKILL)
                    var status: Int32 = 0
                    waitpid(tail, &status, 0)
                }
            }
            #expect(try daemon.append("case-0", #"{"events":[{"type":"Note","data":{"secret":"s3"}}]}"#).status == 201)
            var lines: [Substring] = []
            for _ in 0..<1_000 where lines.count < 3 {
                sleepMilliseconds(10)
                lines = readFile(output).split(separator: "\n")
            }
            #expect(lines.count == 3, "\(lines)")
            #expect(
                lines.first?.hasPrefix("1  ") == true && lines.first?.hasSuffix("Z  case-1@1  CaseOpened  uid:0/unnamed") == true,
                "\(lines)")
            #expect(lines.last?.hasPrefix("3  ") == true && lines.last?.contains("  case-0@2  Note  uid:0/unnamed") == true, "\(lines)")
            #expect(!readFile(output).contains("secret"), "the data is never printed without --json")
            sleepMilliseconds(700)  // heartbeats (every 300 ms here) print nothing
            #expect(readFile(output).split(separator: "\n").count == 3, "\(readFile(output))")

            kill(tail, SIGINT)
            var status: Int32 = 0
            waitpid(tail, &status, 0)
            running = false
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0, "SIGINT stops tail cleanly with status 0 (\(status))")

            let nowhere = try cli(["tail", "--socket", daemon.directory + "/nowhere.sock"])
            #expect(nowhere.status == 2 && nowhere.output.contains("no socket at"), "\(nowhere.output)")
            #expect(try cli(daemon, "tail", "--idle-timeout", "0").status == 2)
            // A listener that never says anything, not even a heartbeat: dead after --idle-timeout.
            let silent = daemon.directory + "/silent.sock"
            let listener = try bindUnixSocket(silent)
            defer { close(listener) }
            listen(listener, 8)
            let quiet = try cli(["tail", "--from", "0", "--socket", silent, "--idle-timeout", "0.5"])
            #expect(quiet.status == 2 && quiet.output.contains("not even a heartbeat"), "\(quiet.output)")
        }
    }

    @Test func aMissingOrDeadSocketOrSilentDaemonExits2WithAHelpfulMessage() throws {
        try withTemporaryDirectory { directory in
            let missing = try cli(["health", "--socket", directory + "/nowhere.sock"])
            #expect(missing.status == 2, "\(missing.output)")
            #expect(missing.output.contains("error: is fascicolod running? no socket at \(directory)/nowhere.sock"), "\(missing.output)")
            #expect(try cli(["read", "s", "--socket", directory + "/nowhere.sock"]).status == 2)

            // A socket file nobody listens on (left by a crash).
            let dead = directory + "/dead.sock"
            let descriptor = try bindUnixSocket(dead)
            close(descriptor)
            let refused = try cli(["log", "--socket", dead])
            #expect(refused.status == 2 && refused.output.contains("connection refused at \(dead)"), "\(refused.output)")

            // A listener that never answers: the timeout.
            let silent = directory + "/silent.sock"
            let listener = try bindUnixSocket(silent)
            defer { close(listener) }
            listen(listener, 8)
            let started = Date()
            let timedOut = try cli(["health", "--socket", silent, "--timeout", "0.5"])
            #expect(
                timedOut.status == 2 && timedOut.output.contains("no answer from fascicolod at \(silent) within 0.5 s"),
                "\(timedOut.output)")
            #expect(Date().timeIntervalSince(started) < 5)
        }
    }

    @Test(.enabled(if: getuid() == 0, "needs root to act as another uid with setpriv"))
    func permissionDeniedNamesTheSocketAndWhatTheUidNeeds() throws {
        try withDaemon { daemon in
            // The socket is 0660 root:root; uid 2003 is in neither.
            let denied = try runProcess(
                "/usr/bin/env",
                [
                    "setpriv", "--reuid=2003", "--regid=2003", "--clear-groups",
                    fascicoloBinary(), "health", "--socket", daemon.socket,
                ])
            #expect(denied.status == 2, "\(denied.output)")
            #expect(denied.output.contains("permission denied on the socket \(daemon.socket): uid 2003"), "\(denied.output)")
            #expect(denied.output.contains("group") && denied.output.contains("role"), "\(denied.output)")
            // In the group but without a role: the daemon's 403 exits 1.
            let noRole = try runProcess(
                "/usr/bin/env",
                [
                    "setpriv", "--reuid=2003", "--regid=0", "--clear-groups",
                    fascicoloBinary(), "health", "--socket", daemon.socket,
                ])
            #expect(
                noRole.status == 1 && noRole.output.contains("uid 2003 has no role on this daemon (forbidden, HTTP 403)"),
                "\(noRole.output)")
        }
    }

    @Test func backupOfALiveDaemonVerifiesAndRestoreRefusesALiveDirectory() throws {
        try withDaemon { daemon in
            for index in 0..<20 {
                #expect(try daemon.append("case-b\(index % 3)", #"{"events":[{"type":"X","data":\#(index)}]}"#).status == 201)
            }
            // Appends keep arriving while the backup runs.
            let script = daemon.directory + "/load.sh"
            try writeFile(
                script,
                """
                for i in $(seq 1 100); do "\(fascicoloBinary())" append case-live --type X --data $i --socket "\(daemon.socket)" >/dev/null; done
                """)
            let loader = try spawn("/bin/sh", [script], outputFile: "/dev/null")
            defer {
                kill(loader, SIGKILL)
                var status: Int32 = 0
                waitpid(loader, &status, 0)
            }
            sleepMilliseconds(100)

            let data = daemon.directory + "/data"
            let copy = daemon.directory + "/backup-1"
            let backup = try cli(["backup", data, copy])
            #expect(backup.status == 0, "\(backup.output)")
            #expect(
                backup.output.contains("backed up \(data) to \(copy)") && backup.output.contains("OK: the copy verifies (full)"),
                "\(backup.output)")
            var info = stat()
            #expect(stat(copy, &info) == 0 && info.st_mode & 0o777 == 0o700)
            #expect(access(copy + "/signing.pub", R_OK) == 0 && access(copy + "/signing.key", F_OK) != 0)
            let verified = try cli(["verify", copy])
            #expect(verified.status == 0 && verified.output.contains("OK: "), "\(verified.output)")
            // The read models have their own environment, left out of a backup (rebuilt from the log).
            let live = try cli(["stat", data])
            #expect(live.status == 0 && live.output.contains("MiB in projections/"), "\(live.output)")
            #expect(access(copy + "/projections", F_OK) != 0)
            let copied = try parseObject(try cliStandardOutput(["stat", copy, "--json"]))
            #expect(copied["readModelsUsedBytes"] is NSNull && (copied["entries"] as? Int ?? 0) >= 20, "\(copied)")
            #expect(copied["lastCheckpointSize"] is Int && copied["lastCheckpointProblem"] is NSNull, "\(copied)")
            // stat says when the last checkpoint does not verify (here: signing.pub of another key), and exits 1.
            let strangerCopy = daemon.directory + "/backup-stranger"
            #expect(try cli(["backup", data, strangerCopy]).status == 0)
            try writeFile(
                strangerCopy + "/signing.pub",
                SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: SigningKey().publicKey) + "\n")
            let stranger = try cli(["stat", strangerCopy])
            #expect(stranger.status == 1 && stranger.output.contains("DOES NOT VERIFY"), "\(stranger.output)")
            let keys = try daemon.json("/v1/keys")
            let withKey = try cli(["verify", "--key", try #require(keys["verifierKey"] as? String), copy])
            #expect(withKey.status == 0, "\(withKey.output)")

            // The secret key only when asked for (here by the flag's earlier name), private.
            // Refusals (a non-empty destination, a missing source) are tested in process (OperationsTests).
            let withSecret = daemon.directory + "/backup-2"
            let json = try parseObject(try cliStandardOutput(["backup", data, withSecret, "--include-secret-key", "--json"]))
            #expect(json["ok"] as? Bool == true && json["secretKeyIncluded"] as? Bool == true && (json["entries"] as? Int ?? 0) >= 20)
            #expect(stat(withSecret + "/signing.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
            #expect(readBytes(withSecret + "/signing.key") == readBytes(data + "/signing.key"))
            // A --key that is no key stops the backup before anything is copied.
            let badKey = try cli(["backup", data, daemon.directory + "/backup-4", "--key", "not-a-key"])
            #expect(badKey.status == 2 && badKey.output.contains("--key"), "\(badKey.output)")
            #expect(access(daemon.directory + "/backup-4", F_OK) != 0)

            // The daemon holds its data directory: restore refuses it, even with --force.
            for arguments in [["restore", copy, data], ["restore", copy, data, "--force"]] {
                let refused = try cli(arguments)
                #expect(refused.status == 2 && refused.output.contains("fascicolod is running on \(data)"), "\(refused.output)")
            }
            #expect(try daemon.call("/v1/health/ready").status == 200)
        }
    }

    @Test func restoreIntoAnEmptyDirectoryThenTheDaemonServesTheRestoredLog() throws {
        try withDaemon { daemon in
            for index in 0..<12 {
                #expect(try daemon.append("case-r", #"{"events":[{"type":"X","data":\#(index)}]}"#).status == 201)
            }
            let verifierKey = try #require(try daemon.json("/v1/keys")["verifierKey"] as? String)
            let data = daemon.directory + "/data"
            let copy = daemon.directory + "/backup"
            #expect(try cli(["backup", data, copy]).status == 0)
            // The original log grows on after the backup; an auditor keeps checkpoints of it.
            #expect(try cli(daemon, "append", "case-r", "--type", "X", "--data", "\"original 12\"").status == 0)
            try waitForCheckpoint(daemon, size: 13)
            let note13 = daemon.directory + "/checkpoint-13.note"
            try writeFile(note13, try cliStandardOutput(daemon, "checkpoint"))
            #expect(try cli(daemon, "append", "case-r", "--type", "X", "--data", "\"original 13\"").status == 0)
            try waitForCheckpoint(daemon, size: 14)
            let note14 = daemon.directory + "/checkpoint-14.note"
            try writeFile(note14, try cliStandardOutput(daemon, "checkpoint"))

            let restored = daemon.directory + "/restored"
            let result = try cli(["restore", copy, restored, "--signing-key", data + "/signing.key", "--key", verifierKey])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("OK: the backup verifies (full): 12 entries"), "\(result.output)")
            var info = stat()
            #expect(stat(restored + "/signing.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
            #expect(stat(restored, &info) == 0 && info.st_mode & 0o077 == 0)
            #expect(try cli(["verify", "--key", verifierKey, restored]).status == 0)

            // Over data with --force, the replaced files are kept (the refusals, the failed copy and the
            // keys checked are tested in process: OperationsTests).
            let forced = try cli(["restore", copy, restored, "--force"])
            #expect(forced.status == 0 && forced.output.contains("data.mdb.replaced-"), "\(forced.output)")
            #expect(forced.output.contains("signing.key is the key that signed this log: left in place"), "\(forced.output)")
            #expect(readBytes(restored + "/signing.key") == readBytes(data + "/signing.key"))
            #expect(try directoryNames(restored).contains { $0.hasPrefix("data.mdb.replaced-") })
            // A backup that does not verify is not restored.
            let bad = try cli([
                "restore", copy, daemon.directory + "/restored-2", "--key",
                SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: SigningKey().publicKey),
            ])
            #expect(bad.status == 1 && bad.output.contains("FAILED"), "\(bad.output)")
            #expect(access(daemon.directory + "/restored-2", F_OK) != 0)

            // A daemon on the restored directory serves the log and signs with the same key.
            let config = daemon.directory + "/restored.toml"
            let socket = daemon.directory + "/restored.sock"
            try writeFile(
                config,
                """
                [storage]
                data_directory = "\(restored)"
                [socket]
                path = "\(socket)"
                [access]
                admin = "uid:0"
                [ledger]
                checkpoint_every_milliseconds = 50
                """)
            let second = try RunningDaemon(directory: daemon.directory, configPath: config, socket: socket)
            defer { second.kill(SIGKILL) }
            let appended = try cli(["append", "case-r", "--type", "X", "--data", "12", "--expected-version", "12", "--socket", socket])
            #expect(appended.status == 0 && appended.output.contains("position 12, stream version 13"), "\(appended.output)")
            try waitForCheckpoint(second, size: 13)
            // The kept checkpoints catch what the restore did to the log's history: a different 13th
            // entry (a fork), and fewer entries than were once signed (a rollback).
            let fork = try cli(["proof", "consistency", "--old-checkpoint", note13, "--key", verifierKey, "--socket", socket])
            #expect(fork.status == 1 && fork.output.contains("is NOT a prefix"), "\(fork.output)")
            let rollback = try cli(["proof", "consistency", "--old-checkpoint", note14, "--key", verifierKey, "--socket", socket])
            #expect(rollback.status == 1 && rollback.output.contains("the log was truncated or rolled back"), "\(rollback.output)")
            #expect(second.kill(SIGTERM) == 0)
            #expect(try cli(["verify", "--key", verifierKey, restored]).output.contains("OK: 13 entries"))
            // Offline too: the restored log checks against itself, not against the checkpoints kept.
            let offlineRollback = try cli(["verify", "--key", verifierKey, "--checkpoint", note14, restored])
            #expect(offlineRollback.status == 1 && offlineRollback.output.contains("entries were removed"), "\(offlineRollback.output)")
            let offlineFork = try cli(["verify", "--key", verifierKey, "--checkpoint", note13, restored])
            #expect(offlineFork.status == 1 && offlineFork.output.contains("root"), "\(offlineFork.output)")
            let original = try cli(["verify", "--key", verifierKey, "--checkpoint", note13, "--checkpoint", note14, data])
            #expect(original.status == 0 && original.output.contains("contains the 2 checkpoints given"), "\(original.output)")
        }
    }
}

// MARK: - Helpers

func fascicoloBinary() -> String { productsDirectory() + "/fascicolo" }

/// Runs `fascicolo` with these arguments; standard output and error together.
func cli(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let binary = fascicoloBinary()
    try #require(access(binary, X_OK) == 0, "build fascicolo first (tools/test does)")
    return try runProcess(binary, arguments)
}

func cli(_ daemon: RunningDaemon, _ arguments: String...) throws -> (status: Int32, output: String) {
    try cli(arguments + ["--socket", daemon.socket])
}

func cli(_ daemon: RunningDaemon, _ arguments: [String]) throws -> (status: Int32, output: String) {
    try cli(arguments + ["--socket", daemon.socket])
}

/// Standard output only (standard error goes to /dev/null).
func cliStandardOutput(_ arguments: [String]) throws -> String {
    let quoted = ([fascicoloBinary()] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }
    return try runProcess("/bin/sh", ["-c", quoted.joined(separator: " ") + " 2>/dev/null"]).output
}

func cliStandardOutput(_ daemon: RunningDaemon, _ arguments: String...) throws -> String {
    try cliStandardOutput(arguments + ["--socket", daemon.socket])
}

func cliStandardOutput(_ daemon: RunningDaemon, _ arguments: [String]) throws -> String {
    try cliStandardOutput(arguments + ["--socket", daemon.socket])
}

func parseObject(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let value = try? JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(value as? [String: Any], "not a JSON object: \(text)", sourceLocation: sourceLocation)
}

/// Waits until the latest checkpoint covers `size` entries (checkpoints come every 50 ms).
func waitForCheckpoint(_ daemon: RunningDaemon, size: Int) throws {
    for _ in 0..<200 {
        let note = try daemon.call("/v1/checkpoints/latest")
        if note.status == 200, note.body.split(separator: "\n").dropFirst().first == Substring("\(size)") { return }
        sleepMilliseconds(10)
    }
    Issue.record("no checkpoint of \(size) entries")
}

func directoryNames(_ directory: String) throws -> [String] {
    let handle = try #require(opendir(directory), "cannot list \(directory)")
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
        names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
    }
    return names
}

extension String {
    /// The text with the first occurrence of `target` replaced, and `droppingNext` characters after it removed.
    func replacingFirst(_ target: String, with replacement: String, droppingNext: Int = 0) -> String {
        guard let range = range(of: target) else { return self }
        let rest = self[range.upperBound...].dropFirst(droppingNext)
        return self[..<range.lowerBound] + replacement + rest
    }
}

/// A Unix socket bound at `path` (not listening).
func bindUnixSocket(_ path: String) throws -> Int32 {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
        for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    try #require(bound == 0, "bind \(path): errno \(errno)")
    return descriptor
}

func connectUnixSocket(_ path: String) -> Int32 {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
        for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
    }
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    return descriptor
}

func readToEnd(_ descriptor: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count <= 0 { return bytes }
        bytes += chunk[..<count]
    }
}

/// Reads a request's head (up to the empty line) and, by its Content-Length, its body.
func readRequest(_ descriptor: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var byte: UInt8 = 0
    while read(descriptor, &byte, 1) == 1 {
        bytes.append(byte)
        if bytes.count >= 4 && bytes.suffix(4) == [13, 10, 13, 10] { break }
    }
    let head = String(decoding: bytes, as: UTF8.self).lowercased()
    if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
        let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)), length > 0
    {
        var body = [UInt8](repeating: 0, count: length)
        var got = 0
        while got < length {
            let count = body.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + got, length - got) }
            if count <= 0 { break }
            got += count
        }
        bytes += body[..<got]
    }
    return bytes
}

func writeAllBytes(_ descriptor: Int32, _ bytes: [UInt8], pieces: Int? = nil) {
    var offset = 0
    while offset < bytes.count {
        let size = min(pieces ?? bytes.count, bytes.count - offset)
        let count = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress! + offset, size, Int32(MSG_NOSIGNAL)) }
        if count <= 0 { return }
        offset += count
    }
}

/// A proxy in front of the daemon's socket that can alter answers (`tamper` gets the request
/// target and the body text) and re-frame them with chunked transfer encoding, sent in small pieces.
func withProxy(
    at path: String, to upstream: String, chunked: Bool,
    tamper: @escaping @Sendable (String, String) -> String, _ body: () throws -> Void
) throws {
    unlink(path)
    let listener = try bindUnixSocket(path)
    listen(listener, 16)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { break }
            let request = readRequest(client)
            let target = String(decoding: request, as: UTF8.self).split(separator: " ").dropFirst().first.map(String.init) ?? ""
            let server = connectUnixSocket(upstream)
            writeAllBytes(server, request)
            let answer = readToEnd(server)
            close(server)
            let text = String(decoding: answer, as: UTF8.self)
            guard let split = text.range(of: "\r\n\r\n") else {
                close(client)
                continue
            }
            let headLines = text[..<split.lowerBound].split(separator: "\r\n").filter {
                !$0.lowercased().hasPrefix("content-length:") && !$0.lowercased().hasPrefix("transfer-encoding:")
            }
            let content = Array(tamper(target, String(text[split.upperBound...])).utf8)
            var out = Array((headLines.joined(separator: "\r\n") + "\r\n").utf8)
            if chunked {
                out += Array("Transfer-Encoding: chunked\r\n\r\n".utf8)
                var offset = 0
                while offset < content.count {
                    let size = min(37, content.count - offset)
                    out += Array((String(size, radix: 16) + (offset == 0 ? ";ext=1" : "") + "\r\n").utf8)
                    out += content[offset..<(offset + size)]
                    out += Array("\r\n".utf8)
                    offset += size
                }
                out += Array("0\r\nX-Trailer: yes\r\n\r\n".utf8)
            } else {
                out += Array("Content-Length: \(content.count)\r\n\r\n".utf8) + content
            }
            writeAllBytes(client, out, pieces: chunked ? 11 : nil)
            close(client)
        }
        done.signal()
    }
    thread.start()
    defer {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        done.wait()
        unlink(path)
    }
    try body()
}
