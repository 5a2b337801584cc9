import ArgumentParser
import FascicoloJSON
import Glibc

struct PersonShow: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a person's case file: the state of their path and the entries (any role; the read is recorded).",
        discussion: """
            The daemon records every read (a RecordAccessed entry: who, when, why) before serving \
            it. Auditors must give --purpose; services may name the operator they read for. \
            Personal fields are shown opened (writers and admins), or marked: erased (the person's \
            data were erased), restricted (processing restricted; admins still see them). Entries \
            corrected later are marked voided or rectified, with the correcting entry's version.

            """ + Exit.help)

    @OptionGroup var person: PersonOption

    @Option(
        help: ArgumentHelp(
            "Why the case file is read (required from auditors; stored in clear — name the reason, not the person).",
            valueName: "text"))
    var purpose: String?

    @Option(name: .customLong("operator"), help: ArgumentHelp("The operator on whose behalf this is read.", valueName: "id"))
    var operatorID: String?

    @Option(help: "The first version of the case file to show (default 1).")
    var from: UInt64?

    @Option(help: "At most this many entries (1 to 1000; default all, up to 1000).")
    var limit: Int?

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
        try checkHeaderValue(purpose, option: "--purpose", lengths: 3...200)
        try checkHeaderValue(operatorID, option: "--operator", lengths: 1...64)
    }

    func run(client: DaemonClient) async throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, client: client, redaction: person.redaction)
        var headers = [("Fascicolo-Person", person.identifier)]
        if let purpose { headers.append(("Fascicolo-Purpose", purpose)) }
        if let operatorID { headers.append(("Fascicolo-Operator", operatorID)) }
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init))])
        let (response, file) = try await session.getJSON("/v1/persons/case-file" + query, headers: headers)
        if daemon.json {
            session.printRaw(response)
            return
        }
        let state = file["state"] ?? .object([])
        let entries = file["entries"]?.array ?? []
        let total = file["version"]?.uint64
        var summary: [(String, String)] = [
            ("person", file["person"]?.string ?? "?"),
            ("stream", file["stream"]?.string ?? "?"),
            ("entries", total.map(String.init) ?? "?"),
            ("phase", Self.phase(state["phase"]?.string)),
        ]
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
        summary.append(("signed plan", state["signedPlan"]?.bool == true ? "yes" : "no"))
        let open = state["openInterventions"]?.array?.compactMap(\.uint64) ?? []
        summary.append(
            (
                "open interventions",
                open.isEmpty
                    ? "none"
                    : "\(open.count) (version\(open.count == 1 ? "" : "s") \(open.map(String.init).joined(separator: ", ")))"
            ))
        for line in fields(summary) { session.say(line) }
        session.say("")

        let rows = entries.map { entry in
            [
                entry["version"]?.compact ?? "", entry["occurredAt"]?.string ?? "", entry["type"]?.string ?? "",
                entry["label"]?.string ?? "", Self.marks(entry), shortened(entry["data"]?.compact ?? "", to: 200),
            ]
        }
        if rows.isEmpty {
            session.say("no entries" + (from.map { " from version \($0)" } ?? ""))
        } else {
            for line in table(["VERSION", "OCCURRED AT", "TYPE", "LABEL", "MARKS", "DATA"], rows) { session.say(line) }
            if rows.contains(where: { $0.last?.hasSuffix("…") ?? false }) {
                Terminal.error("(long data shortened; --json shows it whole)")
            }
        }
        if let last = entries.last?["version"]?.uint64, let total, last < total {
            Terminal.error("more entries follow (\(total) in all): add --from \(last + 1)")
        }
    }

    /// The phase with its Italian name.
    static func phase(_ phase: String?) -> String {
        guard let phase else { return "?" }
        let italian = [
            "no_case": "nessun fascicolo aperto", "opened": "fascicolo aperto", "taken_in_charge": "presa in carico",
            "suspended": "sospeso", "closed": "chiuso", "transferred_out": "trasferito ad altro ambito",
        ][phase]
        return italian.map { "\(phase) (\($0))" } ?? phase
    }

    /// voided, rectified, restricted, erased — or "-".
    static func marks(_ entry: JSON) -> String {
        var marks: [String] = []
        if let by = entry["voidedBy"]?.uint64 { marks.append("voided by \(by)") }
        if let by = entry["rectifiedBy"]?.array?.compactMap(\.uint64), !by.isEmpty {
            marks.append("rectified by \(by.map(String.init).joined(separator: ", "))")
        }
        if let by = entry["restrictedBy"]?.uint64 { marks.append("restricted by \(by)") }
        switch entry["personalData"]?.string {
        case "erased": marks.append("erased")
        case "restricted": marks.append("personal data restricted")
        case "unreadable": marks.append("personal data UNREADABLE")
        default: break
        }
        return marks.isEmpty ? "-" : marks.joined(separator: "; ")
    }
}
