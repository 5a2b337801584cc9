import FascicoloDomain
import FascicoloProjections
import Testing

/// The Region's indicators never let a reader compute a small number from what is shown: a total
/// and a part whose difference is a small non-zero count are never both numbers (issue 19).
@Suite struct IndicatorSuppressionTests {
    @Test func noShownTotalAndPartRevealASmallDifference() async throws {
        try await withCaseFiles { _, ledger, files in
            let engine = try makeEngine(ledger, [Cases.self])
            try engine.start()
            defer { engine.stop() }
            try await applyWorkload(files, seed: 0x1919, persons: 300)
            try await waitFor(engine, "catch-up", caughtUp(ledger))
            let threshold = Cases.suppressionThreshold
            let ambiti = [nil] + referenceData.current.labels[.ambiti]!.keys.sorted()
            var checked = 0
            for ambito in ambiti {
                for year in [nil, 2024, 2025, 2026] {
                    let indicators = try await engine.query(Cases.name) { view in try Cases.indicators(view, ambito: ambito, year: year) }
                    func revealsSmall(_ total: Cases.Indicators.Count, _ part: Cases.Indicators.Count) -> Bool {
                        guard case .value(let whole) = total, case .value(let some) = part else { return false }
                        return whole - some > 0 && whole - some < threshold
                    }
                    func shareRevealsSmall(_ share: Double?) -> Bool {
                        guard case .value(let files) = indicators.caseFiles, let share else { return false }
                        let rest = files - Int((share * Double(files)).rounded())
                        return rest > 0 && rest < threshold
                    }
                    let label = "\(ambito ?? "all") \(year.map(String.init) ?? "all")"
                    #expect(!revealsSmall(indicators.caseFiles, indicators.takenInCharge), "\(label)")
                    #expect(!revealsSmall(indicators.goalsClosed, indicators.goalsAchieved), "\(label)")
                    #expect(
                        !shareRevealsSmall(indicators.shareWithAssessment) && !shareRevealsSmall(indicators.shareWithSignedPlan), "\(label)"
                    )
                    if case .value = indicators.caseFiles { checked += 1 }
                }
            }
            #expect(checked > 10, "the workload gave too few groups to check")
        }
    }
}
