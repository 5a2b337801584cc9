import FascicoloCrypto
import FascicoloLedger
import FascicoloServer
import Hummingbird
import Testing

/// The generic log API in process: every endpoint answers, and every refusal has its status
/// and problem code. (The end-to-end tests keep what needs the process: the socket, signals,
/// crashes, credentials from the kernel.)
@Suite struct APIRoutesTests {
    @Test func everyEndpointAnswersAndEveryErrorHasItsCode() async throws {
        try await TestServer.run { server in
            let live = try await server.call(.get, "/v1/health/live")
            #expect(live.status == 200 && live.body == #"{"status":"live"}"#)
            #expect(try await server.call(.get, "/v1/health/ready").status == 200)
            #expect(try await server.call(.get, "/v1/version").body.contains(#""api":"v1""#))
            let keys = try await server.call(.get, "/v1/keys").json ?? [:]
            let verifierKey = try #require(keys["verifierKey"] as? String)
            let key = try #require(SignedNote.parseVerifierKey(verifierKey))
            #expect(try await server.call(.get, "/v1/openapi.yaml").body.hasPrefix("openapi: 3.1.0"))

            // Appends: created, retried (same key and content), conflicts.
            let body =
                #"{"events":[{"type":"CaseOpened","data":{"b":1,"a":[true,null,"x/y"]}},{"type":"Note","data":"ok"}],"expectedVersion":"no_stream","idempotencyKey":"req-1"}"#
            let first = try await server.append("case-1", body)
            #expect(first.status == 201 && first.body.contains(#""positions":[0,1]"#) && first.body.contains(#""streamVersions":[1,2]"#))
            let retry = try await server.append("case-1", body)
            #expect(retry.status == 200 && retry.body.contains(#""deduplicated":true"#) && retry.body.contains(#""positions":[0,1]"#))
            try await server.append("case-1", #"{"events":[{"type":"X","data":1}],"expectedVersion":0}"#).expectProblem(
                409, "wrong_expected_version")
            try await server.append("case-1", #"{"events":[{"type":"Other","data":1}],"idempotencyKey":"req-1"}"#)
                .expectProblem(409, "idempotency_conflict")
            try await server.append("case-1", #"{"events":[{"type":"X","data":1}],"#).expectProblem(400, "malformed_request")
            try await server.append("case-1", #"{"events":[]}"#).expectProblem(422, "no_events")
            try await server.append("bad%20name", #"{"events":[{"type":"X","data":1}]}"#).expectProblem(422, "invalid_stream_name")
            try await server.append("case-1", #"{"events":[{"type":"1bad","data":1}]}"#).expectProblem(422, "invalid_event_type")
            try await server.append("case-1", #"{"events":[{"type":"X","data":"\#(String(repeating: "z", count: 2_000))"}]}"#)
                .expectProblem(413, "payload_too_large")
            try await server.call(.post, "/v1/streams/case-1/events", body: "{}", headers: [.contentType: "text/plain"])
                .expectProblem(415, "unsupported_media_type")
            let huge = #"{"events":["# + String(repeating: #"{"type":"X","data":1},"#, count: 800) + #"{"type":"X","data":1}]}"#
            try await server.append("case-1", huge).expectProblem(413, "body_too_large")
            try await server.call(.get, "/nowhere").expectProblem(404, "not_found")
            try await server.call(.get, "/v1/entries/99").expectProblem(404, "not_found")
            try await server.call(.get, "/v1/streams/nobody/events").expectProblem(404, "not_found")
            try await server.call(.get, "/v1/log?limit=0").expectProblem(400, "invalid_parameter")
            try await server.call(.get, "/v1/proofs/inclusion").expectProblem(400, "invalid_parameter")
            #expect(try await server.call(.get, "/v1/health/ready").json?["entries"] as? Int == 2)  // nothing refused was stored

            // Reads.
            let stream = try await server.call(.get, "/v1/streams/case-1/events?direction=backwards&limit=1").json ?? [:]
            let newest = try #require((stream["entries"] as? [[String: Any]])?.first)
            #expect(
                newest["streamVersion"] as? Int == 2 && newest["data"] as? String == "ok" && newest["author"] as? String == "uid:0/unnamed")
            #expect((try await server.call(.get, "/v1/log?from=0&limit=10").json?["entries"] as? [[String: Any]])?.count == 2)

            // One entry with its signed bytes: the signature and the leaf hash check out offline.
            let entry = try await server.call(.get, "/v1/entries/0").json ?? [:]
            let signedBytes = try #require(Base64.decode(entry["signedBytes"] as? String ?? ""))
            let signature = try #require(Base64.decode(entry["signature"] as? String ?? ""))
            #expect(key.publicKey.isValidSignature(signature, for: signedBytes))
            #expect(String(decoding: signedBytes, as: UTF8.self).contains(#"{"b":1,"a":[true,null,"x/y"]}"#))  // exactly as sent
            let leaf = MerkleHash.leaf(signedBytes + signature)
            #expect(entry["leafHash"] as? String == leaf.hex)

            // The checkpoint (signed within 50 ms) and proofs against it.
            var note = try await server.call(.get, "/v1/checkpoints/latest")
            for _ in 0..<100 where note.status != 200 {
                try await Task.sleep(for: .milliseconds(20))
                note = try await server.call(.get, "/v1/checkpoints/latest")
            }
            #expect(note.headers[.contentType] == "text/plain; charset=utf-8")
            let checkpoint = try Checkpoint.verify(note: note.body, origin: key.name, publicKey: key.publicKey)
            #expect(checkpoint.size == 2 && checkpoint.timestampSeconds != nil)
            let inclusion = try await server.call(.get, "/v1/proofs/inclusion?position=0&treeSize=2").json ?? [:]
            let proof = (inclusion["proof"] as? [String] ?? []).compactMap { Base64.decode($0).flatMap(Digest.init) }
            #expect(MerkleProof.verifyInclusion(leafHash: leaf, index: 0, treeSize: 2, proof: proof, root: checkpoint.root))
            #expect((try await server.call(.get, "/v1/proofs/consistency?from=1&to=2").json?["proof"] as? [String])?.count == 1)
            try await server.call(.get, "/v1/proofs/inclusion?position=5&treeSize=2").expectProblem(404, "not_found")
        }
    }

    /// Shutdown has begun: every new request, whatever it asks, gets 503 `shutting_down`.
    @Test func requestsAfterShutdownBeganAreRefused() async throws {
        try await TestServer.run { server in
            server.shutdown.begin()
            try await server.call(.get, "/v1/health/live").expectProblem(503, "shutting_down")
            try await server.append("s", #"{"events":[{"type":"X","data":1}]}"#).expectProblem(503, "shutting_down")
        }
    }

    /// A follower, a fenced primary or one waiting for its synchronous followers: every route
    /// that would store something answers 503 with the gate's code and stores nothing; reads go on.
    @Test func aClosedWriteGateRefusesEveryWriteAndReadinessSaysWhy() async throws {
        try await TestServer.run { server in
            #expect(try await server.append("s", #"{"events":[{"type":"X","data":1}]}"#).status == 201)
            let recorded = try await server.call(
                .post, "/v1/persons/events", body: PersonRoutesTests.body(PersonRoutesTests.registration))
            #expect(recorded.status == 201)
            let size = server.ledger.size

            server.ledger.writeAuthority.refuse(.follower(primary: "https://fascicolo.ambito.example"))
            let refused = try await server.append("s", #"{"events":[{"type":"X","data":2}]}"#)
            refused.expectProblem(503, "not_primary")
            #expect(refused.json?["primary"] as? String == "https://fascicolo.ambito.example")
            let ready = try await server.call(.get, "/v1/health/ready")
            #expect(ready.status == 503 && ready.json?["status"] as? String == "not_primary")
            #expect(ready.json?["primary"] as? String == "https://fascicolo.ambito.example")
            // A person's event, and a recorded read (it appends a RecordAccessed entry): refused too.
            try await server.call(.post, "/v1/persons/events", body: PersonRoutesTests.body(PersonRoutesTests.registration))
                .expectProblem(503, "not_primary")
            try await server.call(.get, "/v1/persons/case-file", headers: PersonRoutesTests.person(PersonRoutesTests.codiceFiscale))
                .expectProblem(503, "not_primary")
            // Reads that record nothing are served.
            #expect(try await server.call(.get, "/v1/entries/0").status == 200)

            server.ledger.writeAuthority.refuse(.fenced)
            let fenced = try await server.append("s", #"{"events":[{"type":"X","data":2}]}"#)
            fenced.expectProblem(503, "fenced")
            #expect(fenced.headers[.retryAfter] == "1" && fenced.json?["primary"] == nil)
            server.ledger.writeAuthority.refuse(.replicasUnavailable)
            try await server.append("s", #"{"events":[{"type":"X","data":2}]}"#).expectProblem(503, "replicas_unavailable")
            #expect(server.ledger.size == size, "nothing refused was stored")

            server.ledger.writeAuthority.allow()
            #expect(try await server.call(.get, "/v1/health/ready").status == 200)
            #expect(try await server.append("s", #"{"events":[{"type":"X","data":2}]}"#).status == 201)
        }
    }

    /// A follower's `from` is its report of what it holds, which synchronous replication counts:
    /// one beyond this log (a follower of a longer, older history, or a confused peer) must not
    /// count as holding entries this log has not even written.
    @Test func aFollowerAheadOfTheLogIsNotCountedAsHoldingIt() async throws {
        try await TestServer.run { server in
            let appended = try await server.append("s", #"{"events":[{"type":"X","data":1}]}"#)
            #expect(appended.status == 201)
            let follower: HTTPFields = [HTTPFields.Element.Name("Fascicolo-Follower")!: "standby-1"]
            #expect(try await server.call(.get, "/v1/replication/log?from=999", headers: follower).status == 200)
            #expect(server.ledger.followers.count(holding: 1) == 0, "\(server.ledger.followers.all)")
            #expect(try await server.call(.get, "/v1/replication/log?from=1", headers: follower).status == 200)
            #expect(server.ledger.followers.count(holding: 1) == 1)
        }
    }

    /// The log in C2SP tlog-tiles form under /v1/tlog (issue 20): the checkpoint, the level-0 tile
    /// of leaf hashes and the entry bundle, checked here from the spec's definitions — each
    /// bundled entry's RFC 6962 leaf hash is the tile's, and the tile folds to the checkpoint's root.
    @Test func theLogIsServedAsTiles() async throws {
        try await TestServer.run { server in
            for index in 0..<5 {
                #expect(try await server.append("case-\(index % 2)", #"{"events":[{"type":"X","data":{"n":\#(index)}}]}"#).status == 201)
            }
            _ = try await server.ledger.signCheckpoint()
            let note = try await server.call(.get, "/v1/tlog/checkpoint")
            #expect(note.status == 200 && note.headers[.cacheControl] == "no-cache")
            let checkpoint = try Checkpoint.verify(note: note.body, origin: server.ledger.origin, publicKey: server.ledger.publicKey)
            #expect(checkpoint.size == 5)
            let tile = try await server.call(.get, "/v1/tlog/tile/0/000.p/5")
            #expect(tile.status == 200 && tile.headers[.contentType] == "application/octet-stream" && tile.bytes.count == 5 * 32)
            #expect(tile.headers[.cacheControl]?.contains("immutable") == true)
            let leaves = (0..<5).map { index in tile.bytes[(index * 32)..<(index * 32 + 32)].withUnsafeBytes { Digest(bytes: $0) } }
            func fold(_ hashes: ArraySlice<Digest>) -> Digest {
                guard hashes.count > 1 else { return hashes.first! }
                var split = 1
                while split * 2 < hashes.count { split *= 2 }
                return MerkleHash.node(fold(hashes.prefix(split)), fold(hashes.dropFirst(split)))
            }
            #expect(fold(leaves[...]) == checkpoint.root)
            let bundle = try await server.call(.get, "/v1/tlog/tile/entries/000.p/5").bytes
            var offset = 0
            for leaf in leaves {
                let length = Int(bundle[offset]) << 8 | Int(bundle[offset + 1])
                #expect(MerkleHash.leaf(Array(bundle[(offset + 2)..<(offset + 2 + length)])) == leaf)
                offset += 2 + length
            }
            #expect(offset == bundle.count)
            // Beyond the checkpoint, or not a canonical tile path: not found.
            for path in ["0/000.p/6", "0/000", "1/000.p/1", "0/x000/000.p/5", "0/000.p/05", "entries/000.p/6"] {
                try await server.call(.get, "/v1/tlog/tile/" + path).expectProblem(404, "not_found")
            }
            try await server.call(.get, "/v1/tlog/tile/0/000.p/5", as: TestServer.writer).expectProblem(403, "forbidden")
        }
    }
}
