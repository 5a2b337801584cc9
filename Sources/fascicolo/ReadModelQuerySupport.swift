import ArgumentParser
import FascicoloJSON

// The read models through the daemon: the projections' status, rebuilds and digests, and the
// queries they answer (a person's timeline and case state, caseloads, interventions, indicators,
// compliance). Every answer says which entries it reflects (`position`: every position below it)
// and how far the log has moved on since (`lag`); --reflects P waits until the entry at P is
// applied (read-your-writes after an append at P).

/// --reflects, shared by the read-model queries.
struct ReflectsOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Answer only once the entry at this log position is applied (read your own write); "
                + "the daemon waits up to 5 s, else refuses with projection_behind.", valueName: "position"))
    var reflects: UInt64?

    var parameter: (String, String?) { ("reflects", reflects.map(String.init)) }
}

/// The last line of a read-model answer: which entries it reflects.
func reflectsLine(_ answer: JSON) -> String {
    let position = answer["position"]?.uint64.map(String.init) ?? "?"
    let lag = answer["lag"]?.uint64 ?? 0
    return lag == 0
        ? "reflects the whole log (every entry below position \(position))"
        : "reflects every entry below position \(position) (the log has \(lag) newer entr\(lag == 1 ? "y" : "ies"))"
}

/// Rows as a table, or "no rows".
func printTable(_ header: [String], _ rows: [[String]], session: DaemonSession, empty: String = "no rows") {
    guard !rows.isEmpty else {
        session.say(empty)
        return
    }
    for line in table(header, rows) { session.say(line) }
}

extension JSON {
    /// A value for a table cell: strings bare, null as "-", anything else compact JSON.
    var cell: String {
        switch self {
        case .null: "-"
        case .string(let text): text
        default: compact
        }
    }
}
