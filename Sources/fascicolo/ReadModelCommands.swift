import ArgumentParser
import FascicoloJSON
import Glibc

// The read models through the daemon: the projections' status, rebuilds and digests, and the
// queries they answer (a person's timeline and case state, caseloads, interventions, indicators,
// compliance). Every answer says which entries it reflects (`position`: every position below it)
// and how far the log has moved on since (`lag`); --reflects P waits until the entry at P is
// applied (read-your-writes after an append at P).

/// --reflects, shared by the read-model queries.
struct ReflectsOption: ParsableArguments {
    @Option(help: ArgumentHelp("Answer only once the entry at this log position is applied (read your own write); "
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

// MARK: - projections

struct Projections: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The read models: their state, rebuilds and digests.",
        discussion: """
            The daemon keeps four projections (timeline, cases, interventions, compliance), each \
            following the log in the background. A projection is live (serving and following), \
            building (no generation of its version yet: queries wait), or failed (stopped at an \
            entry it could not apply; it answers as of that position). A rebuild (admin) builds a \
            new generation from position 0 beside the serving one and swaps it in; its record \
            keeps the digest of the rows and the log root it reflects, so that anyone can check \
            that the incremental rows equal a rebuild from the signed log.

            """ + Exit.help,
        subcommands: [ProjectionsList.self, ProjectionsStatus.self, ProjectionsRebuild.self, ProjectionsDigest.self])
}

struct ProjectionsList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the projections: state, position, lag, build progress, last rebuild (any role).",
        discussion: Exit.status)

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let session = DaemonSession(daemon)
        let (response, answer) = try session.getJSON("/v1/projections")
        if daemon.json {
            session.printRaw(response)
            return
        }
        let statuses = answer["projections"]?.array ?? answer.array ?? []
        let rows = statuses.map { status in
            [status["name"]?.string ?? "?", status["version"]?.cell ?? "?", ProjectionText.state(status),
             status["position"]?.cell ?? "?", status["lag"]?.cell ?? "?", ProjectionText.buildSummary(status),
             ProjectionText.rebuildSummary(status["lastRebuild"])]
        }
        printTable(["NAME", "VERSION", "STATE", "POSITION", "LAG", "BUILD", "LAST REBUILD"], rows, session: session,
                   empty: "no projections")
    }
}

struct ProjectionsStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show one projection: state, position, failure, build progress and the last rebuild's record (any role).",
        discussion: Exit.status)

    @Argument(help: "The projection: timeline, cases, interventions or compliance.")
    var name: String

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let session = DaemonSession(daemon)
        let (response, status) = try session.getJSON("/v1/projections/\(percentEncoded(name, inPath: true))")
        if daemon.json {
            session.printRaw(response)
            return
        }
        for line in fields(ProjectionText.statusFields(status)) { session.say(line) }
    }
}

