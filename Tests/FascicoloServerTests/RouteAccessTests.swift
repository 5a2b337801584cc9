import FascicoloServer
import Hummingbird
import Testing

/// Every route is behind a role requirement: each registered route is called as each role and
/// as a peer with none, and answers 403 `forbidden` exactly to those the table below does not
/// list. A new route fails here until it is added to the table — its roles decided on purpose.
@Suite struct RouteAccessTests {
    static let everyRole = ["writer", "auditor", "admin"]
    static let auditors = ["auditor", "admin"]
    static let writers = ["writer", "admin"]

    /// Who may call what: the contract (DESIGN and the OpenAPI document's description say the same).
    static let allowed: [String: [String]] = [
        "GET /v1/health/live": everyRole,
        "GET /v1/health/ready": everyRole,
        "GET /v1/version": everyRole,
        "GET /v1/keys": everyRole,
        "GET /v1/openapi.yaml": everyRole,
        "GET /v1/catalogue": everyRole,
        "POST /v1/streams/{stream}/events": writers,
        "GET /v1/streams/{stream}/events": everyRole,
        "POST /v1/persons/events": writers,
        "GET /v1/persons/case-file": everyRole,
        "POST /v1/persons/erasure": ["admin"],
        "POST /v1/persons/export": auditors,
        "GET /v1/persons/timeline": everyRole,
        "GET /v1/persons/reads": everyRole,
        "GET /v1/persons/household-timeline": everyRole,
        "GET /v1/persons/case-state": everyRole,
        "GET /v1/caseload": everyRole,
        "GET /v1/interventions": everyRole,
        "GET /v1/indicators": everyRole,
        "GET /v1/projections": everyRole,
        "GET /v1/projections/{name}": everyRole,
        "POST /v1/projections/{name}/rebuild": ["admin"],
        "POST /v1/admin/keys/rotate": ["admin"],
        "GET /v1/projections/{name}/digest": auditors,
        "GET /v1/log": auditors,
        "GET /v1/subscribe": auditors,
        "GET /v1/entries/{position}": auditors,
        "GET /v1/checkpoints/latest": auditors,
        "GET /v1/checkpoints/{size}": auditors,
        "GET /v1/checkpoints": auditors,
        "GET /v1/tlog/checkpoint": auditors,
        "GET /v1/tlog/tile/**": auditors,
        "GET /v1/proofs/inclusion": auditors,
        "GET /v1/proofs/consistency": auditors,
        "GET /v1/compliance/accesses": auditors,
        "GET /v1/compliance/unusual-accesses": auditors,
        "GET /v1/compliance/registers/{register}": auditors,
        "GET /v1/compliance/holds": auditors,
        "GET /v1/retention/due": auditors,
        "POST /v1/retention/erasures": ["admin"],
        "POST /v1/siuss/exports": ["admin"],
        "GET /v1/siuss/register": auditors,
        "GET /metrics": ["admin"],
        "GET /v1/replication/log": ["replica", "admin"],
        "GET /v1/replication/status": everyRole,
    ]

    @Test func everyRegisteredRouteRequiresTheRolesOfTheTable() async throws {
        try await TestServer.run { server in
            #expect(Set(server.routes) == Set(Self.allowed.keys), "registered routes and the table differ")
            let peers = [
                ("writer", TestServer.writer), ("auditor", TestServer.auditor), ("admin", TestServer.admin),
                ("replica", TestServer.replica), ("no role", TestServer.stranger),
            ]
            for route in server.routes {
                let parts = route.split(separator: " ", maxSplits: 1)
                let method = parts[0] == "POST" ? HTTPRequest.Method.post : .get
                // Parameters that make an allowed call answer at once (a subscription with a bad
                // `from` is refused rather than held open) and store nothing.
                let uri =
                    String(parts[1]).replacingOccurrences(of: "{stream}", with: "s")
                    .replacingOccurrences(of: "{position}", with: "0").replacingOccurrences(of: "{name}", with: "nosuch")
                    .replacingOccurrences(of: "{size}", with: "1").replacingOccurrences(of: "**", with: "0/000")
                    .replacingOccurrences(of: "{register}", with: "voids") + (parts[1] == "/v1/subscribe" ? "?from=x" : "")
                for (role, peer) in peers {
                    let reply = try await server.call(method, uri, as: peer, body: method == .post ? "{}" : nil)
                    if Self.allowed[route]?.contains(role) == true {
                        #expect(reply.status != 403, "\(route) refused \(role): \(reply.body)")
                    } else {
                        #expect(reply.status == 403 && reply.code == "forbidden", "\(route) let \(role) through: \(reply.status)")
                    }
                }
            }
        }
    }

    /// The refusal says which roles are needed, or that the uid has none; nothing the client sent.
    @Test func refusalsNameTheRolesNeededOrSayThereAreNone() async throws {
        try await TestServer.run { server in
            let wrongRole = try await server.call(.get, "/v1/log", as: TestServer.writer)
            wrongRole.expectProblem(403, "forbidden")
            #expect(wrongRole.json?["detail"] as? String == "this needs one of the roles admin, auditor")
            let noRole = try await server.call(.get, "/v1/health/live", as: TestServer.stranger)
            noRole.expectProblem(403, "forbidden")
            #expect(noRole.json?["detail"] as? String == "uid 2003 has no role on this daemon")
        }
    }

    /// A writer's appends carry the author the daemon stamps, from the uid — not from the body.
    @Test func theAuthorIsStampedFromThePeer() async throws {
        try await TestServer.run { server in
            let appended = try await server.append("case-9", #"{"events":[{"type":"X","data":{"n":1}}]}"#, as: TestServer.writer)
            #expect(appended.status == 201, "\(appended.body)")
            #expect(try await server.call(.get, "/v1/streams/case-9/events", as: TestServer.writer).status == 200)
            let log = try await server.call(.get, "/v1/log", as: TestServer.auditor)
            let entries = log.json?["entries"] as? [[String: Any]]
            #expect(entries?.first?["author"] as? String == "uid:2001/test-writer")
            // An auditor reads but does not append.
            try await server.append("case-9", #"{"events":[{"type":"X","data":1}]}"#, as: TestServer.auditor)
                .expectProblem(403, "forbidden")
        }
    }
}
