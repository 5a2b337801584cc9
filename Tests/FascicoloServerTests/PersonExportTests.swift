import FascicoloBundle
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloServer
import Foundation
import Hummingbird
import Testing

/// `POST /v1/persons/export` in process, on a real ledger: the bundle of Formats.md "Person
/// bundles", its own record, its checkpoint, an erased person's bundle, the refusals. The
/// proofs are checked here lightly with the ledger's own MerkleProof and StreamHeadProof; the full
/// verifiers (tools/verify-bundle.py, fascicolo bundle verify) have tests of their own.
@Suite struct PersonExportTests {
    static let codiceFiscale = PersonRoutesTests.codiceFiscale
    static let auditor: UInt32 = 4242
    static let writer: UInt32 = 4343
    static let person = "Fascicolo-Person: " + codiceFiscale
    static let purpose = "Fascicolo-Purpose: richiesta del Tribunale per i minorenni 2026/77"

    /// Registration, a case with a plan, a voided delivery, a rectified review, a restriction
    /// lifted again; two reads. Returns the pseudonym.
    static func recordHistory(_ daemon: InProcessDaemon) async throws -> String {
        func record(_ events: String) async throws {
            let result = try await daemon.call("/v1/persons/events", method: "POST", body: PersonRoutesTests.body(events), as: writer)
            try #require(result.status == 201, "\(result.body)")
        }
        try await record(PersonRoutesTests.registration)
        try await record(
            """
            {"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},
            {"type":"CaseManagerAssigned","occurredAt":"2026-01-12","data":{"operator":"op-7"}},
            {"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}},
            {"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["Trovare un lavoro stabile"],"supports":["SAD"]}},
            {"type":"PlanSigned","occurredAt":"2026-01-22","data":{"plan":5,"date":"2026-01-22","signatories":["Mario Rossi"]}},
            {"type":"InterventionRequested","occurredAt":"2026-01-23","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps"}},
            {"type":"InterventionStarted","occurredAt":"2026-01-25","data":{"intervention":7,"date":"2026-01-25"}},
            {"type":"ServiceDelivered","occurredAt":"2026-01-26","data":{"intervention":7,"date":"2026-01-26","minutes":60,"amount":120.50}},
            {"type":"ServiceDelivered","occurredAt":"2026-01-27","data":{"intervention":7,"date":"2026-01-27","minutes":30,"amount":30.25}},
            {"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"2026-03-01","findings":"Mario lavora part-time"}},
            {"type":"Voided","occurredAt":"2026-02-02","data":{"target":10,"reason":"erogazione registrata due volte","authorisingAct":"det. 4/2026"}},
            {"type":"Rectified","occurredAt":"2026-02-02","data":{"target":11,"field":"findings","newValue":"Mario lavora a tempo pieno","reason":"errore di trascrizione","authorisedBy":"op-7"}},
            {"type":"Restricted","occurredAt":"2026-02-03","data":{"target":1,"ground":"accuracy_contested"}},
            {"type":"RestrictionLifted","occurredAt":"2026-02-04","data":{"restriction":14,"reason":"dati verificati"}}
            """)
        let file = try await daemon.json("/v1/persons/case-file", as: writer, headers: [person, "Fascicolo-Operator: op-7"])
        _ = try await daemon.json("/v1/persons/case-file", as: auditor, headers: [person, "Fascicolo-Purpose: verifica interna"])
        return try #require(file["person"] as? String)
    }

    static func export(_ daemon: InProcessDaemon, as uid: UInt32 = auditor) async throws -> (bytes: [UInt8], bundle: PersonBundle) {
        let result = try await daemon.call("/v1/persons/export", method: "POST", as: uid, headers: [person, purpose])
        try #require(result.status == 200, "\(result.body)")
        let bytes = Array(result.body.utf8)
        return (bytes, try PersonBundle.parse(bytes))
    }

