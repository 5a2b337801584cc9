import Testing

@testable import FascicoloDomain

/// The working-time rule in Italian local time, across both changes of the clock.
@Suite struct UnusualAccessTests {
    /// Milliseconds of a UTC time.
    static func utc(_ day: String, _ hour: Int, _ minute: Int = 0) -> Int64 {
        Int64(CalendarDate(day)!.daysSinceEpoch) * 86_400_000 + Int64(hour * 60 + minute) * 60_000
    }

    @Test func workingTimeIsItalianLocalTime() {
        let rules = UnusualAccessRules()
        // Winter (UTC+1): 06:30 UTC is 07:30, 05:30 UTC is 06:30; 18:59 UTC is 19:59, 19:00 UTC is 20:00.
        #expect(CaseFiles.isWorkingTime(Self.utc("2026-01-15", 6, 30), rules))
        #expect(!CaseFiles.isWorkingTime(Self.utc("2026-01-15", 5, 30), rules))
        #expect(CaseFiles.isWorkingTime(Self.utc("2026-01-15", 18, 59), rules))
        #expect(!CaseFiles.isWorkingTime(Self.utc("2026-01-15", 19, 0), rules))
        // Summer (UTC+2): 05:30 UTC is 07:30; 17:59 UTC is 19:59, 18:00 UTC is 20:00.
        #expect(CaseFiles.isWorkingTime(Self.utc("2026-07-15", 5, 30), rules))
        #expect(!CaseFiles.isWorkingTime(Self.utc("2026-07-15", 18, 0), rules))
        // The changes: 2026-03-29 01:00 UTC and 2026-10-25 01:00 UTC (last Sundays; Monday after).
        #expect(CaseFiles.isWorkingTime(Self.utc("2026-03-30", 5, 30), rules), "Monday after the spring change, 07:30")
        #expect(!CaseFiles.isWorkingTime(Self.utc("2026-03-27", 5, 30), rules), "Friday before it, 06:30")
        #expect(!CaseFiles.isWorkingTime(Self.utc("2026-10-26", 5, 30), rules), "Monday after the autumn change, 06:30")
        // Sunday is not a working day; Saturday is.
        #expect(!CaseFiles.isWorkingTime(Self.utc("2026-01-18", 10), rules))
        #expect(CaseFiles.isWorkingTime(Self.utc("2026-01-17", 10), rules))
    }
}
