import FascicoloCrypto
import FascicoloLedger
import FascicoloServer
import Foundation
import Hummingbird
import Testing

/// What an outside verifier reads from the API besides proofs: the checkpoint of any stored
/// size, the list of stored checkpoints, and pages of entries with their signed bytes — the
/// last under the rule for raw reads of persons' entries (withheld, or recorded with a purpose).
@Suite struct AuditorReadsTests {
    static let purpose: HTTPFields = [HTTPFields.Element.Name("Fascicolo-Purpose")!: "ispezione regionale 2026/3"]

    /// Appends one entry and waits for the checkpoint that covers it (signed within 50 ms).
    static func appendAndCheckpoint(_ server: TestServer, _ size: Int) async throws {
        #expect(try await server.append("case-\(size)", #"{"events":[{"type":"X","data":\#(size)}]}"#).status == 201)
        for _ in 0..<200 {
            let latest = try await server.call(.get, "/v1/checkpoints/latest")
            if latest.status == 200, latest.body.split(separator: "\n").dropFirst().first == Substring("\(size)") { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no checkpoint of \(size) entries")
    }

    @Test func checkpointsOfEveryStoredSizeAndTheirList() async throws {
        try await TestServer.run { server in
            let empty = try await server.call(.get, "/v1/checkpoints")
            #expect(empty.status == 200 && empty.body == #"{"checkpoints":[],"next":null}"#, "\(empty.body)")
            for size in 1...3 { try await Self.appendAndCheckpoint(server, size) }
            let key = try #require(SignedNote.parseVerifierKey(server.ledger.verifierKey))

            // Each stored size, as the signed note; the latest is still the latest.
            var notes: [Checkpoint] = []
            for size in 1...3 {
                let answer = try await server.call(.get, "/v1/checkpoints/\(size)", as: TestServer.auditor)
                #expect(answer.status == 200 && answer.headers[.contentType] == "text/plain; charset=utf-8")
                let checkpoint = try Checkpoint.verifyCosigned(note: answer.body, origin: key.name, publicKey: key.publicKey)
                #expect(checkpoint.size == UInt64(size))
                notes.append(checkpoint)
            }
            #expect(try await server.call(.get, "/v1/checkpoints/latest").body == notes[2].note)

            // The list: size, root and time of each, in increasing size, in pages.
            let all = try await server.call(.get, "/v1/checkpoints?from=0", as: TestServer.auditor).json ?? [:]
            let listed = try #require(all["checkpoints"] as? [[String: Any]])
            #expect(listed.map { $0["size"] as? Int } == [1, 2, 3] && all["next"] is NSNull, "\(all)")
            for (row, checkpoint) in zip(listed, notes) {
                #expect(row["root"] as? String == Base64.encode(checkpoint.root.bytes))
                #expect(row["streamHeads"] as? String == checkpoint.streamHeadsRoot.map { Base64.encode($0.bytes) })
                #expect(row["streamHeads"] as? String != nil)
                #expect((row["timestamp"] as? Int).map(UInt64.init) == checkpoint.timestampSeconds)
            }
            let first = try await server.call(.get, "/v1/checkpoints?limit=2").json ?? [:]
            #expect((first["checkpoints"] as? [[String: Any]])?.map { $0["size"] as? Int } == [1, 2] && first["next"] as? Int == 3)
            let rest = try await server.call(.get, "/v1/checkpoints?from=3&limit=2").json ?? [:]
            #expect((rest["checkpoints"] as? [[String: Any]])?.map { $0["size"] as? Int } == [3] && rest["next"] is NSNull)
            let beyond = try await server.call(.get, "/v1/checkpoints?from=4").json ?? [:]
            #expect((beyond["checkpoints"] as? [Any])?.isEmpty == true)

            // Refusals: no such size 404; a size or a parameter that is not one 400, without echo.
            try await server.call(.get, "/v1/checkpoints/0").expectProblem(404, "not_found")
            try await server.call(.get, "/v1/checkpoints/99").expectProblem(404, "not_found")
            for bad in ["x", "-1", "007", "+2", "1e3", "18446744073709551616"] {
                let refused = try await server.call(.get, "/v1/checkpoints/\(bad)")
                refused.expectProblem(400, "invalid_parameter")
                #expect(!refused.body.contains(bad), "\(refused.body)")
            }
            try await server.call(.get, "/v1/checkpoints?limit=0").expectProblem(400, "invalid_parameter")
            try await server.call(.get, "/v1/checkpoints?limit=1001").expectProblem(400, "invalid_parameter")
            try await server.call(.get, "/v1/checkpoints?from=x").expectProblem(400, "invalid_parameter")
        }
    }

    /// `/v1/log?signed=true`: a page of entries with their signed bytes. Without a purpose the
    /// persons' entries come withheld (no data, no signed bytes; signature and leaf hash kept) and
    /// nothing is recorded; with one, each person is recorded once before anything is served.
    @Test func signedLogPagesFollowTheRawReadRule() async throws {
        try await TestServer.run { server in
            #expect(try await server.append("case-1", #"{"events":[{"type":"X","data":{"n":1}}]}"#).status == 201)
            let recorded = try await server.call(
                .post, "/v1/persons/events",
                body: PersonRoutesTests.body(
                    PersonRoutesTests.registration
                        + #",{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#
                ))
            #expect(recorded.status == 201, "\(recorded.body)")
            let pseudonym = try #require(recorded.json?["person"] as? String)
            let key = try #require(SignedNote.parseVerifierKey(server.ledger.verifierKey))
            func accesses() async throws -> [String] {
                let answer = try await server.call(.get, "/v1/streams/access:\(pseudonym)/events")
                if answer.status == 404 { return [] }
                let entries = answer.json?["entries"] as? [[String: Any]] ?? []
                return entries.compactMap { (($0["data"] as? [String: Any])?["data"] as? [String: Any])?["what"] as? String }
            }
            /// Checks an entry served with signed bytes: its signature and leaf hash, here.
            func checkSigned(_ entry: [String: Any]) throws {
                let signedBytes = try #require(Base64.decode(entry["signedBytes"] as? String ?? ""), "\(entry)")
                let signature = try #require(Base64.decode(entry["signature"] as? String ?? ""))
                #expect(key.publicKey.isValidSignature(signature, for: signedBytes))
                #expect(entry["leafHash"] as? String == MerkleHash.leaf(signedBytes + signature).hex)
            }

            // Without a purpose: the generic entry whole, the person's withheld, nothing recorded.
            let withheld = try await server.call(.get, "/v1/log?from=0&limit=3&signed=true", as: TestServer.auditor)
            #expect(withheld.status == 200, "\(withheld.body)")
            let page = try #require(withheld.json?["entries"] as? [[String: Any]])
            #expect(page.count == 3)
            try checkSigned(page[0])
            for entry in page.dropFirst() {
                #expect(entry["withheld"] as? String == "person_data" && entry["signedBytes"] == nil, "\(entry)")
                #expect(entry["signature"] as? String != nil && entry["leafHash"] as? String != nil)
            }
            #expect(!withheld.body.contains("G942") && !withheld.body.contains("Rossi"))
            #expect(try await accesses().isEmpty)

            // With a purpose: every entry with its signed bytes, the person recorded once first.
            let whole = try await server.call(.get, "/v1/log?from=0&limit=3&signed=true", as: TestServer.auditor, headers: Self.purpose)
            let entries = try #require(whole.json?["entries"] as? [[String: Any]])
            #expect(entries.count == 3 && entries.allSatisfy { $0["withheld"] == nil })
            for entry in entries { try checkSigned(entry) }
            #expect(whole.body.contains("\"sealed\":"))  // the payload as signed (a registration is all sealed since issue 21)
            #expect(try await accesses() == ["log"])

            // Without ?signed the page is what it was: no signed bytes.
            let plain = try await server.call(.get, "/v1/log?from=0&limit=1")
            #expect(plain.status == 200 && !plain.body.contains("signedBytes"), "\(plain.body)")
            // A bad value is refused before anything is read or recorded.
            try await server.call(.get, "/v1/log?signed=yes", as: TestServer.auditor, headers: Self.purpose)
                .expectProblem(400, "invalid_parameter")
            #expect(try await accesses() == ["log"])
        }
    }
}