    @Test func aBundleHoldsTheWholeHistoryWithCorrectionsReadsAndItsOwnExport() async throws {
        try await TestServer.run(policy: TestServer.policy(auditor: Self.auditor, writer: Self.writer)) { server in
            let daemon = InProcessDaemon(server: server)
            let pseudonym = try await Self.recordHistory(daemon)
            let (bytes, bundle) = try await Self.export(daemon)
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(!text.contains(Self.codiceFiscale))

            // Members in the order of Formats.md; what they hold.
            let order = try JSON.rawMembers(bytes).map(\.key)
            #expect(
                order == ["format", "verifierKey", "checkpoint", "keyRotations", "person", "exportedAt", "purpose", "dataKey", "streams"])
            #expect(bundle.person == pseudonym && bundle.verifierKey == server.ledger.verifierKey)
            #expect(bundle.purpose == "richiesta del Tribunale per i minorenni 2026/77")
            #expect(bundle.dataKey?.count == 32)
            #expect(bundle.streams.map(\.stream) == ["person:\(pseudonym)", "access:\(pseudonym)"])
            #expect(try PersonBundle.parse(bundle.json) == bundle)

            let checkpoint = try Checkpoint.verify(
                note: bundle.checkpoint, origin: server.ledger.origin, publicKey: server.ledger.publicKey)
            try Self.expectProofsVerify(bundle, checkpoint: checkpoint, publicKey: server.ledger.publicKey)

            // The case file: 15 entries, corrections as entries like the others, personal fields in clear.
            let caseFile = bundle.streams[0]
            #expect(caseFile.head?.version == 15 && caseFile.entries.count == 15)
            let types = caseFile.entries.compactMap { $0.parsed?.eventType }
            #expect(types.suffix(4) == ["Voided", "Rectified", "Restricted", "RestrictionLifted"])
            #expect(caseFile.entries[0].fields?["familyName"]?.string == "Rossi")
            #expect(caseFile.entries[12].fields?["newValue"]?.string == "Mario lavora a tempo pieno")
            #expect(caseFile.entries[1].fields == nil)  // CaseOpened has no personal field

            // The reads: the two case-file reads, then the export itself, with its purpose —
            // covered by the bundle's checkpoint.
            let reads = bundle.streams[1]
            let what = reads.entries.compactMap { entry in
                entry.parsed.flatMap { try? JSON.parse($0.payload) }?["data"]?["what"]?.string
            }
            #expect(what == ["case_file", "case_file", "export"], "\(what)")
            let exportRecord = try #require(reads.entries.last?.parsed)
            let exportData = try JSON.parse(exportRecord.payload)["data"]
            #expect(exportData?["purpose"]?.string == bundle.purpose && exportData?["role"]?.string == "auditor")
            #expect((reads.head?.position ?? .max) < checkpoint.size)

            // The rendering shows corrections as such, the reads as a table, and escapes everything.
            let html = bundle.html
            #expect(html.contains("voids version 10 (ServiceDelivered)") && html.contains("voided by version 12"))
            #expect(html.contains("rectifies version 11 (ReviewHeld, field findings)"))
            #expect(html.contains("lifts the restriction of version 14 (Restricted)"))
            #expect(html.contains("Via Pretoria 12, Potenza") && html.contains("<td>export</td>"))
            #expect(!html.contains("<script") && !html.contains(Self.codiceFiscale))
            let lines = bundle.textLines
            #expect(lines.contains("    voids version 10 (ServiceDelivered)") && lines.contains("    voided by version 12"))
            #expect(lines.contains { $0.hasPrefix("v1  2026-01-10  PersonRegistered  by op-7 (assistente_sociale") })
            #expect(lines.contains { $0.hasPrefix("    personal: givenName=Mario; familyName=Rossi") }, "\(lines)")
            #expect(lines.contains { $0.contains("case_file, 15 entries  purpose: verifica interna") }, "\(lines)")
        }
    }

    @Test func anErasedPersonsBundleProvesTheHistoryWithoutTheFields() async throws {
        try await TestServer.run(policy: TestServer.policy(auditor: Self.auditor, writer: Self.writer)) { server in
            let daemon = InProcessDaemon(server: server)
            _ = try await Self.recordHistory(daemon)
            let erased = try await daemon.call(
                "/v1/persons/erasure", method: "POST",
                body: #"{"person":"\#(Self.codiceFiscale)","legalGround":"art17_request","reference":"prot. 2026/120"}"#)
            try #require(erased.status == 201, "\(erased.body)")
            let (bytes, bundle) = try await Self.export(daemon, as: 0)
            #expect(bundle.dataKey == nil && String(decoding: bytes, as: UTF8.self).contains("\"dataKey\":null"))
            #expect(bundle.streams[0].entries.allSatisfy { $0.fields == nil })
            #expect(bundle.streams[0].entries.last?.parsed?.eventType == "ErasureExecuted")
            let checkpoint = try Checkpoint.verify(
                note: bundle.checkpoint, origin: server.ledger.origin, publicKey: server.ledger.publicKey)
            try Self.expectProofsVerify(bundle, checkpoint: checkpoint, publicKey: server.ledger.publicKey)
            let html = bundle.html
            #expect(html.contains("destroyed (erased)") && !html.contains("Via Pretoria"))
            #expect(bundle.textLines.contains("    personal: destroyed (erased)"))
        }
    }

    @Test func exportsAreRefusedToWritersWithoutAPurposeAndForUnknownPersonsRecordingNothing() async throws {
        try await TestServer.run(policy: TestServer.policy(auditor: Self.auditor, writer: Self.writer)) { server in
            let daemon = InProcessDaemon(server: server)
            let pseudonym = try await Self.recordHistory(daemon)
            func reads() throws -> UInt64 { try server.ledger.streamVersion("access:\(pseudonym)") }
            let before = try reads()
            let size = server.ledger.size

            let writer = try await daemon.call("/v1/persons/export", method: "POST", as: Self.writer, headers: [Self.person, Self.purpose])
            try daemon.expectProblem(writer, 403, "forbidden")
            let noPurpose = try await daemon.call("/v1/persons/export", method: "POST", as: Self.auditor, headers: [Self.person])
            try daemon.expectProblem(noPurpose, 400, "purpose_required")
            let adminNoPurpose = try await daemon.call("/v1/persons/export", method: "POST", headers: [Self.person])
            try daemon.expectProblem(adminNoPurpose, 400, "purpose_required")
            let badPurpose = try await daemon.call(
                "/v1/persons/export", method: "POST", as: Self.auditor, headers: [Self.person, "Fascicolo-Purpose: x"])
            try daemon.expectProblem(badPurpose, 400, "invalid_purpose")
            let noPerson = try await daemon.call("/v1/persons/export", method: "POST", as: Self.auditor, headers: [Self.purpose])
            try daemon.expectProblem(noPerson, 400, "person_required")
            let unknown = try await daemon.call(
                "/v1/persons/export", method: "POST", as: Self.auditor, headers: ["Fascicolo-Person: VRDLGU70A41F052O", Self.purpose])
            try daemon.expectProblem(unknown, 404, "person_not_found")
            #expect(try reads() == before && server.ledger.size == size)
        }
    }

    @Test func aPersonWithAThousandEntriesIsExportedWhole() async throws {
        try await TestServer.run(policy: TestServer.policy(auditor: Self.auditor, writer: Self.writer)) { server in
            let daemon = InProcessDaemon(server: server)
            _ = try await Self.recordHistory(daemon)
            let review =
                #"{"type":"ReviewHeld","occurredAt":"2026-02-05","data":{"date":"2026-02-05","nextReviewDue":"2026-05-01","findings":"colloquio"}}"#
            var recorded = 15
            while recorded < 1_000 {
                let count = min(40, 1_000 - recorded)
                let body = PersonRoutesTests.body(Array(repeating: review, count: count).joined(separator: ","))
                let result = try await daemon.call("/v1/persons/events", method: "POST", body: body, as: Self.writer)
                try #require(result.status == 201, "\(result.body)")
                recorded += count
            }
            let (_, bundle) = try await Self.export(daemon)
            #expect(bundle.streams[0].entries.count == 1_000 && bundle.streams[0].head?.version == 1_000)
            #expect(bundle.streams[0].entries.filter { $0.fields?["findings"]?.string == "colloquio" }.count == 985)
            let checkpoint = try Checkpoint.verify(
                note: bundle.checkpoint, origin: server.ledger.origin, publicKey: server.ledger.publicKey)
            try Self.expectProofsVerify(bundle, checkpoint: checkpoint, publicKey: server.ledger.publicKey)
        }
    }

    /// A provisional record linked to a codice fiscale is exported by either identifier.
    @Test func aLinkedRecordIsExportedByTheCodiceFiscale() async throws {
        try await TestServer.run(policy: TestServer.policy(auditor: Self.auditor, writer: Self.writer)) { server in
            let daemon = InProcessDaemon(server: server)
            let stp = "STP0170000000123"
            let registration =
                #"{"type":"PersonRegistered","occurredAt":"2026-03-01","data":{"birthYear":1990,"sex":"F","citizenship":"non_eu","comuneOfResidence":"F052"}}"#
            let link =
                #"{"type":"IdentityLinked","occurredAt":"2026-04-01","data":{"codiceFiscale":"\#(Self.codiceFiscale)","source":"document_checked"}}"#
            for events in [registration, link] {
                let result = try await daemon.call(
                    "/v1/persons/events", method: "POST", body: PersonRoutesTests.body(events, person: stp), as: Self.writer)
                try #require(result.status == 201, "\(result.body)")
            }
            let (_, bundle) = try await Self.export(daemon)
            let byCode = try await daemon.call(
                "/v1/persons/export", method: "POST", as: Self.auditor, headers: ["Fascicolo-Person: \(stp)", Self.purpose])
            #expect(try PersonBundle.parse(Array(byCode.body.utf8)).person == bundle.person)
            #expect(bundle.streams[0].entries.compactMap { $0.parsed?.eventType } == ["PersonRegistered", "IdentityLinked"])
        }
    }

    /// What a bundle carries is escaped in the page and stripped of control characters in text.
    @Test func renderingsEscapeWhatTheBundleCarries() throws {
        let bundle = PersonBundle(
            verifierKey: "<script>alert(1)</script>", checkpoint: "o\n1\n\"><img src=x>\n", person: "p&q",
            exportedAt: "t", purpose: "why\u{1B}[2J'", dataKey: nil, streams: [])
        let html = bundle.html
        #expect(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("<img") && html.contains("p&amp;q") && html.contains("why\u{1B}[2J&#39;"))
        #expect(bundle.textLines.contains("purpose     why\u{FFFD}[2J'"))
    }

    @Test func aMalformedBundleIsRefusedNamingTheMember() throws {
        let entry = PersonBundle.Entry(
            position: 0, signedBytes: [1, 2, 3], signature: Array(repeating: 7, count: 64), inclusionProof: [], fields: nil)
        let bundle = PersonBundle(
            verifierKey: "k", checkpoint: "c", person: "p", exportedAt: "t", purpose: "why", dataKey: nil,
            streams: [PersonBundle.Stream(stream: "s", head: nil, headProof: .init(siblings: [], terminal: .empty), entries: [entry])])
        let text = String(decoding: bundle.json, as: UTF8.self)
        #expect(try PersonBundle.parse(Array(text.utf8)) == bundle)
        func refusal(_ changed: String) -> PersonBundle.Malformed? {
            do {
                _ = try PersonBundle.parse(Array(changed.utf8))
                return nil
            } catch { return error }
        }
        #expect(refusal(text.replacingOccurrences(of: "fascicolo-person-bundle/1", with: "x/2"))?.member == "format")
        #expect(refusal(text.replacingOccurrences(of: #""purpose":"why","#, with: ""))?.member == "purpose")
        #expect(refusal(text.replacingOccurrences(of: #""dataKey":null"#, with: #""dataKey":"AAAA""#))?.member == "dataKey")
        #expect(
            refusal(text.replacingOccurrences(of: #""inclusionProof":[]"#, with: #""inclusionProof":["AAAA"]"#))?.member
                == "streams[0].entries[0].inclusionProof[0]")
        #expect(
            refusal(text.replacingOccurrences(of: #""position":0"#, with: #""position":-1"#))?.member == "streams[0].entries[0].position")
        #expect(
            refusal(text.replacingOccurrences(of: #""terminal":"empty""#, with: #""terminal":"none""#))?.member
                == "streams[0].headProof.terminal")
        #expect(refusal(text.replacingOccurrences(of: #""stream":"s","#, with: #""stream":"s","extra":1,"#))?.member == "streams[0]")
    }

    /// Every entry parses, is signed by the log key, sits at its position in the checkpoint's
    /// tree (MerkleProof), versions run 1…head, and the head proof leads to the map root the
    /// checkpoint signs (StreamHeadProof.root).
    static func expectProofsVerify(_ bundle: PersonBundle, checkpoint: Checkpoint, publicKey: PublicKey) throws {
        for stream in bundle.streams {
            for (index, entry) in stream.entries.enumerated() {
                let parsed = try #require(entry.parsed)
                #expect(parsed.stream == stream.stream && parsed.streamVersion == UInt64(index + 1) && parsed.position == entry.position)
                #expect(publicKey.isValidSignature(entry.signature, for: entry.signedBytes))
                #expect(
                    MerkleProof.verifyInclusion(
                        leafHash: MerkleHash.leaf(entry.record), index: entry.position, treeSize: checkpoint.size,
                        proof: entry.inclusionProof, root: checkpoint.root))
            }
            #expect(stream.head.map { $0.version == UInt64(stream.entries.count) && $0.position == stream.entries.last?.position } ?? true)
            #expect(mapRoot(stream) == checkpoint.streamHeadsRoot, "\(stream.stream)'s head proof")
        }
    }

    /// The map root a bundle's head proof leads to, by the ledger's own `StreamHeadProof.root`.
    static func mapRoot(_ stream: PersonBundle.Stream) -> Digest? {
        let head = stream.head.map { StreamHead(version: $0.version, position: $0.position) }
        let terminal: StreamHeadProof.Terminal =
            switch stream.headProof.terminal {
            case .head: .head
            case .empty: .empty
            case .otherStream(let key, let other):
                .otherStream(key: key, head: StreamHead(version: other.version, position: other.position))
            }
        return StreamHeadProof(head: head, siblings: stream.headProof.siblings, terminal: terminal).root(stream: Array(stream.stream.utf8))
    }
}
