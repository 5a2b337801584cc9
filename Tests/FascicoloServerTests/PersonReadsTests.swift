import FascicoloServer
import FascicoloTesting
import Foundation
import Hummingbird
import Testing

/// The person's own listing of who read their file (`GET /v1/persons/reads`, issue 19): the
/// operators two services named, newest first, in Italian words; the listing's own read; no
/// other person's reads; an erased person; paging and the period.
@Suite struct PersonReadsTests {
    static let parent = PersonRoutesTests.codiceFiscale
    static let neighbour = "VRDLGU70A41F052O"
    /// A case-management application scoped to Potenza, and a citizen portal for every ambito.
    static let cartella = PeerCredentials(pid: 1, uid: 3001, gid: 3001)
    static let portale = PeerCredentials(pid: 1, uid: 3002, gid: 3002)

    static func policy() -> AccessPolicy {
        var policy = TestServer.policy()
        policy.setMembers([.init(kind: .uid, id: cartella.uid), .init(kind: .uid, id: portale.uid)], of: .writer)
        policy.setServiceNames([cartella.uid: "cartella-potenza", portale.uid: "portale-cittadino"])
        policy.setServiceAmbiti([cartella.uid: ["potenza"]])
        return policy
    }

    static func headers(_ person: String, operator operatorID: String? = nil, purpose: String? = nil) -> HTTPFields {
        var headers = PersonRoutesTests.person(person)
        if let operatorID { headers[HTTPFields.Element.Name("Fascicolo-Operator")!] = operatorID }
        if let purpose { headers[HTTPFields.Element.Name("Fascicolo-Purpose")!] = purpose }
        return headers
    }

    static let opened =
        #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#

