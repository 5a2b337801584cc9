import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloTesting
import FascicoloWorkload
import Testing

/// The retention schedule on a generated population over ten simulated years (issue 21): who is
/// due on a day matches a computation written here from the schedule's rules and the entries'
/// own payloads (`IndependentRetention`, not from CaseState; the birth year opened with the
/// person's key); erasure for retention spares held persons and open cases,
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
                let expected = try IndependentRetention.due(ledger, files: files, schedule: schedule, on: date)
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
            let expected = try IndependentRetention.due(ledger, files: files, schedule: schedule, on: date)
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
            #expect(
                try IndependentRetention.due(ledger, files: files, schedule: schedule, on: date).allSatisfy(\.value),
                "only held persons remain due")
            let again = try await files.applyRetention(on: date, skip: 0, scanMax: 10_000, author: "uid:0/retention")
            #expect(again.erased.isEmpty)
            ledger.close()
            _ = try Verifier.verify(directory: directory)
        }
    }
}