struct ProjectionsRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild a projection from position 0 and swap it in (role admin).",
        discussion: """
            The new generation is built beside the serving one, which keeps answering queries until \
            the new one has caught up with the log and is swapped in. Unless --no-wait, the command \
            follows the build (a progress bar on a terminal: position of log size, entries per \
            second, ETA) until the rebuild's record appears, then prints it: the position reached, \
            the digest of the rows, the log's root there. A rebuild already running is refused \
            (rebuild_in_progress, HTTP 409: exit 1); a build that fails exits 2.

            """ + Exit.help)

    @Argument(help: "The projection: timeline, cases, interventions or compliance.")
    var name: String

    @Flag(help: "Return once the rebuild has started.")
    var noWait = false

    @Option(help: ArgumentHelp("How often to ask for progress while waiting.", valueName: "seconds"))
    var poll: Double = 0.25

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard poll >= 0.01, poll <= 60 else { throw ValidationError("--poll is 0.01 to 60 seconds") }
    }

    func run() throws {
        let session = DaemonSession(daemon)
        let target = "/v1/projections/\(percentEncoded(name, inPath: true))"
        // The record before, to know when the new one is in.
        let before = noWait ? nil : try session.getJSON(target).value["lastRebuild"]
        let response = try session.send("POST", target + "/rebuild", body: Array("{}".utf8))
        guard response.isSuccess else { throw session.refusal(response) }
        let started = try session.parse(response)
        let startedAt = started["build"]?["startedAt"]?.string
        if noWait {
            if daemon.json {
                session.printRaw(response)
            } else {
                session.say("rebuild of \(name) started" + (started["build"]?["slot"]?.string.map { " into generation \($0)" } ?? "")
                            + "; follow it with: fascicolo projections status \(name)")
            }
            return
        }

        let clock = ContinuousClock()
        let began = clock.now
        var idleSince: ContinuousClock.Instant?
        while true {
            let (statusResponse, status) = try session.getJSON(target)
            let record = status["lastRebuild"] ?? .null
            let build = status["build"] ?? .null
            if record != .null, record != (before ?? .null),
               startedAt == nil || record["startedAt"]?.string == startedAt {
                Terminal.endProgress()
                if daemon.json {
                    session.printRaw(statusResponse)
                } else {
                    let seconds = Double((clock.now - began).components.seconds)
                        + Double((clock.now - began).components.attoseconds) / 1e18
                    session.say("rebuilt \(name) in \(Terminal.format(seconds, decimals: 1)) s")
                    for line in fields(ProjectionText.rebuildFields(record)) { session.say(line) }
                }
                return
            }
            if let failure = build["failure"], failure != .null {
                Terminal.endProgress()
                if daemon.json { session.printRaw(statusResponse) }
                Terminal.error("error: the rebuild of \(name) stopped at position \(failure["position"]?.cell ?? "?"): "
                               + (failure["reason"]?.string ?? "?"))
                throw Exit.couldNotRun
            }
            if build == .null {
                // Neither running nor recorded: the swap failed (the daemon logs why), or another
                // client's rebuild is being swapped in. Give it a moment before concluding.
                let since = idleSince ?? clock.now
                idleSince = since
                if clock.now - since > .seconds(5) {
                    Terminal.endProgress()
                    if daemon.json { session.printRaw(statusResponse) }
                    Terminal.error("error: the rebuild of \(name) ended without a record (the old generation keeps serving; see the daemon's log)")
                    throw Exit.couldNotRun
                }
            } else {
                idleSince = nil
                Terminal.progress(ProjectionText.progressBar(name: name, build: build))
            }
            usleep(useconds_t(poll * 1_000_000))
        }
    }
}

struct ProjectionsDigest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "The digest of a projection's serving rows and the position they reflect (roles auditor, admin).",
        discussion: """
            Equal digests at equal positions mean equal rows: compare with the last rebuild's \
            record (fascicolo projections status NAME) to check that following the log \
            incrementally gave what a rebuild from position 0 gives.

            """ + Exit.help)

    @Argument(help: "The projection: timeline, cases, interventions or compliance.")
    var name: String

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let session = DaemonSession(daemon)
        let (response, answer) = try session.getJSON("/v1/projections/\(percentEncoded(name, inPath: true))/digest")
        if daemon.json {
            session.printRaw(response)
            return
        }
        for line in fields([("name", answer["name"]?.cell ?? name), ("digest", answer["digest"]?.cell ?? "?"),
                            ("position", answer["position"]?.cell ?? "?")]) {
            session.say(line)
        }
    }
}

/// How the projection commands show a status.
enum ProjectionText {
    static func state(_ status: JSON) -> String {
        let state = status["state"]?.string ?? "?"
        if state == "failed", let position = status["failure"]?["position"]?.uint64 { return "failed at \(position)" }
        return state
    }

