import FascicoloDomain
import FascicoloJSON
import FascicoloLedger
import FascicoloStorage

/// Interventions by code, provider, funding line, ambito and month: how many were requested,
/// started and ended, and the deliveries with their minutes and amounts. Voiding a counted
/// entry takes back exactly what it added (worked out again from the voided entry, read from
/// the log: voids are rare, and a row per counted entry kept only for them would be written
/// for every one).
///
/// Tables:
/// - `totals`: `code ‖ 0 ‖ provider ‖ 0 ‖ fundingLine ‖ 0 ‖ ambito ‖ 0 ‖ YYYY-MM` → six u64 BE
///   counters: requested, started, ended, deliveries, minutes, amount in cents. The month is
///   that of the counted event (`date`, else `occurredAt`); the ambito is the person's case
///   file's when the intervention was requested.
/// - `interventions`: pseudonym ‖ version of the InterventionRequested (u64 BE) →
///   `code ‖ 0 ‖ provider ‖ 0 ‖ fundingLine ‖ 0 ‖ ambito`, followed by `0 ‖ YYYY-MM` while the
///   end counted for it is one the daemon wrote with a closure (an InterventionEnded with
///   `endedWith`): a later InterventionEnded with the real date takes that one's place (the
///   intervention is counted ended once), and a void of the closure takes it back.
/// - `ambits`: pseudonym → the ambito of the person's current case file.
public final class Interventions: Projection {
    public static let name = "interventions"
    public static let version = 2
    public static let tables = ["totals", "interventions", "ambits"]
    static let totals = 0
    static let interventions = 1
    static let ambits = 2

    /// The types that add to `totals`.
    static let counted = EventKinds(.interventionRequested, .interventionStarted, .interventionEnded, .serviceDelivered)

    public init() {}

    public func apply(_ event: ProjectedEvent, to rows: inout ProjectionRows) throws {
        guard case .person(let person) = event.subject, let fact = event.fact else { return }
        switch event.kind {
        case .caseOpened, .caseTransferredIn:
            if let ambito = fact.ambito { rows.put(Self.ambits, person.bytes, Array(ambito.utf8)) }
        case .interventionRequested:
            guard let code = event.data("code")?.string, let provider = event.data("provider")?.string,
                let funding = event.data("fundingLine")?.string
            else {
                throw ProjectionFailure("InterventionRequested at position \(event.position) lacks its code, provider or funding line")
            }
            let ambito = try rows.get(Self.ambits, person.bytes).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let dimensions = [code, provider, funding, ambito].joined(separator: "\u{0}")
            rows.put(Self.interventions, Timeline.key(person, event.streamVersion), Array(dimensions.utf8))
            let (key, counters) = try Self.contribution(of: event, person: person, rows)
            try rows.add(Self.totals, key, counters)
        case .interventionEnded:
            if let request = fact.reference {
                // A real end after the one a closure wrote: it takes that one's place.
                try takeBackAutomaticEnd(of: request, person: person, &rows)
            }
            let (key, counters) = try Self.contribution(of: event, person: person, rows)
            try rows.add(Self.totals, key, counters)
            if fact.endedWith != nil, let request = fact.reference,
                let dimensions = try rows.get(Self.interventions, Timeline.key(person, request))
            {
                rows.put(Self.interventions, Timeline.key(person, request), dimensions + [0] + Array(key.suffix(7)))
            }
        case .interventionStarted, .serviceDelivered:
            let (key, counters) = try Self.contribution(of: event, person: person, rows)
            try rows.add(Self.totals, key, counters)
        case .voided:
            // The path rules let an entry be voided once, and nothing count on a voided request.
            guard let target = fact.reference, let voided = try rows.log.event(of: person.stream, version: target) else { return }
            if CaseState.endingKinds.contains(voided.kind) {
                // The ends the closure wrote (right after it) stop counting with it.
                var version = target + 1
                while let next = try rows.log.event(of: person.stream, version: version), next.kind == .interventionEnded,
                    next.fact?.endedWith == target
                {
                    if let request = next.fact?.reference { try takeBackAutomaticEnd(of: request, person: person, &rows) }
                    version += 1
                }
                return
            }
            guard Self.counted.contains(voided.kind) else { return }
            let (key, counters) = try Self.contribution(of: voided, person: person, rows)
            try rows.add(Self.totals, key, counters.map { -$0 })
        default:
            break
        }
    }

