import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloProjections
import FascicoloTesting
import FascicoloWorkload
import Glibc
import Testing

// Each read model against the log itself, read here without the engine: every person's
// stream, every access stream, every correction, folded or counted directly.

private let seed: UInt64 = 0xBEAD_2026

/// The log, grouped the way the checks need it.
private struct LogScan {
    var persons: [Pseudonym: [Entry]] = [:]
    var accesses: [Pseudonym: [Entry]] = [:]
    var types: [String: Int] = [:]

    init(_ ledger: Ledger) throws {
        var position: UInt64 = 0
        while position < ledger.size {
            let entries = try ledger.entries(from: position, limit: 4_096)
            for entry in entries {
                types[entry.eventType, default: 0] += 1
                guard let person = Pseudonym.owning(stream: entry.stream) else { continue }
                if entry.stream.hasPrefix(Pseudonym.personPrefix) {
                    persons[person, default: []].append(entry)
                } else {
                    accesses[person, default: []].append(entry)
                }
            }
            position += UInt64(entries.count)
        }
    }

    /// The stream's facts, as the rules read them, and the state they fold to.
    static func state(_ entries: [Entry]) -> CaseState {
        CaseState.fold(
            entries.map { entry in
                guard let stored = StoredEvent(payload: entry.payload), let schema = EventCatalogue.schema(entry.eventType) else {
                    return CaseFact(version: entry.streamVersion, type: entry.eventType)
                }
                let data = schema.upcast(.object(stored.data), from: stored.schemaVersion)?.members ?? stored.data
                return CaseFact(
                    version: entry.streamVersion, type: entry.eventType, data: data, reference: referenceData.versions[stored.codeTable],
                    occurredAt: stored.occurredAt)
            })
    }

    static func data(_ entry: Entry) -> JSON? { StoredEvent(payload: entry.payload).map { .object($0.data) } }
}

