import FascicoloTesting
import Foundation
import Glibc
import Testing

/// A person's path on the real daemon, driven with curl, down to the bytes on disk and
/// `fascicolo verify`. Route-level cases run in process: FascicoloServerTests/PersonRoutesTests.
@Suite(.serialized) struct DomainEndToEndTests {
    static let codiceFiscale = "RSSMRA85T10A562S"
    static let actor = #""actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"}"#

    static func body(_ events: String, person: String = codiceFiscale, extra: String = "") -> String {
        #"{"person":"\#(person)",\#(actor),"events":[\#(events)]\#(extra)}"#
    }

    static let registration =
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Mario","familyName":"Rossi","address":"Via Pretoria 12, Potenza"}}"#

    @Test func aPersonsPathThroughTheSocket() throws {
        try withDaemon(access: "auditor = \"uid:4242\"\nwriter = \"uid:4343\"") { daemon in
            func record(_ body: String, as uid: UInt32? = nil) throws -> (status: Int, body: String) {
                try daemon.call("/v1/persons/events", method: "POST", body: body, as: uid)
            }
            func entries() throws -> Int { try daemon.json("/v1/health/ready")["entries"] as? Int ?? -1 }

            // Registration: the answer names the pseudonym, never the codice fiscale.
            let registered = try record(Self.body(Self.registration, extra: #","idempotencyKey":"reg-1""#), as: 4343)
            #expect(registered.status == 201, "\(registered.body)")
            #expect(!registered.body.contains(Self.codiceFiscale))
            let answer = try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any]
            let pseudonym = try #require(answer?["person"] as? String)
            #expect(
                pseudonym.count == 32 && answer?["stream"] as? String == "person:" + pseudonym
                    && answer?["codeTable"] as? String == "2026.2")
            // A retry with the same key and body is answered from the first append.
            let retry = try record(Self.body(Self.registration, extra: #","idempotencyKey":"reg-1""#), as: 4343)
            #expect(retry.status == 200 && retry.body.contains(#""deduplicated":true"#), "\(retry.body)")
            let stored = try entries()

            // Refusals: each with its code and field, nothing stored, the codice fiscale never echoed.
            try daemon.expectProblem(record(Self.body(Self.registration, person: "RSSMRA85T10A562X")), 422, "invalid_codice_fiscale")
            #expect(try !record(Self.body(Self.registration, person: "RSSMRA85T10A562X")).body.contains("RSSMRA85T10A562X"))
            try daemon.expectProblem(
                record(Self.body(#"{"type":"Gossip","occurredAt":"2026-01-10","data":{}}"#)), 422, "unknown_event_type")
            let missing = try record(
                Self.body(#"{"type":"CaseOpened","occurredAt":"2026-01-10","data":{"area":"poverty","ente":"Comune"}}"#))
            try daemon.expectProblem(missing, 422, "schema_violation")
            #expect(missing.body.contains(#""field":"events[0].data.ambito""#), "\(missing.body)")
            try daemon.expectProblem(
                record(
                    Self.body(
                        #"{"type":"CaseOpened","occurredAt":"2026-01-10","data":{"area":"poverty","ente":"Comune","ambito":"atlantide"}}"#)),
                422, "unknown_code")
            try daemon.expectProblem(
                record(
                    Self.body(#"{"type":"CaseOpened","occurredAt":"2999-01-10","data":{"area":"poverty","ente":"C","ambito":"potenza"}}"#)),
                422, "schema_violation")
            try daemon.expectProblem(
                record(Self.body(#"{"type":"CaseOpened","occurredAt":"2026-01-10","data":{}"#)), 400, "malformed_request")
            try daemon.expectProblem(
                record(Self.body(#"{"type":"RecordAccessed","occurredAt":"2026-01-10","data":{}}"#)), 422, "system_event_type")
            let early = try record(
                Self.body(
                    #"{"type":"InterventionRequested","occurredAt":"2026-01-11","data":{"code":"SAD","provider":"Coop Sociale Aurora","fundingLine":"fnps"}}"#
                ))
            try daemon.expectProblem(early, 422, "no_open_case")
            #expect(early.body.contains("detailItalian"))
            try daemon.expectProblem(
                record(
                    Self.body(#"{"type":"CaseOpened","occurredAt":"2026-01-10","data":{"area":"poverty","ente":"C","ambito":"potenza"}}"#),
                    as: 4242), 403, "forbidden")
            try daemon.expectProblem(
                daemon.append("person:" + pseudonym, #"{"events":[{"type":"CaseOpened","data":{}}]}"#), 422, "reserved_stream")
            try daemon.expectProblem(record(Self.body(Self.registration, extra: #","expectedVersion":0"#)), 409, "wrong_expected_version")
            // Nothing stored but the records of the two refusals that told the caller about the
            // file — its phase (no_open_case) and its version (the stale expectedVersion): reads
            // of the file, as RecordAccessed entries.
            #expect(try entries() == stored + 2)

            // The path: opened, taken in charge, an intervention refused before the plan, then planned and started.
            let opened = try record(
                Self.body(
                    """
                    {"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},
                    {"type":"CaseManagerAssigned","occurredAt":"2026-01-12","data":{"operator":"op-7"}},
                    {"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}}
                    """))
            #expect(opened.status == 201 && opened.body.contains(#""streamVersions":[2,3,4]"#), "\(opened.body)")
            let noPlan = try record(
                Self.body(
                    #"{"type":"InterventionRequested","occurredAt":"2026-01-16","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps"}}"#
                ))
            try daemon.expectProblem(noPlan, 422, "no_signed_plan")
            let planned = try record(
                Self.body(
                    """
                    {"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["Trovare un lavoro stabile"],"supports":["SAD"]}},
                    {"type":"PlanSigned","occurredAt":"2026-01-22","data":{"plan":5,"date":"2026-01-22","signatories":["Mario Rossi"]}},
                    {"type":"InterventionRequested","occurredAt":"2026-01-23","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps","notes":"Mario preferisce il mattino"}}
                    """, extra: #","expectedVersion":4"#))
            #expect(planned.status == 201, "\(planned.body)")

            // Reads: the writer sees the personal fields; the read is recorded first.
            let file = try daemon.json("/v1/persons/case-file", headers: ["Fascicolo-Person: " + Self.codiceFiscale.lowercased()])
            let fileEntries = try #require(file["entries"] as? [[String: Any]])
            #expect(fileEntries.count == 7)
            let first = try #require(fileEntries.first)
            #expect(
                (first["data"] as? [String: Any])?["familyName"] as? String == "Rossi" && first["personalData"] as? String == "included")
            #expect(first["label"] as? String == "registrazione anagrafica")
            let state = try #require(file["state"] as? [String: Any])
            #expect(
                state["phase"] as? String == "taken_in_charge" && state["signedPlan"] as? Bool == true
                    && state["caseManager"] as? String == "op-7")
            try daemon.expectProblem(
                daemon.call("/v1/persons/case-file", as: 4242, headers: ["Fascicolo-Person: " + Self.codiceFiscale]), 400,
                "purpose_required")
            let audited = try daemon.json(
                "/v1/persons/case-file", as: 4242,
                headers: ["Fascicolo-Person: " + Self.codiceFiscale, "Fascicolo-Purpose: internal audit 2026/14"])
            #expect((audited["entries"] as? [Any])?.count == 7)
            try daemon.expectProblem(
                daemon.call("/v1/persons/case-file", headers: ["Fascicolo-Person: RSSMRA80A01H501U"]), 404, "person_not_found")
            let access = try daemon.json("/v1/streams/access:\(pseudonym)/events", as: 4242)
            let reads = try #require(access["entries"] as? [[String: Any]])
            // The three revealing refusals (no_open_case, a stale version, no_signed_plan), then the two case-file reads.
            #expect(reads.count == 5 && reads.allSatisfy { $0["type"] as? String == "RecordAccessed" })
            #expect(((reads.first?["data"] as? [String: Any])?["data"] as? [String: Any])?["what"] as? String == "refused_append")
            #expect(reads.last?["author"] as? String == "uid:4242/unnamed")
            #expect(((reads.last?["data"] as? [String: Any])?["data"] as? [String: Any])?["purpose"] as? String == "internal audit 2026/14")
            try daemon.expectProblem(daemon.call("/v1/streams/access:\(pseudonym)/events", as: 4343), 403, "forbidden")
            // A generic read of the person's stream is recorded too; a service names the operator who asked.
            try daemon.expectProblem(daemon.call("/v1/streams/person:\(pseudonym)/events", as: 4343), 400, "operator_required")
            _ = try daemon.json("/v1/streams/person:\(pseudonym)/events", as: 4343, headers: ["Fascicolo-Operator: op-7"])
            #expect((try daemon.json("/v1/streams/access:\(pseudonym)/events", as: 4242)["entries"] as? [Any])?.count == 6)
            // Without a limit the whole case file came back (7 entries, above); a page is asked with from and limit.
            let page = try daemon.json("/v1/persons/case-file?from=2&limit=3", headers: ["Fascicolo-Person: " + Self.codiceFiscale])
            #expect((page["entries"] as? [[String: Any]])?.count == 3)
            try daemon.expectProblem(
                daemon.call("/v1/persons/case-file?limit=1001", headers: ["Fascicolo-Person: " + Self.codiceFiscale]),
                400, "invalid_parameter")

            // Nothing personal in clear in the data file.
            let raw = try Data(contentsOf: URL(fileURLWithPath: daemon.directory + "/data/data.mdb"))
            for secret in [Self.codiceFiscale, "Rossi", "Mario", "Via Pretoria", "Trovare un lavoro", "preferisce il mattino"] {
                #expect(raw.range(of: Data(secret.utf8)) == nil, "\(secret) is in data.mdb in clear")
            }

            // Erasure: admins only; afterwards the envelope stays and the personal fields are gone.
            let erasure = #"{"person":"\#(Self.codiceFiscale)","legalGround":"art17_request","reference":"prot. 2026/118"}"#
            try daemon.expectProblem(daemon.call("/v1/persons/erasure", method: "POST", body: erasure, as: 4343), 403, "forbidden")
            let erased = try daemon.call("/v1/persons/erasure", method: "POST", body: erasure)
            #expect(erased.status == 201, "\(erased.body)")
            let after = try daemon.json("/v1/persons/case-file", headers: ["Fascicolo-Person: " + Self.codiceFiscale])
            let afterEntries = try #require(after["entries"] as? [[String: Any]])
            #expect(afterEntries.count == 8 && afterEntries.last?["type"] as? String == "ErasureExecuted")
            #expect(afterEntries.first?["personalData"] as? String == "erased")
            #expect((afterEntries.first?["data"] as? [String: Any])?["familyName"] == nil)
            // The birth year is sealed since issue 21: erased with the rest.
            #expect((afterEntries.first?["data"] as? [String: Any])?["birthYear"] == nil)
            #expect((after["state"] as? [String: Any])?["erased"] as? Bool == true)
            try daemon.expectProblem(
                record(
                    Self.body(#"{"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"2026-05-01"}}"#)
                ), 422, "person_erased")

            // The catalogue lists every type with its purpose and retention.
            let catalogue = try #require(try daemon.json("/v1/catalogue")["types"] as? [[String: Any]])
            #expect(
                catalogue.count >= 40
                    && catalogue.contains { $0["type"] as? String == "TakenInCharge" && $0["label"] as? String == "presa in carico" })

            // Offline, the log still verifies.
            daemon.kill(SIGTERM)
            let verify = try runProcess(productsDirectory() + "/fascicolo", ["verify", daemon.directory + "/data"])
            #expect(verify.status == 0, "\(verify.output)")
        }
    }
}
