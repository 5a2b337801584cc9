import FascicoloCrypto
import FascicoloTesting
import Foundation
import Glibc
import Testing

/// A person bundle exported after a key rotation (`keyRotations`, Formats.md "Person bundles"
/// step 2): `tools/verify-bundle.py`, written from Formats.md, follows the chain from the first
/// key and says what `fascicolo bundle verify` says; an entry after the rotation signed by the
/// retired key fails both, naming its version and position.
@Suite(.serialized, .enabled(if: pythonBundleVerifierAvailable(), "python3 with pynacl (tools/bootstrap installs it)"))
struct RotatedBundleTests {
    @Test func bothVerifiersFollowTheKeyRotationsOfABundle() throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            let firstKey = readFile(daemon.directory + "/data/signing.pub").trimmingCharacters(in: .whitespacesAndNewlines)
            let person = BundleFixtures.personA
            try BundleFixtures.recordLongHistory(daemon)
            let rotated = try cli(daemon, "keys", "rotate", "--retire", "keep")
            try #require(rotated.status == 0, "\(rotated.output)")
            try BundleFixtures.record(
                daemon, person,
                #"{"type":"ReviewHeld","occurredAt":"2026-03-01","data":{"date":"2026-03-01","nextReviewDue":"2026-06-01","findings":"Dopo la rotazione"}}"#
            )
            let file = try BundleFixtures.export(daemon, person: person, purpose: "audit after the rotation", name: "after")
            #expect(readFile(file).contains("\"keyRotations\":[\""))

            func both(_ path: String) throws -> [(status: Int32, output: String)] {
                try BundleVerifierKind.allCases.map { try verifyBundle($0, path, ["--key", firstKey]) }
            }
            let good = try both(file)
            #expect(good.allSatisfy { $0.status == 0 && $0.output.hasPrefix("OK:") }, "\(good)")
            #expect(good[0].output == good[1].output)

            // Without the rotation checkpoints the new key's checkpoint is nobody the first key knows.
            let retiredFile = try #require(
                try FileManager.default.contentsOfDirectory(atPath: daemon.directory + "/data/retired-keys").first)
            let tamper = daemon.directory + "/tamper.py"
            try writeFile(
                tamper,
                """
                import base64, json, sys
                from nacl.signing import SigningKey
                bundle = json.load(open(sys.argv[1]))
                if sys.argv[3] == "drop":
                    bundle["keyRotations"] = []
                else:
                    # The last entry of the person stream (after the rotation), signed by the retired key.
                    seed = open(sys.argv[4], "rb").read()
                    entry = bundle["streams"][0]["entries"][-1]
                    signed = bytearray(base64.b64decode(entry["signedBytes"]))
                    signed[28:32] = bytes.fromhex(sys.argv[3])
                    entry["signedBytes"] = base64.b64encode(bytes(signed)).decode()
                    entry["signature"] = base64.b64encode(SigningKey(seed).sign(bytes(signed)).signature).decode()
                json.dump(bundle, open(sys.argv[2], "w"))
                """)
            let dropped = daemon.directory + "/dropped.json"
            _ = try runProcess("/usr/bin/env", ["python3", tamper, file, dropped, "drop"])
            for result in try both(dropped) { #expect(result.status == 1 && result.output.contains("FAILED: checkpoint:"), "\(result)") }

            let forged = daemon.directory + "/forged.json"
            let retiredID = String(retiredFile.prefix(8))
            let made = try runProcess(
                "/usr/bin/env", ["python3", tamper, file, forged, retiredID, daemon.directory + "/data/retired-keys/" + retiredFile])
            try #require(made.status == 0, "\(made.output)")
            let bundle = try #require(try JSONSerialization.jsonObject(with: Data(readFile(file).utf8)) as? [String: Any])
            let entries = try #require(((bundle["streams"] as? [[String: Any]])?.first?["entries"]) as? [[String: Any]])
            let position = try #require(entries.last?["position"] as? Int)
            let refused = try both(forged)
            for result in refused {
                #expect(
                    result.status == 1
                        && result.output.contains("(position \(position)): key ID \(retiredID) is not that of the log key current"),
                    "\(result)")
            }
            #expect(refused[0].output == refused[1].output)
        }
    }
}
