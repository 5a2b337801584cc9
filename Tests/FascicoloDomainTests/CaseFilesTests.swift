import FascicoloConcurrency
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloDomain

/// The domain layer on a real ledger (LMDB + libsodium in a temporary directory).
@Suite struct CaseFilesTests {
    static let reference = try! ReferenceData.load(directory: packageDirectory() + "/Config/reference")
    static let codiceFiscale = "RSSMRA85T10A562S"
    static let actor = #"{"operator":"op-1","role":"assistente_sociale","ente":"Comune di Matera","ambito":"matera"}"#
    static let writer = Reader(author: "uid:1/test", role: "writer", purpose: nil, operatorID: "op-1")

    static func request(_ events: String, person: String = codiceFiscale, extra: String = "") throws -> RecordRequest {
        try RecordRequest.parse(Array(#"{"person":"\#(person)","actor":\#(actor),"events":[\#(events)]\#(extra)}"#.utf8), eventsMax: 100)
    }

    static let registration =
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"F052","givenName":"Mario"}}"#
    static let opened =
        #"{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"poverty","ente":"Comune di Matera","ambito":"matera"}},{"type":"TakenInCharge","occurredAt":"2026-01-12","data":{"date":"2026-01-12","basis":"request"}}"#

    func withCaseFiles(_ body: (CaseFiles, String) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory + "/data")
            defer { ledger.close() }
            try await body(
                try CaseFiles.open(ledger: ledger, directory: directory + "/data", reference: Self.reference), directory + "/data")
        }
    }

    @Test func sealedBoxesOpenOnlyWithTheirKeyAndContext() {
        let key = SecretKey()
        let other = SecretKey()
        let box = key.seal(Array("Mario".utf8), associatedData: [1, 2])
        #expect(box.count == 5 + SecretKey.sealOverhead)
        #expect(key.open(box, associatedData: [1, 2]) == Array("Mario".utf8))
        #expect(key.open(box, associatedData: [1, 3]) == nil)
        #expect(other.open(box, associatedData: [1, 2]) == nil)
        var tampered = box
        tampered[30] ^= 1
        #expect(key.open(tampered, associatedData: [1, 2]) == nil)
        #expect(key.seal(Array("Mario".utf8), associatedData: []) != key.seal(Array("Mario".utf8), associatedData: []))  // fresh nonces
    }

    @Test func pseudonymsAreKeyedAndDistinguishOmocodicCodes() throws {
        let key = SecretKey()
        let pseudonymizer = Pseudonymizer(key: key)
        let person = try PersonIdentifier(parsing: Self.codiceFiscale)
        #expect(
            pseudonymizer.pseudonym(for: person)
                == pseudonymizer.pseudonym(for: try PersonIdentifier(parsing: Self.codiceFiscale.lowercased())))
        #expect(pseudonymizer.pseudonym(for: person) != Pseudonymizer(key: SecretKey()).pseudonym(for: person))
        #expect(pseudonymizer.pseudonym(for: person) != pseudonymizer.pseudonym(for: try PersonIdentifier(parsing: "RSSMRA85T10A56NH")))
        let pseudonym = pseudonymizer.pseudonym(for: person)
        #expect(Pseudonym.owning(stream: pseudonym.stream) == pseudonym && Pseudonym.owning(stream: pseudonym.accessStream) == pseudonym)
        #expect(!pseudonym.stream.contains(Self.codiceFiscale))
    }

    @Test func referenceDataIsVersionedAndChecked() throws {
        #expect(Self.reference.current.labels[.ambiti]?.count == 9)
        #expect(Self.reference.current.interventions["PIS"]?.emergency == true)
        func table(_ version: String, siuss: String = "A2.07", duplicate: Bool = false) -> [UInt8] {
            let interventions =
                #"{"code":"SAD","siuss":"\#(siuss)","istat":"F1","label":"x"}"#
                + (duplicate ? #",{"code":"SAD","siuss":"A2.07","istat":"F1","label":"y"}"# : "")
            return Array(
                #"{"version":"\#(version)","interventions":[\#(interventions)],"closureReasons":[{"code":"death","label":"decesso"}],"userAreas":[{"code":"poverty","label":"p"}],"ambiti":[{"code":"matera","label":"Matera"}]}"#
                    .utf8)
        }
        let versions = try ["2026.9", "2026.10", "2025.12"].map { try ReferenceTable.parse(table($0), file: $0) }
        #expect(try ReferenceData(tables: versions).current.version == "2026.10")
        #expect(throws: ReferenceTable.Invalid.self) { try ReferenceTable.parse(table("2026.1", siuss: "B7.01"), file: "x") }
        #expect(throws: ReferenceTable.Invalid.self) { try ReferenceTable.parse(table("2026.1", duplicate: true), file: "x") }
        #expect(throws: ReferenceTable.Invalid.self) { try ReferenceTable.parse(table("bad version!"), file: "x") }
        #expect(throws: ReferenceTable.Invalid.self) { try ReferenceData(tables: [versions[0], versions[0]]) }
    }

    @Test(arguments: [
        (#"{"birthYear":1985,"sex":"M","citizenship":"italian"}"#, "events[0].data.comuneOfResidence"),
        (#"{"birthYear":"1985","sex":"M","citizenship":"italian","comuneOfResidence":"F052"}"#, "events[0].data.birthYear"),
        (#"{"birthYear":1800,"sex":"M","citizenship":"italian","comuneOfResidence":"F052"}"#, "events[0].data.birthYear"),
        (#"{"birthYear":1985,"sex":"Q","citizenship":"italian","comuneOfResidence":"F052"}"#, "events[0].data.sex"),
        // An unknown member: not named.
        (#"{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"F052","shoeSize":42}"#, "events[0].data"),
        (#"{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"F052","givenName":""}"#, "events[0].data.givenName"),
        (
            #"{"birthYear":1985,"sex":"M","citizenship":"italian","comuneOfResidence":"F052","givenName":"a\u0007b"}"#,
            "events[0].data.givenName"
        ),
    ])
    func schemaViolationsNameTheField(data: String, field: String) async throws {
        try await withCaseFiles { caseFiles, _ in
            let request = try Self.request(#"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":\#(data)}"#)
            await #expect { try await caseFiles.record(request, author: "uid:1/test") } throws: { error in
                (error as? DomainError)?.field == field && (error as? DomainError)?.code == "schema_violation"
            }
            #expect(caseFiles.ledger.size == 0)
        }
    }

    @Test func datesAndAmountsAreChecked() {
        #expect(CalendarDate("2024-02-29") != nil && CalendarDate("2025-02-29") == nil && CalendarDate("2026-13-01") == nil)
        #expect(CalendarDate("2026-1-01") == nil && CalendarDate("2026-04-31") == nil)
        let date = CalendarDate("2026-11-23")!
        #expect(CalendarDate(daysSinceEpoch: date.daysSinceEpoch) == date && date.description == "2026-11-23")
        // Every day from 1900 to 2200: the day number, the text and the order survive the packing.
        var previous: CalendarDate?
        for days in stride(from: -25_567, through: 84_000, by: 1) {
            let day = CalendarDate(daysSinceEpoch: days)
            guard day.daysSinceEpoch == days, CalendarDate(day.description) == day, previous.map({ $0 < day }) ?? true else {
                Issue.record("day \(days) reads back as \(day)")
                return
            }
            previous = day
        }
        #expect(
            EventValidator.isAmount("120.50") && EventValidator.isAmount("7") && !EventValidator.isAmount("1.234")
                && !EventValidator.isAmount("-3"))
        #expect(OccurredAt.isValid("2026-01-10T09:30:00Z") && OccurredAt.isValid("2026-01-10T09:30:00.123+01:00"))
        #expect(!OccurredAt.isValid("2026-01-10T09:30Z") && !OccurredAt.isValid("10/01/2026"))
    }

    /// A large request is checked and sealed on every core; what it stores, and the error it
    /// answers, are what one pass in order gives: the first event at fault, nothing stored.
    @Test func largeRequestsAnswerTheFirstEventAtFault() async throws {
        try await withCaseFiles { caseFiles, _ in
            let person = try PersonIdentifier(parsing: Self.codiceFiscale)
            _ = try await caseFiles.record(Self.request(Self.registration + "," + Self.opened), author: "uid:1/test")
            func review(_ index: Int, due: String = "2026-05-01") -> String {
                #"{"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"\#(due)","findings":"nota \#(index)"}}"#
            }
            var events = (0..<40).map { review($0) }
            events[30] = #"{"type":"NoSuchType","occurredAt":"2026-02-01","data":{}}"#
            events[20] = review(20, due: "2026-13-01")
            let size = caseFiles.ledger.size
            await #expect { try await caseFiles.record(Self.request(events.joined(separator: ",")), author: "uid:1/test") } throws: {
                ($0 as? DomainError)?.field == "events[20].data.nextReviewDue"
            }
            // A path rule broken earlier than a field is the answer.
            events[10] = #"{"type":"TakenInCharge","occurredAt":"2026-02-01","data":{"date":"2026-02-01","basis":"request"}}"#
            await #expect { try await caseFiles.record(Self.request(events.joined(separator: ",")), author: "uid:1/test") } throws: {
                ($0 as? DomainError)?.field?.hasPrefix("events[10]") == true
            }
            // The path rule's refusal is recorded as a read (it tells the person's phase); nothing else is stored.
            #expect(caseFiles.ledger.size == size + 1, "a refused request stores nothing but the record of its read")

            let valid = (0..<40).map { review($0) }.joined(separator: ",")
            let result = try await caseFiles.record(Self.request(valid), author: "uid:1/test")
            #expect(result.append.positions.count == 40)
            let file = try await caseFiles.caseFile(for: person, reader: Self.writer)
            #expect(file.entries.count == 43)
            for (index, entry) in file.entries.suffix(40).enumerated() {
                #expect(data(entry)["findings"]?.string == "nota \(index)" && entry.personalData == .included)
            }
        }
    }

    /// "Today" is the ledger's clock's: fixed at 2026-02-15, a review due 2026-05-01 is not
    /// overdue (it is by the time these tests were written), and 2026-02-20 is in the future.
    @Test func todayComesFromTheLedgersClock() async throws {
        try await withTemporaryDirectory { directory in
            let instant: Int64 = 1_771_149_600_000  // 2026-02-15T10:00:00Z
            let ledger = try Ledger.open(directory: directory + "/data", wallClock: .fixed(millisecondsSinceEpoch: instant))
            defer { ledger.close() }
            let caseFiles = try CaseFiles.open(ledger: ledger, directory: directory + "/data", reference: Self.reference)
            #expect(caseFiles.today().description == "2026-02-15")
            let review =
                #"{"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"2026-05-01","findings":"ok"}}"#
            _ = try await caseFiles.record(Self.request(Self.registration + "," + Self.opened + "," + review), author: "uid:1/test")
            let file = try await caseFiles.caseFile(for: PersonIdentifier(parsing: Self.codiceFiscale), reader: Self.writer)
            #expect(file.today.description == "2026-02-15")
            #expect(file.state.nextReviewDue.map { $0 < file.today } == false)
            #expect(file.state.takenInChargeOn.map { file.today.daysSinceEpoch - $0.daysSinceEpoch } == 34)
            await #expect {
                try await caseFiles.record(
                    Self.request(
                        #"{"type":"ReviewHeld","occurredAt":"2026-02-20","data":{"date":"2026-02-20","nextReviewDue":"2026-06-01"}}"#),
                    author: "uid:1/test")
            } throws: {
                ($0 as? DomainError)?.field == "events[0].occurredAt"
            }
            // The read was recorded at the clock's time too.
            let access = try #require(try ledger.entries(from: 0, limit: 10).last)
            #expect(access.eventType == "RecordAccessed" && access.recordedAtMilliseconds == instant)
            #expect(String(decoding: access.payload, as: UTF8.self).contains(#""occurredAt":"2026-02-15T10:00:00.000Z""#))
        }
    }

    @Test func textsAreCheckedOverTheirUTF8() {
        func accepts(_ text: String, _ maxLength: Int) -> Bool {
            (try? EventValidator.checkText(text, maxLength: maxLength, path: "f")) != nil
        }
        // Characters, not bytes, are counted: "àè€" is 3 characters in 7 bytes.
        #expect(accepts("àè€", 3) && !accepts("àè€", 2) && accepts("a\nb\tc", 5) && accepts("x\u{A0}", 2))
        // C0 controls but line breaks and tabs, DEL, and the C1 controls U+0080–U+009F are refused.
        for control in ["a\u{01}", "a\u{1F}b", "\u{7F}", "a\u{80}", "a\u{85}b", "\u{9F}"] {
            #expect(!accepts(control, 10), "\(Array(control.utf8))")
        }
        // U+0100 and U+00A0 share no byte pattern with the C1 controls.
        #expect(accepts("\u{100}\u{A0}x", 3))
        #expect(!accepts("", 5) && !accepts("  \n", 5))
    }

    @Test func eventKindsNameTheCatalogue() {
        #expect(EventKind.allCases.count <= 64, "EventKinds keeps one bit per kind in a UInt64")
        for schema in EventCatalogue.all {
            #expect(schema.kind.name == schema.type && EventKind(schema.type) == schema.kind)
            let fromBytes = Array(schema.type.utf8).withUnsafeBytes { EventKind(utf8: $0) }
            #expect(fromBytes == schema.kind)
            #expect(EventCatalogue.schema(schema.kind)?.type == schema.type && EventCatalogue.schema(schema.type)?.kind == schema.kind)
        }
        #expect(Set(EventCatalogue.all.map(\.kind)) == Set(EventKind.allCases.filter { $0 != .other }))
        for unknown in ["", "Voide", "VoidedX", "voided", "Tick", "RecordAccessed "] {
            #expect(EventKind(unknown) == .other && EventCatalogue.schema(unknown) == nil, "\(unknown)")
        }
        let set = EventKinds(.voided, .rectified)
        #expect(set.contains(.voided) && !set.contains(.restricted) && set.names == ["Rectified", "Voided"])
    }

    @Test func eventsWrittenUnderAnOlderSchemaAreReadThroughTheCurrentOne() async throws {
        try await withCaseFiles { caseFiles, _ in
            let person = try PersonIdentifier(parsing: Self.codiceFiscale)
            _ = try await caseFiles.record(Self.request(Self.registration + "," + Self.opened), author: "uid:1/test")
            let plan =
                #"{"type":"PlanDrafted","occurredAt":"2026-01-13","data":{"objectives":["x"]}},{"type":"PlanSigned","occurredAt":"2026-01-14","data":{"plan":4,"date":"2026-01-14","signatories":["y"]}},{"type":"InterventionRequested","occurredAt":"2026-01-15","data":{"code":"SAD","provider":"Coop","fundingLine":"fnps"}},{"type":"InterventionStarted","occurredAt":"2026-01-16","data":{"intervention":6,"date":"2026-01-16"}}"#
            _ = try await caseFiles.record(Self.request(plan), author: "uid:1/test")
            // A ServiceDelivered written by an older build, under schema 1 (hours, not minutes).
            let pseudonym = try caseFiles.pseudonym(for: person)
            let old =
                #"{"schema":1,"occurredAt":"2025-03-01","codeTable":"2026.1","purpose":"interventions","actor":{"operator":"op-1","role":"assistente_sociale","ente":"Comune","ambito":"matera"},"data":{"intervention":6,"date":"2026-01-17","hours":1.5}}"#
            _ = try await caseFiles.ledger.append(
                AppendRequest(
                    stream: pseudonym.stream, events: [NewEvent(type: "ServiceDelivered", payload: Array(old.utf8))],
                    expectedVersion: .exactly(7), author: "uid:1/old-build"))
            let file = try await caseFiles.caseFile(for: person, reader: Self.writer)
            let delivered = try #require(file.entries.last)
            #expect(delivered.content?.schemaVersion == 1)
            #expect(data(delivered)["minutes"]?.int == 90 && data(delivered)["hours"] == nil)
        }
    }

    @Test func retriesWithTheSameKeyStoreOnceAlthoughSealedBytesDiffer() async throws {
        try await withCaseFiles { caseFiles, _ in
            let request = try Self.request(Self.registration, extra: #","idempotencyKey":"k-1""#)
            let first = try await caseFiles.record(request, author: "uid:1/test")
            let second = try await caseFiles.record(request, author: "uid:1/test")
            #expect(!first.append.deduplicated && second.append.deduplicated && first.append.positions == second.append.positions)
            let other = try Self.request(Self.registration.replacingOccurrences("1985", with: "1986"), extra: #","idempotencyKey":"k-1""#)
            await #expect { try await caseFiles.record(other, author: "uid:1/test") } throws: {
                ($0 as? DomainError)?.code == "idempotency_conflict"
            }
            #expect(caseFiles.ledger.size == 1)
        }
    }

    /// A key LMDB could not look up (empty, too long) is refused as an append refuses it, not
    /// reported as a storage failure.
    @Test func aBadIdempotencyKeyIsRefusedBeforeItIsLookedUp() async throws {
        try await withCaseFiles { caseFiles, _ in
            for key in ["", String(repeating: "k", count: 600), "with space"] {
                let request = try Self.request(Self.registration, extra: #","idempotencyKey":"\#(key)""#)
                await #expect { try await caseFiles.record(request, author: "uid:1/test") } throws: {
                    ($0 as? DomainError)?.code == "invalid_idempotency_key"
                }
            }
            #expect(caseFiles.ledger.size == 0)
        }
    }

    /// Member names are the client's text: a refusal names the allowed ones and the position,
    /// never the unknown name (here a codice fiscale), in its message or its field.
    @Test func refusalsDoNotRepeatUnknownMemberNames() async throws {
        try await withCaseFiles { caseFiles, _ in
            let name = "RSSMRA80A01H501U"
            let inData = Self.registration.replacingOccurrences(#""givenName":"Mario""#, with: #""givenName":"Mario","\#(name)":1"#)
            let inEvent = Self.registration.replacingOccurrences(#""occurredAt""#, with: #""\#(name)":1,"occurredAt""#)
            let requests = [
                { try Self.request(inData) }, { try Self.request(inEvent) },
                { try Self.request(Self.registration, extra: #","\#(name)":1"#) },
                {
                    try RecordRequest.parse(
                        Array(
                            #"{"person":"\#(Self.codiceFiscale)","actor":{"operator":"op-1","\#(name)":1},"events":[\#(Self.registration)]}"#
                                .utf8), eventsMax: 100)
                },
            ]
            for (index, makeRequest) in requests.enumerated() {
                do {
                    _ = try await caseFiles.record(try makeRequest(), author: "uid:1/test")
                    Issue.record("request \(index) was accepted")
                } catch let error as DomainError {
                    #expect(!error.message.contains(name) && !(error.field ?? "").contains(name), "request \(index): \(error)")
                }
            }
            #expect(caseFiles.ledger.size == 0)
        }
    }

    /// Two provisional records linked to one codice fiscale at the same moment: exactly one link
    /// is stored, and the codice fiscale reaches that record.
    @Test func concurrentLinksToOneCodiceFiscaleStoreOne() async throws {
        try await withCaseFiles { caseFiles, _ in
            for round in 0..<10 {
                let codiceFiscale = Self.codiceFiscale
                let persons = (0..<4).map { "STP0170000\(round)0000\($0)" }
                for person in persons {
                    _ = try await caseFiles.record(Self.request(Self.registration, person: person), author: "uid:1/test")
                }
                let link =
                    #"{"type":"IdentityLinked","occurredAt":"2026-04-01","data":{"codiceFiscale":"\#(codiceFiscale)","source":"document_checked"}}"#
                let outcomes = try await withThrowingTaskGroup(of: (String, String?).self) { group in
                    for person in persons {
                        group.addTask {
                            do {
                                _ = try await caseFiles.record(Self.request(link, person: person), author: "uid:1/test")
                                return (person, nil)
                            } catch let error as DomainError { return (person, error.code) }
                        }
                    }
                    return try await group.reduce(into: [(person: String, refusal: String?)]()) { $0.append($1) }
                }
                let winners = outcomes.filter { $0.refusal == nil }.map(\.person)
                #expect(winners.count == 1, "round \(round): \(outcomes)")
                #expect(outcomes.compactMap(\.refusal).allSatisfy { $0 == "identity_already_registered" }, "\(outcomes)")
                let reached = try caseFiles.pseudonym(for: PersonIdentifier(parsing: codiceFiscale))
                #expect(try winners.first.map { try caseFiles.pseudonym(for: PersonIdentifier(parsing: $0)) } == reached)
                // Void the winner's link: the codice fiscale is free again for the next round.
                let void = #"{"type":"Voided","occurredAt":"2026-04-02","data":{"target":2,"reason":"prova","authorisingAct":"det. 1"}}"#
                if let winner = winners.first { _ = try await caseFiles.record(Self.request(void, person: winner), author: "uid:1/test") }
            }
        }
    }

    @Test func concurrentAppendsToOnePersonAreCheckedAgainAndAllLand() async throws {
        try await withCaseFiles { caseFiles, _ in
            _ = try await caseFiles.record(Self.request(Self.registration + "," + Self.opened), author: "uid:1/test")
            let review =
                #"{"type":"ReviewHeld","occurredAt":"2026-02-01","data":{"date":"2026-02-01","nextReviewDue":"2026-05-01","findings":"ok"}}"#
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask { _ = try await caseFiles.record(Self.request(review), author: "uid:1/test") }
                }
                try await group.waitForAll()
            }
            #expect(
                try caseFiles.ledger.streamVersion(caseFiles.pseudonym(for: PersonIdentifier(parsing: Self.codiceFiscale)).stream) == 23)
            // With an expected version of its own, a stale request is a conflict.
            await #expect {
                try await caseFiles.record(Self.request(review, extra: #","expectedVersion":3"#), author: "uid:1/test")
            } throws: {
                ($0 as? DomainError)?.code == "wrong_expected_version"
            }
        }
    }

    @Test func voidingAClosureReopensTheCaseAndTheOriginalStaysReadable() async throws {
        try await withCaseFiles { caseFiles, _ in
            let person = try PersonIdentifier(parsing: Self.codiceFiscale)
            _ = try await caseFiles.record(Self.request(Self.registration + "," + Self.opened), author: "uid:1/test")
            _ = try await caseFiles.record(
                Self.request(
                    #"{"type":"CaseClosed","occurredAt":"2026-03-01","data":{"reason":"needs_resolved","date":"2026-03-01","situation":"stabile"}}"#
                ), author: "uid:1/test")
            // A review is a late entry when dated inside the open period; this one is after the closure.
            await #expect {
                try await caseFiles.record(
                    Self.request(
                        #"{"type":"ReviewHeld","occurredAt":"2026-03-02","data":{"date":"2026-03-02","nextReviewDue":"2026-06-01"}}"#),
                    author: "uid:1/test")
            } throws: {
                ($0 as? DomainError)?.code == "date_after_closure"
                    && ($0 as? DomainError)?.messageItalian?.contains("riaprire il caso") == true
            }
            await #expect {
                try await caseFiles.record(
                    Self.request(#"{"type":"PlanDrafted","occurredAt":"2026-03-02","data":{"objectives":["casa"]}}"#), author: "uid:1/test")
            } throws: {
                ($0 as? DomainError)?.code == "case_closed" && ($0 as? DomainError)?.messageItalian?.contains("chiuso") == true
            }
            _ = try await caseFiles.record(
                Self.request(
                    #"{"type":"Voided","occurredAt":"2026-03-02","data":{"target":4,"reason":"chiuso per errore","authorisingAct":"det. 12/2026"}}"#
                ), author: "uid:1/test")
            let file = try await caseFiles.caseFile(for: person, reader: Self.writer)
            #expect(file.state.phase == .takenInCharge)
            let closure = try #require(file.entries.dropFirst(3).first)
            #expect(closure.voidedBy == 5 && data(closure)["situation"]?.string == "stabile")
            _ = try await caseFiles.record(
                Self.request(#"{"type":"ReviewHeld","occurredAt":"2026-03-03","data":{"date":"2026-03-03","nextReviewDue":"2026-06-01"}}"#),
                author: "uid:1/test")
        }
    }

    @Test func restrictedEntriesHideTheirPersonalFieldsFromAllButAdmins() async throws {
        try await withCaseFiles { caseFiles, _ in
            let person = try PersonIdentifier(parsing: Self.codiceFiscale)
            _ = try await caseFiles.record(Self.request(Self.registration), author: "uid:1/test")
            _ = try await caseFiles.record(
                Self.request(#"{"type":"Restricted","occurredAt":"2026-02-01","data":{"target":1,"ground":"accuracy_contested"}}"#),
                author: "uid:1/test")
            let asWriter = try await caseFiles.caseFile(for: person, reader: Self.writer)
            #expect(asWriter.entries.first?.personalData == .restricted)
            #expect(asWriter.entries.first.map(data)?["givenName"] == nil)
            let asAdmin = try await caseFiles.caseFile(
                for: person, reader: Reader(author: "uid:0/admin", role: "admin", purpose: nil, operatorID: nil))
            #expect(asAdmin.entries.first.map(data)?["givenName"]?.string == "Mario")
            #expect(asAdmin.entries.first?.restrictedBy == 2)
            await #expect {
                try await caseFiles.caseFile(for: person, reader: Reader(author: "uid:5/x", role: "auditor", purpose: nil, operatorID: nil))
            } throws: {
                ($0 as? DomainError)?.code == "purpose_required"
            }
        }
    }

    @Test func lostDomainKeysAreNotSilentlyReplaced() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            do {
                let ledger = try Ledger.open(directory: data)
                defer { ledger.close() }
                let caseFiles = try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference)
                _ = try await caseFiles.record(Self.request(Self.registration), author: "uid:1/test")
                var info = stat()
                #expect(stat(data + "/pseudonym.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
                #expect(stat(data + "/records.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
            }
            let ledger = try Ledger.open(directory: data)
            defer { ledger.close() }
            // A different pseudonym key would give known people new case files: refused.
            rename(data + "/pseudonym.key", data + "/pseudonym.key.right")
            _ = try KeyFile.loadOrCreateSecret(directory: data, name: "pseudonym.key", create: true)
            #expect { try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference) } throws: {
                "\($0)".contains("pseudonym.key is not the one")
            }
            rename(data + "/pseudonym.key.right", data + "/pseudonym.key")
            // A missing records key is not replaced by a new one.
            unlink(data + "/records.key")
            #expect { try CaseFiles.open(ledger: ledger, directory: data, reference: Self.reference) } throws: {
                "\($0)".contains("records.key is missing")
            }
            #expect(access(data + "/records.key", F_OK) != 0)
        }
    }
}

extension String {
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// A case-file entry's data as one JSON object (empty when the entry has no domain payload).
func data(_ entry: CaseFileEntry) -> JSON { .object(entry.content?.data ?? []) }

/// Every entry's data of a case file, as compact JSON one after the other.
func dataText(_ file: CaseFile) -> String { file.entries.map { data($0).compact }.joined() }
