import FascicoloServer
import Hummingbird
import Testing

/// The fascicolo sociale's person endpoints, in process.
@Suite struct PersonRoutesTests {
    static let codiceFiscale = "RSSMRA85T10A562S"
    static let actor = #""actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"}"#

    static func body(_ events: String, person: String = codiceFiscale) -> String {
        #"{"person":"\#(person)",\#(actor),"events":[\#(events)]}"#
    }

    static let registration =
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Mario","familyName":"Rossi","address":"Via Pretoria 12, Potenza"}}"#

    static func person(_ identifier: String) -> HTTPFields { [HTTPFields.Element.Name("Fascicolo-Person")!: identifier] }

    /// A service reads a person's file for an operator, and must name them: the person's record
    /// of who read their file then names a person, not a service (issue 19).
    @Test func aServiceNamesTheOperatorOfEveryReadOfAPerson() async throws {
        try await TestServer.run { server in
            #expect(try await server.call(.post, "/v1/persons/events", body: Self.body(Self.registration)).status == 201)
            for path in ["/v1/persons/case-file", "/v1/persons/timeline", "/v1/persons/case-state"] {
                try await server.call(.get, path, as: TestServer.writer, headers: Self.person(Self.codiceFiscale)).expectProblem(
                    400, "operator_required")
            }
            var headers = Self.person(Self.codiceFiscale)
            headers[HTTPFields.Element.Name("Fascicolo-Operator")!] = "op-9"
            let read = try await server.call(.get, "/v1/persons/case-file", as: TestServer.writer, headers: headers)
            #expect(read.status == 200, "\(read.body)")
            let person = try #require(read.json?["person"] as? String)
            let access = try await server.call(.get, "/v1/streams/access:\(person)/events").json
            let reads = try #require(access?["entries"] as? [[String: Any]])
            // The refused reads were not recorded (nothing was served); the service's read was, with its operator.
            #expect(reads.count == 1, "\(reads)")
            let payload = try #require(reads.first?["data"] as? [String: Any])
            #expect((payload["actor"] as? [String: Any])?["operator"] as? String == "op-9", "\(payload)")
            #expect((payload["data"] as? [String: Any])?["role"] as? String == "writer", "\(payload)")
        }
    }