    /// If the end counted for the intervention requested at `request` is one a closure wrote,
    /// takes it back from `totals`.
    private func takeBackAutomaticEnd(of request: UInt64, person: Pseudonym, _ rows: inout ProjectionRows) throws {
        let rowKey = Timeline.key(person, request)
        guard let row = try rows.get(Self.interventions, rowKey) else { return }
        let (dimensions, month) = Self.splitAutomaticEnd(row)
        guard let month else { return }
        try rows.add(Self.totals, dimensions + [0] + month, [0, 0, -1, 0, 0, 0])
        rows.put(Self.interventions, rowKey, dimensions)
    }

    /// An `interventions` row: the dimensions, and the month of the end a closure wrote if that
    /// is the end counted (after a fourth separator).
    static func splitAutomaticEnd(_ row: [UInt8]) -> (dimensions: [UInt8], month: ArraySlice<UInt8>?) {
        var separators = 0
        for index in row.indices where row[index] == 0 {
            separators += 1
            if separators == 4 { return (Array(row[..<index]), row[(index + 1)...]) }
        }
        return (row, nil)
    }

    /// What a counted entry adds to `totals`: the key (its intervention's dimensions and its
    /// month) and the six counters.
    private static func contribution(
        of event: ProjectedEvent, person: Pseudonym,
        _ rows: ProjectionRows
    ) throws -> (key: [UInt8], counters: [Int64]) {
        let request = event.kind == .interventionRequested ? event.streamVersion : event.fact?.reference
        guard let request, let row = try rows.get(interventions, Timeline.key(person, request)) else {
            throw ProjectionFailure("\(event.type) at position \(event.position) points at no InterventionRequested")
        }
        let dimensions = splitAutomaticEnd(row).dimensions
        var counters: [Int64] = [0, 0, 0, 0, 0, 0]
        switch event.kind {
        case .interventionRequested: counters[0] = 1
        case .interventionStarted: counters[1] = 1
        case .interventionEnded: counters[2] = 1
        default:
            counters[3] = 1
            counters[4] = Int64(event.data("minutes")?.int ?? 0)
            counters[5] = event.data("amount").flatMap(cents) ?? 0
        }
        var key = dimensions
        key.append(0)
        key.append(contentsOf: (event.day ?? "0000-00").utf8.prefix(7))
        return (key, counters)
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
    public static func totals(
        _ view: ProjectionView, code: String? = nil, provider: String? = nil, fundingLine: String? = nil,
        ambito: String? = nil, month: String? = nil, limit: Int
    ) throws -> [Row] {
        var result: [Row] = []
        try view.transaction.withCursor(view.tables[totals]) { cursor in
            var record = try cursor.seek(atOrAfter: code.map { Array($0.utf8) + [0] } ?? [])
            while let current = record, result.count < limit {
                let parts = current.key.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
                if let code, parts.first != code { break }
                if parts.count == 5, provider == nil || parts[1] == provider, fundingLine == nil || parts[2] == fundingLine,
                    ambito == nil || parts[3] == ambito, month == nil || parts[4] == month
                {
                    let value = Array(current.value)
                    let counter = { (index: Int) in Int64(bitPattern: BigEndian.uint64(value[(index * 8)..<(index * 8 + 8)]) ?? 0) }
                    result.append(
                        Row(
                            code: parts[0], provider: parts[1], fundingLine: parts[2], ambito: parts[3], month: parts[4],
                            requested: counter(0), started: counter(1), ended: counter(2), deliveries: counter(3),
                            minutes: counter(4), amountCents: counter(5)))
                }
                record = try cursor.next()
            }
        }
        return result
    }
}
