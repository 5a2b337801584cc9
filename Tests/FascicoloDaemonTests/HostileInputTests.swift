import FascicoloTesting
import Foundation
import Glibc
import Testing

/// Hostile input against the real daemon, table-driven: for every refused request, its status
/// and problem code, that the answer never repeats the identifier or the client's text, that the
/// log did not grow, and that the daemon still answers. At the end, no file of the data
/// directory holds a codice fiscale in clear.
@Suite struct HostileInputTests {
    static let codiceFiscale = "RSSMRA85T10A562S"
    /// The same person's code with a wrong check character, lower case, omocodia: the structure counts.
    static let shapes = ["RSSMRA85T10A562X", "case-rssmra85t10a562s", "RSSMRA85T10A5MNS", "STP1234567890123", "eni1234567890123"]
    static let actor = #""actor":{"operator":"op-7","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"}"#
    static let registration =
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"G942","familyName":"Rossi"}}"#

    struct Case: CustomStringConvertible {
        var name: String
        var method = "GET"
        var path: String
        var body: String?
        var contentType = "application/json"
        var headers: [String] = []
        var status: Int
        var code: String
        var field: String?
        /// Text of the request the answer must not repeat.
        var secret: String?
        var description: String { name }
    }

    static func person(_ events: String, extra: String = "", person: String = codiceFiscale) -> String {
        #"{"person":"\#(person)",\#(actor),"events":[\#(events)]\#(extra)}"#
    }

    static var cases: [Case] {
        var cases: [Case] = []
        // No codice fiscale, STP or ENI code in clear, anywhere.
        for (index, shape) in shapes.enumerated() {
            cases.append(
                Case(
                    name: "stream name \(index)", method: "POST", path: "/v1/streams/\(shape)/events",
                    body: #"{"events":[{"type":"X","data":1}]}"#, status: 422, code: "identifier_in_clear", field: "url", secret: shape))
            cases.append(
                Case(
                    name: "generic data \(index)", method: "POST", path: "/v1/streams/case-h/events",
                    body: #"{"events":[{"type":"X","data":{"note":"utente \#(shape) residente"}}]}"#,
                    status: 422, code: "identifier_in_clear", field: "events[0].data", secret: shape))
        }
        cases += [
            Case(
                name: "percent-encoded stream name", method: "POST", path: "/v1/streams/%52SSMRA85T10A562S/events",
                body: #"{"events":[{"type":"X","data":1}]}"#, status: 422, code: "identifier_in_clear", field: "url"),
            Case(
                name: "stream read", path: "/v1/streams/\(codiceFiscale)/events", status: 422, code: "identifier_in_clear",
                field: "url", secret: codiceFiscale),
            Case(
                name: "person in a URL", path: "/v1/persons/\(codiceFiscale)/case-file", status: 422, code: "identifier_in_clear",
                secret: codiceFiscale),
            Case(
                name: "query value", path: "/v1/interventions?provider=\(codiceFiscale)", status: 422, code: "identifier_in_clear",
                secret: codiceFiscale),
            Case(
                name: "escaped in data", method: "POST", path: "/v1/streams/case-h/events",
                body: #"{"events":[{"type":"X","data":{"a":["\u0052SSMRA85T10A562S"]}}]}"#, status: 422, code: "identifier_in_clear",
                field: "events[0].data"),
            Case(
                name: "member name", method: "POST", path: "/v1/streams/case-h/events",
                body: #"{"events":[{"type":"X","data":{"RSSMRA85T10A562S":1}}]}"#, status: 422, code: "identifier_in_clear",
                field: "events[0].data", secret: codiceFiscale),
            Case(
                name: "generic idempotency key", method: "POST", path: "/v1/streams/case-h/events",
                body: #"{"events":[{"type":"X","data":1}],"idempotencyKey":"req-RSSMRA85T10A562S"}"#, status: 422,
                code: "identifier_in_clear", field: "idempotencyKey", secret: codiceFiscale),
            Case(
                name: "purpose header", path: "/v1/persons/case-file",
                headers: [
                    "Fascicolo-Person: \(codiceFiscale)",
                    "Fascicolo-Purpose: richiesta di RSSMRA85T10A562S",
                ], status: 422, code: "identifier_in_clear", field: "Fascicolo-Purpose"),
            Case(
                name: "operator header", path: "/v1/persons/case-file",
                headers: [
                    "Fascicolo-Person: \(codiceFiscale)",
                    "Fascicolo-Operator: \(codiceFiscale)",
                ], status: 422, code: "identifier_in_clear", field: "Fascicolo-Operator"),
            Case(
                name: "a header of the client's own", path: "/v1/health/live", headers: ["X-Note: \(codiceFiscale)"],
                status: 422, code: "identifier_in_clear", field: "headers", secret: "x-note"),
            Case(
                name: "domain idempotency key", method: "POST", path: "/v1/persons/events",
                body: person(registration, extra: #","idempotencyKey":"RSSMRA85T10A562S""#), status: 422, code: "identifier_in_clear",
                field: "idempotencyKey", secret: "\"RSSMRA85T10A562S"),
            Case(
                name: "actor operator", method: "POST", path: "/v1/persons/events",
                body: person(registration).replacingOccurrences(of: "op-7", with: codiceFiscale), status: 422,
                code: "identifier_in_clear", field: "actor.operator"),
            Case(
                name: "clear field", method: "POST", path: "/v1/persons/events",
                body: person(
                    #"{"type":"InterventionRequested","occurredAt":"2026-01-11","data":{"code":"SAD","provider":"RSSMRA85T10A562S","fundingLine":"fnps"}}"#
                ),
                status: 422, code: "identifier_in_clear", field: "events[0].data.provider"),
            Case(
                name: "household", method: "POST", path: "/v1/persons/events",
                body: person(registration.replacingOccurrences(of: #""familyName":"Rossi""#, with: #""household":"VRDLGU70A41F052O""#)),
                status: 422, code: "identifier_in_clear", field: "events[0].data.household"),
            Case(
                name: "erasure reference", method: "POST", path: "/v1/persons/erasure",
                body: #"{"person":"RSSMRA85T10A562S","legalGround":"art17_request","reference":"istanza RSSMRA85T10A562S"}"#,
                status: 422, code: "identifier_in_clear", field: "reference"),
            Case(
                name: "a bad receipts value", method: "POST", path: "/v1/streams/case-h/events?receipts=yes",
                body: #"{"events":[{"type":"X","data":1}]}"#, status: 400, code: "invalid_parameter", field: "receipts"),
            // Strict JSON and media types.
            Case(
                name: "duplicate member", method: "POST", path: "/v1/streams/case-h/events",
                body: #"{"events":[{"type":"X","data":{"a":1,"a":2}}]}"#, status: 400, code: "malformed_request"),
            Case(
                name: "duplicate member spelled with an escape", method: "POST", path: "/v1/streams/case-h/events",
                body: #"{"events":[{"type":"X","data":{"a":1,"\u0061":2}}]}"#, status: 400, code: "malformed_request"),
            Case(
                name: "jsonp", method: "POST", path: "/v1/streams/case-h/events", body: #"{"events":[{"type":"X","data":1}]}"#,
                contentType: "application/jsonp", status: 415, code: "unsupported_media_type"),
            Case(
                name: "json-patch", method: "POST", path: "/v1/streams/case-h/events", body: #"{"events":[{"type":"X","data":1}]}"#,
                contentType: "application/json-patch+json", status: 415, code: "unsupported_media_type"),
            // Impossible times.
            Case(
                name: "hour 25", method: "POST", path: "/v1/persons/events",
                body: person(registration.replacingOccurrences(of: "2026-01-10", with: "2026-01-10T25:00:00Z")),
                status: 422, code: "schema_violation", field: "events[0].occurredAt"),
            Case(
                name: "minute 61", method: "POST", path: "/v1/persons/events",
                body: person(registration.replacingOccurrences(of: "2026-01-10", with: "2026-01-10T23:61:00Z")),
                status: 422, code: "schema_violation", field: "events[0].occurredAt"),
            Case(
                name: "offset +25:00", method: "POST", path: "/v1/persons/events",
                body: person(registration.replacingOccurrences(of: "2026-01-10", with: "2026-01-10T10:00:00+25:00")),
                status: 422, code: "schema_violation", field: "events[0].occurredAt"),
            // One rule per condition, whatever the endpoint.
            Case(name: "limit 0 on the log", path: "/v1/log?limit=0", status: 400, code: "invalid_parameter", field: "limit"),
            Case(
                name: "limit 0 on a stream", path: "/v1/streams/case-h/events?limit=0", status: 400, code: "invalid_parameter",
                field: "limit"),
            Case(
                name: "limit 0 on a case file", path: "/v1/persons/case-file?limit=0", headers: ["Fascicolo-Person: \(codiceFiscale)"],
                status: 400, code: "invalid_parameter", field: "limit"),
            Case(
                name: "limit 0 on a read model", path: "/v1/interventions?limit=0", status: 400, code: "invalid_parameter", field: "limit"),
            Case(
                name: "a bad query value is not repeated", path: "/v1/log?from=zzqqzz", status: 400, code: "invalid_parameter",
                field: "from", secret: "zzqqzz"),
            Case(name: "an unknown path is not repeated", path: "/v1/zzqqzz", status: 404, code: "not_found", secret: "zzqqzz"),
            Case(
                name: "too many generic events", method: "POST", path: "/v1/streams/case-h/events",
                body: #"{"events":["# + Array(repeating: #"{"type":"X","data":1}"#, count: 101).joined(separator: ",") + "]}",
                status: 422, code: "too_many_events"),
            Case(
                name: "too many person events", method: "POST", path: "/v1/persons/events",
                body: person(Array(repeating: #"{"type":"X","occurredAt":"2026-01-10","data":{}}"#, count: 101).joined(separator: ",")),
                status: 422, code: "too_many_events"),
        ]
        return cases
    }

    @Test func everyRefusalStoresNothingAndRepeatsNothing() throws {
        try withDaemon(limits: "events_per_append_max = 100") { daemon in
            func size() throws -> Int { try daemon.json("/v1/health/ready")["entries"] as? Int ?? -1 }
            // One person exists, so that refusals are not merely "unknown person".
            let registered = try daemon.call("/v1/persons/events", method: "POST", body: Self.person(Self.registration))
            #expect(registered.status == 201, "\(registered.body)")
            let before = try size()
            for hostile in Self.cases {
                let answer = try daemon.call(
                    hostile.path, method: hostile.method, body: hostile.body, contentType: hostile.contentType,
                    headers: hostile.headers)
                #expect(answer.status == hostile.status, "\(hostile): \(answer.body)")
                let problem = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                #expect(problem?["code"] as? String == hostile.code, "\(hostile): \(answer.body)")
                if let field = hostile.field {
                    #expect((problem?["field"] as? String)?.lowercased() == field.lowercased(), "\(hostile): \(answer.body)")
                }
                for secret in [hostile.secret, Self.codiceFiscale].compactMap({ $0 }) {
                    #expect(!answer.body.lowercased().contains(secret.lowercased()), "\(hostile) repeats the client's text: \(answer.body)")
                }
                #expect(try size() == before, "\(hostile) stored something")
                #expect(try daemon.call("/v1/health/live").status == 200, "\(hostile): the daemon stopped answering")
            }
            // Nothing in the data directory holds the codice fiscale, in any case.
            let files = FileManager.default.enumerator(atPath: daemon.directory + "/data")?.compactMap { $0 as? String } ?? []
            #expect(!files.isEmpty)
            for name in files {
                guard let bytes = FileManager.default.contents(atPath: daemon.directory + "/data/" + name) else { continue }
                let text = String(decoding: bytes.map { (0x61...0x7A).contains($0) ? $0 - 32 : $0 }, as: UTF8.self)
                #expect(!text.contains(Self.codiceFiscale), "\(name) holds the codice fiscale in clear")
            }
        }
    }

    /// The raw endpoints serve a person's entries withheld, unless a purpose is declared: then
    /// the read is recorded for every person it touched before anything is served.
    @Test func rawReadsOfPersonEntriesAreWithheldOrRecorded() throws {
        try withDaemon(access: "auditor = \"uid:4242\"") { daemon in
            let registered = try daemon.call("/v1/persons/events", method: "POST", body: Self.person(Self.registration))
            #expect(registered.status == 201, "\(registered.body)")
            let pseudonym = try #require(
                (try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any])?["person"] as? String)
            func accessCount() throws -> Int {
                let answer = try daemon.call("/v1/streams/access:\(pseudonym)/events", as: 4242)
                if answer.status == 404 { return 0 }
                let value = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                return (value?["entries"] as? [Any])?.count ?? -1
            }
            let withheld = try daemon.json("/v1/log?from=0", as: 4242)
            let first = try #require((withheld["entries"] as? [[String: Any]])?.first)
            #expect(first["withheld"] as? String == "person_data" && first["data"] is NSNull && first["leafHash"] != nil, "\(first)")
            #expect(!"\(withheld)".contains("Rossi") && !"\(withheld)".contains("G942"))
            let entry = try daemon.json("/v1/entries/0", as: 4242)
            #expect(entry["withheld"] as? String == "person_data" && entry["signedBytes"] == nil, "\(entry)")
            let subscribed = try daemon.call("/v1/subscribe?from=0", as: 4242, maxSeconds: 1)
            #expect(subscribed.body.contains(#""withheld":"person_data""#) && !subscribed.body.contains("G942"), "\(subscribed.body)")
            #expect(try accessCount() == 0)

            let purpose = "Fascicolo-Purpose: ispezione regionale 2026/3"
            let full = try daemon.json("/v1/log?from=0", as: 4242, headers: [purpose])
            // The payload served (every field of a registration is sealed since issue 21: the box is what shows).
            #expect("\(full)".contains("sealed") && "\(full)".contains("registry"), "\(full)")
            #expect(try accessCount() == 1)
            let detailed = try daemon.json("/v1/entries/0", as: 4242, headers: [purpose])
            #expect(detailed["signedBytes"] != nil && detailed["withheld"] == nil)
            #expect(try accessCount() == 2)
            let streamed = try daemon.call("/v1/subscribe?from=0", as: 4242, headers: [purpose], maxSeconds: 1)
            #expect(streamed.body.contains(#""sealed":""#), "\(streamed.body)")
            let reads = try #require(try daemon.json("/v1/streams/access:\(pseudonym)/events", as: 4242)["entries"] as? [[String: Any]])
            let whats = reads.compactMap { (($0["data"] as? [String: Any])?["data"] as? [String: Any])?["what"] as? String }
            #expect(whats == ["log", "entry", "subscribe"], "\(whats)")
        }
    }

    /// Bytes that are not HTTP get a problem document like every other refusal, not an empty 400.
    @Test func bytesThatAreNotHTTPGetAProblemDocument() throws {
        try withDaemon { daemon in
            for garbage in [
                "GARBAGE\\r\\n\\r\\n", "GET / HTTP/1.1\\r\\nHost: x\\r\\nBad Header\\r\\n\\r\\n",
                "POST /v1/streams/a/events HTTP/1.1\\r\\nContent-Length: -5\\r\\n\\r\\n",
            ] {
                let script = """
                    import socket, sys
                    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
                    s.sendall(b"\(garbage)")
                    data = b""
                    while True:
                        chunk = s.recv(65536)
                        if not chunk: break
                        data += chunk
                    sys.stdout.write(data.decode("utf-8", "replace"))
                    """
                let answer = try runProcess("/usr/bin/env", ["python3", "-c", script, daemon.socket])
                #expect(answer.output.hasPrefix("HTTP/1.1 400"), "\(answer.output)")
                #expect(answer.output.lowercased().contains("content-type: application/problem+json"), "\(answer.output)")
                #expect(answer.output.contains(#""code":"malformed_request""#), "\(answer.output)")
            }
            #expect(try daemon.call("/v1/health/live").status == 200)
        }
    }
}