    /// "-" or "b 1200/5000 24% 3000/s ETA 2s".
    static func buildSummary(_ status: JSON) -> String {
        guard let build = status["build"], build != .null else { return "-" }
        let position = build["position"]?.uint64 ?? 0
        let size = build["logSize"]?.uint64 ?? status["logSize"]?.uint64 ?? 0
        var text = "\(build["slot"]?.string ?? "?") \(position)/\(size) \(percent(position, size))"
        if let failure = build["failure"], failure != .null {
            return text + " FAILED at \(failure["position"]?.cell ?? "?")"
        }
        text += " \(build["entriesPerSecond"]?.cell ?? "0")/s"
        if let eta = build["etaSeconds"]?.uint64 { text += " ETA \(Terminal.duration(Double(eta)))" }
        return text
    }

    /// "-" or "a1b2c3d4e5f6… at 1234, 2026-…".
    static func rebuildSummary(_ record: JSON?) -> String {
        guard let record, record != .null else { return "-" }
        let digest = record["digest"]?.string.map { String($0.prefix(16)) + "…" } ?? "?"
        return "\(digest) at \(record["position"]?.cell ?? "?"), \(record["finishedAt"]?.cell ?? "?")"
    }

    static func percent(_ done: UInt64, _ total: UInt64) -> String {
        total == 0 ? "100%" : Terminal.format(Double(min(done, total)) * 100 / Double(total), decimals: 1) + "%"
    }

    /// `[########············] 1200/5000 24.0%  3000 entries/s  ETA 2s`
    static func progressBar(name: String, build: JSON) -> String {
        let position = build["position"]?.uint64 ?? 0
        let size = build["logSize"]?.uint64 ?? 0
        let width = 24
        let filled = size == 0 ? width : Int(Double(min(position, size)) / Double(size) * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "·", count: width - filled)
        let eta = build["etaSeconds"]?.uint64.map { Terminal.duration(Double($0)) } ?? "?"
        return "rebuilding \(name) [\(bar)] \(position)/\(size) \(percent(position, size))  "
            + "\(build["entriesPerSecond"]?.cell ?? "0") entries/s  ETA \(eta)"
    }

    static func failure(_ value: JSON?) -> String {
        guard let value, value != .null else { return "none" }
        return "at position \(value["position"]?.cell ?? "?"): \(value["reason"]?.cell ?? "?")"
    }

    static func statusFields(_ status: JSON) -> [(String, String)] {
        var rows: [(String, String)] = [
            ("name", status["name"]?.cell ?? "?"), ("version", status["version"]?.cell ?? "?"),
            ("state", status["state"]?.cell ?? "?"), ("serving generation", status["servingSlot"]?.cell ?? "-"),
            ("position", status["position"]?.cell ?? "?"), ("log size", status["logSize"]?.cell ?? "?"),
            ("lag", status["lag"]?.cell ?? "?"), ("failure", failure(status["failure"])),
        ]
        if let build = status["build"], build != .null {
            let position = build["position"]?.uint64 ?? 0
            let size = build["logSize"]?.uint64 ?? 0
            rows += [
                ("build", "generation \(build["slot"]?.cell ?? "?"), started \(build["startedAt"]?.cell ?? "?")"),
                ("build position", "\(position)/\(size) (\(percent(position, size)))"),
                ("build rate", "\(build["entriesPerSecond"]?.cell ?? "?") entries/s, ETA "
                    + (build["etaSeconds"]?.uint64.map { Terminal.duration(Double($0)) } ?? "?")),
                ("build failure", failure(build["failure"])),
            ]
        } else {
            rows.append(("build", "none running"))
        }
        if let record = status["lastRebuild"], record != .null {
            rows += rebuildFields(record).map { ("last rebuild " + $0.0, $0.1) }
        } else {
            rows.append(("last rebuild", "none"))
        }
        return rows
    }

    static func rebuildFields(_ record: JSON) -> [(String, String)] {
        var rows: [(String, String)] = [
            ("version", record["version"]?.cell ?? "?"), ("position", record["position"]?.cell ?? "?"),
            ("digest", record["digest"]?.cell ?? "?"), ("log root", record["logRoot"]?.cell ?? "?"),
        ]
        if let checkpoint = record["checkpoint"], checkpoint != .null {
            rows.append(("checkpoint", "size \(checkpoint["size"]?.cell ?? "?"), root \(checkpoint["root"]?.cell ?? "?")"))
        }
        rows += [("started", record["startedAt"]?.cell ?? "?"), ("finished", record["finishedAt"]?.cell ?? "?"),
                 ("rate", "\(record["entriesPerSecond"]?.cell ?? "?") entries/s")]
        return rows
    }
}

