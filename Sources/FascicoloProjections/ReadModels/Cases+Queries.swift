import FascicoloDomain
import FascicoloJSON
import FascicoloStorage

extension Cases {
    /// A person's case state as the `persons` row shows it, with the ages that depend on the
    /// day it is asked: days since the presa in carico, and whether the next review is overdue.
    public struct StateOnDay: Sendable {
        public let state: ShownState
        public let daysSinceTakenInCharge: Int?
        public let reviewOverdue: Bool?
    }

    /// The person's case state on `today`; nil when the person has no row (or an unreadable one).
    public static func state(_ view: ProjectionView, person: Pseudonym, today: CalendarDate) throws -> StateOnDay? {
        guard let stored = try view.transaction.get(view.tables[persons], key: person.bytes),
            let state = ShownState(row: Array(stored))
        else { return nil }
        return StateOnDay(
            state: state,
            daysSinceTakenInCharge: state.takenInChargeOn.map { today.daysSinceEpoch - $0.daysSinceEpoch },
            reviewOverdue: state.nextReviewDue.map { $0 < today })
    }

    public struct CaseloadRow: Sendable, Equatable {
        /// The operator id or the ambito code.
        public let id: String
        /// Open case files (opened, taken in charge or suspended).
        public let open: Int64
        public let takenInCharge: Int64
        /// Open case files whose next review is before `today`.
        public let reviewsOverdue: Int64
    }

    /// The caseload per operator (case manager) or per ambito.
    public static func caseload(_ view: ProjectionView, byOperator: Bool, today: CalendarDate) throws -> [CaseloadRow] {
        let prefix = Array((byOperator ? "operator" : "ambito").utf8) + [0]
        var overdue: [String: Int64] = [:]
        let todayKey = Array(today.description.utf8)
        try view.transaction.withCursor(view.tables[reviews]) { cursor in
            var record = try cursor.first()
            while let current = record, current.key.prefix(10).lexicographicallyPrecedes(todayKey) {
                let parts = current.value.split(separator: 0, omittingEmptySubsequences: false)
                if parts.count == 2 {
                    let id = String(decoding: byOperator ? parts[1] : parts[0], as: UTF8.self)
                    if !id.isEmpty { overdue[id, default: 0] += 1 }
                }
                record = try cursor.next()
            }
        }
        var rows: [CaseloadRow] = []
        try view.transaction.withCursor(view.tables[caseload]) { cursor in
            var record = try cursor.seek(atOrAfter: prefix)
            while let current = record, current.key.starts(with: prefix) {
                let id = String(decoding: current.key.dropFirst(prefix.count), as: UTF8.self)
                let value = Array(current.value)
                let counter = { (index: Int) in Int64(bitPattern: BigEndian.uint64(value[(index * 8)..<(index * 8 + 8)]) ?? 0) }
                rows.append(CaseloadRow(id: id, open: counter(0), takenInCharge: counter(1), reviewsOverdue: overdue[id] ?? 0))
                record = try cursor.next()
            }
        }
        return rows
    }

    /// Counts below this are not shown in indicators (nor medians over fewer case files).
    public static let suppressionThreshold = 5

    /// The Region's indicators over case files opened in `year` (nil: all) in `ambito` (nil:
    /// all): days from first contact to presa in carico and to a signed plan (median, p90),
    /// the share of case files with an assessment and with a signed plan, closure reasons and
    /// outcomes. Any count below `suppressionThreshold` is suppressed, and a statistic over
    /// fewer case files is nil. Complementary cells too (`SmallNumbers`): a count or share that,
    /// with a shown total, would give a small number by subtraction (case files not taken in
    /// charge, goals not achieved, case files without an assessment or a signed plan) is
    /// withheld (nil for a share).
    public struct Indicators: Sendable {
        /// A count, or `suppressed` below `suppressedBelow`, or `withheld` when it is not small
        /// itself but would reveal a suppressed count by subtraction from a shown total.
        public enum Count: Sendable, Equatable {
            case value(Int)
            case suppressed
            case withheld
        }

        /// Days over the case files that have both dates; nil statistics over too few.
        public struct Distribution: Sendable {
            public let caseFiles: Count
            public let median: Int?
            public let p90: Int?
        }

