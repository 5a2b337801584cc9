import FascicoloProjections
import Testing

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
