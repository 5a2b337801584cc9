import FascicoloTesting
import Foundation
import Glibc
import Testing

/// Receipts make a silently rolled-back tail provable: what the daemon acknowledged, with its
/// signature, must still be in the log — `fascicolo verify --receipts` says "acknowledged but
/// absent" otherwise, even when the log and its checkpoints.log were both put back together.
@Suite struct ReceiptTests {
    @Test func receiptsProveWhatWasAcknowledged() throws {
        try withDaemon { daemon in
            let data = daemon.directory + "/data"
            let receipts = daemon.directory + "/receipts.ndjson"
            let first = try cli(daemon, "append", "case-r", "--type", "X", "--data", #"{"n":1}"#, "--receipts", receipts)
            #expect(first.status == 0, "\(first.output)")
            daemon.kill(SIGTERM)
            let older = daemon.directory + "/older"
            try FileManager.default.createDirectory(atPath: older, withIntermediateDirectories: true)
            for name in ["data.mdb", "checkpoints.log"] {
                try FileManager.default.copyItem(atPath: data + "/" + name, toPath: older + "/" + name)
            }
            try daemon.restart()
            let second = try cli(daemon, "append", "case-r", "--type", "X", "--data", #"{"n":2}"#, "--receipts", receipts)
            #expect(second.status == 0, "\(second.output)")
            // The answer itself carries them too.
            let answer = try daemon.call(
                "/v1/streams/case-r/events?receipts=true", method: "POST", body: #"{"events":[{"type":"X","data":3}]}"#)
            #expect(answer.status == 201 && answer.body.contains(#""receipts":[{"position":2"#), "\(answer.body)")
            try daemon.expectProblem(
                daemon.call(
                    "/v1/streams/case-r/events?receipts=maybe", method: "POST",
                    body: #"{"events":[{"type":"X","data":4}]}"#), 400, "invalid_parameter")
            daemon.kill(SIGTERM)
            let lines = readFile(receipts).split(separator: "\n")
            #expect(lines.count == 2)

            let verified = try cli(["verify", data, "--receipts", receipts])
            #expect(verified.status == 0 && verified.output.contains("every one of the 2 receipts is in the log"), "\(verified.output)")

            // A forged receipt (one byte of its signature changed) is not the daemon's.
            var forged = String(lines[1])
            let signature = try #require(forged.range(of: #""signature":""#))
            let index = forged.index(signature.upperBound, offsetBy: 3)
            forged.replaceSubrange(index...index, with: forged[index] == "A" ? "B" : "A")
            try writeFile(daemon.directory + "/forged.ndjson", forged + "\n")
            let refused = try cli(["verify", data, "--receipts", daemon.directory + "/forged.ndjson"])
            #expect(refused.status == 1 && refused.output.contains("not signed by the log's key"), "\(refused.output)")

            // The log and checkpoints.log both rolled back to before the second append: only the
            // receipt shows what was lost.
            for name in ["data.mdb", "checkpoints.log"] {
                unlink(data + "/" + name)
                try FileManager.default.copyItem(atPath: older + "/" + name, toPath: data + "/" + name)
            }
            let rolledBack = try cli(["verify", data, "--receipts", receipts])
            #expect(rolledBack.status == 1 && rolledBack.output.contains("acknowledged but absent"), "\(rolledBack.output)")
            #expect(rolledBack.output.contains("position 1:"), "\(rolledBack.output)")
        }
    }
}