    @Test func thePersonIsToldWhoReadTheirFile() async throws {
        try await TestServer.run(policy: Self.policy()) { server in
            for person in [Self.parent, Self.neighbour] {
                let recorded = try await server.call(
                    .post, "/v1/persons/events",
                    body: PersonRoutesTests.body(PersonRoutesTests.registration + "," + Self.opened, person: person))
                #expect(recorded.status == 201, "\(recorded.body)")
            }
            func entries() async throws -> Int { try await server.call(.get, "/v1/health/ready").json?["entries"] as? Int ?? -1 }
            // Two services read the parent for two operators; the first also reads the neighbour.
            #expect(
                try await server.call(.get, "/v1/persons/timeline", as: Self.cartella, headers: Self.headers(Self.parent, operator: "op-7"))
                    .status == 200)
            #expect(
                try await server.call(
                    .get, "/v1/persons/case-state", as: Self.portale, headers: Self.headers(Self.parent, operator: "op-9")
                )
                .status == 200)
            #expect(
                try await server.call(
                    .get, "/v1/persons/timeline", as: Self.cartella, headers: Self.headers(Self.neighbour, operator: "op-8")
                ).status == 200)

            // A service names its operator, an auditor its purpose; a bad period is refused: nothing recorded.
            let before = try await entries()
            try await server.call(.get, "/v1/persons/reads", as: Self.portale, headers: Self.headers(Self.parent)).expectProblem(
                400, "operator_required")
            let auditor = PeerCredentials(pid: 1, uid: 2002, gid: 2002)
            try await server.call(.get, "/v1/persons/reads", as: auditor, headers: Self.headers(Self.parent)).expectProblem(
                400, "purpose_required")
            for query in ["from=2026-02-01&to=2026-01-01", "from=2010-01-01&to=2026-01-01", "from=yesterday", "limit=0", "before=x"] {
                try await server.call(
                    .get, "/v1/persons/reads?\(query)", as: Self.portale, headers: Self.headers(Self.parent, operator: "sportello-1")
                ).expectProblem(400, "invalid_parameter")
            }
            try await server.call(
                .get, "/v1/persons/reads", as: Self.portale, headers: Self.headers("RSSMRA80A01H501U", operator: "sportello-1")
            ).expectProblem(404, "person_not_found")
            #expect(try await entries() == before, "a refused listing records nothing")

            // The portal asks for the parent: newest first, its own read included, the neighbour's absent.
            let listing = try await server.call(
                .get, "/v1/persons/reads", as: Self.portale, headers: Self.headers(Self.parent, operator: "sportello-1"))
            #expect(listing.status == 200, "\(listing.body)")
            #expect(
                !listing.body.contains("uid:") && !listing.body.contains(Self.parent) && !listing.body.contains("op-8"), "\(listing.body)")
            let reads = try #require(listing.json?["reads"] as? [[String: Any]])
            #expect(reads.map { $0["operator"] as? String } == ["sportello-1", "op-9", "op-7"], "\(reads)")
            #expect(reads.map { $0["service"] as? String } == ["portale-cittadino", "portale-cittadino", "cartella-potenza"])
            #expect(reads.map { $0["what"] as? String } == ["reads", "case_state", "timeline"])
            #expect(reads.last?["ambiti"] as? [String] == ["potenza"] && reads.first?["ambiti"] == nil)
            #expect(reads.last?["whatLabel"] as? String == "la cronologia del fascicolo")
            #expect(reads.last?["roleLabel"] as? String == "operatore dei servizi sociali")
            #expect(reads.last?["purposeLabel"] as? String == "lavoro sociale sul caso")
            #expect(listing.json?["next"] is NSNull)
            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            #expect(listing.json?["to"] as? String == today)

            // The listing's own read appears in the next listing; the auditor's with its purpose.
            let again = try await server.call(
                .get, "/v1/persons/reads?limit=2", as: auditor, headers: Self.headers(Self.parent, purpose: "richiesta art. 15 prot. 7"))
            let firstPage = try #require(again.json?["reads"] as? [[String: Any]])
            #expect(firstPage.map { $0["what"] as? String } == ["reads", "reads"], "\(again.body)")
            #expect(firstPage.first?["purposeLabel"] as? String == "richiesta art. 15 prot. 7")
            #expect(firstPage.first?["operator"] is NSNull && firstPage.first?["role"] as? String == "auditor")
            // Paging: the rest of the window from `next`.
            let next = try #require(again.json?["next"] as? Int)
            let rest = try await server.call(
                .get, "/v1/persons/reads?before=\(next)", as: auditor,
                headers: Self.headers(Self.parent, purpose: "richiesta art. 15 prot. 7"))
            #expect(
                (rest.json?["reads"] as? [[String: Any]])?.map { $0["operator"] as? String } == ["op-9", "op-7"], "\(rest.body)")
            // A period with no reads is empty (and still recorded).
            let old = try await server.call(
                .get, "/v1/persons/reads?from=2020-01-01&to=2020-12-31", as: Self.portale,
                headers: Self.headers(Self.parent, operator: "sportello-1"))
            #expect((old.json?["reads"] as? [Any])?.isEmpty == true, "\(old.body)")

            // A scoped service asks only for the persons its ambiti hold, as for any read.
            let matera =
                #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Matera","ambito":"matera"}}"#
            #expect(
                try await server.call(
                    .post, "/v1/persons/events",
                    body: PersonRoutesTests.body(PersonRoutesTests.registration + "," + matera, person: "RSSMRA80A01H501U")
                ).status == 201)
            try await server.call(
                .get, "/v1/persons/reads", as: Self.cartella, headers: Self.headers("RSSMRA80A01H501U", operator: "op-7")
            ).expectProblem(403, "ambito_not_allowed")

            // Erased: the reads stay the controller's accountability record, not served for the person.
            let erasure = try await server.call(
                .post, "/v1/persons/erasure",
                body: #"{"person":"\#(Self.neighbour)","legalGround":"art17_request","reference":"prot. 2026/120"}"#)
            #expect(erasure.status == 200 || erasure.status == 201, "\(erasure.body)")
            let beforeErased = try await entries()
            try await server.call(
                .get, "/v1/persons/reads", as: Self.portale, headers: Self.headers(Self.neighbour, operator: "sportello-1")
            ).expectProblem(410, "person_erased")
            #expect(try await entries() == beforeErased)
        }
    }
}