    /// A service configured for some ambiti acts only for them: the actor of what it writes
    /// belongs to them, and it neither writes nor reads a person whose case another ambito holds —
    /// until that ambito transfers the case to one of its own (issue 19).
    @Test func aServiceActsOnlyForItsAmbiti() async throws {
        var policy = TestServer.policy()
        policy.setServiceAmbiti([TestServer.writer.uid: ["matera"]])
        try await TestServer.run(policy: policy) { server in
            let materaActor = #""actor":{"operator":"op-8","role":"assistente_sociale","ente":"Comune di Matera","ambito":"matera"}"#
            func materaBody(_ events: String) -> String { #"{"person":"\#(Self.codiceFiscale)",\#(materaActor),"events":[\#(events)]}"# }
            var headers = Self.person(Self.codiceFiscale)
            headers[HTTPFields.Element.Name("Fascicolo-Operator")!] = "op-8"
            // Potenza (the admin here) registers the person and opens the case.
            let opened =
                #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#
            #expect(try await server.call(.post, "/v1/persons/events", body: Self.body(Self.registration + "," + opened)).status == 201)
            // The Matera service may not write as a Potenza operator, nor on Potenza's case, nor read it.
            let note = #"{"type":"CaseManagerAssigned","occurredAt":"2026-01-13","data":{"operator":"op-8"}}"#
            try await server.call(.post, "/v1/persons/events", as: TestServer.writer, body: Self.body(note)).expectProblem(
                403, "ambito_not_allowed")
            try await server.call(.post, "/v1/persons/events", as: TestServer.writer, body: materaBody(note)).expectProblem(
                403, "ambito_not_allowed")
            for path in ["/v1/persons/case-file", "/v1/persons/timeline", "/v1/persons/case-state"] {
                try await server.call(.get, path, as: TestServer.writer, headers: headers).expectProblem(403, "ambito_not_allowed")
            }
            // Potenza transfers the case to Matera: Matera takes it in, then writes and reads it.
            let out =
                #"{"type":"CaseTransferredOut","occurredAt":"2026-02-01","data":{"toAmbito":"matera","reason":"change_of_residence"}}"#
            let transferredOut = try await server.call(.post, "/v1/persons/events", body: Self.body(out))
            #expect(transferredOut.status == 201, "\(transferredOut.body)")
            let into =
                #"{"type":"CaseTransferredIn","occurredAt":"2026-02-02","data":{"fromAmbito":"potenza","ambito":"matera","ente":"Comune di Matera"}}"#
            let transferredIn = try await server.call(.post, "/v1/persons/events", as: TestServer.writer, body: materaBody(into))
            #expect(transferredIn.status == 201, "\(transferredIn.body)")
            #expect(
                try await server.call(
                    .post, "/v1/persons/events", as: TestServer.writer,
                    body: materaBody(note.replacingOccurrences(of: "01-13", with: "02-03"))
                ).status == 201)
            #expect(try await server.call(.get, "/v1/persons/case-file", as: TestServer.writer, headers: headers).status == 200)

            // A case Potenza closed stays Potenza's: the path reopens a closed case (it is not
            // opened again), so Matera gets it only by Potenza's reopening and transfer.
            let moved = "RSSMRA80A01H501U"
            func materaFor(_ events: String) -> String { #"{"person":"\#(moved)",\#(materaActor),"events":[\#(events)]}"# }
            let closed = #"{"type":"CaseClosed","occurredAt":"2026-02-10","data":{"reason":"needs_resolved","date":"2026-02-10"}}"#
            let potenzaFile = try await server.call(
                .post, "/v1/persons/events", body: Self.body(Self.registration + "," + opened + "," + closed, person: moved))
            #expect(potenzaFile.status == 201, "\(potenzaFile.body)")
            let reopen = #"{"type":"CaseReopened","occurredAt":"2026-03-01","data":{"reason":"new_need"}}"#
            try await server.call(.post, "/v1/persons/events", as: TestServer.writer, body: materaFor(reopen)).expectProblem(
                403, "ambito_not_allowed")
        }
    }

    /// A service configured for some enti (`access.enti`) records only as an operator of one of
    /// them: a comune's service cannot sign as another comune's social worker (issue 19).
    @Test func aServiceRecordsOnlyAsAnActorOfItsEnti() async throws {
        var policy = TestServer.policy()
        policy.setServiceEnti([TestServer.writer.uid: ["Comune di Matera"]])
        try await TestServer.run(policy: policy) { server in
            let asPotenza = try await server.call(.post, "/v1/persons/events", as: TestServer.writer, body: Self.body(Self.registration))
            asPotenza.expectProblem(403, "ente_not_allowed")
            #expect(!asPotenza.body.contains("Potenza"), "the refusal repeats no client value: \(asPotenza.body)")
            let materaActor = #""actor":{"operator":"op-8","role":"assistente_sociale","ente":"Comune di Matera","ambito":"matera"}"#
            let asMatera = try await server.call(
                .post, "/v1/persons/events", as: TestServer.writer,
                body: #"{"person":"\#(Self.codiceFiscale)",\#(materaActor),"events":[\#(Self.registration)]}"#)
            #expect(asMatera.status == 201, "\(asMatera.body)")
        }
    }

    /// The documented sharing rule (issue 19): the person's consent to share their file with
    /// another ambito (ConsentRecorded, scope sharing_with_ambito) lets that ambito's services
    /// read it — never write it — until the consent is withdrawn.
    @Test func consentToShareLetsAnotherAmbitoReadUntilWithdrawn() async throws {
        var policy = TestServer.policy()
        policy.setServiceAmbiti([TestServer.writer.uid: ["matera"]])
        try await TestServer.run(policy: policy) { server in
            var headers = Self.person(Self.codiceFiscale)
            headers[HTTPFields.Element.Name("Fascicolo-Operator")!] = "op-8"
            let opened =
                #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#
            #expect(try await server.call(.post, "/v1/persons/events", body: Self.body(Self.registration + "," + opened)).status == 201)
            let paths = ["/v1/persons/case-file", "/v1/persons/timeline", "/v1/persons/case-state"]
            for path in paths {
                try await server.call(.get, path, as: TestServer.writer, headers: headers).expectProblem(403, "ambito_not_allowed")
            }
            // A sharing consent needs the ambito it shares with, and only that scope takes one.
            for data in [#"{"scope":"sharing_with_ambito"}"#, #"{"scope":"contact_by_phone","ambito":"matera"}"#] {
                let refused = try await server.call(
                    .post, "/v1/persons/events",
                    body: Self.body(#"{"type":"ConsentRecorded","occurredAt":"2026-01-13","data":\#(data)}"#))
                #expect(refused.status == 422, "\(data): \(refused.body)")
            }
            let consent = #"{"type":"ConsentRecorded","occurredAt":"2026-01-13","data":{"scope":"sharing_with_ambito","ambito":"matera"}}"#
            let recorded = try await server.call(.post, "/v1/persons/events", body: Self.body(consent))
            #expect(recorded.status == 201, "\(recorded.body)")
            for path in paths {
                let read = try await server.call(.get, path, as: TestServer.writer, headers: headers)
                #expect(read.status == 200, "\(path): \(read.body)")
            }
            // Sharing is reading: Matera still writes nothing on Potenza's case.
            let materaActor = #""actor":{"operator":"op-8","role":"assistente_sociale","ente":"Comune di Matera","ambito":"matera"}"#
            let note = #"{"type":"CaseManagerAssigned","occurredAt":"2026-01-14","data":{"operator":"op-8"}}"#
            try await server.call(
                .post, "/v1/persons/events", as: TestServer.writer,
                body: #"{"person":"\#(Self.codiceFiscale)",\#(materaActor),"events":[\#(note)]}"#
            ).expectProblem(403, "ambito_not_allowed")
            let withdrawn =
                #"{"type":"ConsentWithdrawn","occurredAt":"2026-01-20","data":{"scope":"sharing_with_ambito","ambito":"matera"}}"#
            #expect(try await server.call(.post, "/v1/persons/events", body: Self.body(withdrawn)).status == 201)
            for path in paths {
                try await server.call(.get, path, as: TestServer.writer, headers: headers).expectProblem(403, "ambito_not_allowed")
            }
        }
    }

    /// A backend points at an earlier entry by what it knows — the idempotency key it sent it
    /// with, or its log position — instead of tracking stream versions (issue 19).
    @Test func referencesByIdempotencyKeyOrPosition() async throws {
        try await TestServer.run { server in
            func record(_ events: String, key: String) async throws -> TestServer.Reply {
                try await server.call(
                    .post, "/v1/persons/events",
                    body: #"{"person":"\#(Self.codiceFiscale)",\#(Self.actor),"events":[\#(events)],"idempotencyKey":"\#(key)"}"#)
            }
            let opened =
                #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#
            let referral =
                #"{"type":"ReferralReceived","occurredAt":"2026-01-13","data":{"source":"school","urgency":"ordinary","judicialFlag":false}}"#
            #expect(try await record(Self.registration + "," + opened + "," + referral, key: "cartella-1").status == 201)
            // Voids the referral: the third event the backend sent as cartella-1.
            let void =
                #"{"type":"Voided","occurredAt":"2026-01-16","data":{"target":{"idempotencyKey":"cartella-1","index":2},"reason":"registrata per errore","authorisingAct":"det. 1/2026"}}"#
            let voided = try await record(void, key: "cartella-2")
            #expect(voided.status == 201, "\(voided.body)")
            let file = try #require(try await server.call(.get, "/v1/persons/case-file", headers: Self.person(Self.codiceFiscale)).json)
            let entries = try #require(file["entries"] as? [[String: Any]])
            #expect(entries.count == 4)
            #expect((entries.last?["data"] as? [String: Any])?["target"] as? Int == 3, "stored as the version it resolved to")
            #expect(entries[2]["voidedBy"] as? Int == 4)
            // By log position: the registration (position 0) is rectified.
            let rectify =
                #"{"type":"Rectified","occurredAt":"2026-01-17","data":{"target":{"position":0},"field":"birthYear","newValue":"1986","reason":"errore di trascrizione","authorisedBy":"op-7"}}"#
            let rectified = try await record(rectify, key: "cartella-3")
            #expect(rectified.status == 201, "\(rectified.body)")
            // Unknown keys, positions of other streams, and malformed references are refused, nothing stored.
            for target in [
                #"{"idempotencyKey":"nessuna"}"#, #"{"idempotencyKey":"cartella-1","index":3}"#, #"{"position":99}"#,
                #"{"position":0,"idempotencyKey":"cartella-1"}"#, #""3""#,
            ] {
                let refused = try await record(
                    #"{"type":"Voided","occurredAt":"2026-01-18","data":{"target":\#(target),"reason":"x","authorisingAct":"det. 2/2026"}}"#,
                    key: "cartella-bad")
                #expect(refused.status == 422 && !refused.body.contains("nessuna"), "\(target): \(refused.body)")
            }
            let elsewhere = try await server.call(.post, "/v1/streams/other/events", body: #"{"events":[{"type":"X","data":{}}]}"#)
            let position = try #require((elsewhere.json?["positions"] as? [Int])?.first)
            let other = try await record(
                #"{"type":"Voided","occurredAt":"2026-01-18","data":{"target":{"position":\#(position)},"reason":"x","authorisingAct":"det. 2/2026"}}"#,
                key: "cartella-other")
            other.expectProblem(422, "unknown_reference")
        }
    }

    /// A rectified date of presa in carico reaches the read model the case state is served from
    /// (the `cases` projection), not only the rules (issue 19).
    @Test func aRectifiedPresaInCaricoDateMovesTheCaseReadModel() async throws {
        try await TestServer.run { server in
            let opened =
                #"{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#
            let taken = #"{"type":"TakenInCharge","occurredAt":"2026-01-20","data":{"date":"2026-01-20","basis":"request"}}"#
            #expect(
                try await server.call(.post, "/v1/persons/events", body: Self.body(Self.registration + "," + opened + "," + taken)).status
                    == 201)
            func served() async throws -> String? {
                let last = try await server.call(.post, "/v1/streams/marker/events", body: #"{"events":[{"type":"X","data":{}}]}"#)
                let position = try #require((last.json?["positions"] as? [Int])?.first)
                let answer = try await server.call(
                    .get, "/v1/persons/case-state?reflects=\(position)", headers: Self.person(Self.codiceFiscale))
                return (answer.json?["state"] as? [String: Any])?["takenInChargeOn"] as? String
            }
            #expect(try await served() == "2026-01-20")
            let rectify =
                #"{"type":"Rectified","occurredAt":"2026-01-21","data":{"target":3,"field":"date","newValue":"2026-01-19","reason":"errore di trascrizione","authorisedBy":"op-7"}}"#
            let rectified = try await server.call(.post, "/v1/persons/events", body: Self.body(rectify))
            #expect(rectified.status == 201, "\(rectified.body)")
            #expect(try await served() == "2026-01-19")
        }
    }

    /// The unusual-access report flags a service's read for an operator with no entry on the
    /// person's path, and a reader's reads in bulk (issue 19; DOMAIN.md, "Compliance").
    @Test func unusualReadsAreReported() async throws {
        try await TestServer.run { server in
            let other = "RSSMRA80A01H501U"
            #expect(try await server.call(.post, "/v1/persons/events", body: Self.body(Self.registration)).status == 201)
            #expect(try await server.call(.post, "/v1/persons/events", body: Self.body(Self.registration, person: other)).status == 201)
            func read(_ person: String, as operatorID: String) async throws {
                var headers = Self.person(person)
                headers[HTTPFields.Element.Name("Fascicolo-Operator")!] = operatorID
                #expect(try await server.call(.get, "/v1/persons/case-file", as: TestServer.writer, headers: headers).status == 200)
            }
            try await read(Self.codiceFiscale, as: "op-7")  // the actor of the registration: on the path
            try await read(Self.codiceFiscale, as: "op-9")  // no entry on the path
            try await read(other, as: "op-7")  // a second person within the hour: bulk with bulk=1
            let report = try #require(try await server.call(.get, "/v1/compliance/unusual-accesses?bulk=1", as: TestServer.auditor).json)
            #expect(report["reads"] as? Int == 3 && report["complete"] as? Bool == true, "\(report)")
            let rows = try #require(report["rows"] as? [[String: Any]])
            func reasons(_ operatorID: String) -> [[String]] {
                rows.filter { $0["operator"] as? String == operatorID }.map { $0["reasons"] as? [String] ?? [] }
            }
            #expect(reasons("op-9").count == 1 && reasons("op-9")[0].contains("not_on_path"), "\(rows)")
            #expect(reasons("op-7").allSatisfy { !$0.contains("not_on_path") }, "\(rows)")
            #expect(reasons("op-7").contains { $0.contains("bulk") }, "op-7 read two persons within the hour: \(rows)")
            #expect(!String(describing: rows).contains(Self.codiceFiscale))
            try await server.call(.get, "/v1/compliance/unusual-accesses?from=2026-01-01&to=2026-03-01", as: TestServer.auditor)
                .expectProblem(400, "invalid_parameter")
            try await server.call(.get, "/v1/compliance/unusual-accesses", as: TestServer.writer).expectProblem(403, "forbidden")
        }
    }

    @Test func provisionalRecordsAreLinkedToACodiceFiscaleLater() async throws {
        try await TestServer.run { server in
            func record(_ body: String) async throws -> TestServer.Reply {
                try await server.call(.post, "/v1/persons/events", body: body)
            }
            let stp = "STP0170000000123"
            let registration =
                #"{"type":"PersonRegistered","occurredAt":"2026-03-01","data":{"birthYear":1990,"sex":"F","citizenship":"non_eu","comuneOfResidence":"F052"}}"#
            #expect(try await record(Self.body(registration, person: stp)).status == 201)
            let link =
                #"{"type":"IdentityLinked","occurredAt":"2026-04-01","data":{"codiceFiscale":"\#(Self.codiceFiscale)","source":"document_checked"}}"#
            let linked = try await record(Self.body(link, person: stp))
            #expect(linked.status == 201, "\(linked.body)")
            #expect(!linked.body.contains(Self.codiceFiscale))
            // The codice fiscale now reaches the same case file.
            let byCodiceFiscale = try await server.call(.get, "/v1/persons/case-file", headers: Self.person(Self.codiceFiscale)).json ?? [:]
            let byCode = try await server.call(.get, "/v1/persons/case-file", headers: Self.person(stp)).json ?? [:]
            #expect(byCodiceFiscale["person"] as? String != nil && byCodiceFiscale["person"] as? String == byCode["person"] as? String)
            #expect((byCodiceFiscale["entries"] as? [Any])?.count == 2)
            try await record(Self.body(link, person: stp)).expectProblem(409, "identity_already_registered")
            // A link made by mistake is voided: the codice fiscale no longer reaches this file.
            let void =
                #"{"type":"Voided","occurredAt":"2026-04-02","data":{"target":2,"reason":"documento di un'altra persona","authorisingAct":"det. 3/2026"}}"#
            #expect(try await record(Self.body(void, person: stp)).status == 201)
            try await server.call(.get, "/v1/persons/case-file", headers: Self.person(Self.codiceFiscale)).expectProblem(
                404, "person_not_found")
            #expect(try await record(Self.body(link, person: stp)).status == 201)  // and can be linked again
            try await record(Self.body(link, person: Self.codiceFiscale)).expectProblem(422, "already_identified")
            try await record(Self.body(registration, person: "provisional:ab")).expectProblem(422, "invalid_provisional_id")
        }
    }
}
