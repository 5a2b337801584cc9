import FascicoloTesting
import Foundation
import Glibc
import Testing

/// Pins the exact bytes of one representative answer of every JSON endpoint (member order,
/// spacing, number forms), so that moving the rendering between modules cannot change the wire
/// format. What differs from run to run — keys, signatures, hashes, pseudonyms, times, how far a
/// read model has got — is replaced by `~` before comparing; everything else is compared as is.
@Suite(.serialized) struct ResponseBytesTests {
    static let writer: UInt32 = 4343
    static let auditor: UInt32 = 4242
    static let person = "Fascicolo-Person: " + DomainEndToEndTests.codiceFiscale
    /// A service reads a person for an operator, whom it names.
    static let operatorOfWriter = "Fascicolo-Operator: op-7"
    static let purpose = "Fascicolo-Purpose: internal audit 2026/15"

    @Test func everyEndpointAnswersTheSameBytes() throws {
        var transcript: [String] = []
        try withDaemon(access: "auditor = \"uid:\(Self.auditor)\"\nwriter = \"uid:\(Self.writer)\"") { daemon in
            /// Calls `path` and adds its status and normalized body to the transcript; returns the raw answer.
            @discardableResult
            func pin(
                _ label: String, _ path: String, method: String = "GET", body: String? = nil, as uid: UInt32? = nil,
                headers: [String] = [], volatile: [String] = []
            ) throws -> (status: Int, body: String) {
                let result = try daemon.call(path, method: method, body: body, as: uid, headers: headers)
                transcript.append("\(label) \(result.status) \(Self.normalized(result.body, volatile: volatile))")
                return result
            }
            func record(_ events: String) throws -> Int {
                let result = try daemon.call("/v1/persons/events", method: "POST", body: DomainEndToEndTests.body(events), as: Self.writer)
                try #require(result.status == 201, "\(result.body)")
                let answer = try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any]
                return try #require((answer?["positions"] as? [Int])?.last)
            }

            try pin("live", "/v1/health/live")
            try pin("version", "/v1/version")
            try pin("keys", "/v1/keys", volatile: ["origin"])
            try pin(
                "append", "/v1/streams/case-1/events?receipts=true", method: "POST",
                body: #"{"events":[{"type":"CaseOpened","data": {"ambito":"AMB-03", "n":[1.5e3,-0,"\u00e8"]}}],"idempotencyKey":"k-1"}"#)
            try pin(
                "append-again", "/v1/streams/case-1/events", method: "POST",
                body: #"{"events":[{"type":"CaseOpened","data": {"ambito":"AMB-03", "n":[1.5e3,-0,"\u00e8"]}}],"idempotencyKey":"k-1"}"#)
            try pin("append-malformed", "/v1/streams/case-1/events", method: "POST", body: #"{"events":[{"type":"T","data":1}],"x":1}"#)
            try pin(
                "append-conflict", "/v1/streams/case-1/events", method: "POST",
                body: #"{"events":[{"type":"T","data":1}],"expectedVersion":"no_stream"}"#)
            try pin("stream", "/v1/streams/case-1/events")
            _ = try pin(
                "record", "/v1/persons/events", method: "POST", body: DomainEndToEndTests.body(DomainEndToEndTests.registration),
                as: Self.writer)
            _ = try record(
                """
                {"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},
                {"type":"CaseManagerAssigned","occurredAt":"2026-01-12","data":{"operator":"op-7"}},
                {"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}},
                {"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["Trovare un lavoro stabile"],"supports":["SAD"]}},
                {"type":"PlanSigned","occurredAt":"2026-01-22","data":{"plan":5,"date":"2026-01-22","signatories":["Mario Rossi"]}},
                {"type":"InterventionRequested","occurredAt":"2026-01-23","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps"}}
                """)
            _ = try record(
                """
                {"type":"InterventionStarted","occurredAt":"2026-01-25","data":{"intervention":7,"date":"2026-01-25"}},
                {"type":"ServiceDelivered","occurredAt":"2026-01-26","data":{"intervention":7,"date":"2026-01-26","minutes":60,"amount":120.50}},
                {"type":"ServiceDelivered","occurredAt":"2026-01-27","data":{"intervention":7,"date":"2026-01-27","minutes":30,"amount":30.25}},
                {"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"2026-03-01","findings":"Mario lavora part-time"}}
                """)
            _ = try record(
                """
                {"type":"Voided","occurredAt":"2026-02-02","data":{"target":10,"reason":"erogazione registrata due volte","authorisingAct":"det. 4/2026"}},
                {"type":"Rectified","occurredAt":"2026-02-02","data":{"target":11,"field":"findings","newValue":"Mario lavora a tempo pieno","reason":"errore di trascrizione","authorisedBy":"op-7"}}
                """)
            let last = try record(#"{"type":"Restricted","occurredAt":"2026-02-03","data":{"target":2,"ground":"accuracy_contested"}}"#)
            let reflects = "reflects=\(last)"

            try pin("case-file", "/v1/persons/case-file?from=9&limit=6", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            try pin(
                "case-file-restricted", "/v1/persons/case-file?limit=2", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            try pin("timeline", "/v1/persons/timeline?\(reflects)&limit=3", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            try pin(
                "timeline-later", "/v1/persons/timeline?from=10&limit=5", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            try pin("case-state", "/v1/persons/case-state?\(reflects)", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            try pin("caseload", "/v1/caseload?by=operator&\(reflects)")
            try pin("interventions", "/v1/interventions?code=SAD&\(reflects)")
            try pin("indicators", "/v1/indicators?ambito=potenza&year=2026&\(reflects)")
            try pin("caseload-region", "/v1/caseload?by=ambito&region=true&\(reflects)")
            try pin("interventions-region", "/v1/interventions?code=SAD&region=true&\(reflects)")
            let entries = try daemon.json("/v1/health/ready")["entries"] as? Int ?? 0
            try pin(
                "accesses", "/v1/compliance/accesses?reflects=\(entries)&limit=3", as: Self.auditor, headers: [Self.person, Self.purpose])
            try pin("voids", "/v1/compliance/registers/voids?\(reflects)", as: Self.auditor)
            try pin("restrictions", "/v1/compliance/registers/restrictions?\(reflects)", as: Self.auditor)
            try pin("projection", "/v1/projections/cases", volatile: ["position", "logSize", "lag", "entriesPerSecond", "etaSeconds"])
            try pin("projections", "/v1/projections", volatile: ["position", "logSize", "lag", "entriesPerSecond", "etaSeconds"])
            try pin("digest", "/v1/projections/cases/digest", volatile: ["position"])
            // Nothing is appended until log-recorded: the checkpoint of the current size is the last one.
            let signedSize = try daemon.json("/v1/health/ready")["entries"] as? Int ?? 0
            try waitForCheckpoint(daemon, size: signedSize)
            try pin("checkpoints", "/v1/checkpoints?from=\(signedSize)&limit=2", as: Self.auditor, volatile: ["timestamp"])
            let note = try daemon.call("/v1/checkpoints/\(signedSize)", as: Self.auditor)
            // The note's lines on one line of the transcript, each ending in ⏎.
            transcript.append(
                "checkpoint-size \(note.status) " + Self.normalized(note.body.replacingOccurrences(of: "\n", with: "⏎"), volatile: []))
            try pin("checkpoint-missing", "/v1/checkpoints/\(signedSize + 1000)", as: Self.auditor)
            try pin("log", "/v1/log?from=0&limit=4")
            try pin("log-signed", "/v1/log?from=0&limit=2&signed=true")
            try pin("log-recorded", "/v1/log?from=2&limit=2", headers: [Self.purpose])
            try pin("entry", "/v1/entries/0")
            try pin("inclusion", "/v1/proofs/inclusion?position=1&treeSize=5")
            try pin("consistency", "/v1/proofs/consistency?from=2&to=5")
            try pin("ready", "/v1/health/ready")
            try pin("replication-status", "/v1/replication/status")
            try pin("replication-problem", "/v1/replication/log?from=0&wait=99999")
            try pin("catalogue-head", "/v1/catalogue")
            transcript[transcript.count - 1] = String(transcript[transcript.count - 1].prefix(600))
            try pin("problem-parameter", "/v1/caseload?by=nobody")
            try pin(
                "problem-path", "/v1/persons/events", method: "POST",
                body: DomainEndToEndTests.body(#"{"type":"InterventionRequested","occurredAt":"2026-02-05","data":{"code":"SAD"}}"#),
                as: Self.writer)
            try pin("problem-unknown", "/v1/nowhere")
            try pin("problem-role", "/v1/projections/cases/digest", as: Self.writer)
            // The person's own listing of who read their file: it lists itself first.
            try pin(
                "reads", "/v1/persons/reads?limit=3", as: Self.writer, headers: [Self.person, Self.operatorOfWriter],
                volatile: ["localTime", "from", "to"])
            // The household timeline: a person whose registration names no household, then a
            // parent and a child of one household, seen from the child's file.
            try pin("household-none", "/v1/persons/household-timeline", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            let household = #","household":"hh-1"}}"#
            for person in ["provisional:genitore-1", "provisional:figlio-1"] {
                let events =
                    DomainEndToEndTests.registration.replacingOccurrences(of: "}}", with: household)
                    + #",{"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}}"#
                let result = try daemon.call(
                    "/v1/persons/events", method: "POST", body: DomainEndToEndTests.body(events, person: person), as: Self.writer)
                try #require(result.status == 201, "\(result.body)")
            }
            try pin(
                "household", "/v1/persons/household-timeline?limit=3", as: Self.writer,
                headers: ["Fascicolo-Person: provisional:figlio-1", Self.operatorOfWriter])
            try pin(
                "erasure", "/v1/persons/erasure", method: "POST",
                body: #"{"person":"\#(DomainEndToEndTests.codiceFiscale)","legalGround":"art17_request","reference":"prot. 2026/120"}"#)
            try pin("case-file-erased", "/v1/persons/case-file?limit=1", headers: [Self.person])
            try pin("reads-erased", "/v1/persons/reads", as: Self.writer, headers: [Self.person, Self.operatorOfWriter])
            // The person bundle of the erased person (no data key, no fields): every member but
            // the head proofs, whose length and terminal follow from the pseudonym, new each run.
            let bundle = try daemon.call("/v1/persons/export", method: "POST", as: Self.auditor, headers: [Self.person, Self.purpose])
            var pinned = Self.normalized(bundle.body, volatile: [])
            for (pattern, template) in [(#""siblings":\[[^\]]*\]"#, "\"siblings\":~"), (#""terminal":\{[^}]*\}"#, "\"terminal\":~")] {
                let regex = try NSRegularExpression(pattern: pattern)
                pinned = regex.stringByReplacingMatches(
                    in: pinned, range: NSRange(pinned.startIndex..., in: pinned), withTemplate: template)
            }
            transcript.append("export-erased \(bundle.status) \(pinned)")
            // A closure with an intervention still running: the daemon's InterventionEnded follows
            // it, named in `automaticEntries` (issue 19).
            let other = "BNCLRA80A41F052Z"
            let opened = try daemon.call(
                "/v1/persons/events", method: "POST",
                body: DomainEndToEndTests.body(
                    """
                    {"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1980,"sex":"F","citizenship":"italian","comuneOfResidence":"F052"}},
                    {"type":"CaseOpened","occurredAt":"2026-01-12","data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},
                    {"type":"TakenInCharge","occurredAt":"2026-01-15","data":{"date":"2026-01-15","basis":"request"}},
                    {"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["casa"]}},
                    {"type":"PlanSigned","occurredAt":"2026-01-22","data":{"plan":4,"date":"2026-01-22","signatories":["interessata"]}},
                    {"type":"InterventionRequested","occurredAt":"2026-01-23","data":{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps"}}
                    """, person: other),
                as: Self.writer)
            try #require(opened.status == 201, "\(opened.body)")
            try pin(
                "record-closure", "/v1/persons/events", method: "POST",
                body: DomainEndToEndTests.body(
                    #"{"type":"CaseClosed","occurredAt":"2026-06-30","data":{"reason":"needs_resolved","date":"2026-06-30"}}"#,
                    person: other),
                as: Self.writer)
            // A legal hold (issue 21): the register of holds in force, and the erasure it refuses.
            let held = try daemon.call(
                "/v1/persons/events", method: "POST",
                body: DomainEndToEndTests.body(
                    #"{"type":"LegalHoldPlaced","occurredAt":"2026-07-01","data":{"ground":"litigation","reference":"R.G. 812/2026","authorisedBy":"op-7"}}"#,
                    person: other),
                as: Self.writer)
            try #require(held.status == 201, "\(held.body)")
            let afterHold = try daemon.json("/v1/health/ready")["entries"] as? Int ?? 1
            try pin("holds", "/v1/compliance/holds?reflects=\(afterHold - 1)", as: Self.auditor)
            try pin(
                "erasure-held", "/v1/persons/erasure", method: "POST",
                body: #"{"person":"\#(other)","legalGround":"retention_ended","reference":"massimario 2026"}"#)
            // Retention (issue 21): on a day far ahead the closed, held person is due and not erased.
            try pin("retention-due", "/v1/retention/due?date=2040-01-01", as: Self.auditor)
            try pin("retention-erasures", "/v1/retention/erasures", method: "POST", body: #"{"date":"2040-01-01","scan":50}"#)
            // The SIUSS export (issue 21): its figures and files, then the register that reflects it.
            let export = try pin("siuss-export", "/v1/siuss/exports", method: "POST", body: #"{"from":"2026-01-01","to":"2026-06-30"}"#)
            let exported = try JSONSerialization.jsonObject(with: Data(export.body.utf8)) as? [String: Any]
            let position = try #require(exported?["position"] as? Int)
            try pin("siuss-register", "/v1/siuss/register?limit=3&reflects=\(position)", as: Self.auditor)
            try pin("siuss-export-again", "/v1/siuss/exports", method: "POST", body: #"{"from":"2026-01-01","to":"2026-06-30"}"#)
            // Promotion by hand (issue 23): a primary has nothing to promote.
            try pin("promote-primary", "/v1/admin/promote", method: "POST", body: "{}")
        }
        let actual = transcript.joined(separator: "\n")
        try? actual.write(toFile: "/tmp/fascicolo-response-bytes.txt", atomically: true, encoding: .utf8)
        let expected = Self.expected.split(separator: "\n").map(String.init)
        for (index, line) in transcript.enumerated() {
            #expect(index < expected.count && line == expected[index], "answer \(index + 1) changed:\n\(line)")
        }
        #expect(transcript.count == expected.count)
    }

    /// The body with what changes from run to run replaced by `~`: hex of 16 or more digits
    /// (hashes, pseudonyms), the key id, base64 of 40 or more characters (signatures, signed bytes,
    /// proofs), timestamps, the ages that depend on today, a query's own position and lag, and
    /// the members named in `volatile`.
    static func normalized(_ body: String, volatile: [String]) -> String {
        var text = body
        func replace(_ pattern: String, _ template: String) {
            let regex = try! NSRegularExpression(pattern: pattern)
            text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }
        replace(#""keyId":"[0-9a-f]+""#, "\"keyId\":~")
        replace(#"[0-9a-f]{16,}"#, "~")
        replace(#"[A-Za-z0-9+/]{40,}={0,2}"#, "~")
        replace(#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, "~")
        replace(#""(daysSinceTakenInCharge|reviewOverdue)":[a-z0-9]+"#, "\"$1\":~")
        replace(#","position":\d+,"lag":\d+\}$"#, ",\"position\":~,\"lag\":~}")
        for key in volatile { replace("\"\(key)\":(\\d+|\"[^\"]*\")", "\"\(key)\":~") }
        return text
    }

    static let expected = #"""
        live 200 {"status":"live"}
        version 200 {"version":"0.1.0","api":"v1"}
        keys 200 {"origin":~,"verifierKey":"fascicolo.~","publicKey":"~","keyId":~,"firstKey":"fascicolo.~","chain":[{"verifierKey":"fascicolo.~","keyId":~,"signsFrom":0}],"rotationCheckpoints":[]}
        append 201 {"positions":[0],"streamVersions":[1],"leafHashes":["~"],"deduplicated":false,"receipts":[{"position":0,"leafHash":"~","signedBytes":"~","signature":"~"}]}
        append-again 200 {"positions":[0],"streamVersions":[1],"leafHashes":["~"],"deduplicated":true}
        append-malformed 400 {"type":"https://fascicolo.invalid/problems/malformed_request","title":"Bad Request","status":400,"code":"malformed_request","detail":"the body is not an append: an unknown member (the members are events, expectedVersion, idempotencyKey) (at byte 38); expected {\"events\":[{\"type\":…,\"data\":…}], \"expectedVersion\"?, \"idempotencyKey\"?}"}
        append-conflict 409 {"type":"https://fascicolo.invalid/problems/wrong_expected_version","title":"Conflict","status":409,"code":"wrong_expected_version","detail":"the stream is at version 1, expected no stream"}
        stream 200 {"entries":[{"position":0,"stream":"case-1","streamVersion":1,"type":"CaseOpened","recordedAt":"~","author":"uid:0/unnamed","data":{"ambito":"AMB-03", "n":[1.5e3,-0,"\u00e8"]},"keyId":~,"signature":"~","leafHash":"~"}]}
        record 201 {"person":"~","stream":"person:~","codeTable":"2026.2","positions":[1],"streamVersions":[1],"leafHashes":["~"],"deduplicated":false}
        case-file 200 {"person":"~","stream":"person:~","version":14,"state":{"phase":"taken_in_charge","erased":false,"episodes":1,"ambito":"potenza","caseManager":"op-7","takenInChargeOn":"2026-01-15","daysSinceTakenInCharge":~,"nextReviewDue":"2026-03-01","reviewOverdue":~,"hasPreliminaryAnalysis":false,"hasInDepthAssessment":false,"signedPlan":true,"openInterventions":[7]},"entries":[{"version":9,"position":9,"recordedAt":"~","author":"uid:4343/unnamed","type":"ServiceDelivered","label":"erogazione della prestazione","schema":2,"occurredAt":"2026-01-26","codeTable":"2026.2","purpose":"interventions","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"intervention":7,"date":"2026-01-26","minutes":60,"amount":120.50},"personalData":"none"},{"version":10,"position":10,"recordedAt":"~","author":"uid:4343/unnamed","type":"ServiceDelivered","label":"erogazione della prestazione","schema":2,"occurredAt":"2026-01-27","codeTable":"2026.2","purpose":"interventions","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"intervention":7,"date":"2026-01-27","minutes":30,"amount":30.25},"personalData":"none","voidedBy":12},{"version":11,"position":11,"recordedAt":"~","author":"uid:4343/unnamed","type":"ReviewHeld","label":"monitoraggio / verifica","schema":1,"occurredAt":"2026-02-01","codeTable":"2026.2","purpose":"monitoring","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"date":"2026-02-01","nextReviewDue":"2026-03-01","findings":"Mario lavora part-time"},"personalData":"included","rectifiedBy":[13]},{"version":12,"position":12,"recordedAt":"~","author":"uid:4343/unnamed","type":"Voided","label":"annullamento","schema":1,"occurredAt":"2026-02-02","codeTable":"2026.2","purpose":"data_subject_rights","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"target":10,"reason":"erogazione registrata due volte","authorisingAct":"det. 4/2026"},"personalData":"none"},{"version":13,"position":13,"recordedAt":"~","author":"uid:4343/unnamed","type":"Rectified","label":"rettifica","schema":1,"occurredAt":"2026-02-02","codeTable":"2026.2","purpose":"data_subject_rights","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"target":11,"field":"findings","newValue":"Mario lavora a tempo pieno","reason":"errore di trascrizione","authorisedBy":"op-7"},"personalData":"included"},{"version":14,"position":14,"recordedAt":"~","author":"uid:4343/unnamed","type":"Restricted","label":"limitazione del trattamento","schema":1,"occurredAt":"2026-02-03","codeTable":"2026.2","purpose":"data_subject_rights","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"target":2,"ground":"accuracy_contested"},"personalData":"none"}]}
        case-file-restricted 200 {"person":"~","stream":"person:~","version":14,"state":{"phase":"taken_in_charge","erased":false,"episodes":1,"ambito":"potenza","caseManager":"op-7","takenInChargeOn":"2026-01-15","daysSinceTakenInCharge":~,"nextReviewDue":"2026-03-01","reviewOverdue":~,"hasPreliminaryAnalysis":false,"hasInDepthAssessment":false,"signedPlan":true,"openInterventions":[7]},"entries":[{"version":1,"position":1,"recordedAt":"~","author":"uid:4343/unnamed","type":"PersonRegistered","label":"registrazione anagrafica","schema":1,"occurredAt":"2026-01-10","codeTable":"2026.2","purpose":"registry","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Mario","familyName":"Rossi","address":"Via Pretoria 12, Potenza"},"personalData":"included"},{"version":2,"position":2,"recordedAt":"~","author":"uid:4343/unnamed","type":"CaseOpened","label":"apertura del fascicolo","schema":1,"occurredAt":"2026-01-12","codeTable":"2026.2","purpose":"case_management","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"},"personalData":"none","restrictedBy":14}]}
        timeline 200 {"person":"~","entries":14,"caseFiles":1,"erased":false,"rows":[{"version":1,"position":1,"type":"PersonRegistered","recordedAt":"~","caseFile":0,"occurredAt":"2026-01-10","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","givenName":"Mario","familyName":"Rossi","address":"Via Pretoria 12, Potenza"},"personalData":"included"},{"version":2,"position":2,"type":"CaseOpened","recordedAt":"~","caseFile":1,"occurredAt":"2026-01-12","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"},"restrictedBy":14,"personalData":"none"},{"version":3,"position":3,"type":"CaseManagerAssigned","recordedAt":"~","caseFile":1,"occurredAt":"2026-01-12","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"operator":"op-7"},"personalData":"none"}],"position":~,"lag":~}
        timeline-later 200 {"person":"~","entries":14,"caseFiles":1,"erased":false,"rows":[{"version":10,"position":10,"type":"ServiceDelivered","recordedAt":"~","caseFile":1,"occurredAt":"2026-01-27","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"intervention":7,"date":"2026-01-27","minutes":30,"amount":30.25},"voidedBy":12,"personalData":"none"},{"version":11,"position":11,"type":"ReviewHeld","recordedAt":"~","caseFile":1,"occurredAt":"2026-02-01","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"date":"2026-02-01","nextReviewDue":"2026-03-01","findings":"Mario lavora part-time"},"rectifiedBy":[13],"personalData":"included"},{"version":12,"position":12,"type":"Voided","recordedAt":"~","caseFile":1,"occurredAt":"2026-02-02","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"target":10,"reason":"erogazione registrata due volte","authorisingAct":"det. 4/2026"},"personalData":"none"},{"version":13,"position":13,"type":"Rectified","recordedAt":"~","caseFile":1,"occurredAt":"2026-02-02","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"target":11,"field":"findings","reason":"errore di trascrizione","authorisedBy":"op-7","newValue":"Mario lavora a tempo pieno"},"personalData":"included"},{"version":14,"position":14,"type":"Restricted","recordedAt":"~","caseFile":1,"occurredAt":"2026-02-03","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"target":2,"ground":"accuracy_contested"},"personalData":"none"}],"position":~,"lag":~}
        case-state 200 {"person":"~","state":{"phase":"taken_in_charge","ambito":"potenza","caseManager":"op-7","takenInChargeOn":"2026-01-15","nextReviewDue":"2026-03-01","caseFiles":1,"erased":false,"hasPreliminaryAnalysis":false,"hasInDepthAssessment":false,"signedPlan":true,"openInterventions":[7],"daysSinceTakenInCharge":~,"reviewOverdue":~},"position":~,"lag":~}
        caseload 200 {"by":"operator","rows":[{"id":"op-7","open":1,"takenInCharge":1,"reviewsOverdue":1}],"position":~,"lag":~}
        interventions 200 {"rows":[{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps","ambito":"potenza","month":"2026-01","requested":1,"started":1,"ended":0,"deliveries":1,"minutes":60,"amount":"120.50"}],"position":~,"lag":~}
        indicators 200 {"indicators":{"caseFiles":"<5","takenInCharge":"<5","daysFromFirstContactToPresaInCarico":{"caseFiles":"<5","median":null,"p90":null},"daysFromFirstContactToSignedPlan":{"caseFiles":"<5","median":null,"p90":null},"shareWithAssessment":null,"shareWithSignedPlan":null,"closureReasons":{},"outcomes":{},"goalsClosed":"<5","goalsAchieved":"<5","suppressedBelow":5},"position":~,"lag":~}
        caseload-region 200 {"by":"ambito","rows":[{"id":"potenza","open":"<5","takenInCharge":"<5","reviewsOverdue":"<5"}],"position":~,"lag":~}
        interventions-region 200 {"rows":[{"code":"SAD","provider":"Coop Aurora","fundingLine":"fnps","ambito":"potenza","month":"2026-01","requested":"<5","started":"<5","ended":"<5","deliveries":"<5","minutes":null,"amount":null}],"position":~,"lag":~}
        accesses 200 {"person":"~","accesses":[{"position":15,"at":"~","author":"uid:4343/unnamed","role":"writer","what":"case_file","purpose":"case_work","entries":6,"operator":"op-7"},{"position":16,"at":"~","author":"uid:4343/unnamed","role":"writer","what":"case_file","purpose":"case_work","entries":2,"operator":"op-7"},{"position":17,"at":"~","author":"uid:4343/unnamed","role":"writer","what":"timeline","purpose":"case_work","entries":3,"operator":"op-7"}],"position":~,"lag":~}
        voids 200 {"register":"voids","rows":[{"position":12,"at":"~","person":"~","version":12,"type":"Voided","author":"uid:4343/unnamed","operator":"op-7","data":{"target":10,"reason":"erogazione registrata due volte","authorisingAct":"det. 4/2026"}}],"position":~,"lag":~}
        restrictions 200 {"register":"restrictions","rows":[{"position":14,"at":"~","person":"~","version":14,"type":"Restricted","author":"uid:4343/unnamed","operator":"op-7","data":{"target":2,"ground":"accuracy_contested"}}],"position":~,"lag":~}
        projection 200 {"name":"cases","version":1,"state":"live","servingSlot":"a","position":~,"logSize":~,"lag":~,"failure":null,"build":null,"lastRebuild":{"version":1,"position":~,"digest":"~","logRoot":"~","startedAt":"~","finishedAt":"~","entriesPerSecond":~}}
        projections 200 {"projections":[{"name":"timeline","version":3,"state":"live","servingSlot":"a","position":~,"logSize":~,"lag":~,"failure":null,"build":null,"lastRebuild":{"version":3,"position":~,"digest":"~","logRoot":"~","startedAt":"~","finishedAt":"~","entriesPerSecond":~}},{"name":"cases","version":1,"state":"live","servingSlot":"a","position":~,"logSize":~,"lag":~,"failure":null,"build":null,"lastRebuild":{"version":1,"position":~,"digest":"~","logRoot":"~","startedAt":"~","finishedAt":"~","entriesPerSecond":~}},{"name":"interventions","version":2,"state":"live","servingSlot":"a","position":~,"logSize":~,"lag":~,"failure":null,"build":null,"lastRebuild":{"version":2,"position":~,"digest":"~","logRoot":"~","startedAt":"~","finishedAt":"~","entriesPerSecond":~}},{"name":"compliance","version":3,"state":"live","servingSlot":"a","position":~,"logSize":~,"lag":~,"failure":null,"build":null,"lastRebuild":{"version":3,"position":~,"digest":"~","logRoot":"~","startedAt":"~","finishedAt":"~","entriesPerSecond":~}},{"name":"households","version":3,"state":"live","servingSlot":"a","position":~,"logSize":~,"lag":~,"failure":null,"build":null,"lastRebuild":{"version":3,"position":~,"digest":"~","logRoot":"~","startedAt":"~","finishedAt":"~","entriesPerSecond":~}},{"name":"siuss-register","version":1,"state":"live","servingSlot":"a","position":~,"logSize":~,"lag":~,"failure":null,"build":null,"lastRebuild":{"version":1,"position":~,"digest":"~","logRoot":"~","startedAt":"~","finishedAt":"~","entriesPerSecond":~}}]}
        digest 200 {"name":"cases","digest":"~","position":~}
        checkpoints 200 {"checkpoints":[{"size":21,"root":"~","streamHeads":"~","timestamp":~}],"next":null}
        checkpoint-size 200 fascicolo.invalid/ledger⏎21⏎~⏎fascicolo/stream-heads/v1 ~⏎⏎— fascicolo.invalid/ledger ~⏎— fascicolo.invalid/ledger ~⏎
        checkpoint-missing 404 {"type":"https://fascicolo.invalid/problems/not_found","title":"Not Found","status":404,"code":"not_found","detail":"no checkpoint of 1021 entries is stored"}
        log 200 {"entries":[{"position":0,"stream":"case-1","streamVersion":1,"type":"CaseOpened","recordedAt":"~","author":"uid:0/unnamed","data":{"ambito":"AMB-03", "n":[1.5e3,-0,"\u00e8"]},"keyId":~,"signature":"~","leafHash":"~"},{"position":1,"stream":"person:~","streamVersion":1,"type":"PersonRegistered","recordedAt":"~","author":"uid:4343/unnamed","data":null,"withheld":"person_data","keyId":~,"signature":"~","leafHash":"~"},{"position":2,"stream":"person:~","streamVersion":2,"type":"CaseOpened","recordedAt":"~","author":"uid:4343/unnamed","data":null,"withheld":"person_data","keyId":~,"signature":"~","leafHash":"~"},{"position":3,"stream":"person:~","streamVersion":3,"type":"CaseManagerAssigned","recordedAt":"~","author":"uid:4343/unnamed","data":null,"withheld":"person_data","keyId":~,"signature":"~","leafHash":"~"}]}
        log-signed 200 {"entries":[{"position":0,"stream":"case-1","streamVersion":1,"type":"CaseOpened","recordedAt":"~","author":"uid:0/unnamed","data":{"ambito":"AMB-03", "n":[1.5e3,-0,"\u00e8"]},"keyId":~,"signature":"~","leafHash":"~","signedBytes":"~"},{"position":1,"stream":"person:~","streamVersion":1,"type":"PersonRegistered","recordedAt":"~","author":"uid:4343/unnamed","data":null,"withheld":"person_data","keyId":~,"signature":"~","leafHash":"~"}]}
        log-recorded 200 {"entries":[{"position":2,"stream":"person:~","streamVersion":2,"type":"CaseOpened","recordedAt":"~","author":"uid:4343/unnamed","data":{"schema":1,"occurredAt":"2026-01-12","codeTable":"2026.2","purpose":"case_management","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"}},"keyId":~,"signature":"~","leafHash":"~"},{"position":3,"stream":"person:~","streamVersion":3,"type":"CaseManagerAssigned","recordedAt":"~","author":"uid:4343/unnamed","data":{"schema":1,"occurredAt":"2026-01-12","codeTable":"2026.2","purpose":"case_management","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"operator":"op-7"}},"keyId":~,"signature":"~","leafHash":"~"}]}
        entry 200 {"position":0,"stream":"case-1","streamVersion":1,"type":"CaseOpened","recordedAt":"~","author":"uid:0/unnamed","data":{"ambito":"AMB-03", "n":[1.5e3,-0,"\u00e8"]},"keyId":~,"signature":"~","leafHash":"~","signedBytes":"~"}
        inclusion 200 {"position":1,"treeSize":5,"leafHash":"~","proof":["~","~","~"]}
        consistency 200 {"from":2,"to":5,"proof":["~","~"]}
        ready 200 {"status":"ready","entries":22}
        replication-status 200 {"role":"primary","entries":22,"followers":[]}
        replication-problem 400 {"type":"https://fascicolo.invalid/problems/invalid_parameter","title":"Bad Request","status":400,"code":"invalid_parameter","detail":"wait is 0 to 30000 milliseconds","field":"wait"}
        catalogue-head 200 {"types":[{"type":"PersonRegistered","label":"registrazione anagrafica","version":1,"purpose":"registry","legalBasis":"GDPR art. 6(1)(e) and 9(2)(g)-(h); D.Lgs 147/2017 artt. 5-7; L. 328/2000","retention":"case_record","correction":"rectified","judicial":false,"writtenBy":"client","fields":[{"name":"birthYear","kind":"integer","required":true,"personal":true,"minimum":1900,"maximum":2100},{"name":"sex","kind":"choice","required":true,"personal":true,"values":["F","M","X"]},{"name":"citizenship","kind":"choice","required":true,"personal":true,"values":["italian","eu","non_eu"
        problem-parameter 400 {"type":"https://fascicolo.invalid/problems/invalid_parameter","title":"Bad Request","status":400,"code":"invalid_parameter","detail":"by is operator or ambito","field":"by"}
        problem-path 422 {"type":"https://fascicolo.invalid/problems/schema_violation","title":"Unprocessable Content","status":422,"code":"schema_violation","detail":"provider is required for InterventionRequested","field":"events[0].data.provider"}
        problem-unknown 404 {"type":"https://fascicolo.invalid/problems/not_found","title":"Not Found","status":404,"code":"not_found","detail":"no such endpoint (GET /v1/openapi.yaml lists them)"}
        problem-role 403 {"type":"https://fascicolo.invalid/problems/forbidden","title":"Forbidden","status":403,"code":"forbidden","detail":"this needs one of the roles admin, auditor"}
        reads 200 {"person":"~","from":~,"to":~,"reads":[{"at":"~","localTime":~,"operator":"op-7","service":"unnamed","role":"writer","roleLabel":"operatore dei servizi sociali","what":"reads","whatLabel":"l'elenco di chi ha consultato il fascicolo","purpose":"case_work","purposeLabel":"lavoro sociale sul caso","position":22},{"at":"~","localTime":~,"operator":null,"service":"unnamed","role":"admin","roleLabel":"amministratore del sistema","what":"log","whatLabel":"registrazioni del fascicolo, nel registro generale (controllo)","purpose":"internal audit 2026/15","purposeLabel":"internal audit 2026/15","position":21},{"at":"~","localTime":~,"operator":null,"service":"unnamed","role":"auditor","roleLabel":"addetto al controllo (protezione dei dati)","what":"access_log","whatLabel":"l'elenco degli accessi al fascicolo (controllo)","purpose":"internal audit 2026/15","purposeLabel":"internal audit 2026/15","position":20}],"next":20,"position":~,"lag":~}
        household-none 404 {"type":"https://fascicolo.invalid/problems/household_not_found","title":"Not Found","status":404,"code":"household_not_found","detail":"this person's registration names no household"}
        household 200 {"person":"~","rows":[{"person":"~","member":"household","version":1,"position":23,"type":"PersonRegistered","recordedAt":"~","caseFile":0,"occurredAt":"2026-01-10","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{},"personalData":"not_included"},{"person":"~","member":"household","version":2,"position":24,"type":"CaseOpened","recordedAt":"~","caseFile":1,"occurredAt":"2026-01-12","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{"area":"poverty","ente":"Comune di Potenza","ambito":"potenza"},"personalData":"none"},{"person":"~","member":"self","version":1,"position":25,"type":"PersonRegistered","recordedAt":"~","caseFile":0,"occurredAt":"2026-01-10","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{},"personalData":"not_included"}],"next":26,"position":~,"lag":~}
        erasure 201 {"person":"~","stream":"person:~","codeTable":"2026.2","positions":[29],"streamVersions":[15],"leafHashes":["~"],"deduplicated":false}
        case-file-erased 200 {"person":"~","stream":"person:~","version":15,"state":{"phase":"taken_in_charge","erased":true,"episodes":1,"ambito":"potenza","caseManager":"op-7","takenInChargeOn":"2026-01-15","daysSinceTakenInCharge":~,"nextReviewDue":"2026-03-01","reviewOverdue":~,"hasPreliminaryAnalysis":false,"hasInDepthAssessment":false,"signedPlan":true,"openInterventions":[7]},"entries":[{"version":1,"position":1,"recordedAt":"~","author":"uid:4343/unnamed","type":"PersonRegistered","label":"registrazione anagrafica","schema":1,"occurredAt":"2026-01-10","codeTable":"2026.2","purpose":"registry","actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"},"data":{},"personalData":"erased"}]}
        reads-erased 410 {"type":"https://fascicolo.invalid/problems/person_erased","title":"Gone","status":410,"code":"person_erased","detail":"this person's data were erased; the record of who read them is kept for accountability and given by the data protection officer"}
        export-erased 200 {"format":"fascicolo-person-bundle/1","verifierKey":"fascicolo.~","checkpoint":"fascicolo.invalid/ledger\n32\~\nfascicolo/stream-heads/v1 ~\n\n— fascicolo.invalid/ledger ~\n— fascicolo.invalid/ledger ~\n","keyRotations":[],"person":"~","exportedAt":"~","purpose":"internal audit 2026/15","dataKey":null,"streams":[{"stream":"person:~","head":{"version":15,"position":29},"headProof":{"siblings":~,"terminal":"head"},"entries":[{"position":1,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":2,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":3,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":4,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":5,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":6,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":7,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":8,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":9,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":10,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":11,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":12,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":13,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":14,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":29,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]}]},{"stream":"access:~","head":{"version":10,"position":31},"headProof":{"siblings":~,"terminal":"head"},"entries":[{"position":15,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":16,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":17,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":18,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":19,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":20,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":21,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":22,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":30,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]},{"position":31,"signedBytes":"~","signature":"~","inclusionProof":["~","~","~","~","~"]}]}]}
        record-closure 201 {"person":"~","stream":"person:~","codeTable":"2026.2","positions":[38,39],"streamVersions":[7,8],"leafHashes":["~","~"],"deduplicated":false,"automaticEntries":[39]}
        holds 200 {"more":false,"holds":[{"position":40,"at":"~","person":"~","version":9,"type":"LegalHoldPlaced","author":"uid:4343/unnamed","operator":"op-7","data":{"ground":"litigation","reference":"R.G. 812/2026","authorisedBy":"op-7"}}],"position":~,"lag":~}
        erasure-held 409 {"type":"https://fascicolo.invalid/problems/legal_hold","title":"Conflict","status":409,"code":"legal_hold","detail":"the person's data are under a legal hold (ground litigation, reference R.G. 812/2026); they cannot be erased by a request or by retention until the hold is released"}
        retention-due 200 {"date":"2040-01-01","schedule":"2026.1","due":[{"person":"~","class":"case_record","rule":"default","from":"case_closed","startedOn":"2026-06-30","dueOn":"2036-06-30","legalSource":"massimario di scarto dell'Ambito (fascicoli dei servizi sociali: 10 anni dalla chiusura); GDPR art. 5(1)(e)","heldBy":{"ground":"litigation","reference":"R.G. 812/2026"}}],"scanned":4,"next":null}
        retention-erasures 200 {"date":"2040-01-01","schedule":"2026.1","erased":[],"held":1,"scanned":4,"next":null}
        siuss-export 201 {"position":41,"parts":1,"from":"2026-01-01","to":"2026-06-30","layout":"2026.1","insertions":0,"cancellations":0,"persons":0,"withoutCodiceFiscale":0,"files":[{"name":"SIUSS_PS_PSA.csv","sha256":"~","records":0,"content":"TIPO_OPERAZIONE;ID_RECORD;CODICE_ENTE;CODICE_FISCALE_BENEFICIARIO;CODICE_PRESTAZIONE;CODICE_PRESTAZIONE_LOCALE;FONTE_FINANZIAMENTO;PERIODO_RIFERIMENTO;DATA_INIZIO;DATA_FINE;NUMERO_EROGAZIONI;MINUTI_EROGATI;IMPORTO;VALORE_ISEE\n"},{"name":"SIUSS_SINBA.csv","sha256":"~","records":0,"content":"TIPO_OPERAZIONE;ID_RECORD;CODICE_ENTE;CODICE_FISCALE_MINORE;ANNO_NASCITA;SESSO;DATA_VALUTAZIONE;STRUMENTO_VALUTAZIONE;DATA_PROGETTO;AREA_UTENZA\n"},{"name":"SIUSS_SINA.csv","sha256":"~","records":0,"content":"TIPO_OPERAZIONE;ID_RECORD;CODICE_ENTE;CODICE_FISCALE_BENEFICIARIO;ANNO_NASCITA;SESSO;DATA_VALUTAZIONE;STRUMENTO_VALUTAZIONE;DATA_PROGETTO;AREA_UTENZA\n"},{"name":"SIUSS_SIP.csv","sha256":"~","records":0,"content":"TIPO_OPERAZIONE;ID_RECORD;CODICE_ENTE;CODICE_FISCALE_BENEFICIARIO;ANNO_NASCITA;SESSO;DATA_VALUTAZIONE;STRUMENTO_VALUTAZIONE;DATA_PROGETTO;AREA_UTENZA\n"}]}
        siuss-register 200 {"rows":[{"position":6,"kind":"plan","person":"~","sent":false,"standing":0,"insertions":0,"cancellations":0},{"position":7,"kind":"prestazione","person":"~","sent":false,"standing":0,"insertions":0,"cancellations":0},{"position":36,"kind":"plan","person":"~","sent":false,"standing":0,"insertions":0,"cancellations":0}],"position":~,"lag":~}
        siuss-export-again 201 {"position":42,"parts":1,"from":"2026-01-01","to":"2026-06-30","layout":"2026.1","insertions":0,"cancellations":0,"persons":0,"withoutCodiceFiscale":0,"files":[{"name":"SIUSS_PS_PSA.csv","sha256":"~","records":0,"content":"TIPO_OPERAZIONE;ID_RECORD;CODICE_ENTE;CODICE_FISCALE_BENEFICIARIO;CODICE_PRESTAZIONE;CODICE_PRESTAZIONE_LOCALE;FONTE_FINANZIAMENTO;PERIODO_RIFERIMENTO;DATA_INIZIO;DATA_FINE;NUMERO_EROGAZIONI;MINUTI_EROGATI;IMPORTO;VALORE_ISEE\n"},{"name":"SIUSS_SINBA.csv","sha256":"~","records":0,"content":"TIPO_OPERAZIONE;ID_RECORD;CODICE_ENTE;CODICE_FISCALE_MINORE;ANNO_NASCITA;SESSO;DATA_VALUTAZIONE;STRUMENTO_VALUTAZIONE;DATA_PROGETTO;AREA_UTENZA\n"},{"name":"SIUSS_SINA.csv","sha256":"~","records":0,"content":"TIPO_OPERAZIONE;ID_RECORD;CODICE_ENTE;CODICE_FISCALE_BENEFICIARIO;ANNO_NASCITA;SESSO;DATA_VALUTAZIONE;STRUMENTO_VALUTAZIONE;DATA_PROGETTO;AREA_UTENZA\n"},{"name":"SIUSS_SIP.csv","sha256":"~","records":0,"content":"TIPO_OPERAZIONE;ID_RECORD;CODICE_ENTE;CODICE_FISCALE_BENEFICIARIO;ANNO_NASCITA;SESSO;DATA_VALUTAZIONE;STRUMENTO_VALUTAZIONE;DATA_PROGETTO;AREA_UTENZA\n"}]}
        promote-primary 409 {"type":"https://fascicolo.invalid/problems/not_a_follower","title":"Conflict","status":409,"code":"not_a_follower","detail":"this daemon follows no primary: there is nothing to promote"}
        """#
}
