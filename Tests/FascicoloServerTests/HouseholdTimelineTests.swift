import FascicoloServer
import FascicoloTesting
import Foundation
import Hummingbird
import Testing

/// The household timeline (`GET /v1/persons/household-timeline`, issue 19): an intervention on
/// a parent's file is seen from the child's; another household is not; a rectified household
/// moves a member; a scoped service sees only its ambiti's members; every member shown is
/// recorded; judicial and restricted entries, other members' legal holds and erased members are
/// not shown.
@Suite struct HouseholdTimelineTests {
    static let parent = "RSSMRA85T10A562S"
    static let child = "MRTMTT25D09F205Z"
    static let aunt = "VRDLGU70A41F052O"  // same household, case held by Matera
    static let neighbour = "BNCGNN90C50F052B"  // another household
    static let alone = "RSSMRA80A01H501U"  // no household

    static func registration(_ household: String?) -> String {
        let field = household.map { #","household":"\#($0)""# } ?? ""
        return
            #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Mario","familyName":"Rossi"\#(field)}}"#
    }
    static func opened(_ ambito: String) -> String {
        #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune","ambito":"\#(ambito)"}}"#
    }

    @Test func membersSeeEachOthersPathWithinTheRules() async throws {
        try await TestServer.run(policy: PersonReadsTests.policy()) { server in
            let daemon = InProcessDaemon(server: server)
            func record(_ person: String, _ events: String) async throws {
                let result = try await server.call(.post, "/v1/persons/events", body: PersonRoutesTests.body(events, person: person))
                try #require(result.status == 201, "\(result.body)")
            }
            func household(_ person: String, as peer: PeerCredentials = PersonReadsTests.portale, query: String = "") async throws
                -> TestServer.Reply
            {
                try await server.call(
                    .get, "/v1/persons/household-timeline\(query)", as: peer, headers: PersonReadsTests.headers(person, operator: "op-7"))
            }
            func rows(_ reply: TestServer.Reply) throws -> [[String: Any]] {
                try #require(reply.status == 200 ? reply.json?["rows"] as? [[String: Any]] : nil, "\(reply.body)")
            }
            func pseudonym(_ person: String) async throws -> String {
                let state = try await server.call(.get, "/v1/persons/case-state", headers: PersonRoutesTests.person(person))
                return try #require(state.json?["person"] as? String, "\(state.body)")
            }
            func entries() async throws -> Int { try await server.call(.get, "/v1/health/ready").json?["entries"] as? Int ?? 0 }
            func reads(_ person: String) async throws -> [String] {
                let listing = try await daemon.json(
                    "/v1/compliance/accesses?limit=1000&reflects=\(try await entries() - 1)", as: 2002,
                    headers: ["Fascicolo-Person: \(person)", "Fascicolo-Purpose: test di verifica"])
                return (listing["accesses"] as? [[String: Any]] ?? []).compactMap { $0["what"] as? String }
            }

            let referral =
                #"{"type":"ReferralReceived","occurredAt":"2026-01-11","data":{"source":"tribunale","urgency":"urgent","judicialFlag":true}}"#
            try await record(
                Self.parent,
                [
                    Self.registration("hh-rossi"), referral, Self.opened("potenza"),
                    #"{"type":"CaseManagerAssigned","occurredAt":"2026-01-12","data":{"operator":"op-7"}}"#,
                    #"{"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}}"#,
                    #"{"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["Trovare un lavoro stabile"],"supports":["SAD"]}}"#,
                    #"{"type":"PlanSigned","occurredAt":"2026-01-22","data":{"plan":6,"date":"2026-01-22","signatories":["Mario Rossi"]}}"#,
                    #"{"type":"InterventionRequested","occurredAt":"2026-01-23","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps"}}"#,
                ].joined(separator: ","))
            try await record(Self.child, Self.registration("hh-rossi") + "," + Self.opened("potenza"))
            try await record(Self.aunt, Self.registration("hh-rossi") + "," + Self.opened("matera"))
            try await record(Self.neighbour, Self.registration("hh-bianchi") + "," + Self.opened("potenza"))
            try await record(Self.alone, Self.registration(nil))
            let (parent, child, aunt, neighbour) = (
                try await pseudonym(Self.parent), try await pseudonym(Self.child), try await pseudonym(Self.aunt),
                try await pseudonym(Self.neighbour)
            )

            // From the child's file: the parent's intervention, the aunt's case, not the neighbour's.
            let before = (parent: try await reads(Self.parent), aunt: try await reads(Self.aunt))
            let view = try await household(Self.child)
            let seen = try rows(view)
            #expect(seen.contains { $0["person"] as? String == parent && $0["type"] as? String == "InterventionRequested" }, "\(view.body)")
            #expect(seen.contains { $0["person"] as? String == child && $0["member"] as? String == "self" })
            #expect(seen.contains { $0["person"] as? String == aunt && $0["member"] as? String == "household" })
            #expect(!seen.contains { $0["person"] as? String == neighbour })
            // The parent's judicial referral stays in the parent's file; personal fields are not opened; no household id.
            #expect(!seen.contains { $0["type"] as? String == "ReferralReceived" })
            #expect(!view.body.contains("givenName") && !view.body.contains(Self.child), "\(view.body)")
            #expect(seen.first { $0["type"] as? String == "PersonRegistered" }?["personalData"] as? String == "not_included")
            let positions = seen.compactMap { $0["position"] as? Int }
            #expect(positions == positions.sorted())
            // Every member shown has a read of their own.
            func households(_ reads: [String]) -> Int { reads.count { $0 == "household_timeline" } }
            #expect(households(before.parent) == 0 && households(before.aunt) == 0)
            let (parentReads, auntReads) = (try await reads(Self.parent), try await reads(Self.aunt))
            #expect(households(parentReads) == 1 && households(auntReads) == 1)
            #expect(households(try await reads(Self.child)) == 1)
            #expect(households(try await reads(Self.neighbour)) == 0)

            // The neighbour's household is the neighbour alone.
            #expect(try rows(try await household(Self.neighbour)).allSatisfy { $0["person"] as? String == neighbour })

            // A service scoped to Potenza does not see (nor record a read of) the aunt, held by Matera.
            let scoped = try rows(try await household(Self.child, as: PersonReadsTests.cartella))
            #expect(!scoped.contains { $0["person"] as? String == aunt } && scoped.contains { $0["person"] as? String == parent })
            let (auntAfter, parentAfter) = (try await reads(Self.aunt), try await reads(Self.parent))
            #expect(households(auntAfter) == 1 && households(parentAfter) == 2)

            // The aunt's own consent to share with Potenza lets the Potenza service see her too (recorded).
            try await record(
                Self.aunt,
                #"{"type":"ConsentRecorded","occurredAt":"2026-01-13","data":{"scope":"sharing_with_ambito","ambito":"potenza"}}"#)
            let shared = try rows(try await household(Self.child, as: PersonReadsTests.cartella))
            #expect(shared.contains { $0["person"] as? String == aunt }, "\(shared)")
            #expect(households(try await reads(Self.aunt)) == 2)

            // Restricted entries are shown to no one here.
            try await record(
                Self.parent, #"{"type":"Restricted","occurredAt":"2026-02-03","data":{"target":8,"ground":"accuracy_contested"}}"#)
            #expect(!(try rows(try await household(Self.child))).contains { $0["type"] as? String == "InterventionRequested" })
            #expect(!(try rows(try await household(Self.parent))).contains { $0["type"] as? String == "InterventionRequested" })

            // Another member's legal holds stay in their file (a litigation, a Tribunale's measure):
            // the parent's hold and its release are not shown from the child's file; the person's own are.
            try await record(
                Self.parent,
                #"{"type":"LegalHoldPlaced","occurredAt":"2026-02-04","data":{"ground":"litigation","reference":"R.G. 77/2026","authorisedBy":"op-7"}}"#
            )
            try await record(
                Self.parent,
                #"{"type":"LegalHoldReleased","occurredAt":"2026-02-04","data":{"hold":10,"reason":"contenzioso concluso","authorisedBy":"op-7"}}"#
            )
            let holdTypes: Set<String> = ["LegalHoldPlaced", "LegalHoldReleased"]
            let fromChild = try await household(Self.child)
            #expect(!(try rows(fromChild)).contains { holdTypes.contains($0["type"] as? String ?? "") }, "\(fromChild.body)")
            #expect(!fromChild.body.contains("R.G. 77/2026"))
            #expect((try rows(try await household(Self.parent))).count { holdTypes.contains($0["type"] as? String ?? "") } == 2)

            // Paging: a page of 2, then the rest from `next`, nothing skipped or repeated.
            let all = try rows(try await household(Self.child)).compactMap { $0["position"] as? Int }
            var paged: [Int] = []
            var from = 0
            for _ in 0..<50 {
                let page = try await household(Self.child, query: "?limit=2&from=\(from)")
                paged += try rows(page).compactMap { $0["position"] as? Int }
                guard let next = page.json?["next"] as? Int else { break }
                from = next
            }
            #expect(paged == all, "\(paged) \(all)")

            // An erased member contributes nothing.
            let erased = try await server.call(
                .post, "/v1/persons/erasure",
                body: #"{"person":"\#(Self.aunt)","legalGround":"art17_request","reference":"prot. 2026/121"}"#)
            #expect(erased.status == 201, "\(erased.body)")
            #expect(!(try rows(try await household(Self.child))).contains { $0["person"] as? String == aunt })

            // A rectified household moves the child to the neighbour's.
            try await record(
                Self.child,
                #"{"type":"Rectified","occurredAt":"2026-02-05","data":{"target":1,"field":"household","newValue":"hh-bianchi","reason":"cambio di residenza","authorisedBy":"op-7"}}"#
            )
            let moved = try rows(try await household(Self.child))
            #expect(
                moved.contains { $0["person"] as? String == neighbour } && !moved.contains { $0["person"] as? String == parent }, "\(moved)"
            )
            #expect(!(try rows(try await household(Self.parent))).contains { $0["person"] as? String == child })

            // Refusals: no household, unknown person, a service without its operator.
            try await server.call(
                .get, "/v1/persons/household-timeline", as: PersonReadsTests.portale,
                headers: PersonReadsTests.headers(Self.alone, operator: "op-7")
            ).expectProblem(404, "household_not_found")
            try await server.call(
                .get, "/v1/persons/household-timeline", as: PersonReadsTests.portale,
                headers: PersonReadsTests.headers("provisional:nessuno-1", operator: "op-7")
            ).expectProblem(404, "person_not_found")
            try await server.call(
                .get, "/v1/persons/household-timeline", as: PersonReadsTests.portale, headers: PersonReadsTests.headers(Self.child)
            ).expectProblem(400, "operator_required")

            // The households read model rebuilds to the digest it serves.
            let served = try await daemon.json("/v1/projections/households/digest", as: 2002)
            let firstBuild = (try await daemon.json("/v1/projections/households")["lastRebuild"] as? [String: Any])?["startedAt"] as? String
            #expect(try await daemon.call("/v1/projections/households/rebuild", method: "POST").status == 202)
            var rebuilt: [String: Any]?
            for _ in 0..<500 where rebuilt == nil {
                let current = try await daemon.json("/v1/projections/households")
                if let last = current["lastRebuild"] as? [String: Any], last["startedAt"] as? String != firstBuild {
                    rebuilt = last
                } else {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let record = try #require(rebuilt, "the rebuild did not finish")
            if record["position"] as? Int == served["position"] as? Int {
                #expect(record["digest"] as? String == served["digest"] as? String)
            }
            #expect(
                try await daemon.json("/v1/projections/households/digest", as: 2002)["digest"] as? String == record["digest"] as? String)
        }
    }
}