        public let caseFiles: Count
        public let takenInCharge: Count
        public let daysFromFirstContactToPresaInCarico: Distribution
        public let daysFromFirstContactToSignedPlan: Distribution
        /// Shares rounded to thousandths.
        public let shareWithAssessment: Double?
        public let shareWithSignedPlan: Double?
        /// By code, in code order.
        public let closureReasons: [(code: String, count: Count)]
        public let outcomes: [(code: String, count: Count)]
        public let goalsClosed: Count
        public let goalsAchieved: Count
        public let suppressedBelow: Int
    }

    public static func indicators(_ view: ProjectionView, ambito: String?, year: Int?) throws -> Indicators {
        var files = 0
        var takenInCharge = 0
        var assessed = 0
        var planned = 0
        var toPresaInCarico: [Int] = []
        var toPlan: [Int] = []
        var closures: [String: Int] = [:]
        var outcomes: [String: Int] = [:]
        var goalsClosed = 0
        var goalsAchieved = 0
        func days(_ from: String?, _ to: String?) -> Int? {
            guard let from = from.flatMap(CalendarDate.init), let to = to.flatMap(CalendarDate.init) else { return nil }
            return max(0, to.daysSinceEpoch - from.daysSinceEpoch)
        }
        try view.transaction.withCursor(view.tables[caseFiles]) { cursor in
            var record = try cursor.first()
            while let current = record {
                record = try cursor.next()
                let row = try JSON.parse(current.value)
                if let ambito, row["ambito"]?.string != ambito { continue }
                if let year, row["openedOn"]?.string?.prefix(4) != Substring(String(year)) { continue }
                files += 1
                if row["takenInChargeOn"] != nil { takenInCharge += 1 }
                if row["assessed"]?.bool == true { assessed += 1 }
                if row["planSignedOn"] != nil { planned += 1 }
                if let value = days(row["firstContactOn"]?.string, row["takenInChargeOn"]?.string) { toPresaInCarico.append(value) }
                if let value = days(row["firstContactOn"]?.string, row["planSignedOn"]?.string) { toPlan.append(value) }
                if let reason = row["closureReason"]?.string { closures[reason, default: 0] += 1 }
                for (key, value) in row["outcomes"]?.members ?? [] { outcomes[key, default: 0] += value.int ?? 0 }
                goalsClosed += row["goalsClosed"]?.int ?? 0
                goalsAchieved += row["goalsAchieved"]?.int ?? 0
            }
        }
        let threshold = suppressionThreshold
        let smallNumbers = SmallNumbers(threshold: threshold)
        func count(_ value: Int) -> Indicators.Count { value < threshold ? .suppressed : .value(value) }
        /// A part of `total` whose remainder is not shown: withheld when the two would reveal a small remainder.
        func part(_ value: Int, of total: Int) -> Indicators.Count {
            let parts: [SmallNumbers.Part] = [.init(value), .init(total - value, published: false)]
            let hidden = smallNumbers.hidden(parts, totalShown: !smallNumbers.isSmall(total))
            return hidden[0] && !smallNumbers.isSmall(value) ? .withheld : count(value)
        }
        func share(_ part: Int) -> Double? {
            let parts: [SmallNumbers.Part] = [.init(part), .init(files - part, published: false)]
            let hidden = smallNumbers.hidden(parts, totalShown: !smallNumbers.isSmall(files))
            return files < threshold || hidden[0] ? nil : Double((part * 1000 + files / 2) / files) / 1000
        }
        func distribution(_ values: [Int]) -> Indicators.Distribution {
            guard values.count >= threshold else { return .init(caseFiles: count(values.count), median: nil, p90: nil) }
            let sorted = values.sorted()
            let percentile = { (p: Int) in sorted[min(sorted.count - 1, (sorted.count * p + 99) / 100 - 1)] }
            return .init(caseFiles: count(values.count), median: percentile(50), p90: percentile(90))
        }
        func counts(_ values: [String: Int]) -> [(code: String, count: Indicators.Count)] {
            values.keys.sorted().map { ($0, count(values[$0]!)) }
        }
        return Indicators(
            caseFiles: count(files), takenInCharge: part(takenInCharge, of: files),
            daysFromFirstContactToPresaInCarico: distribution(toPresaInCarico), daysFromFirstContactToSignedPlan: distribution(toPlan),
            shareWithAssessment: share(assessed), shareWithSignedPlan: share(planned),
            closureReasons: counts(closures), outcomes: counts(outcomes),
            goalsClosed: count(goalsClosed), goalsAchieved: part(goalsAchieved, of: goalsClosed), suppressedBelow: threshold)
    }
}