@Suite struct ReadModelTests {
    @Test func everyReadModelAgreesWithTheLog() async throws {
        try await withCaseFiles { _, ledger, files in
            let engine = try makeEngine(ledger)
            try engine.start()
            defer { engine.stop() }
            try await applyWorkload(files, seed: seed, persons: 120)
            try await waitFor(engine, "catch-up", caughtUp(ledger))
            let scan = try LogScan(ledger)
            #expect(
                scan.persons.count > 100 && (scan.types["Voided"] ?? 0) > 0 && (scan.types["ErasureExecuted"] ?? 0) > 0,
                "seed \(seed): the workload lacks what the checks need")
            let today = CalendarDate(daysSinceEpoch: Int(time(nil) / 86_400))

            // Timeline: every entry of every person, corrections marked on their targets.
            try await engine.query(Timeline.name) { view in
                for (person, entries) in scan.persons {
                    let page = try #require(try Timeline.read(view, person: person, from: 1, limit: 10_000))
                    #expect(page.rows.map(\.position) == entries.map(\.position), "seed \(seed)")
                    #expect(page.erased == entries.contains { $0.eventType == "ErasureExecuted" })
                    #expect(page.entries == UInt64(entries.count), "seed \(seed)")
                    #expect(page.caseFiles == UInt64(entries.filter { ["CaseOpened", "CaseTransferredIn"].contains($0.eventType) }.count))
                    #expect(page.rows.map(\.type) == entries.map(\.eventType), "seed \(seed)")
                    // Each entry in the case file the last opening before it (or itself) started.
                    var opened: UInt64 = 0
                    for (entry, row) in zip(entries, page.rows) {
                        if ["CaseOpened", "CaseTransferredIn"].contains(entry.eventType) { opened += 1 }
                        #expect(row.caseFile == opened, "seed \(seed): version \(entry.streamVersion)")
                    }
                    // A page from the middle of the stream is that part of the whole timeline.
                    let middle = entries.count / 2 + 1
                    let part = try #require(try Timeline.read(view, person: person, from: UInt64(middle), limit: 7))
                    #expect(part.rows == Array(page.rows[(middle - 1)..<min(entries.count, middle - 1 + 7)]), "seed \(seed)")
                    #expect(part.entries == page.entries)
                    for entry in entries where entry.eventType == "Voided" {
                        let target = try #require(LogScan.data(entry)?["target"]?.uint64)
                        #expect(page.rows[Int(target - 1)].voidedBy == entry.streamVersion, "seed \(seed)")
                    }
                    for entry in entries where entry.eventType == "Rectified" {
                        let target = try #require(LogScan.data(entry)?["target"]?.uint64)
                        #expect(page.rows[Int(target - 1)].rectifiedBy.contains(entry.streamVersion))
                    }
                    // A restriction shows on its target until it is lifted.
                    let lifted = Set(
                        entries.filter { $0.eventType == "RestrictionLifted" }.compactMap { LogScan.data($0)?["restriction"]?.uint64 })
                    for entry in entries where entry.eventType == "Restricted" {
                        let target = try #require(LogScan.data(entry)?["target"]?.uint64)
                        let mark = page.rows[Int(target - 1)].restrictedBy
                        #expect(
                            lifted.contains(entry.streamVersion) ? mark != entry.streamVersion : mark == entry.streamVersion, "seed \(seed)"
                        )
                        if lifted.contains(entry.streamVersion) {
                            #expect(page.rows[Int(entry.streamVersion - 1)].restrictionLiftedBy != nil)
                        }
                    }
                    let personal = page.rows.filter { $0.content?.sealed == true }
                    #expect(
                        personal.allSatisfy { row in
                            StoredEvent(payload: entries[Int(row.version - 1)].payload)?.sealed != nil
                        })
                }
            }

            // Case state and caseload: the projection's state is the fold of the whole stream.
            var openByAmbito: [String: Int64] = [:]
            try await engine.query(Cases.name) { view in
                for (person, entries) in scan.persons {
                    let folded = LogScan.state(entries)
                    let state = try #require(try Cases.state(view, person: person, today: today))
                    #expect(state.state.phase == folded.phase, "seed \(seed)")
                    #expect(state.state.ambito == folded.ambito)
                    #expect(state.state.caseManager == folded.caseManager)
                    #expect(state.state.openInterventions == folded.openInterventions)
                    if [.opened, .takenInCharge, .suspended].contains(folded.phase), !folded.erased, let ambito = folded.ambito {
                        openByAmbito[ambito, default: 0] += 1
                    }
                }
                let caseload = try Cases.caseload(view, byOperator: false, today: today)
                #expect(Dictionary(uniqueKeysWithValues: caseload.map { ($0.id, $0.open) }) == openByAmbito, "seed \(seed)")
                #expect(!(try Cases.caseload(view, byOperator: true, today: today)).isEmpty)
            }

            // Interventions: what was requested and delivered, less what was voided — and the
            // ends a closure wrote (`endedWith`) when that closure was voided, or when a later
            // real end of the same intervention took their place.
            var voided: Set<String> = []
            var automaticEnds = 0
            for (person, entries) in scan.persons {
                for entry in entries where entry.eventType == "Voided" {
                    voided.insert("\(person)/\(LogScan.data(entry)?["target"]?.uint64 ?? 0)")
                }
                for entry in entries where entry.eventType == "InterventionEnded" {
                    guard let data = LogScan.data(entry), let closing = data["endedWith"]?.uint64 else { continue }
                    automaticEnds += 1
                    let intervention = data["intervention"]?.uint64
                    let replaced = entries.contains { later in
                        later.streamVersion > entry.streamVersion && later.eventType == "InterventionEnded"
                            && LogScan.data(later)?["intervention"]?.uint64 == intervention
                    }
                    if voided.contains("\(person)/\(closing)") || replaced {
                        voided.insert("\(person)/\(entry.streamVersion)")
                    }
                }
            }
            #expect(automaticEnds > 0, "the workload closes, transfers or loses to death someone with interventions running")
            func live(_ type: String) -> Int64 {
                Int64(
                    scan.persons.reduce(0) { sum, element in
                        sum + element.value.filter { $0.eventType == type && !voided.contains("\(element.key)/\($0.streamVersion)") }.count
                    })
            }
            let totals = try await engine.query(Interventions.name) { view in try Interventions.totals(view, limit: 100_000) }
            #expect(totals.reduce(0) { $0 + $1.requested } == live("InterventionRequested"), "seed \(seed)")
            #expect(totals.reduce(0) { $0 + $1.deliveries } == live("ServiceDelivered"), "seed \(seed)")
            #expect(totals.reduce(0) { $0 + $1.started } == live("InterventionStarted"), "seed \(seed)")
            #expect(totals.reduce(0) { $0 + $1.ended } == live("InterventionEnded"), "seed \(seed)")
            let minutes = scan.persons.reduce(Int64(0)) { sum, element in
                sum
                    + element.value.filter { $0.eventType == "ServiceDelivered" && !voided.contains("\(element.key)/\($0.streamVersion)") }
                    .reduce(Int64(0)) { $0 + Int64(LogScan.data($1)?["minutes"]?.int ?? 0) }
            }
            #expect(totals.reduce(0) { $0 + $1.minutes } == minutes, "seed \(seed)")

            // Compliance: every recorded read, every correction in its register.
            try await engine.query(Compliance.name) { view in
                for (person, entries) in scan.accesses {
                    let accesses = try Compliance.accesses(view, person: person, from: 0, limit: 10_000)
                    #expect(accesses.map(\.position) == entries.map(\.position), "seed \(seed)")
                    #expect(accesses.allSatisfy { $0.purpose != nil && !$0.author.isEmpty })
                    // A page from a position in the middle, and a short one.
                    let middle = entries[entries.count / 2].position
                    #expect(
                        try Compliance.accesses(view, person: person, from: middle, limit: 10_000).map(\.position)
                            == entries.filter { $0.position >= middle }.map(\.position))
                    #expect(
                        try Compliance.accesses(view, person: person, from: middle + 1, limit: 2).map(\.position)
                            == Array(entries.filter { $0.position > middle }.prefix(2).map(\.position)))
                }
                for (register, types) in [
                    ("rectifications", ["Rectified"]), ("voids", ["Voided"]),
                    ("restrictions", ["Restricted", "RestrictionLifted"]), ("erasures", ["ErasureExecuted"]),
                ] {
                    let rows = try Compliance.register(view, register, from: 0, limit: 100_000)
                    #expect(rows.count == types.reduce(0) { $0 + (scan.types[$1] ?? 0) }, "seed \(seed): \(register)")
                }
            }

            // Indicators: every case file counted once; small counts suppressed.
            let openings =
                Int64(scan.types["CaseOpened", default: 0] + scan.types["CaseTransferredIn", default: 0]) - Int64(voidedOpenings(scan))
            let indicators = try await engine.query(Cases.name) { view in try Cases.indicators(view, ambito: nil, year: nil) }
            #expect(indicators.caseFiles == .value(Int(openings)), "seed \(seed)")
            #expect(indicators.daysFromFirstContactToPresaInCarico.median != nil)
            let small = try await engine.query(Cases.name) { view in try Cases.indicators(view, ambito: "no-such-ambito", year: nil) }
            #expect(small.caseFiles == .suppressed && small.shareWithAssessment == nil)
        }
    }
}

/// CaseOpened / CaseTransferredIn entries that no longer count (voided, or after an erasure).
private func voidedOpenings(_ scan: LogScan) -> Int {
    scan.persons.values.reduce(0) { sum, entries in
        let state = LogScan.state(entries)
        return sum + entries.filter { ["CaseOpened", "CaseTransferredIn"].contains($0.eventType) && !state.counts($0.streamVersion) }.count
    }
}
