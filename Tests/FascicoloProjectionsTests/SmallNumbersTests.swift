import Testing

@testable import FascicoloProjections

@Suite struct SmallNumbersTests {
    let rule = SmallNumbers(threshold: 5)

    @Test func smallCountsAreHidden() {
        #expect(rule.hidden([.init(3), .init(40), .init(12)], totalShown: false) == [true, false, false])
        #expect(rule.hidden([.init(0), .init(40)], totalShown: false) == [true, false])
    }

    /// A total and all but one part must not reveal the last.
    @Test func theComplementOfAHiddenCellIsHiddenToo() {
        // 3 + 40 + 12 = 55 shown: 3 would be 55 − 40 − 12; the smallest other part (12) goes too.
        #expect(rule.hidden([.init(3), .init(40), .init(12)], totalShown: true) == [true, false, true])
        // A part never published but computable (files − taken in charge = 2) counts as the unknown one.
        #expect(rule.hidden([.init(30), .init(2, published: false)], totalShown: true) == [true, false])
        // Two unknown parts protect each other; a derived zero or a large remainder needs nothing.
        #expect(rule.hidden([.init(3), .init(2), .init(40)], totalShown: true) == [true, true, false])
        #expect(rule.hidden([.init(30), .init(0, published: false)], totalShown: true) == [false, false])
        #expect(rule.hidden([.init(30), .init(9, published: false)], totalShown: true) == [false, false])
    }
}

/// The caseload and interventions reports as the Region receives them.
@Suite struct RegionReportsTests {
    @Test func caseloadHidesSmallCountsAndTheirComplements() {
        let exported = RegionReports.caseload(Cases.CaseloadRow(id: "potenza", open: 30, takenInCharge: 27, reviewsOverdue: 2))
        // 30 open, 27 taken in charge would say 3 are not: 27 is withheld. Two overdue reviews are suppressed.
        #expect(exported.open == .value(30) && exported.takenInCharge == .withheld && exported.reviewsOverdue == .suppressed)
        let small = RegionReports.caseload(Cases.CaseloadRow(id: "matera", open: 3, takenInCharge: 3, reviewsOverdue: 0))
        #expect(small.open == .suppressed && small.takenInCharge == .suppressed)
        let large = RegionReports.caseload(Cases.CaseloadRow(id: "x", open: 40, takenInCharge: 30, reviewsOverdue: 10))
        #expect(large.takenInCharge == .value(30) && large.reviewsOverdue == .value(10))
    }

    @Test func interventionsHideSmallCountsAndTheMinutesOfFewDeliveries() {
        let row = Interventions.Row(
            code: "SAD", provider: "Coop", fundingLine: "fna", ambito: "potenza", month: "2026-01",
            requested: 2, started: 7, ended: 0, deliveries: 3, minutes: 180, amountCents: 9_000)
        let exported = RegionReports.interventions(row)
        #expect(exported.requested == .suppressed && exported.started == .value(7) && exported.ended == .suppressed)
        #expect(exported.deliveries == .suppressed && exported.minutes == nil && exported.amountCents == nil)
    }
}
