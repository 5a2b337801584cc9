import FascicoloConcurrency
import FascicoloJSON
import FascicoloLedger
import FascicoloTesting
import Testing

@testable import FascicoloDomain

/// Issue 19's rules through CaseFiles on a real ledger: what the request holds (occurredAt, the
/// `date` fields, a rectification's new value) reaches the rules, and the refusals come back as
/// 422s naming the field and both dates.
@Suite struct PathDatesCaseFilesTests {
    static let today: Int64 = 1_796_464_800_000  // 2026-12-05T10:00:00Z

    func withCaseFiles(_ body: (CaseFiles) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory + "/data", wallClock: .fixed(millisecondsSinceEpoch: Self.today))
            defer { ledger.close() }
            try await body(try CaseFiles.open(ledger: ledger, directory: directory + "/data", reference: CaseFilesTests.reference))
        }
    }

    func record(_ files: CaseFiles, _ events: String..., person: String = CaseFilesTests.codiceFiscale) async throws {
        _ = try await files.record(CaseFilesTests.request(events.joined(separator: ","), person: person), author: "uid:1/test")
    }

    func refusal(_ files: CaseFiles, _ events: String...) async -> DomainError? {
        do {
            _ = try await files.record(CaseFilesTests.request(events.joined(separator: ",")), author: "uid:1/test")
            return nil
        } catch { return error as? DomainError }
    }

    static let homeCare = [
        CaseFilesTests.registration, CaseFilesTests.opened,  // 1, 2, 3 (presa in carico 2026-01-12)
        #"{"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["autonomia"]}}"#,  // 4
        #"{"type":"PlanSigned","occurredAt":"2026-01-21","data":{"plan":4,"date":"2026-01-21","signatories":["interessato"]}}"#,  // 5
        // 6
        #"{"type":"InterventionRequested","occurredAt":"2026-02-01","data":{"code":"SAD","provider":"Coop Il Sole","fundingLine":"fna"}}"#,
        #"{"type":"InterventionStarted","occurredAt":"2026-02-03","data":{"intervention":6,"date":"2026-02-03"}}"#,  // 7
    ].joined(separator: ",")

    @Test func datesInTheFutureAreRefusedWithBothDates() async throws {
        try await withCaseFiles { files in
            try await record(files, Self.homeCare)
            let error = await refusal(
                files, #"{"type":"ServiceDelivered","occurredAt":"2026-12-05","data":{"intervention":6,"date":"2026-12-09","minutes":60}}"#)
            #expect(error?.code == "date_in_future" && error?.field == "events[0].data.date")
            #expect(error?.message.contains("2026-12-09") == true && error?.message.contains("2026-12-05") == true)
            #expect(error?.messageItalian?.contains("09/12/2026") == true)
            // One day of tolerance (a client east of UTC); an appointment's own date may be ahead.
            try await record(
                files, #"{"type":"ServiceDelivered","occurredAt":"2026-12-06","data":{"intervention":6,"date":"2026-12-06","minutes":60}}"#,
                #"{"type":"AppointmentScheduled","occurredAt":"2026-12-05","data":{"date":"2027-01-15"}}"#)
        }
    }

    @Test func aStepBeforeItsDependencyNamesTheField() async throws {
        try await withCaseFiles { files in
            try await record(files, Self.homeCare)
            let error = await refusal(
                files, #"{"type":"ServiceDelivered","occurredAt":"2026-02-02","data":{"intervention":6,"date":"2026-02-02","minutes":60}}"#)
            #expect(error?.code == "date_before_intervention_started" && error?.kind == .pathRule)
            let plan = await refusal(files, #"{"type":"PlanDrafted","occurredAt":"2026-01-11","data":{"objectives":["casa"]}}"#)
            #expect(plan?.code == "date_before_taken_in_charge" && plan?.field == "events[0].occurredAt")
        }
    }

    @Test func aRectificationTakesEffectAndIsValidatedAsItsField() async throws {
        try await withCaseFiles { files in
            try await record(files, Self.homeCare)
            let person = try PersonIdentifier(parsing: CaseFilesTests.codiceFiscale)
            func rectify(_ field: String, target: Int = 3, _ value: String) -> String {
                #"{"type":"Rectified","occurredAt":"2026-03-01","data":{"target":\#(target),"field":"\#(field)","newValue":"\#(value)","reason":"errore materiale","authorisedBy":"op-2"}}"#
            }
            let badDate = await refusal(files, rectify("date", "19/01/2026"))
            #expect(badDate?.code == "schema_violation" && badDate?.field == "events[0].data.newValue")
            let badCode = await refusal(files, rectify("basis", "whim"))
            #expect(badCode?.code == "schema_violation" && badCode?.field == "events[0].data.newValue")
            let badAmbito = await refusal(files, rectify("ambito", target: 2, "atlantide"))
            #expect(badAmbito?.code == "unknown_code")
            try await record(files, rectify("date", "2026-01-11"))
            let file = try await files.caseFile(for: person, reader: CaseFilesTests.writer)
            #expect(file.state.takenInChargeOn == CalendarDate("2026-01-11"))
            // The original stays in the log.
            #expect(data(file.entries[2])["date"]?.string == "2026-01-12" && file.entries[2].rectifiedBy == [8])
            // From the log again (a new history), the same.
            #expect(try files.history(of: try files.pseudonym(for: person)).state.takenInChargeOn == CalendarDate("2026-01-11"))
        }
    }

    @Test func aLateDeliveryAndACancelAndReinsertOnAClosedCase() async throws {
        try await withCaseFiles { files in
            try await record(
                files, Self.homeCare,
                #"{"type":"ServiceDelivered","occurredAt":"2026-09-10","data":{"intervention":6,"date":"2026-09-10","minutes":60}}"#,  // 8
                #"{"type":"CaseClosed","occurredAt":"2026-10-15","data":{"reason":"needs_resolved","date":"2026-10-15"}}"#)  // 9
            // 10: the end of home care the closure wrote. The provider's September delivery, recorded in November (11).
            try await record(
                files, #"{"type":"ServiceDelivered","occurredAt":"2026-09-20","data":{"intervention":6,"date":"2026-09-20","minutes":90}}"#)
            // Cancel and reinsert the September 10 delivery (90 minutes, not 60), in one request.
            try await record(
                files,
                #"{"type":"Voided","occurredAt":"2026-11-20","data":{"target":8,"reason":"minuti errati","authorisingAct":"det. 3/2026"}}"#,
                #"{"type":"ServiceDelivered","occurredAt":"2026-09-10","data":{"intervention":6,"date":"2026-09-10","minutes":90}}"#)
            // A replacement dated after the closure: both refused, nothing stored.
            let error = await refusal(
                files,
                #"{"type":"Voided","occurredAt":"2026-11-20","data":{"target":11,"reason":"errore","authorisingAct":"det. 4/2026"}}"#,
                #"{"type":"ServiceDelivered","occurredAt":"2026-10-20","data":{"intervention":6,"date":"2026-10-20","minutes":90}}"#)
            #expect(error?.code == "date_after_closure" && error?.field == "events[1].data.date")
            let person = try PersonIdentifier(parsing: CaseFilesTests.codiceFiscale)
            #expect(try files.ledger.streamVersion(files.pseudonym(for: person).stream) == 13)
        }
    }

    @Test func deathEndsThePath() async throws {
        try await withCaseFiles { files in
            try await record(
                files, Self.homeCare, #"{"type":"PersonDied","occurredAt":"2026-04-10","data":{"date":"2026-04-10","source":"anagrafe"}}"#)
            try await record(
                files, #"{"type":"ServiceDelivered","occurredAt":"2026-04-08","data":{"intervention":6,"date":"2026-04-08","minutes":60}}"#)
            let after = await refusal(
                files, #"{"type":"ServiceDelivered","occurredAt":"2026-04-12","data":{"intervention":6,"date":"2026-04-12","minutes":60}}"#)
            #expect(after?.code == "date_after_death" && after?.messageItalian?.contains("10/04/2026") == true)
            try await record(files, #"{"type":"CaseClosed","occurredAt":"2026-04-20","data":{"reason":"death","date":"2026-04-20"}}"#)
            let reopen = await refusal(files, #"{"type":"CaseReopened","occurredAt":"2026-05-02","data":{"reason":"new_need"}}"#)
            #expect(reopen?.code == "person_deceased")
        }
    }

    @Test func prontoInterventoForSomeoneWithoutACaseFile() async throws {
        try await withCaseFiles { files in
            let person = "provisional:notte-2026-117"
            try await record(
                files,
                #"{"type":"PersonRegistered","occurredAt":"2026-11-30","data":{"birthYear":1970,"sex":"M","citizenship":"unknown","comuneOfResidence":"F052"}}"#,
                #"{"type":"InterventionRequested","occurredAt":"2026-11-30","data":{"code":"PIS","provider":"Unità di strada","fundingLine":"fondo_poverta"}}"#,
                person: person)
            let file = try await files.caseFile(for: try PersonIdentifier(parsing: person), reader: CaseFilesTests.writer)
            #expect(file.state.phase == .opened && file.state.ambito == "matera")
            #expect(data(file.entries[1])["ambito"]?.string == "matera")
        }
    }

    @Test func aTransferToAnotherRegionAndComingOfAge() async throws {
        try await withCaseFiles { files in
            try await record(
                files, Self.homeCare,
                #"{"type":"CaseTransferredOut","occurredAt":"2026-05-01","data":{"toAmbito":"Roma 1 (Lazio)","reason":"change_of_residence"}}"#
            )
            let file = try await files.caseFile(
                for: try PersonIdentifier(parsing: CaseFilesTests.codiceFiscale), reader: CaseFilesTests.writer)
            #expect(file.state.phase == .closed && file.state.openInterventions.isEmpty)
            #expect(file.state.closureReason == "transferred_other_region")
            let minor = "provisional:minore-1"
            try await record(
                files,
                #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":2010,"sex":"F","citizenship":"italian","comuneOfResidence":"F052"}}"#,
                #"{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"families_minors","ente":"Comune di Matera","ambito":"matera"}}"#,
                person: minor)
            do {
                try await record(
                    files, #"{"type":"CaseClosed","occurredAt":"2026-06-01","data":{"reason":"came_of_age","date":"2026-06-01"}}"#,
                    person: minor)
                Issue.record("a 16-year-old's closure for coming of age was accepted")
            } catch let error as DomainError {
                #expect(error.code == "came_of_age_under_18" && error.messageItalian?.contains("2010") == true)
            }
        }
    }

    /// The birth year is sealed since issue 21: the rule reads it opened with the person's key,
    /// from the request, from a history read back from the log (a new CaseFiles: no cache), and
    /// from a rectification of it (sealed too).
    @Test func comingOfAgeReadsTheSealedBirthYear() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory + "/data", wallClock: .fixed(millisecondsSinceEpoch: Self.today))
            defer { ledger.close() }
            func files() throws -> CaseFiles {
                try CaseFiles.open(ledger: ledger, directory: directory + "/data", reference: CaseFilesTests.reference)
            }
            let minor = "provisional:minore-2"
            try await record(
                try files(),
                #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":2010,"sex":"F","citizenship":"italian","comuneOfResidence":"F052","household":"hh-9"}}"#,
                #"{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"families_minors","ente":"Comune di Matera","ambito":"matera"}}"#,
                person: minor)
            let person = try files().pseudonym(for: try PersonIdentifier(parsing: minor))
            let registration = try #require(try ledger.readStream(person.stream, from: 1, limit: 1).first)
            #expect(StoredEvent(payload: registration.payload)?.data.isEmpty == true, "nothing of a registration stays in clear")
            let closure = #"{"type":"CaseClosed","occurredAt":"2026-06-01","data":{"reason":"came_of_age","date":"2026-06-01"}}"#
            do {
                try await record(try files(), closure, person: minor)
                Issue.record("a 16-year-old's closure for coming of age was accepted")
            } catch let error as DomainError {
                #expect(error.code == "came_of_age_under_18")
            }
            try await record(
                try files(),
                #"{"type":"Rectified","occurredAt":"2026-03-01","data":{"target":1,"field":"birthYear","newValue":"2008","reason":"errore materiale","authorisedBy":"op-2"}}"#,
                person: minor)
            let rectification = try #require(try ledger.readStream(person.stream, from: 3, limit: 1).first)
            #expect(StoredEvent(payload: rectification.payload)?.data.contains { $0.key == "newValue" } == false)
            try await record(try files(), closure, person: minor)
        }
    }
}
