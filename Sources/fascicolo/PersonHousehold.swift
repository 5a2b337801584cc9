import ArgumentParser
import FascicoloJSON

struct PersonHousehold: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "household",
        abstract: "Show the timeline of the person's household: every member's entries in log order (any role; each member recorded).",
        discussion: """
            The members are the persons whose registration names the person's household (as \
            rectified). Each member whose entries are shown gets a read recorded of their own. A \
            service scoped to some ambiti sees only the members whose case they hold; restricted \
            entries and erased members are not shown, nor another member's judicial entries or \
            corrections; personal fields are not opened (read them in each member's own file). \
            MEMBER is "self" for the person asked about, "household" for another member.

            """ + Exit.help)

    @OptionGroup var person: PersonOption
    @OptionGroup var read: PersonReadOptions

    @Option(help: "The first log position to show (default 0; a previous page's next).")
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
        let (response, answer) = try await session.getJSON("/v1/persons/household-timeline" + query, headers: read.headers(person))
        if daemon.json {
            session.printRaw(response)
            return
        }
        session.say(fields([("person", answer["person"]?.cell ?? "?")])[0])
        session.say("")
        let rows = (answer["rows"]?.array ?? []).map { entry in
            [
                entry["position"]?.cell ?? "", entry["member"]?.cell ?? "", entry["person"]?.cell ?? "",
                entry["occurredAt"]?.cell ?? "", entry["type"]?.cell ?? "", entry["actor"]?["operator"]?.cell ?? "-",
                PersonShow.marks(entry), shortened(entry["data"]?.compact ?? "", to: 160),
            ]
        }
        printTable(
            ["POSITION", "MEMBER", "PERSON", "OCCURRED AT", "TYPE", "OPERATOR", "MARKS", "DATA"], rows, session: session,
            empty: "no entries")
        session.say(reflectsLine(answer))
        if let next = answer["next"]?.uint64 { Terminal.error("more entries follow: add --from \(next)") }
    }
}
