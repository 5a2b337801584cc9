import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloProjections
import FascicoloTesting
import Testing

/// The interventions a closure, transfer out or death ended are InterventionEnded entries the
/// daemon wrote (issue 19): the interventions read model counts them ended, on the closing day;
/// a later real end takes the automatic one's place (counted once); a void of the closure takes
/// them back; the cases read model shows no intervention open.
@Suite struct EndsWithCaseReadModelTests {
    static let actor = #"{"operator":"op-1","role":"assistente_sociale","ente":"Comune di Matera","ambito":"matera"}"#
    static let path = [
        #"{"type":"PersonRegistered","occurredAt":"2026-01-10","data":{"birthYear":1940,"sex":"F","citizenship":"italian","comuneOfResidence":"F052"}}"#,
        #"{"type":"CaseOpened","occurredAt":"2026-01-11","data":{"area":"elderly","ente":"Comune di Matera","ambito":"matera"}}"#,
        #"{"type":"TakenInCharge","occurredAt":"2026-01-12","data":{"date":"2026-01-12","basis":"request"}}"#,
        #"{"type":"PlanDrafted","occurredAt":"2026-01-20","data":{"objectives":["domiciliarita"]}}"#,
        #"{"type":"PlanSigned","occurredAt":"2026-01-21","data":{"plan":4,"date":"2026-01-21","signatories":["interessato"]}}"#,
        #"{"type":"InterventionRequested","occurredAt":"2026-02-01","data":{"code":"SAD","provider":"Coop Il Sole","fundingLine":"fna"}}"#,
        #"{"type":"InterventionStarted","occurredAt":"2026-02-03","data":{"intervention":6,"date":"2026-02-03"}}"#,
    ].joined(separator: ",")

    func record(_ files: CaseFiles, _ person: String, _ events: String...) async throws -> RecordResult {
        let body = #"{"person":"\#(person)","actor":\#(Self.actor),"events":[\#(events.joined(separator: ","))]}"#
        return try await files.record(try RecordRequest.parse(Array(body.utf8), eventsMax: 100), author: "uid:1/test")
    }

    /// Ended interventions by month.
    func ended(_ engine: ProjectionEngine, at position: UInt64) async throws -> [String: Int64] {
        let rows = try await engine.query(Interventions.name, reflecting: position) { view in try Interventions.totals(view, limit: 1_000) }
        return rows.reduce(into: [:]) { $0[$1.month, default: 0] += $1.ended }.filter { $0.value != 0 }
    }

    @Test func theReadModelsShowTheEndsOnTheirDay() async throws {
        try await withCaseFiles { _, ledger, files in
            let engine = try makeEngine(ledger)
            try engine.start()
            defer { engine.stop() }
            // Home care until death (5 May).
            _ = try await record(files, "RSSMRA40A41F052K", Self.path)
            let died = try await record(
                files, "RSSMRA40A41F052K", #"{"type":"PersonDied","occurredAt":"2026-05-06","data":{"date":"2026-05-05"}}"#)
            #expect(died.automaticPositions.count == 1)
            #expect(try await ended(engine, at: died.append.positions.upperBound) == ["2026-05": 1])
            let person = try files.pseudonym(for: try PersonIdentifier(parsing: "RSSMRA40A41F052K"))
            let state = try await engine.query(Cases.name, reflecting: died.append.positions.upperBound) { view in
                try Cases.state(view, person: person, today: CalendarDate("2026-12-05")!)
            }
            #expect(state?.state.openInterventions == [])
        }
    }

    @Test func aRealEndTakesTheAutomaticOnesPlaceAndAVoidTakesItBack() async throws {
        try await withCaseFiles { _, ledger, files in
            let engine = try makeEngine(ledger)
            try engine.start()
            defer { engine.stop() }
            let closure = #"{"type":"CaseClosed","occurredAt":"2026-07-01","data":{"reason":"needs_resolved","date":"2026-06-30"}}"#
            // One person closed, then the real end of home care (15 May) recorded late.
            _ = try await record(files, "RSSMRA85T10A562S", Self.path)
            let closed = try await record(files, "RSSMRA85T10A562S", closure)
            #expect(try await ended(engine, at: closed.append.positions.upperBound) == ["2026-06": 1])
            let real = try await record(
                files, "RSSMRA85T10A562S",
                #"{"type":"InterventionEnded","occurredAt":"2026-07-02","data":{"intervention":6,"date":"2026-05-15","reason":"completed"}}"#
            )
            #expect(try await ended(engine, at: real.append.positions.upperBound) == ["2026-05": 1])
            // Another closed by mistake, then the closure voided: nothing ended.
            _ = try await record(files, "BNCLRA80A41F052Z", Self.path)
            _ = try await record(files, "BNCLRA80A41F052Z", closure)
            let void = try await record(
                files, "BNCLRA80A41F052Z",
                #"{"type":"Voided","occurredAt":"2026-07-02","data":{"target":8,"reason":"errore","authorisingAct":"det. 7/2026"}}"#)
            #expect(try await ended(engine, at: void.append.positions.upperBound) == ["2026-05": 1])
            let person = try files.pseudonym(for: try PersonIdentifier(parsing: "BNCLRA80A41F052Z"))
            let state = try await engine.query(Cases.name, reflecting: void.append.positions.upperBound) { view in
                try Cases.state(view, person: person, today: CalendarDate("2026-12-05")!)
            }
            #expect(state?.state.openInterventions == [6])
        }
    }
}
