import ArgumentParser
import FascicoloJSON

struct PersonReads: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "reads",
        abstract: "Tell a person who read their file: when, which operator of which service, what and why (any role; recorded).",
        discussion: """
            The person's own listing of who read their file (GDPR art. 15), newest first, over \
            whole days from --from (default 24 months before --to) to --to (default today). A \
            service names the operator who asks (--operator, e.g. the front desk's), an auditor \
            the purpose (--purpose). The listing is itself a read of the person's record: the \
            daemon records it first, and it lists itself.

            --text prints it as plain Italian sentences a front desk can print and hand over; \
            --json prints the daemon's answer as it came.

            """ + Exit.help)

    @OptionGroup var person: PersonOption
    @OptionGroup var read: PersonReadOptions

    @Option(help: ArgumentHelp("The first day listed (YYYY-MM-DD; default 24 months before --to).", valueName: "date"))
    var from: String?

    @Option(help: ArgumentHelp("The last day listed (YYYY-MM-DD; default today).", valueName: "date"))
    var to: String?

    @Option(help: ArgumentHelp("The next page: the position a previous answer said to continue before.", valueName: "position"))
    var before: UInt64?

    @Option(help: "At most this many reads (1 to 1000; default 100).")
    var limit: Int?

    @Flag(help: "Plain Italian text, for the person.")
    var text = false

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
        for (value, option) in [(from, "--from"), (to, "--to")] {
            if let value, value.utf8.count != 10 || !value.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (48...57).contains($0) }) {
                throw ValidationError("\(option) is a date, YYYY-MM-DD")
            }
        }
        if text && daemon.json { throw ValidationError("--text and --json are two different outputs: give one") }
    }

    func run(client: DaemonClient) async throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, client: client, redaction: person.redaction)
        let query = queryString([
            ("from", from), ("to", to), ("before", before.map(String.init)), ("limit", limit.map(String.init)),
        ])
        let (response, answer) = try await session.getJSON("/v1/persons/reads" + query, headers: read.headers(person))
        if daemon.json {
            session.printRaw(response)
            return
        }
        let reads = answer["reads"]?.array ?? []
        if text {
            for line in Self.italian(answer) { session.say(line) }
        } else {
            session.say(fields([("person", answer["person"]?.cell ?? "?"), ("period", Self.period(answer))]).joined(separator: "\n"))
            let rows = reads.map { read in
                [
                    read["at"]?.cell ?? "", read["operator"]?.cell ?? "-", read["service"]?.cell ?? "",
                    read["ambiti"]?.array?.map(\.cell).joined(separator: ",") ?? "-", read["role"]?.cell ?? "",
                    read["what"]?.cell ?? "", read["purpose"]?.cell ?? "",
                ]
            }
            printTable(
                ["AT", "OPERATOR", "SERVICE", "AMBITI", "ROLE", "WHAT", "PURPOSE"], rows, session: session,
                empty: "no reads in the period")
            session.say(reflectsLine(answer))
        }
        if let next = answer["next"]?.uint64 {
            Terminal.error("more reads in the period: add --before \(next)")
        }
    }

    static func period(_ answer: JSON) -> String {
        "\(answer["from"]?.cell ?? "?") to \(answer["to"]?.cell ?? "?")"
    }

    /// The listing as sentences: one paragraph per read, in the words the daemon gave.
    static func italian(_ answer: JSON) -> [String] {
        func day(_ value: JSON?) -> String {
            let parts = (value?.string ?? "").split(separator: "-")
            return parts.count == 3 ? "\(parts[2])/\(parts[1])/\(parts[0])" : "?"
        }
        let reads = answer["reads"]?.array ?? []
        var lines = [
            "Consultazioni del fascicolo sociale dal \(day(answer["from"])) al \(day(answer["to"]))",
            "(codice del fascicolo: \(answer["person"]?.cell ?? "?"))",
            "",
        ]
        if reads.isEmpty {
            lines.append("Nel periodo nessuno ha consultato il fascicolo.")
            return lines
        }
        lines.append(
            reads.count == 1
                ? "Nel periodo il fascicolo è stato consultato una volta:"
                : "Nel periodo il fascicolo è stato consultato \(reads.count) volte:")
        for read in reads {
            let who = read["operator"]?.string.map { "l'operatore \($0)" } ?? "un \(read["roleLabel"]?.cell ?? "operatore")"
            var service = "del servizio \(read["service"]?.cell ?? "?")"
            if let ambiti = read["ambiti"]?.array, !ambiti.isEmpty {
                service += " (ambito \(ambiti.map(\.cell).joined(separator: ", ")))"
            }
            lines.append("")
            lines.append("- \(read["localTime"]?.cell ?? read["at"]?.cell ?? "?"): \(who) \(service),")
            lines.append("  come \(read["roleLabel"]?.cell ?? "?"), ha consultato \(read["whatLabel"]?.cell ?? "?")")
            lines.append("  per: \(read["purposeLabel"]?.cell ?? "?").")
        }
        if answer["next"]?.uint64 != nil {
            lines.append("")
            lines.append("L'elenco continua: ci sono altre consultazioni nel periodo.")
        }
        lines.append("")
        lines.append("Anche questa richiesta è stata registrata fra le consultazioni del fascicolo.")
        return lines
    }
}
