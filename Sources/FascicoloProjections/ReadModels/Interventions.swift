import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// Interventions by code, provider, funding line, ambito and month: how many were requested,
/// started and ended, and the deliveries with their minutes and amounts. Voiding a counted
/// entry takes back exactly what it added.
///
/// Tables:
/// - `totals`: `code ‖ 0 ‖ provider ‖ 0 ‖ fundingLine ‖ 0 ‖ ambito ‖ 0 ‖ YYYY-MM` → six u64 BE
///   counters: requested, started, ended, deliveries, minutes, amount in cents. The month is
///   that of the counted event (`date`, else `occurredAt`); the ambito is the person's case
///   file's when the intervention was requested.
/// - `interventions`: pseudonym ‖ version of the InterventionRequested (u64 BE) →
///   `code ‖ 0 ‖ provider ‖ 0 ‖ fundingLine ‖ 0 ‖ ambito`.
/// - `counted`: pseudonym ‖ version (u64 BE) → the `totals` key it added to ‖ 0xFF ‖ its six
///   counters (u64 BE), so that a Voided entry can take them back.
/// - `ambits`: pseudonym → the ambito of the person's current case file.
public final class Interventions: Projection {
    public static let name = "interventions"
    public static let version = 1
    public static let tables = ["totals", "interventions", "counted", "ambits"]
    static let totals = 0
    static let interventions = 1
    static let counted = 2
    static let ambits = 3

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        guard case .person(let person) = event.subject, let fact = event.fact else { return }
        switch event.type {
        case "CaseOpened", "CaseTransferredIn":
            if let ambito = fact.ambito { rows.put(Self.ambits, person.bytes, Array(ambito.utf8)) }
        case "InterventionRequested":
            guard let code = event.data("code")?.string, let provider = event.data("provider")?.string,
                  let funding = event.data("fundingLine")?.string else {
                throw ProjectionFailure("InterventionRequested at position \(event.position) lacks its code, provider or funding line")
            }
            let ambito = try rows.get(Self.ambits, person.bytes).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let dimensions = [code, provider, funding, ambito].joined(separator: "\u{0}")
            rows.put(Self.interventions, Timeline.key(person, event.streamVersion), Array(dimensions.utf8))
            try count(event, person: person, dimensions: Array(dimensions.utf8), [1, 0, 0, 0, 0, 0], in: &rows)
        case "InterventionStarted", "InterventionEnded", "ServiceDelivered":
            guard let target = fact.reference, let dimensions = try rows.get(Self.interventions, Timeline.key(person, target)) else {
                throw ProjectionFailure("\(event.type) at position \(event.position) points at no InterventionRequested")
            }
            var counters: [Int64] = [0, 0, 0, 0, 0, 0]
            switch event.type {
            case "InterventionStarted": counters[1] = 1
            case "InterventionEnded": counters[2] = 1
            default:
                counters[3] = 1
                counters[4] = Int64(event.data("minutes")?.int ?? 0)
                counters[5] = event.data("amount").flatMap(Self.cents) ?? 0
            }
            try count(event, person: person, dimensions: dimensions, counters, in: &rows)
        case "Voided":
            guard let target = fact.reference else { return }
            let key = Timeline.key(person, target)
            guard let memo = try rows.get(Self.counted, key), let separator = memo.firstIndex(of: 0xFF),
                  memo.count - separator - 1 == 48 else { return }
            let counters = (0..<6).map { index in
                -Int64(bitPattern: BigEndian.uint64(memo[(separator + 1 + index * 8)..<(separator + 9 + index * 8)]) ?? 0)
            }
            try rows.add(Self.totals, Array(memo[..<separator]), counters)
            rows.delete(Self.counted, key)
        default:
            break
        }
    }

    private func count(_ event: ProjectedEvent, person: Pseudonym, dimensions: [UInt8], _ counters: [Int64],
                       in rows: inout ProjectionRows) throws {
        let month = String((event.day ?? "0000-00").prefix(7))
        let key = dimensions + [0] + Array(month.utf8)
        try rows.add(Self.totals, key, counters)
        var memo = key + [0xFF]
        for counter in counters { BigEndian.append(UInt64(bitPattern: counter), to: &memo) }
        rows.put(Self.counted, Timeline.key(person, event.streamVersion), memo)
    }

    /// `"120.50"` → 12050.
    static func cents(_ amount: JSON) -> Int64? {
        guard case .number(let text) = amount else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]) else { return nil }
        let digits = parts.count > 1 ? Array(parts[1].prefix(2)) : []
        let fraction = (digits.first?.wholeNumberValue ?? 0) * 10 + (digits.count > 1 ? digits[1].wholeNumberValue ?? 0 : 0)
        return whole * 100 + (whole < 0 || text.hasPrefix("-") ? -Int64(fraction) : Int64(fraction))
    }

    // MARK: - Queries

    public struct Row: Sendable {
        public let code, provider, fundingLine, ambito, month: String
        public let requested, started, ended, deliveries, minutes, amountCents: Int64
    }

    /// The totals, filtered on any of the dimensions (nil: all), in key order.
    public static func totals(_ view: ProjectionView, code: String? = nil, provider: String? = nil, fundingLine: String? = nil,
                              ambito: String? = nil, month: String? = nil, limit: Int) throws -> [Row] {
        var result: [Row] = []
        try view.transaction.withCursor(view.tables[totals]) { cursor in
            var record = try cursor.seek(atOrAfter: code.map { Array($0.utf8) + [0] } ?? [])
            while let current = record, result.count < limit {
                let parts = current.key.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
                if let code, parts.first != code { break }
                if parts.count == 5, provider == nil || parts[1] == provider, fundingLine == nil || parts[2] == fundingLine,
                   ambito == nil || parts[3] == ambito, month == nil || parts[4] == month {
                    let value = Array(current.value)
                    let counter = { (index: Int) in Int64(bitPattern: BigEndian.uint64(value[(index * 8)..<(index * 8 + 8)]) ?? 0) }
                    result.append(Row(code: parts[0], provider: parts[1], fundingLine: parts[2], ambito: parts[3], month: parts[4],
                                      requested: counter(0), started: counter(1), ended: counter(2), deliveries: counter(3),
                                      minutes: counter(4), amountCents: counter(5)))
                }
                record = try cursor.next()
            }
        }
        return result
    }
}