// MARK: - person timeline, person state

/// The headers of a recorded person read.
struct PersonReadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Why the person's data are read (required from auditors; stored in clear — name the reason, not the person).",
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

struct PersonTimeline: ParsableCommand {
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

    func run() throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, redaction: person.redaction)
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init)), reflects.parameter])
        let (response, answer) = try session.getJSON("/v1/persons/timeline" + query, headers: read.headers(person))
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
            [entry["version"]?.cell ?? "", entry["caseFile"]?.uint64 == 0 ? "-" : entry["caseFile"]?.cell ?? "", entry["occurredAt"]?.cell ?? "",
             entry["type"]?.cell ?? "", entry["actor"]?["operator"]?.cell ?? "-", PersonShow.marks(entry),
             shortened(entry["data"]?.compact ?? "", to: 200)]
        }
        printTable(["VERSION", "CASE FILE", "OCCURRED AT", "TYPE", "OPERATOR", "MARKS", "DATA"], rows, session: session,
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

struct PersonState: ParsableCommand {
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

    func run() throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, redaction: person.redaction)
        let query = queryString([reflects.parameter])
        let (response, answer) = try session.getJSON("/v1/persons/case-state" + query, headers: read.headers(person))
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
        summary.append(("open interventions", open.isEmpty ? "none"
                        : "\(open.count) (version\(open.count == 1 ? "" : "s") \(open.map(String.init).joined(separator: ", ")))"))
        if let version = state["version"] { summary.append(("entries", version.cell)) }
        // Anything the daemon adds later is shown too.
        let shown: Set<String> = ["phase", "caseFiles", "erased", "ambito", "caseManager", "takenInChargeOn", "daysSinceTakenInCharge",
                                  "nextReviewDue", "reviewOverdue", "hasPreliminaryAnalysis", "hasInDepthAssessment", "signedPlan",
                                  "openInterventions", "version"]
        for member in state.members ?? [] where !shown.contains(member.key) && !["person", "position", "lag"].contains(member.key) {
            summary.append((member.key, member.value.cell))
        }
        for line in fields(summary) { session.say(line) }
        session.say(reflectsLine(answer))
    }
}

// MARK: - caseload, interventions, indicators

struct Caseload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open case files, presi in carico and overdue reviews, by operator or ambito (any role).",
        discussion: Exit.status)

    @Option(help: ArgumentHelp("Group by case manager (operator) or by ambito.", valueName: "operator|ambito"))
    var by = "operator"

    @Flag(help: "As exported to the Region: counts below 5 shown as <5, and counts that would reveal them hidden.")
    var region = false

    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard by == "operator" || by == "ambito" else { throw ValidationError("--by is operator or ambito") }
    }

    func run() throws {
        let session = DaemonSession(daemon)
        let (response, answer) = try session.getJSON("/v1/caseload" + queryString([("by", by), ("region", region ? "true" : nil), reflects.parameter]))
        if daemon.json {
            session.printRaw(response)
            return
        }
        let rows = (answer["rows"]?.array ?? []).map { row in
            [row["id"]?.cell ?? "?", row["open"]?.cell ?? "?", row["takenInCharge"]?.cell ?? "?", row["reviewsOverdue"]?.cell ?? "?"]
        }
        printTable([by.uppercased(), "OPEN", "TAKEN IN CHARGE", "REVIEWS OVERDUE"], rows, session: session, empty: "no open case files")
        session.say(reflectsLine(answer))
    }
}

