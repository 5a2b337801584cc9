import FascicoloConcurrency
import FascicoloJSON
import FascicoloLedger
import FascicoloTesting
import Testing

@testable import FascicoloDomain

/// Issue 19: a closure, a transfer out (here or to another region) or a death ends the
/// interventions still running with entries of their own — an InterventionEnded per intervention,
/// written by the daemon right after the closing entry, in the same append — not silently in the
/// folded state. On a real ledger, through CaseFiles.
@Suite struct EndsWithCaseTests {
    static let today: Int64 = 1_796_464_800_000  // 2026-12-05T10:00:00Z
    static let matera = CaseFilesTests.actor
    static let potenza = #"{"operator":"op-9","role":"assistente_sociale","ente":"Comune di Potenza","ambito":"potenza"}"#

    /// Home care started (6, 7), a second intervention only requested (8), a case manager (9).
    static let path = [
        CaseFilesTests.registration, CaseFilesTests.opened,  // 1, 2, 3 (presa in carico 2026-01-12)
        #"{"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["autonomia"]}}"#,  // 4
        #"{"type":"PlanSigned","occurredAt":"2026-01-21","data":{"plan":4,"date":"2026-01-21","signatories":["interessato"]}}"#,  // 5
        // 6
        #"{"type":"InterventionRequested","occurredAt":"2026-02-01","data":{"code":"SAD","provider":"Coop Il Sole","fundingLine":"fna"}}"#,
        #"{"type":"InterventionStarted","occurredAt":"2026-02-03","data":{"intervention":6,"date":"2026-02-03"}}"#,  // 7
        // 8
        #"{"type":"InterventionRequested","occurredAt":"2026-02-05","data":{"code":"SAD","provider":"Coop La Luna","fundingLine":"fna"}}"#,
        #"{"type":"CaseManagerAssigned","occurredAt":"2026-02-06","data":{"operator":"op-1"}}"#,  // 9
    ].joined(separator: ",")

    struct Files {
        let files: CaseFiles
        let ledger: Ledger
        let person = try! PersonIdentifier(parsing: CaseFilesTests.codiceFiscale)

        @discardableResult
        func record(_ events: String..., actor: String = EndsWithCaseTests.matera, key: String? = nil) async throws -> RecordResult {
            let extra = key.map { #","idempotencyKey":"\#($0)""# } ?? ""
            let body =
                #"{"person":"\#(CaseFilesTests.codiceFiscale)","actor":\#(actor),"events":[\#(events.joined(separator: ","))]\#(extra)}"#
            return try await files.record(try RecordRequest.parse(Array(body.utf8), eventsMax: 100), author: "uid:1/test")
        }

        func refusal(_ events: String) async -> DomainError? {
            do {
                try await record(events)
                return nil
            } catch { return error as? DomainError }
        }

        /// The stream's entries from `version` on: type and clear data.
        func entries(from version: UInt64) throws -> [(type: String, data: JSON, actor: JSON?)] {
            let stream = try files.pseudonym(for: person).stream
            return try ledger.readStream(stream, from: version, limit: 100).map { entry in
                let stored = StoredEvent(payload: entry.payload)
                return (entry.eventType, .object(stored?.data ?? []), stored?.actor)
            }
        }

        func state() async throws -> CaseState {
            try await files.caseFile(for: person, reader: CaseFilesTests.writer).state
        }
    }

