import ArgumentParser
import FascicoloJSON

// A person's timeline and case state, answered by the read models (recorded reads).

/// The headers of a recorded person read.
struct PersonReadOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Why the person's data are read (required from auditors; stored in clear — name the reason, not the person).",
            valueName: "text"))
    var purpose: String?

    @Option(name: .customLong("operator"), help: ArgumentHelp("The operator on whose behalf this is read.", valueName: "id"))
    var operatorID: String?

    func validate() throws {
        try checkHeaderValue(purpose, option: "--purpose", lengths: 3...200)
        try checkHeaderValue(operatorID, option: "--operator", lengths: 1...64)
    }

    func headers(_ person: ResolvedPerson) -> [(String, String)] {
        var headers = [("Fascicolo-Person", person.identifier)]
        if let purpose { headers.append(("Fascicolo-Purpose", purpose)) }
        if let operatorID { headers.append(("Fascicolo-Operator", operatorID)) }
        return headers
    }
}

struct PersonTimeline: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "Show a person's timeline from the read model: entries by case file, corrections marked (any role; recorded).",
        discussion: """
            Like person show, but answered by the timeline projection: every entry of the person \
            with the case file it belongs to (1 for the first opening, 2 after a reopening…; "-" \
            before any), \
            personal fields opened (or marked erased, restricted), corrections marked. The read is \
            recorded by the daemon first. It reflects at least the person's own last entry.

            """ + Exit.help)

    @OptionGroup var person: PersonOption
    @OptionGroup var read: PersonReadOptions

    @Option(help: "The first version of the person's stream to show (default 1).")
    var from: UInt64?

    @Option(help: "At most this many entries (default 100).")
    var limit: Int?

    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
    }

    func run(client: DaemonClient) async throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, client: client, redaction: person.redaction)
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init)), reflects.parameter])
        let (response, answer) = try await session.getJSON("/v1/persons/timeline" + query, headers: read.headers(person))
        if daemon.json {
            session.printRaw(response)
            return
        }
        let total = answer["entries"]?.uint64
        var summary: [(String, String)] = [
            ("person", answer["person"]?.cell ?? "?"), ("entries", total.map(String.init) ?? "?"),
            ("case files", answer["caseFiles"]?.cell ?? "?"),
        ]
        if answer["erased"]?.bool == true { summary.append(("erased", "yes: the personal data were erased and cannot be read")) }
        for line in fields(summary) { session.say(line) }
        session.say("")
        let entries = answer["rows"]?.array ?? []
        let rows = entries.map { entry in
            [
                entry["version"]?.cell ?? "", entry["caseFile"]?.uint64 == 0 ? "-" : entry["caseFile"]?.cell ?? "",
                entry["occurredAt"]?.cell ?? "",
                entry["type"]?.cell ?? "", entry["actor"]?["operator"]?.cell ?? "-", PersonShow.marks(entry),
                shortened(entry["data"]?.compact ?? "", to: 200),
            ]
        }
        printTable(
            ["VERSION", "CASE FILE", "OCCURRED AT", "TYPE", "OPERATOR", "MARKS", "DATA"], rows, session: session,
            empty: "no entries" + (from.map { " from version \($0)" } ?? ""))
        if rows.contains(where: { $0.last?.hasSuffix("…") ?? false }) {
            Terminal.error("(long data shortened; --json shows it whole)")
        }
        session.say(reflectsLine(answer))
        if let last = entries.last?["version"]?.uint64, let total, last < total {
            Terminal.error("more entries follow (\(total) in all): add --from \(last + 1)")
        }
    }
}

struct PersonState: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Show the state of a person's case from the read model: phase, case manager, reviews (any role; recorded).",
        discussion: """
            Answered by the cases projection, ages as of today. The read is recorded by the daemon \
            first. It reflects at least the person's own last entry.

            """ + Exit.help)

    @OptionGroup var person: PersonOption
    @OptionGroup var read: PersonReadOptions
    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, client: client, redaction: person.redaction)
        let query = queryString([reflects.parameter])
        let (response, answer) = try await session.getJSON("/v1/persons/case-state" + query, headers: read.headers(person))
        if daemon.json {
            session.printRaw(response)
            return
        }
        let state = answer["state"] ?? answer
        var summary: [(String, String)] = [("person", answer["person"]?.cell ?? "?"), ("phase", PersonShow.phase(state["phase"]?.string))]
        if let files = state["caseFiles"] { summary.append(("case files", files.cell)) }
        if state["erased"]?.bool == true { summary.append(("erased", "yes: the personal data were erased and cannot be read")) }
        if let ambito = state["ambito"]?.string { summary.append(("ambito", ambito)) }
        if let manager = state["caseManager"]?.string { summary.append(("case manager", manager)) }
        if let date = state["takenInChargeOn"]?.string {
            let days = state["daysSinceTakenInCharge"]?.int.map { ", \($0) day\($0 == 1 ? "" : "s") ago" } ?? ""
            summary.append(("taken in charge on", date + days))
        }
        if let due = state["nextReviewDue"]?.string {
            summary.append(("next review due", due + (state["reviewOverdue"]?.bool == true ? " — OVERDUE" : "")))
        }
        if let value = state["hasPreliminaryAnalysis"]?.bool { summary.append(("preliminary analysis", value ? "yes" : "no")) }
        if let value = state["hasInDepthAssessment"]?.bool { summary.append(("in-depth assessment", value ? "yes" : "no")) }
        summary.append(("signed plan", state["signedPlan"]?.bool == true ? "yes" : "no"))
        let open = state["openInterventions"]?.array?.compactMap(\.uint64) ?? []
        summary.append(
            (
                "open interventions",
                open.isEmpty
                    ? "none"
                    : "\(open.count) (version\(open.count == 1 ? "" : "s") \(open.map(String.init).joined(separator: ", ")))"
            ))
        if let version = state["version"] { summary.append(("entries", version.cell)) }
        // Anything the daemon adds later is shown too.
        let shown: Set<String> = [
            "phase", "caseFiles", "erased", "ambito", "caseManager", "takenInChargeOn", "daysSinceTakenInCharge",
            "nextReviewDue", "reviewOverdue", "hasPreliminaryAnalysis", "hasInDepthAssessment", "signedPlan",
            "openInterventions", "version",
        ]
        for member in state.members ?? [] where !shown.contains(member.key) && !["person", "position", "lag"].contains(member.key) {
            summary.append((member.key, member.value.cell))
        }
        for line in fields(summary) { session.say(line) }
        session.say(reflectsLine(answer))
    }
}