struct InterventionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interventions",
        abstract: "Interventions by code, provider, funding line, ambito and month (any role).",
        discussion: """
            Each row counts interventions requested, started and ended, and the deliveries with \
            their minutes and amount (in euro, exact) for one code, provider, funding line, \
            ambito and month. The filters narrow the rows.

            """ + Exit.help)

    @Option(help: ArgumentHelp("The intervention code, e.g. SAD.", valueName: "code"))
    var code: String?

    @Option(help: ArgumentHelp("The provider.", valueName: "name"))
    var provider: String?

    @Option(help: ArgumentHelp("The funding line, e.g. fnps.", valueName: "line"))
    var fundingLine: String?

    @Option(help: ArgumentHelp("The ambito's code, e.g. potenza.", valueName: "code"))
    var ambito: String?

    @Option(help: ArgumentHelp("The month.", valueName: "YYYY-MM"))
    var month: String?

    @Option(help: "At most this many rows (1 to 1000; default 100).")
    var limit: Int?

    @Flag(help: "As exported to the Region: counts below 5 shown as <5, with the minutes and amount of so few deliveries hidden.")
    var region = false

    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
        if let month {
            let bytes = Array(month.utf8)
            let digits = bytes.enumerated().allSatisfy { index, byte in
                index == 4 ? byte == UInt8(ascii: "-") : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            }
            guard bytes.count == 7, digits, let number = Int(month.suffix(2)), (1...12).contains(number) else {
                throw ValidationError("--month is YYYY-MM")
            }
        }
    }

    func run() throws {
        let session = DaemonSession(daemon)
        let query = queryString([("code", code), ("provider", provider), ("fundingLine", fundingLine), ("ambito", ambito),
                                 ("month", month), ("limit", limit.map(String.init)), ("region", region ? "true" : nil), reflects.parameter])
        let (response, answer) = try session.getJSON("/v1/interventions" + query)
        if daemon.json {
            session.printRaw(response)
            return
        }
        let found = answer["rows"]?.array ?? []
        let rows = found.map { row in
            ["code", "provider", "fundingLine", "ambito", "month", "requested", "started", "ended", "deliveries", "minutes", "amount"]
                .map { row[$0]?.cell ?? "-" }
        }
        printTable(["CODE", "PROVIDER", "FUNDING LINE", "AMBITO", "MONTH", "REQUESTED", "STARTED", "ENDED", "DELIVERIES",
                    "MINUTES", "AMOUNT"], rows, session: session, empty: "no interventions")
        if found.count == (limit ?? 100) { Terminal.error("more rows may follow: narrow the filters or raise --limit") }
        session.say(reflectsLine(answer))
    }
}

struct Indicators: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The Region's indicators over the case files opened in a year and ambito (any role).",
        discussion: """
            Days from first contact to presa in carico and to a signed plan (median, 90th \
            percentile), the shares of case files assessed and with a signed plan, closures by \
            reason, outcomes, goals. Counts below the suppression threshold are shown as "<5" \
            (they could point at a person).

            """ + Exit.help)

    @Option(help: ArgumentHelp("The ambito's code (default: all).", valueName: "code"))
    var ambito: String?

    @Option(help: ArgumentHelp("The year the case files were opened (default: all).", valueName: "YYYY"))
    var year: Int?

    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let year, !(1900...2200).contains(year) { throw ValidationError("--year is 1900 to 2200") }
    }

    func run() throws {
        let session = DaemonSession(daemon)
        let query = queryString([("ambito", ambito), ("year", year.map(String.init)), reflects.parameter])
        let (response, answer) = try session.getJSON("/v1/indicators" + query)
        if daemon.json {
            session.printRaw(response)
            return
        }
        var rows: [(String, String)] = [("ambito", ambito ?? "all"), ("year", year.map(String.init) ?? "all")]
        Self.flatten(answer["indicators"] ?? .object([]), prefix: "", into: &rows)
        for line in fields(rows) { session.say(line) }
        session.say(reflectsLine(answer))
    }

    /// Nested objects as dotted names; an empty object as "none".
    static func flatten(_ value: JSON, prefix: String, into rows: inout [(String, String)]) {
        if let members = value.members {
            if members.isEmpty, !prefix.isEmpty { rows.append((prefix, "none")) }
            for member in members { flatten(member.value, prefix: prefix.isEmpty ? member.key : prefix + "." + member.key, into: &rows) }
        } else {
            rows.append((prefix, value.cell))
        }
    }
}

