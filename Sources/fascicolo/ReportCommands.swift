import ArgumentParser
import FascicoloJSON

// Caseloads, interventions and indicators: aggregates over every case file.

struct Caseload: DaemonCommand {
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

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let query = queryString([("by", by), ("region", region ? "true" : nil), reflects.parameter])
        let (response, answer) = try await session.getJSON("/v1/caseload" + query)
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

struct InterventionsCommand: DaemonCommand {
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

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let query = queryString([
            ("code", code), ("provider", provider), ("fundingLine", fundingLine), ("ambito", ambito),
            ("month", month), ("limit", limit.map(String.init)), ("region", region ? "true" : nil), reflects.parameter,
        ])
        let (response, answer) = try await session.getJSON("/v1/interventions" + query)
        if daemon.json {
            session.printRaw(response)
            return
        }
        let found = answer["rows"]?.array ?? []
        let rows = found.map { row in
            ["code", "provider", "fundingLine", "ambito", "month", "requested", "started", "ended", "deliveries", "minutes", "amount"]
                .map { row[$0]?.cell ?? "-" }
        }
        printTable(
            [
                "CODE", "PROVIDER", "FUNDING LINE", "AMBITO", "MONTH", "REQUESTED", "STARTED", "ENDED", "DELIVERIES",
                "MINUTES", "AMOUNT",
            ], rows, session: session, empty: "no interventions")
        if found.count == (limit ?? 100) { Terminal.error("more rows may follow: narrow the filters or raise --limit") }
        session.say(reflectsLine(answer))
    }
}

struct Indicators: DaemonCommand {
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

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let query = queryString([("ambito", ambito), ("year", year.map(String.init)), reflects.parameter])
        let (response, answer) = try await session.getJSON("/v1/indicators" + query)
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
