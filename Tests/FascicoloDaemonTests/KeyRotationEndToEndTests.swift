import FascicoloCrypto
import FascicoloTesting
import Foundation
import Glibc
import Testing

/// `fascicolo keys rotate` against a running daemon under load, then every check an auditor
/// makes with the *first* key: the chain (`keys list`), a checkpoint, inclusion proofs on both
/// sides of the rotation, a consistency proof across it, person bundles exported before and after,
/// and `verify` of the stopped daemon's directory.
@Suite(.serialized) struct KeyRotationEndToEndTests {
    @Test func anAuditorHoldingTheFirstKeyFollowsTheRotationEverywhere() throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            let firstKey = readFile(daemon.directory + "/data/signing.pub").trimmingCharacters(in: .whitespacesAndNewlines)
            let person = BundleFixtures.personA
            try BundleFixtures.recordLongHistory(daemon)
            let before = try BundleFixtures.export(daemon, person: person, purpose: "audit before the rotation", name: "before")
            let oldNote = daemon.directory + "/before.note"
            try writeFile(oldNote, try cliStandardOutput(daemon, "checkpoint"))

            // Appends keep coming while the key changes (a shell loop of curl): none is lost.
            let statuses = daemon.directory + "/load-statuses"
            let body = #"{"events":[{"type":"Tick","data":{"n":1}}]}"#
            let loop = try spawn(
                "/bin/sh",
                [
                    "-c",
                    "i=0; while [ $i -lt 100000 ]; do curl -s -o /dev/null -w '%{http_code}\\n' --unix-socket \(daemon.socket) "
                        + "-X POST -H 'content-type: application/json' --data-binary '\(body)' "
                        + "http://localhost/v1/streams/load-$((i % 4))/events; i=$((i+1)); done",
                ], outputFile: statuses)
            sleepMilliseconds(300)
            let rotated = try cli(daemon, "keys", "rotate", "--retire", "keep")
            sleepMilliseconds(300)
            kill(loop, SIGKILL)
            var status: Int32 = 0
            waitpid(loop, &status, 0)
            try #require(rotated.status == 0, "\(rotated.output)")
            #expect(rotated.output.contains("new signing key: "))
            let acknowledged = readFile(statuses).split(separator: "\n").filter { $0 == "201" }.count
            #expect(acknowledged > 0)
            var stored = 0
            for stream in 0..<4 {
                stored += (try daemon.json("/v1/streams/load-\(stream)/events?limit=1000")["entries"] as? [Any])?.count ?? 0
            }
            // Every acknowledged append is stored (one more may have been stored as the loop died).
            #expect(stored >= acknowledged && stored <= acknowledged + 1, "stored \(stored), acknowledged \(acknowledged)")

            // signing.pub names the new key; the chain starts with the first.
            let newKey = readFile(daemon.directory + "/data/signing.pub").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(newKey != firstKey)
            let listed = try cli(daemon, "keys", "list")
            #expect(listed.status == 0 && listed.output.contains(firstKey) && listed.output.contains(newKey), "\(listed.output)")
            let keys = try daemon.json("/v1/keys")
            #expect(keys["firstKey"] as? String == firstKey && keys["verifierKey"] as? String == newKey)
            #expect((keys["rotationCheckpoints"] as? [String])?.count == 1)

            try BundleFixtures.record(
                daemon, person,
                #"{"type":"ReviewHeld","occurredAt":"2026-03-01","data":{"date":"2026-03-01","nextReviewDue":"2026-06-01","findings":"Dopo la rotazione"}}"#
            )
            let after = try BundleFixtures.export(daemon, person: person, purpose: "audit after the rotation", name: "after")

            // The checkpoint, signed by the new key, verifies from the first key.
            let checkpoint = try cli(daemon, "checkpoint", "--verify", "--key", firstKey)
            #expect(checkpoint.status == 0, "\(checkpoint.output)")
            // Inclusion of the first entry (old key) and of the latest (new key), consistency
            // from an old checkpoint across the rotation.
            let load = try #require(try daemon.json("/v1/streams/load-0/events?limit=1000")["entries"] as? [[String: Any]])
            let positions = load.compactMap { $0["position"] as? Int }
            let rotation = try #require((keys["chain"] as? [[String: Any]])?.last?["signsFrom"] as? Int) - 1
            #expect(positions.contains { $0 < rotation } && positions.contains { $0 > rotation }, "\(positions) around \(rotation)")
            for position in [positions.first!, rotation, positions.last!] {
                let proof = try cli(daemon, "proof", "inclusion", "\(position)", "--key", firstKey)
                #expect(proof.status == 0, "position \(position): \(proof.output)")
            }
            let consistency = try cli(daemon, "proof", "consistency", "--old-checkpoint", oldNote, "--key", firstKey)
            #expect(consistency.status == 0, "\(consistency.output)")
            // A key that was never the log's is refused.
            let stranger = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: SigningKey().publicKey)
            #expect(try cli(daemon, "checkpoint", "--verify", "--key", stranger).status == 1)

            // Both bundles verify with the first key; the later one carries the rotation.
            for file in [before, after] {
                let verified = try cli(["bundle", "verify", file, "--key", firstKey])
                #expect(verified.status == 0, "\(file): \(verified.output)")
            }
            #expect(readFile(after).contains("\"keyRotations\":[\""))

            daemon.kill(SIGTERM)
            let verify = try cli(["verify", daemon.directory + "/data", "--key", firstKey])
            #expect(verify.status == 0 && verify.output.contains("2 signing keys, from the first, \(firstKey)"), "\(verify.output)")
        }
    }

    @Test func aRotationWhileTheDaemonIsStoppedAndTheDaemonStartsWithTheNewKey() throws {
        try withDaemon { daemon in
            let firstKey = readFile(daemon.directory + "/data/signing.pub").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try daemon.append("before", #"{"events":[{"type":"Tick","data":{}}]}"#).status == 201)
            // Refused while the daemon holds the directory.
            let refused = try cli(daemon, "keys", "rotate", "--retire", "destroy", "--data-directory", daemon.directory + "/data")
            #expect(refused.status != 0 && refused.output.contains("running"), "\(refused.output)")
            daemon.kill(SIGTERM)
            let rotated = try cli(["keys", "rotate", "--retire", "destroy", "--data-directory", daemon.directory + "/data"])
            #expect(rotated.status == 0, "\(rotated.output)")
            #expect(rotated.output.contains("old key destroyed"))
            try daemon.restart()
            #expect(try daemon.append("after", #"{"events":[{"type":"Tick","data":{}}]}"#).status == 201)
            let keys = try daemon.json("/v1/keys")
            #expect(keys["firstKey"] as? String == firstKey && keys["verifierKey"] as? String != firstKey)
            daemon.kill(SIGTERM)
            let verify = try cli(["verify", daemon.directory + "/data", "--key", firstKey])
            #expect(verify.status == 0, "\(verify.output)")
        }
    }
}
