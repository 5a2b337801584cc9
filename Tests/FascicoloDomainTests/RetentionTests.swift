import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloTesting
import FascicoloWorkload
import Testing

/// The retention schedule on a generated population over ten simulated years (issue 21): who is
/// due on a day matches a computation written here from the schedule's rules and the entries'
/// own payloads (not from CaseState); erasure for retention spares held persons and open cases,
/// runs again after an interruption without erasing twice, and the log verifies afterwards.
/// (The 100,000-person run is `fascicolo-bench retention`.)
@Suite struct RetentionTests {
    static let reference: ReferenceData = {
        do { return try ReferenceData.load(directory: packageDirectory() + "/Config/reference") } catch {
            preconditionFailure("the shipped reference data: \(error)")
        }
    }()

    @Test func theShippedScheduleLoads() throws {
        let schedule = try #require(Self.reference.retention)
        #expect(schedule.caseRecord("default")?.months == 120)
        for scope in ["minors_protection", "economic_benefits", "no_case"] { #expect(schedule.caseRecord(scope) != nil, "\(scope)") }
        #expect(schedule.rules.allSatisfy { !$0.legalSource.isEmpty })
        #expect(CalendarDate("2024-02-29")!.adding(months: 12) == CalendarDate("2025-02-28"))
        #expect(CalendarDate("2026-03-01")!.adding(months: 120) == CalendarDate("2036-03-01"))
        #expect(CalendarDate("2026-11-30")!.adding(months: 3) == CalendarDate("2027-02-28"))
        #expect(CalendarDate("2026-01-15")!.adding(months: 24) == CalendarDate("2028-01-15"))
    }

    @Test(.timeLimit(.minutes(3))) func dueMatchesAnIndependentComputationAndApplyErasesOnlyThose() async throws {
        try await withTemporaryDirectory { directory in
            var generator = PathGenerator(seed: 0x2E7E_2026, persons: 150, reference: Self.reference.current, firstDay: "2016-01-01")
            generator.readProbability = 0
            var configuration = LedgerConfiguration()
            configuration.unsafeNoSync = true
            let ledger = try Ledger.open(directory: directory, configuration: configuration)
            let files = try CaseFiles.open(ledger: ledger, directory: directory, reference: Self.reference)
            _ = try await WorkloadDriver(files: files).run(&generator)
            let schedule = try #require(Self.reference.retention)

            for day in ["2027-01-01", "2031-06-30", "2040-01-01", "2080-01-01"] {
                let date = try #require(CalendarDate(day))
                let expected = try Self.independentlyDue(ledger, schedule: schedule, on: date)
                var found: [String: Bool] = [:]
                var skip: Int? = 0
                while let from = skip {
                    let scan = try files.retentionDue(on: date, skip: from, scanMax: 97)
                    for due in scan.due { found[due.person.description] = due.heldBy != nil }
                    skip = scan.next
                }
                #expect(found == expected, "on \(day): \(found.count) found, \(expected.count) expected")
                if day != "2027-01-01" { #expect(!expected.isEmpty, "somebody is due on \(day)") }
            }

            // Apply on a day when many are due: in batches, interrupted after the first and run again.
            let date = try #require(CalendarDate("2040-01-01"))
            let expected = try Self.independentlyDue(ledger, schedule: schedule, on: date)
            let first = try await files.applyRetention(on: date, skip: 0, scanMax: 100, author: "uid:0/retention")
            var erased = Set(first.erased.map(\.person.description))
            var skip: Int? = 0
            while let from = skip {  // run again from the start, as after a crash
                let batch = try await files.applyRetention(on: date, skip: from, scanMax: 100, author: "uid:0/retention")
                for due in batch.erased { #expect(erased.insert(due.person.description).inserted, "erased twice") }
                skip = batch.next
            }
            #expect(erased == Set(expected.filter { !$0.value }.keys), "\(erased.count) erased")
            #expect(expected.values.contains(true), "the population has held persons")
            #expect(try Self.independentlyDue(ledger, schedule: schedule, on: date).allSatisfy(\.value), "only held persons remain due")
            let again = try await files.applyRetention(on: date, skip: 0, scanMax: 10_000, author: "uid:0/retention")
            #expect(again.erased.isEmpty)
            ledger.close()
            _ = try Verifier.verify(directory: directory)
        }
    }

    /// Persons due on `date` (pseudonym → held), from the payloads of their entries.
    static func independentlyDue(_ ledger: Ledger, schedule: RetentionSchedule, on date: CalendarDate) throws -> [String: Bool] {
        var streams: [String] = []
        try ledger.read { log in
            try log.forEachStream(withPrefix: "person:") { name, _ in
                streams.append(String(decoding: name, as: UTF8.self))
                return true
            }
        }
        var due: [String: Bool] = [:]
        for stream in streams {
            let entries = try ledger.readStream(stream, from: 1, limit: 100_000)
            let payloads = entries.map { try? JSON.parse($0.payload) }
            let voided = Set(zip(entries, payloads).filter { $0.0.eventType == "Voided" }.compactMap { $0.1?["data"]?["target"]?.int })
            var open = false
            var hadCase = false
            var deceased = false
            var end: CalendarDate?
            var lastDay: CalendarDate?
            var lastDelivery: CalendarDate?
            var judicial = false
            var birthYear: Int?
            var holds: Set<Int> = []
            var erased = false
            for (index, entry) in entries.enumerated() where !voided.contains(index + 1) {
                let data = payloads[index]?["data"]
                let occurred = payloads[index]?["occurredAt"]?.string.flatMap { CalendarDate(String($0.prefix(10))) }
                let day =
                    entry.eventType == "AppointmentScheduled" ? occurred : data?["date"]?.string.flatMap(CalendarDate.init) ?? occurred
                if let day, lastDay.map({ day > $0 }) ?? true { lastDay = day }
                func endOn(_ day: CalendarDate?) {
                    guard let day else { return }
                    end = end.map { min($0, day) } ?? day
                }
                switch entry.eventType {
                case "PersonRegistered": birthYear = data?["birthYear"]?.int
                case "Rectified" where data?["field"]?.string == "birthYear": birthYear = data?["newValue"]?.string.flatMap { Int($0) }
                case "CaseOpened", "CaseTransferredIn":
                    (open, hadCase, end) = (true, true, nil)
                case "CaseReopened" where !open:
                    (open, end) = (true, nil)
                case "InterventionRequested" where !hadCase && !open:
                    if let code = data?["code"]?.string, Self.reference.current.interventions[code]?.emergency == true {
                        (open, hadCase, end) = (true, true, nil)
                    }
                case "CaseTransferredOut":
                    let here = data?["toAmbito"]?.string.map { Self.reference.current.labels[.ambiti]?[$0] != nil } ?? false
                    if !here { open = false }
                    endOn(day)
                case "CaseClosed":
                    open = false
                    endOn(day)
                case "PersonDied":
                    deceased = true
                    if hadCase { endOn(day) }
                case "JudicialMeasureRecorded": judicial = true
                case "ServiceDelivered": if let day, lastDelivery.map({ day > $0 }) ?? true { lastDelivery = day }
                case "LegalHoldPlaced": holds.insert(index + 1)
                case "LegalHoldReleased": if let hold = data?["hold"]?.int { holds.remove(hold) }
                case "ErasureExecuted": erased = true
                default: break
                }
            }
            // A transfer to an ambito here keeps the case open until the transfer in.
            let stillOpen = (open || (hadCase && end != nil && Self.awaitingTransferIn(entries, payloads, voided))) && !deceased
            if erased || stillOpen { continue }
            var ends: [CalendarDate] = []
            func add(_ scope: String, _ start: CalendarDate?) {
                if let start, let rule = schedule.caseRecord(scope) { ends.append(start.adding(months: rule.months)) }
            }
            if hadCase {
                add("default", end)
                if judicial || (birthYear.map { by in end.map { $0.year - by < 18 } ?? false } ?? false) { add("minors_protection", end) }
            } else {
                add("no_case", lastDay)
            }
            add("economic_benefits", lastDelivery)
            guard let dueOn = ends.max(), dueOn <= date else { continue }
            due[String(stream.dropFirst("person:".count))] = !holds.isEmpty
        }
        return due
    }

    /// Whether the last counting opening or closing entry is a transfer out to an ambito here.
    static func awaitingTransferIn(_ entries: [Entry], _ payloads: [JSON?], _ voided: Set<Int>) -> Bool {
        let moves: Set<String> = ["CaseOpened", "CaseTransferredIn", "CaseReopened", "CaseTransferredOut", "CaseClosed"]
        guard let last = entries.indices.last(where: { !voided.contains($0 + 1) && moves.contains(entries[$0].eventType) }),
            entries[last].eventType == "CaseTransferredOut"
        else { return false }
        return payloads[last]?["data"]?["toAmbito"]?.string.map { reference.current.labels[.ambiti]?[$0] != nil } ?? false
    }
}