// MARK: - compliance

struct ComplianceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compliance",
        abstract: "Who read a person's data, and the registers of corrections and erasures (roles auditor, admin).",
        discussion: Exit.status,
        subcommands: [ComplianceAccesses.self, ComplianceRegister.self])
}

struct ComplianceAccesses: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accesses",
        abstract: "Who read the person's data, when, as what and why (roles auditor, admin; recorded).",
        discussion: """
            Reading who read a person's file is itself a read of their record: the daemon records \
            it first. Give --purpose (required from auditors).

            """ + Exit.help)

    @OptionGroup var person: PersonOption
    @OptionGroup var read: PersonReadOptions

    @Option(help: "The first log position to show (default 0).")
    var from: UInt64?

    @Option(help: "At most this many reads (1 to 1000; default 100).")
    var limit: Int?

    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
    }

    func run() throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, redaction: person.redaction)
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init)), reflects.parameter])
        let (response, answer) = try session.getJSON("/v1/compliance/accesses" + query, headers: read.headers(person))
        if daemon.json {
            session.printRaw(response)
            return
        }
        let accesses = answer["accesses"]?.array ?? answer["rows"]?.array ?? []
        session.say(fields([("person", answer["person"]?.cell ?? "?")])[0])
        let rows = accesses.map { access in
            ["position", "at", "author", "role", "operator", "what", "purpose", "entries"].map { access[$0]?.cell ?? "-" }
        }
        printTable(["POSITION", "AT", "AUTHOR", "ROLE", "OPERATOR", "WHAT", "PURPOSE", "ENTRIES"], rows, session: session,
                   empty: "no reads recorded")
        if accesses.count == (limit ?? 100), let last = accesses.last?["position"]?.uint64 {
            Terminal.error("more may follow: add --from \(last + 1)")
        }
        session.say(reflectsLine(answer))
    }
}

struct ComplianceRegister: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "A register of corrections across all persons: rectifications, voids, restrictions or erasures (roles auditor, admin).",
        discussion: """
            Each row is a correcting entry: where it is in the log, when, for which person \
            (pseudonym), by whom, and its clear data (target, reason, legal ground…; rectified \
            values are sealed and not shown).

            """ + Exit.help)

    static let names = ["rectifications", "voids", "restrictions", "erasures"]

    @Argument(help: ArgumentHelp("rectifications, voids, restrictions or erasures.", valueName: "register"))
    var name: String

    @Option(help: "The first log position to show (default 0).")
    var from: UInt64?

    @Option(help: "At most this many rows (1 to 1000; default 100).")
    var limit: Int?

    @Flag(help: "As exported to the Region: counts below 5 shown as <5, with the minutes and amount of so few deliveries hidden.")
    var region = false

    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard Self.names.contains(name) else { throw ValidationError("the register is one of \(Self.names.joined(separator: ", "))") }
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
    }

    func run() throws {
        let session = DaemonSession(daemon)
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init)), reflects.parameter])
        let (response, answer) = try session.getJSON("/v1/compliance/registers/\(name)" + query)
        if daemon.json {
            session.printRaw(response)
            return
        }
        let found = answer["rows"]?.array ?? []
        let rows = found.map { row in
            ["position", "at", "person", "version", "type", "author", "operator"].map { row[$0]?.cell ?? "-" }
                + [shortened(row["data"]?.compact ?? "", to: 120)]
        }
        printTable(["POSITION", "AT", "PERSON", "VERSION", "TYPE", "AUTHOR", "OPERATOR", "DATA"], rows, session: session,
                   empty: "no \(name)")
        if found.count == (limit ?? 100), let last = found.last?["position"]?.uint64 {
            Terminal.error("more may follow: add --from \(last + 1)")
        }
        session.say(reflectsLine(answer))
    }
}
