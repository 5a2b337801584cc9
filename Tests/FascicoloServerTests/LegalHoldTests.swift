import FascicoloServer
import Foundation
import Testing

/// Legal holds (issue 21): a LegalHoldPlaced in force refuses an erasure at the person's request
/// or for retention, naming the hold and nothing of the request; an open case file refuses one
/// for retention; the auditor's register lists the holds in force; a release lifts the hold.
@Suite struct LegalHoldTests {
    static let person = "RSSMRA85T10A562S"
    static let registration =
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942"}}"#
    static let opened = #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune","ambito":"potenza"}}"#
    static let closed = #"{"type":"CaseClosed","occurredAt":"2026-03-01","data":{"reason":"needs_resolved","date":"2026-03-01"}}"#
    static let hold =
        #"{"type":"LegalHoldPlaced","occurredAt":"2026-03-02","data":{"ground":"judicial_measure","reference":"R.G. 77/2026","authorisedBy":"op-7"}}"#

    static func erasure(_ ground: String) -> String {
        #"{"person":"\#(person)","legalGround":"\#(ground)","reference":"istanza segreta 41"}"#
    }

    @Test func aHoldRefusesErasureUntilReleased() async throws {
        try await TestServer.run { server in
            func record(_ events: String) async throws -> TestServer.Reply {
                try await server.call(
                    .post, "/v1/persons/events", as: TestServer.writer, body: PersonRoutesTests.body(events, person: Self.person))
            }
            func entries() async throws -> Int { try await server.call(.get, "/v1/health/ready").json?["entries"] as? Int ?? 0 }
            try #require(try await record(Self.registration + "," + Self.opened).status == 201)

            // The open case file blocks retention, not a request decided by the DPO (not sent here).
            let open = try await server.call(.post, "/v1/persons/erasure", body: Self.erasure("retention_ended"))
            open.expectProblem(409, "legal_hold")
            #expect(open.body.contains("open_case") && !open.body.contains("segreta"), "\(open.body)")

            try #require(try await record(Self.closed + "," + Self.hold).status == 201)
            for ground in ["art17_request", "retention_ended"] {
                let refused = try await server.call(.post, "/v1/persons/erasure", body: Self.erasure(ground))
                refused.expectProblem(409, "legal_hold")
                #expect(refused.body.contains("judicial_measure") && refused.body.contains("R.G. 77/2026"), "\(refused.body)")
                #expect(!refused.body.contains("segreta") && !refused.body.contains(Self.person), "\(refused.body)")
            }

            // The auditor's register of holds in force.
            let register = try await server.call(.get, "/v1/compliance/holds?reflects=\(try await entries() - 1)", as: TestServer.auditor)
            let holds = try #require(register.json?["holds"] as? [[String: Any]], "\(register.body)")
            #expect(
                holds.count == 1 && (holds.first?["data"] as? [String: Any])?["reference"] as? String == "R.G. 77/2026", "\(register.body)")
            let version = try #require(holds.first?["version"] as? Int)
            (try await server.call(.get, "/v1/compliance/holds", as: TestServer.writer)).expectProblem(403, "forbidden")

            // Released: the register empties, a second release is refused, the erasure goes through.
            let release =
                #"{"type":"LegalHoldReleased","occurredAt":"2026-04-01","data":{"hold":\#(version),"reason":"giudizio concluso","authorisedBy":"op-7"}}"#
            try #require(try await record(release).status == 201)
            (try await record(release)).expectProblem(422, "hold_not_in_force")
            let after = try await server.call(.get, "/v1/compliance/holds?reflects=\(try await entries() - 1)", as: TestServer.auditor)
            #expect((after.json?["holds"] as? [[String: Any]])?.isEmpty == true, "\(after.body)")
            let listed = try await server.call(
                .get, "/v1/compliance/registers/holds?reflects=\(try await entries() - 1)", as: TestServer.auditor)
            #expect((listed.json?["rows"] as? [[String: Any]])?.count == 2, "\(listed.body)")
            let erased = try await server.call(.post, "/v1/persons/erasure", body: Self.erasure("retention_ended"))
            #expect(erased.status == 201, "\(erased.body)")
        }
    }
}