    func withFiles(_ body: (Files) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory + "/data", wallClock: .fixed(millisecondsSinceEpoch: Self.today))
            defer { ledger.close() }
            let files = try CaseFiles.open(ledger: ledger, directory: directory + "/data", reference: CaseFilesTests.reference)
            let path = Files(files: files, ledger: ledger)
            try await path.record(Self.path)
            try await body(path)
        }
    }

    /// The InterventionEnded entries the daemon wrote, checked: one per open intervention (6, 8),
    /// dated `day`, for `reason`, pointing at the closing entry, with the request's actor.
    func expectAutomaticEnds(
        _ entries: [(type: String, data: JSON, actor: JSON?)], closing: UInt64, day: String, reason: String,
        actor: String = "op-1", sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(entries.map(\.type) == ["InterventionEnded", "InterventionEnded"], sourceLocation: sourceLocation)
        #expect(entries.map { $0.data["intervention"]?.uint64 } == [6, 8], sourceLocation: sourceLocation)
        for entry in entries {
            #expect(entry.data["date"]?.string == day, sourceLocation: sourceLocation)
            #expect(entry.data["reason"]?.string == reason, sourceLocation: sourceLocation)
            #expect(entry.data["endedWith"]?.uint64 == closing, sourceLocation: sourceLocation)
            #expect(entry.actor?["operator"]?.string == actor, sourceLocation: sourceLocation)
        }
    }

    @Test func aClosureEndsTheOpenInterventionsWithEntries() async throws {
        try await withFiles { path in
            let closure = #"{"type":"CaseClosed","occurredAt":"2026-07-01","data":{"reason":"needs_resolved","date":"2026-06-30"}}"#
            let result = try await path.record(closure, key: "closure-1")
            // 10 the closure, 11 and 12 the ends it made; the answer names them.
            #expect(result.append.streamVersions == 10...12)
            #expect(result.automaticPositions == [result.append.firstPosition + 1, result.append.firstPosition + 2])
            let entries = try path.entries(from: 10)
            #expect(entries.first?.type == "CaseClosed")
            expectAutomaticEnds(Array(entries.dropFirst()), closing: 10, day: "2026-06-30", reason: "case_closed")
            let state = try await path.state()
            #expect(state.phase == .closed && state.openInterventions.isEmpty)
            #expect(state.interventions[6] == .ended && state.interventions[8] == .ended)
            // A retry is answered as the first time, nothing stored again.
            let retry = try await path.record(closure, key: "closure-1")
            #expect(retry.append.deduplicated && retry.append.positions == result.append.positions)
            #expect(retry.automaticPositions == result.automaticPositions)
            #expect(try path.entries(from: 13).isEmpty)
        }
    }

    @Test func aLateRealEndIsStillAccepted() async throws {
        try await withFiles { path in
            try await path.record(
                #"{"type":"CaseClosed","occurredAt":"2026-07-01","data":{"reason":"needs_resolved","date":"2026-06-30"}}"#)
            // The provider says home care really ended on 15/06: recorded after the automatic end (11).
            try await path.record(
                #"{"type":"InterventionEnded","occurredAt":"2026-07-02","data":{"intervention":6,"date":"2026-06-15","reason":"completed"}}"#
            )
            // Not after the day the case ended, and only once.
            let after = await path.refusal(
                #"{"type":"InterventionEnded","occurredAt":"2026-07-02","data":{"intervention":8,"date":"2026-07-01","reason":"completed"}}"#
            )
            #expect(after?.code == "date_after_closure")
            let twice = await path.refusal(
                #"{"type":"InterventionEnded","occurredAt":"2026-07-02","data":{"intervention":6,"date":"2026-06-14","reason":"completed"}}"#
            )
            #expect(twice?.code == "intervention_step")
        }
    }

    @Test func aClientCannotWriteTheDaemonsEnds() async throws {
        try await withFiles { path in
            try await path.record(
                #"{"type":"CaseClosed","occurredAt":"2026-07-01","data":{"reason":"needs_resolved","date":"2026-06-30"}}"#)
            let error = await path.refusal(
                #"{"type":"InterventionEnded","occurredAt":"2026-07-02","data":{"intervention":6,"date":"2026-06-30","reason":"case_closed","endedWith":10}}"#
            )
            #expect(error?.code == "system_field" && error?.field == "events[0].data.endedWith")
        }
    }

    @Test func aDeathEndsThemForDeath() async throws {
        try await withFiles { path in
            let result = try await path.record(
                #"{"type":"PersonDied","occurredAt":"2026-05-06","data":{"date":"2026-05-05","source":"anagrafe"}}"#,
                #"{"type":"CaseClosed","occurredAt":"2026-05-07","data":{"reason":"death","date":"2026-05-05"}}"#)
            // 10 the death, 11 and 12 its ends, 13 the closure (nothing left to end).
            #expect(result.append.streamVersions == 10...13)
            #expect(result.automaticPositions == [result.append.firstPosition + 1, result.append.firstPosition + 2])
            let entries = try path.entries(from: 10)
            #expect(entries.map(\.type) == ["PersonDied", "InterventionEnded", "InterventionEnded", "CaseClosed"])
            expectAutomaticEnds(Array(entries[1...2]), closing: 10, day: "2026-05-05", reason: "death")
            let state = try await path.state()
            #expect(state.deceased && state.openInterventions.isEmpty)
        }
    }

    @Test func aClosureForDeathEndsThemForDeath() async throws {
        try await withFiles { path in
            try await path.record(#"{"type":"CaseClosed","occurredAt":"2026-05-07","data":{"reason":"death","date":"2026-05-05"}}"#)
            expectAutomaticEnds(Array(try path.entries(from: 11)), closing: 10, day: "2026-05-05", reason: "death")
        }
    }

    @Test func aTransferOutEndsThemAndTheOtherAmbitoStartsClean() async throws {
        try await withFiles { path in
            let out = try await path.record(
                #"{"type":"CaseTransferredOut","occurredAt":"2026-04-01","data":{"toAmbito":"potenza","reason":"change_of_residence"}}"#)
            #expect(out.automaticPositions.count == 2)
            expectAutomaticEnds(Array(try path.entries(from: 11)), closing: 10, day: "2026-04-01", reason: "case_transferred")
            try await path.record(
                #"{"type":"CaseTransferredIn","occurredAt":"2026-04-10","data":{"fromAmbito":"matera","ambito":"potenza","ente":"Comune di Potenza"}}"#,
                actor: Self.potenza)
            let state = try await path.state()
            #expect(state.phase == .opened && state.ambito == "potenza")
            #expect(state.caseManager == nil && state.openInterventions.isEmpty)
            #expect(try path.entries(from: 13).map(\.type) == ["CaseTransferredIn"])
        }
    }

    @Test func aTransferToAnotherRegionEndsThem() async throws {
        try await withFiles { path in
            try await path.record(
                #"{"type":"CaseTransferredOut","occurredAt":"2026-04-01","data":{"toAmbito":"ats_milano","reason":"change_of_residence"}}"#)
            expectAutomaticEnds(Array(try path.entries(from: 11)), closing: 10, day: "2026-04-01", reason: "case_transferred")
            let state = try await path.state()
            #expect(state.phase == .closed && state.closureReason == "transferred_other_region" && state.openInterventions.isEmpty)
        }
    }

    @Test func aVoidedClosureTakesItsEndsBack() async throws {
        try await withFiles { path in
            try await path.record(
                #"{"type":"CaseClosed","occurredAt":"2026-07-01","data":{"reason":"needs_resolved","date":"2026-06-30"}}"#)
            // The closure was a mistake: voided, the interventions run again (the ends 11, 12 stay
            // in the log, no longer counting: they depended on the closure).
            let void = try await path.record(
                #"{"type":"Voided","occurredAt":"2026-07-02","data":{"target":10,"reason":"chiusura registrata per errore","authorisingAct":"det. 7/2026"}}"#
            )
            #expect(void.automaticPositions.isEmpty)
            var state = try await path.state()
            #expect(state.phase == .takenInCharge && state.openInterventions == [6, 8])
            #expect(!state.counts(11) && !state.counts(12))
            try await path.record(
                #"{"type":"ServiceDelivered","occurredAt":"2026-07-03","data":{"intervention":6,"date":"2026-07-03","minutes":60}}"#)
            // Closed again later: new ends, for the new closure (15).
            try await path.record(
                #"{"type":"CaseClosed","occurredAt":"2026-09-01","data":{"reason":"needs_resolved","date":"2026-08-31"}}"#)
            expectAutomaticEnds(Array(try path.entries(from: 16)), closing: 15, day: "2026-08-31", reason: "case_closed")
            state = try await path.state()
            #expect(state.openInterventions.isEmpty)
        }
    }

    @Test func aClosureWithNothingRunningAddsNothing() async throws {
        try await withFiles { path in
            try await path.record(
                #"{"type":"InterventionEnded","occurredAt":"2026-06-01","data":{"intervention":6,"date":"2026-06-01","reason":"completed"}}"#,
                #"{"type":"InterventionEnded","occurredAt":"2026-06-01","data":{"intervention":8,"date":"2026-06-01","reason":"dropped_out"}}"#
            )
            let result = try await path.record(
                #"{"type":"CaseClosed","occurredAt":"2026-07-01","data":{"reason":"needs_resolved","date":"2026-06-30"}}"#)
            #expect(result.append.streamVersions == 12...12 && result.automaticPositions.isEmpty)
        }
    }

    /// Logs written before the daemon recorded these ends fold as they did: the closure ends the
    /// interventions in the state, and a late InterventionEnded may still say when.
    @Test func anOldLogWithoutTheEndsFoldsAsBefore() {
        func fact(_ version: UInt64, _ kind: EventKind, _ data: [(key: String, value: JSON)], _ day: String) -> CaseFact {
            CaseFact(version: version, kind: kind, data: data, reference: CaseFilesTests.reference.current, occurredAt: day)
        }
        let facts = [
            fact(1, .personRegistered, [("birthYear", .number("1985"))], "2026-01-10"),
            fact(2, .caseOpened, [("ambito", .string("matera"))], "2026-01-11"),
            fact(3, .takenInCharge, [("date", .string("2026-01-12"))], "2026-01-12"),
            fact(4, .planDrafted, [], "2026-01-20"),
            fact(5, .planSigned, [("plan", .number("4")), ("date", .string("2026-01-21"))], "2026-01-21"),
            fact(6, .interventionRequested, [("code", .string("SAD"))], "2026-02-01"),
            fact(7, .caseClosed, [("reason", .string("needs_resolved")), ("date", .string("2026-06-30"))], "2026-07-01"),
            fact(8, .interventionEnded, [("intervention", .number("6")), ("date", .string("2026-06-15"))], "2026-07-02"),
        ]
        let state = CaseState.fold(facts)
        #expect(state.interventions[6] == .ended && state.counts(8))
        #expect(CaseState.fold(Array(facts.prefix(7))).openInterventions.isEmpty)
    }
}
