import FascicoloServer
import FascicoloTesting
import Foundation
import Hummingbird
import Testing

/// The read models in process: a person's path is recorded, then read back through every
/// projection endpoint with `reflects` (read-your-writes).
@Suite struct ProjectionRoutesTests {
    static let codiceFiscale = PersonRoutesTests.codiceFiscale
    static let auditor: UInt32 = 4242
    static let writer: UInt32 = 4343
    static let person = "Fascicolo-Person: " + codiceFiscale
    /// A service reads a person for an operator, whom it names.
    static let operatorOfWriter = "Fascicolo-Operator: op-7"
    static let purpose = "Fascicolo-Purpose: internal audit 2026/15"

    @Test func readModelsFollowThePathAndAnswerWhatTheyReflect() async throws {
        try await TestServer.run(policy: TestServer.policy(auditor: Self.auditor, writer: Self.writer)) { server in
            let daemon = InProcessDaemon(server: server)
            /// Records `events` for the person; returns the position of the last one.
            func record(_ events: String) async throws -> Int {
                let result = try await daemon.call(
                    "/v1/persons/events", method: "POST", body: PersonRoutesTests.body(events), as: Self.writer)
                try #require(result.status == 201, "\(result.body)")
                let answer = try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any]
                return try #require((answer?["positions"] as? [Int])?.last)
            }
            func entries() async throws -> Int { try await daemon.json("/v1/health/ready")["entries"] as? Int ?? -1 }

            _ = try await record(PersonRoutesTests.registration)
            _ = try await record(
                """
                {"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},
                {"type":"CaseManagerAssigned","occurredAt":"2026-01-12","data":{"operator":"op-7"}},
                {"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}},
                {"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["Trovare un lavoro stabile"],"supports":["SAD"]}},
                {"type":"PlanSigned","occurredAt":"2026-01-22","data":{"plan":5,"date":"2026-01-22","signatories":["Mario Rossi"]}},
                {"type":"InterventionRequested","occurredAt":"2026-01-23","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps"}}
                """)
            _ = try await record(
                """
                {"type":"InterventionStarted","occurredAt":"2026-01-25","data":{"intervention":7,"date":"2026-01-25"}},
                {"type":"ServiceDelivered","occurredAt":"2026-01-26","data":{"intervention":7,"date":"2026-01-26","minutes":60,"amount":120.50}},
                {"type":"ServiceDelivered","occurredAt":"2026-01-27","data":{"intervention":7,"date":"2026-01-27","minutes":30,"amount":30.25}},
                {"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"2026-03-01","findings":"Mario lavora part-time"}}
                """)
            let last = try await record(
                """
                {"type":"Voided","occurredAt":"2026-02-02","data":{"target":10,"reason":"erogazione registrata due volte","authorisingAct":"det. 4/2026"}},
                {"type":"Rectified","occurredAt":"2026-02-02","data":{"target":11,"field":"findings","newValue":"Mario lavora a tempo pieno","reason":"errore di trascrizione","authorisedBy":"op-7"}}
                """)
            let reflects = "reflects=\(last)"

            // The timeline: every entry, corrections marked, personal fields opened; the read recorded first.
            let timelineCall = try await daemon.call(
                "/v1/persons/timeline?\(reflects)", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            #expect(timelineCall.status == 200, "\(timelineCall.body)")
            #expect(!timelineCall.body.contains(Self.codiceFiscale))
            let timeline = try await daemon.json(
                "/v1/persons/timeline?\(reflects)&limit=5", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            #expect(timeline["entries"] as? Int == 13 && timeline["caseFiles"] as? Int == 1 && timeline["erased"] as? Bool == false)
            #expect((timeline["position"] as? Int ?? 0) > last && timeline["lag"] is Int)
            let rows = try #require(timeline["rows"] as? [[String: Any]])
            #expect(rows.count == 5 && rows.first?["type"] as? String == "PersonRegistered")
            #expect((rows.first?["data"] as? [String: Any])?["familyName"] as? String == "Rossi")
            #expect(rows.first?["personalData"] as? String == "included" && rows.first?["sealed"] == nil)
            #expect(rows[1]["personalData"] as? String == "none")
            let later = try await daemon.json(
                "/v1/persons/timeline?from=10&limit=2", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            let laterRows = try #require(later["rows"] as? [[String: Any]])
            #expect(laterRows.first?["version"] as? Int == 10 && laterRows.first?["voidedBy"] as? Int == 12)
            #expect((laterRows.last?["data"] as? [String: Any])?["findings"] as? String == "Mario lavora part-time")
            let pseudonym = try #require(timeline["person"] as? String)
            let access = try #require(
                try await daemon.json("/v1/streams/access:\(pseudonym)/events", as: Self.auditor)["entries"] as? [[String: Any]])
            let what = access.compactMap { (($0["data"] as? [String: Any])?["data"] as? [String: Any])?["what"] as? String }
            #expect(what == ["timeline", "timeline", "timeline"], "\(what)")

            // The case state, recorded too.
            let state = try await daemon.json(
                "/v1/persons/case-state?\(reflects)", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            #expect(state["person"] as? String == pseudonym && state["state"] is [String: Any], "\(state)")
            #expect((state["position"] as? Int ?? 0) > last)

            // Caseload, interventions (the voided delivery taken back), indicators (small counts suppressed).
            let byOperator = try #require(try await daemon.json("/v1/caseload?by=operator&\(reflects)")["rows"] as? [[String: Any]])
            #expect(
                byOperator.contains { $0["id"] as? String == "op-7" && $0["open"] as? Int == 1 && $0["takenInCharge"] as? Int == 1 },
                "\(byOperator)")
            let byAmbito = try #require(
                try await daemon.json("/v1/caseload?by=ambito&\(reflects)", as: Self.writer)["rows"] as? [[String: Any]])
            #expect(byAmbito.contains { $0["id"] as? String == "potenza" && $0["open"] as? Int == 1 }, "\(byAmbito)")
            let interventions = try await daemon.json("/v1/interventions?code=SAD&month=2026-01&\(reflects)", as: Self.writer)
            let totals = try #require(interventions["rows"] as? [[String: Any]])
            #expect(totals.count == 1, "\(totals)")
            #expect(
                totals.first?["amount"] as? String == "120.50" && totals.first?["deliveries"] as? Int == 1
                    && totals.first?["minutes"] as? Int == 60 && totals.first?["requested"] as? Int == 1
                    && totals.first?["ambito"] as? String == "potenza", "\(totals)")
            #expect((try await daemon.json("/v1/interventions?code=ADI&\(reflects)")["rows"] as? [Any])?.isEmpty == true)
            // The same reports as exported to the Region: small numbers suppressed.
            let regionCaseload = try #require(
                try await daemon.json("/v1/caseload?by=ambito&region=true&\(reflects)")["rows"] as? [[String: Any]])
            #expect(regionCaseload.contains { $0["id"] as? String == "potenza" && $0["open"] as? String == "<5" }, "\(regionCaseload)")
            let regionTotals = try #require(
                try await daemon.json("/v1/interventions?code=SAD&month=2026-01&region=true&\(reflects)")["rows"] as? [[String: Any]])
            #expect(regionTotals.first?["deliveries"] as? String == "<5" && regionTotals.first?["amount"] is NSNull, "\(regionTotals)")
            try await daemon.expectProblem(daemon.call("/v1/caseload?region=maybe&\(reflects)"), 400, "invalid_parameter")
            let indicators = try #require(
                try await daemon.json("/v1/indicators?ambito=potenza&year=2026&\(reflects)")["indicators"] as? [String: Any])
            #expect(indicators["caseFiles"] as? String == "<5" && indicators["takenInCharge"] as? String == "<5", "\(indicators)")

            // Compliance: who read the file (this read recorded too), and the registers.
            try await daemon.expectProblem(
                daemon.call("/v1/compliance/accesses", as: Self.writer, headers: [Self.person, Self.operatorOfWriter]), 403, "forbidden")
            try await daemon.expectProblem(
                daemon.call("/v1/compliance/accesses", as: Self.auditor, headers: [Self.person]), 400, "purpose_required")
            let beforeRefusal = try await entries()
            try await daemon.expectProblem(
                daemon.call("/v1/compliance/accesses?timeoutMs=99999", as: Self.auditor, headers: [Self.person, Self.purpose]),
                400, "invalid_parameter")
            #expect(try await entries() == beforeRefusal, "a refused read records nothing")
            let before = try await entries()
            let accesses = try await daemon.json(
                "/v1/compliance/accesses?reflects=\(before)", as: Self.auditor, headers: [Self.person, Self.purpose])
            let accessRows = try #require(accesses["accesses"] as? [[String: Any]])
            #expect(
                accessRows.map { $0["what"] as? String } == ["timeline", "timeline", "timeline", "case_state", "access_log"],
                "\(accessRows)")
            #expect(accessRows.last?["purpose"] as? String == "internal audit 2026/15" && accessRows.last?["role"] as? String == "auditor")
            let voids = try #require(
                try await daemon.json("/v1/compliance/registers/voids?\(reflects)", as: Self.auditor)["rows"] as? [[String: Any]])
            #expect(
                voids.count == 1 && (voids.first?["data"] as? [String: Any])?["target"] as? Int == 10
                    && voids.first?["person"] as? String == pseudonym)
            let rectifications = try await daemon.json("/v1/compliance/registers/rectifications?\(reflects)")
            #expect((rectifications["rows"] as? [[String: Any]])?.first?["version"] as? Int == 13)
            #expect(!String(describing: rectifications).contains("tempo pieno"))  // rectified values stay sealed
            try await daemon.expectProblem(daemon.call("/v1/compliance/registers/gossip", as: Self.auditor), 404, "register_not_found")

            // The projections' status, digests and a rebuild that reproduces the digest.
            let list = try #require(try await daemon.json("/v1/projections", as: Self.writer)["projections"] as? [[String: Any]])
            #expect(
                list.compactMap { $0["name"] as? String } == [
                    "timeline", "cases", "interventions", "compliance", "households", "siuss-register",
                ])
            #expect(list.allSatisfy { $0["state"] as? String == "live" && $0["servingSlot"] is String }, "\(list)")
            let status = try await daemon.json("/v1/projections/cases", as: Self.writer)
            #expect(status["version"] as? Int == 1 && status["logSize"] is Int && status["lag"] is Int, "\(status)")
            try await daemon.expectProblem(daemon.call("/v1/projections/nope"), 404, "projection_not_found")
            try await daemon.expectProblem(daemon.call("/v1/projections/timeline/digest", as: Self.writer), 403, "forbidden")
            try await daemon.expectProblem(
                daemon.call("/v1/projections/timeline/rebuild", method: "POST", as: Self.writer), 403, "forbidden")
            let served = try await daemon.json("/v1/projections/timeline/digest", as: Self.auditor)
            #expect((served["digest"] as? String)?.count == 64 && served["name"] as? String == "timeline")
            // The first build at start left a record too: wait for a newer one.
            let firstBuild = (try await daemon.json("/v1/projections/timeline")["lastRebuild"] as? [String: Any])?["startedAt"] as? String
            let rebuild = try await daemon.call("/v1/projections/timeline/rebuild", method: "POST")
            #expect(rebuild.status == 202, "\(rebuild.body)")
            var rebuilt: [String: Any]?
            for _ in 0..<500 where rebuilt == nil {
                let current = try await daemon.json("/v1/projections/timeline")
                if let last = current["lastRebuild"] as? [String: Any], last["startedAt"] as? String != firstBuild {
                    rebuilt = last
                } else {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let rebuiltRecord = try #require(rebuilt, "the rebuild did not finish")
            let digest = try await daemon.json("/v1/projections/timeline/digest")
            #expect(rebuiltRecord["position"] as? Int == digest["position"] as? Int, "\(rebuiltRecord) \(digest)")
            #expect(
                rebuiltRecord["digest"] as? String == digest["digest"] as? String
                    && digest["digest"] as? String == served["digest"] as? String)
            #expect((rebuiltRecord["logRoot"] as? String)?.count == 64)

            // Refusals: bad parameters, a position not reached in time (503, retry).
            try await daemon.expectProblem(daemon.call("/v1/caseload?by=nobody"), 400, "invalid_parameter")
            try await daemon.expectProblem(daemon.call("/v1/interventions?limit=0"), 400, "invalid_parameter")
            try await daemon.expectProblem(daemon.call("/v1/interventions?month=2026-13"), 400, "invalid_parameter")
            try await daemon.expectProblem(daemon.call("/v1/indicators?reflects=-1"), 400, "invalid_parameter")
            try await daemon.expectProblem(daemon.call("/v1/caseload?timeoutMs=60000"), 400, "invalid_parameter")
            try await daemon.expectProblem(daemon.call("/v1/persons/timeline?limit=5000", headers: [Self.person]), 400, "invalid_parameter")
            try await daemon.expectProblem(
                daemon.call("/v1/persons/timeline", headers: ["Fascicolo-Person: RSSMRA80A01H501U"]), 404, "person_not_found")
            try await daemon.expectProblem(daemon.call("/v1/caseload?reflects=1000000&timeoutMs=50"), 503, "projection_behind")
            let behind = try await server.call(.get, "/v1/caseload?reflects=1000000&timeoutMs=10")
            #expect(behind.headers[.retryAfter] == "1")

            // Metrics: one series per projection.
            let metrics = try await daemon.call("/metrics").body
            for name in ["timeline", "cases", "interventions", "compliance", "households"] {
                #expect(metrics.contains("fascicolo_projection_position{projection=\"\(name)\"}"))
                #expect(metrics.contains("fascicolo_projection_lag_entries{projection=\"\(name)\"}"))
                #expect(metrics.contains("fascicolo_projection_failed{projection=\"\(name)\"} 0"))
            }
            #expect(!metrics.contains(pseudonym))

            // A restriction (GDPR art. 18) hides the entry's personal fields from all but admins.
            let restricted = try await record(
                #"{"type":"Restricted","occurredAt":"2026-02-03","data":{"target":1,"ground":"accuracy_contested"}}"#)
            let hidden = try #require(
                (try await daemon.json(
                    "/v1/persons/timeline?limit=1&reflects=\(restricted)", as: Self.writer,
                    headers: [Self.person, Self.operatorOfWriter])["rows"] as? [[String: Any]])?.first)
            #expect(hidden["personalData"] as? String == "restricted" && hidden["restrictedBy"] as? Int == 14, "\(hidden)")
            #expect(
                (hidden["data"] as? [String: Any])?["familyName"] == nil && (hidden["data"] as? [String: Any])?["birthYear"] == nil
            )
            let shown = try #require(
                (try await daemon.json("/v1/persons/timeline?limit=1", headers: [Self.person])["rows"] as? [[String: Any]])?.first)
            #expect(shown["personalData"] as? String == "included")

            // After erasure the timeline still shows the entries, without their personal fields.
            let erased = try await daemon.call(
                "/v1/persons/erasure", method: "POST",
                body: #"{"person":"\#(Self.codiceFiscale)","legalGround":"art17_request","reference":"prot. 2026/120"}"#)
            #expect(erased.status == 201, "\(erased.body)")
            let after = try await daemon.json("/v1/persons/timeline?limit=1", headers: [Self.person])
            #expect(after["erased"] as? Bool == true)
            let first = try #require((after["rows"] as? [[String: Any]])?.first)
            #expect(first["personalData"] as? String == "erased" && (first["data"] as? [String: Any])?["familyName"] == nil)
        }
    }
}
