import ArgumentParser
import FascicoloJSON

// Who read a person's data, and the registers of corrections and erasures.

struct ComplianceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compliance",
        abstract: "Who read a person's data, and the registers of corrections and erasures (roles auditor, admin).",
        discussion: Exit.status,
        subcommands: [ComplianceAccesses.self, ComplianceRegister.self, ComplianceHolds.self])
}

struct ComplianceAccesses: DaemonCommand {
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

    func run(client: DaemonClient) async throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, client: client, redaction: person.redaction)
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init)), reflects.parameter])
        let (response, answer) = try await session.getJSON("/v1/compliance/accesses" + query, headers: read.headers(person))
        if daemon.json {
            session.printRaw(response)
            return
        }
        let accesses = answer["accesses"]?.array ?? answer["rows"]?.array ?? []
        session.say(fields([("person", answer["person"]?.cell ?? "?")])[0])
        let rows = accesses.map { access in
            ["position", "at", "author", "role", "operator", "what", "purpose", "entries"].map { access[$0]?.cell ?? "-" }
        }
        printTable(
            ["POSITION", "AT", "AUTHOR", "ROLE", "OPERATOR", "WHAT", "PURPOSE", "ENTRIES"], rows, session: session,
            empty: "no reads recorded")
        if accesses.count == (limit ?? 100), let last = accesses.last?["position"]?.uint64 {
            Terminal.error("more may follow: add --from \(last + 1)")
        }
        session.say(reflectsLine(answer))
    }
}

struct ComplianceRegister: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "A register of corrections across all persons: rectifications, voids, restrictions or erasures (roles auditor, admin).",
        discussion: """
            Each row is a correcting entry: where it is in the log, when, for which person \
            (pseudonym), by whom, and its clear data (target, reason, legal ground…; rectified \
            values are sealed and not shown).

            """ + Exit.help)

    static let names = ["rectifications", "voids", "restrictions", "erasures", "holds"]

    @Argument(help: ArgumentHelp("rectifications, voids, restrictions, erasures or holds.", valueName: "register"))
    var name: String

    @Option(help: "The first log position to show (default 0).")
    var from: UInt64?

    @Option(help: "At most this many rows (1 to 1000; default 100).")
    var limit: Int?

    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard Self.names.contains(name) else { throw ValidationError("the register is one of \(Self.names.joined(separator: ", "))") }
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
    }

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init)), reflects.parameter])
        let (response, answer) = try await session.getJSON("/v1/compliance/registers/\(name)" + query)
        if daemon.json {
            session.printRaw(response)
            return
        }
        let found = answer["rows"]?.array ?? []
        let rows = found.map { row in
            ["position", "at", "person", "version", "type", "author", "operator"].map { row[$0]?.cell ?? "-" }
                + [shortened(row["data"]?.compact ?? "", to: 120)]
        }
        printTable(
            ["POSITION", "AT", "PERSON", "VERSION", "TYPE", "AUTHOR", "OPERATOR", "DATA"], rows, session: session,
            empty: "no \(name)")
        if found.count == (limit ?? 100), let last = found.last?["position"]?.uint64 {
            Terminal.error("more may follow: add --from \(last + 1)")
        }
        session.say(reflectsLine(answer))
    }
}

/// `fascicolo compliance holds`: the legal holds in force (issue 21).
struct ComplianceHolds: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "holds",
        abstract: "The legal holds in force: who cannot be erased, on which ground (roles auditor, admin).",
        discussion: """
            Lists the LegalHoldPlaced entries not released, by pseudonym: their ground and \
            reference. Open case files also block an erasure for retention; the caseload shows them.

            """ + Exit.help)

    @Option(help: "At most this many holds (1 to 1000; default 100).")
    var limit: Int?

    @OptionGroup var reflects: ReflectsOption
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
    }

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let query = queryString([("limit", limit.map(String.init)), reflects.parameter])
        let (response, answer) = try await session.getJSON("/v1/compliance/holds" + query)
        if daemon.json {
            session.printRaw(response)
            return
        }
        let found = answer["holds"]?.array ?? []
        let rows = found.map { row in
            ["position", "at", "person", "version"].map { row[$0]?.cell ?? "-" }
                + ["ground", "reference", "authorisedBy"].map { row["data"]?[$0]?.cell ?? "-" }
        }
        printTable(
            ["POSITION", "AT", "PERSON", "VERSION", "GROUND", "REFERENCE", "AUTHORISED BY"], rows, session: session,
            empty: "no legal hold in force")
        if answer["more"] == .bool(true) { Terminal.error("more holds are in force: add --limit") }
        session.say(reflectsLine(answer))
    }
}
