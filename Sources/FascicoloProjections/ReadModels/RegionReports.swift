/// The caseload and interventions reports as exported to the Region: small numbers suppressed
/// like the indicators (`SmallNumbers`). A count below the threshold is `suppressed`; a count
/// hidden only because it would reveal another by subtraction is `withheld`. The service's own
/// reports keep exact figures (a provider's invoice needs them).
public enum RegionReports {
    public typealias Count = Cases.Indicators.Count

    static let smallNumbers = SmallNumbers(threshold: Cases.suppressionThreshold)

    /// One ambito's (or operator's) caseload.
    public struct CaseloadRow: Sendable, Equatable {
        public let id: String
        public let open, takenInCharge, reviewsOverdue: Count
    }

    /// One row of interventions totals; minutes and amount are nil when the deliveries they add up are suppressed.
    public struct InterventionRow: Sendable {
        public let code, provider, fundingLine, ambito, month: String
        public let requested, started, ended, deliveries: Count
        public let minutes: Int64?
        public let amountCents: Int64?
    }

    static func count(_ value: Int64) -> Count { smallNumbers.isSmall(Int(value)) ? .suppressed : .value(Int(value)) }

    /// Taken in charge and reviews overdue are parts of the open case files: with `open` shown,
    /// neither may leave a small remainder.
    public static func caseload(_ row: Cases.CaseloadRow) -> CaseloadRow {
        let open = Int(row.open)
        let openShown = !smallNumbers.isSmall(open)
        func part(_ value: Int64) -> Count {
            let hidden = smallNumbers.hidden([.init(Int(value)), .init(open - Int(value), published: false)], totalShown: openShown)
            return hidden[0] && !smallNumbers.isSmall(Int(value)) ? .withheld : count(value)
        }
        return CaseloadRow(
            id: row.id, open: count(row.open), takenInCharge: part(row.takenInCharge), reviewsOverdue: part(row.reviewsOverdue))
    }

    /// Each count suppressed when small; minutes and amount withheld when the deliveries are
    /// (a few deliveries' total is one person's).
    public static func interventions(_ row: Interventions.Row) -> InterventionRow {
        let deliveries = count(row.deliveries)
        let shown = deliveries != .suppressed
        return InterventionRow(
            code: row.code, provider: row.provider, fundingLine: row.fundingLine, ambito: row.ambito, month: row.month,
            requested: count(row.requested), started: count(row.started), ended: count(row.ended),
            deliveries: deliveries, minutes: shown ? row.minutes : nil, amountCents: shown ? row.amountCents : nil)
    }
}
