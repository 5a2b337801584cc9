import ArgumentParser
import FascicoloJSON
import Glibc

// The retention schedule (issue 21): who is due for erasure, and the erasure of those due.

struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Who is due for erasure under the retention schedule, and their erasure (roles admin, auditor).",
        discussion: Exit.status,
        subcommands: [RetentionDue.self, RetentionApply.self])
}

/// The options both subcommands share: the day, and how many persons one request looks at.
struct RetentionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The day asked about (YYYY-MM-DD): periods ended on or before it are due.", valueName: "date"))
    var date: String

    @Option(help: "Persons to skip, in pseudonym order: where an interrupted run stopped (its last progress line says).")
    var from: Int = 0

    func validate() throws {
        guard date.utf8.count == 10, date.utf8.allSatisfy({ (48...57).contains($0) || $0 == 45 }) else {
            throw ValidationError("--date is YYYY-MM-DD")
        }
        if from < 0 { throw ValidationError("--from is 0 or more") }
    }
}

struct RetentionDue: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "due",
        abstract: "Who is due for erasure on a day, and why: pseudonyms, rules, days (roles admin, auditor).",
        discussion: """
            Lists the persons whose retention period ended on or before --date: the rule of the \
            schedule (Config/reference/retention), the day it ran from, the day it ended, its legal \
            source, and the legal hold that keeps a person, if any. Open case files are never due. \
            No personal data: persons are pseudonyms. --json prints one JSON object.

            """ + Exit.help)

    @OptionGroup var retention: RetentionOptions

    @Option(help: "Persons looked at per request (1 to 100000; default 10000).")
    var scan: Int = 10_000

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard (1...100_000).contains(scan) else { throw ValidationError("--scan is 1 to 100000") }
    }

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        var due: [JSON] = []
        var schedule = "-"
        var from: Int? = retention.from
        while let start = from {
            let query = queryString([("date", retention.date), ("from", String(start)), ("scan", String(scan))])
            let (_, answer) = try await session.getJSON("/v1/retention/due" + query)
            schedule = answer["schedule"]?.string ?? schedule
            due += answer["due"]?.array ?? []
            from = answer["next"]?.int
        }
        if daemon.json {
            var json = JSONBytes()
            json.object { json in
                json.member("date", retention.date)
                json.member("schedule", schedule)
                json.member("due", JSON.array(due))
            }
            print(String(decoding: json.bytes, as: UTF8.self))
            return
        }
        let rows = due.map { row in
            ["person", "class", "rule", "from", "startedOn", "dueOn"].map { row[$0]?.cell ?? "-" }
                + [row["heldBy"].flatMap { $0 == .null ? nil : "\($0["ground"]?.string ?? "?") \($0["reference"]?.string ?? "")" } ?? "-"]
        }
        printTable(
            ["PERSON", "CLASS", "RULE", "FROM", "STARTED", "DUE", "HELD BY"], rows, session: session,
            empty: "nobody is due for erasure on \(retention.date)")
        let held = due.filter { $0["heldBy"] != nil && $0["heldBy"] != .null }.count
        session.say("\(due.count) due on \(retention.date) under schedule \(schedule), \(held) of them held")
    }
}

struct RetentionApply: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Erase the persons due for erasure on a day (role admin; a dry run unless --apply).",
        discussion: """
            Without --apply, says who would be erased (as `retention due`) and sends nothing that \
            erases. With --apply, erases them in batches through the crypto-shredding path, each \
            recorded as an ErasureExecuted with ground retention_ended and a reference naming the \
            schedule, the rule and the day the period ended; persons under a legal hold are left. \
            Progress goes to standard error, one line per batch, with the --from to resume at. An \
            interrupted run can also simply be run again: an erased person is no longer due.

            """ + Exit.help)

    @OptionGroup var retention: RetentionOptions

    @Option(help: "Persons looked at per batch (1 to 10000; default 1000).")
    var batch: Int = 1_000

    @Flag(help: "Erase for real (the default is a dry run).")
    var apply = false

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch is 1 to 10000") }
    }

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        guard apply else {
            var due = 0
            var held = 0
            var from: Int? = retention.from
            while let start = from {
                let query = queryString([("date", retention.date), ("from", String(start)), ("scan", String(batch))])
                let (_, answer) = try await session.getJSON("/v1/retention/due" + query)
                let rows = answer["due"]?.array ?? []
                due += rows.count
                held += rows.filter { $0["heldBy"] != nil && $0["heldBy"] != .null }.count
                from = answer["next"]?.int
            }
            session.say("dry run: \(due - held) would be erased on \(retention.date), \(held) held; add --apply to erase")
            return
        }
        let started = MonotonicSeconds.now()
        var erased = 0
        var held = 0
        var scanned = 0
        var from: Int? = retention.from
        while let start = from {
            let body = "{\"date\":\(jsonString(retention.date)),\"from\":\(start),\"scan\":\(batch)}"
            let response = try await session.send("POST", "/v1/retention/erasures", body: Array(body.utf8))
            guard response.isSuccess else { throw session.refusal(response) }
            let answer = try session.parse(response)
            erased += answer["erased"]?.array?.count ?? 0
            held += answer["held"]?.int ?? 0
            scanned += answer["scanned"]?.int ?? 0
            from = answer["next"]?.int
            Terminal.error(
                "retention: \(scanned) persons looked at, \(erased) erased, \(held) held"
                    + (from.map { " (resume with --from \($0))" } ?? ""))
        }
        let seconds = max(MonotonicSeconds.now() - started, 0.001)
        session.say(
            "erased \(erased) persons due on \(retention.date) (ground retention_ended), \(held) held; "
                + "\(Int(Double(erased) / seconds)) persons/s")
    }
}

/// Seconds on the monotonic clock, for a rate.
enum MonotonicSeconds {
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
