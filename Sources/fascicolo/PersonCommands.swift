import ArgumentParser
import FascicoloJSON
import Glibc

// The fascicolo sociale through the daemon's domain API (/v1/persons/…, /v1/catalogue).
//
// A person is named by a codice fiscale (or an STP, ENI or provisional code) given with
// --person-file, FASCICOLO_PERSON or --person (`PersonOption`). It goes to the daemon in the request body or the Fascicolo-Person header — never in
// a URL — and is never printed back: output names the pseudonym the daemon answers with, and
// everything printed passes through `Redaction`.

struct Person: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "person",
        abstract: "A person's case file: record events, show it, its timeline and state, erase the personal data.",
        discussion: """
            The person — a codice fiscale, an STP or ENI code, or provisional:<id> — is given in \
            exactly one way: --person-file PATH (the file's first line; '-' reads one line from \
            standard input, without echo on a terminal), the environment variable \
            FASCICOLO_PERSON, or --person VALUE. Prefer the first two: a command line is visible \
            to every local user (ps, /proc/PID/cmdline), and --person with a codice fiscale prints \
            a warning. Two ways at once, or none, is an error (exit 2, nothing sent).

            The person is sent in the request body or the Fascicolo-Person header, never in a URL, \
            and never printed: output names the person's pseudonym (32 hex digits), which the \
            daemon computes with its pseudonym.key. Every read of a case file is recorded by the \
            daemon (who, when, why) before it is served.

            A refusal prints the daemon's detail and code; a step the person's path does not allow \
            (e.g. an intervention before a signed plan) also prints the sentence in Italian.

            """ + Exit.help,
        subcommands: [PersonRecord.self, PersonShow.self, PersonTimeline.self, PersonState.self, PersonErase.self])
}

/// The person: from `--person-file PATH` (its first line; `-` for standard input), from the
/// environment variable `FASCICOLO_PERSON`, or from `--person VALUE` — exactly one of them. The
/// first two keep the codice fiscale off the command line, which every local user can read
/// (`ps`, `/proc/PID/cmdline`). Checked here only for what would break the request (the daemon
/// validates it); the value is never repeated in a message: it is personal data.
struct PersonOption: ParsableArguments {
    static let environmentVariable = "FASCICOLO_PERSON"
    static let sources = "--person-file PATH ('-': standard input), FASCICOLO_PERSON, or --person"

    @Option(help: ArgumentHelp(
        "The person on the command line: codice fiscale, STP or ENI code, or provisional:<id>. Other local users can read it "
            + "there (ps, /proc): prefer --person-file or FASCICOLO_PERSON.",
        valueName: "codice-fiscale"))
    var person: String?

    @Option(help: ArgumentHelp(
        "Read the person from the first line of this file ('-': standard input; not echoed on a terminal), "
            + "which keeps it off the command line; or set FASCICOLO_PERSON. Give exactly one of the three.",
        valueName: "path"))
    var personFile: String?

    /// FASCICOLO_PERSON, when set and not empty (the environment of a process is readable by its
    /// own user and root only).
    static var fromEnvironment: String? {
        guard let value = getenv(environmentVariable).map({ String(cString: $0) }), !value.isEmpty else { return nil }
        return value
    }

    /// The sources given, by name.
    var given: [String] {
        [("--person", person != nil), ("--person-file", personFile != nil), (Self.environmentVariable, Self.fromEnvironment != nil)]
            .filter(\.1).map(\.0)
    }

    func validate() throws {
        let given = given
        guard !given.isEmpty else { throw ValidationError("which person? give \(Self.sources)") }
        guard given.count == 1 else {
            throw ValidationError("the person is given \(given.count) ways (\(given.joined(separator: ", "))): give exactly one of \(Self.sources)")
        }
        if let person { try Self.check(person, source: "--person") }
        if personFile?.isEmpty == true { throw ValidationError("--person-file is empty: give a path, or '-' for standard input") }
    }

    /// The person from the source given, checked; reads the file or standard input (once: call
    /// it once per command, before anything is sent). Exits 2 when it cannot be read or is not a
    /// plausible identifier.
    func resolve() throws -> ResolvedPerson {
        let value: String
        do {
            if let person {
                if Self.looksLikeAPersonalCode(person) {
                    Terminal.error("warning: --person puts the person's code on the command line, where other local users can read it "
                                   + "(ps, /proc); use --person-file PATH or FASCICOLO_PERSON")
                }
                value = person
            } else if let personFile {
                value = try Self.firstLine(of: personFile)
                try Self.check(value, source: personFile == "-" ? "standard input" : "--person-file \(personFile)")
            } else if let environment = Self.fromEnvironment {
                value = environment
                try Self.check(value, source: Self.environmentVariable)
            } else {
                throw ValidationError("which person? give \(Self.sources)")
            }
        } catch let error as ValidationError {
            Terminal.error("error: \(error.message)")
            throw Exit.couldNotRun
        }
        return ResolvedPerson(identifier: value.trimmingWhitespace())
    }

    /// Printable ASCII without spaces, at most 128 bytes; the message never repeats the value.
    static func check(_ value: String, source: String) throws {
        let trimmed = value.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw ValidationError("\(source): the person is empty") }
        guard trimmed.utf8.count <= 128, trimmed.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ValidationError("\(source): the person is a codice fiscale, an STP or ENI code, or provisional:<id> "
                                  + "(printable ASCII, no spaces)")
        }
    }

    /// The first line of `path` (`-`: standard input, read no further than that line, without
    /// echo on a terminal), without its line end.
    static func firstLine(of path: String) throws -> String {
        var bytes: [UInt8] = []
        if path == "-" {
            bytes = try readLineFromStandardInput()
        } else {
            do { bytes = try Files.read(path, limit: 64 << 10) } catch {
                throw ValidationError("--person-file: \(error)")
            }
        }
        let line = bytes.prefix { $0 != 0x0A }
        return String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
    }

    /// One line from standard input, byte by byte (whatever follows stays there, for a
    /// confirmation). On a terminal it asks, and does not echo what is typed.
    private static func readLineFromStandardInput() throws -> [UInt8] {
        var saved = termios()
        let terminal = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved) == 0
        if terminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
            _ = "Person (codice fiscale; not shown): ".withCString { write(STDERR_FILENO, $0, strlen($0)) }
        }
        defer {
            if terminal {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved)
                _ = "\n".withCString { write(STDERR_FILENO, $0, strlen($0)) }
            }
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count <= 1_024 {
            let count = read(STDIN_FILENO, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw ValidationError("--person-file -: cannot read standard input (errno \(errno))") }
            if count == 0 || byte == 0x0A { break }
            line.append(byte)
        }
        return line
    }

    /// A codice fiscale, or an STP or ENI code (three letters and 13 digits).
    static func looksLikeAPersonalCode(_ value: String) -> Bool {
        let bytes = Array(value.trimmingWhitespace().utf8)
        if bytes.count == 16, Redaction.isCodiceFiscale(bytes, at: 0) { return true }
        let upper = String(decoding: bytes, as: UTF8.self).uppercased()
        return bytes.count == 16 && (upper.hasPrefix("STP") || upper.hasPrefix("ENI"))
            && bytes.dropFirst(3).allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// The person a command acts on, read from its source once.
struct ResolvedPerson {
    let identifier: String
    var redaction: Redaction { Redaction(person: identifier) }
}

/// A value that goes into an HTTP header: no control characters (no line breaks).
func checkHeaderValue(_ value: String?, option: String, lengths: ClosedRange<Int>) throws {
    guard let value else { return }
    guard lengths.contains(value.unicodeScalars.count) else {
        throw ValidationError("\(option) is \(lengths.lowerBound) to \(lengths.upperBound) characters")
    }
    guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
        throw ValidationError("\(option) has a control character (a line break?)")
    }
}

/// "3–5" or "3".
func span(_ values: [UInt64]) -> String {
    guard let first = values.first, let last = values.last else { return "?" }
    return first == last ? "\(first)" : "\(first)–\(last)"
}

// MARK: - person record

struct PersonRecord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record events in a person's case file (roles writer, admin).",
        discussion: """
            EVENTS is a JSON file ('-' for standard input) holding one event \
            {"type":…,"occurredAt":"YYYY-MM-DD","data":{…}}, an array of them, or a prepared body \
            {"events":[…],"actor":…,"expectedVersion":…,"idempotencyKey":…} without the person. \
            The events are sent exactly as written; the daemon checks each against the catalogue \
            (fascicolo catalogue), the reference data and the person's path, and records all of \
            them or none.

            The actor — who does this, for which ente and ambito — is --actor FILE (a JSON object \
            {"operator":…,"role":…,"ente":…,"ambito":…,"onBehalfOf":…}), or the --actor-* options, \
            or the prepared body's "actor". Roles: \
            assistente_sociale, educatore, psicologo, mediatore, amministrativo, coordinatore, case_manager, other.

            Use an idempotency key for anything a script may retry: the same key and content \
            returns the first answer instead of recording the events twice. A version conflict \
            (--expected-version) is HTTP 409 and exits 1, as does any refusal.

            """ + Exit.help)

    @OptionGroup var person: PersonOption

    @Argument(help: ArgumentHelp("The events (JSON); '-' for standard input.", valueName: "events"))
    var events: String

    @Option(help: ArgumentHelp("The actor as a JSON object, from a file ('-' for standard input).", valueName: "path"))
    var actor: String?

    @Option(help: ArgumentHelp("The operator who acts (actor.operator).", valueName: "id"))
    var actorOperator: String?

    @Option(help: ArgumentHelp("The operator's role (actor.role), e.g. assistente_sociale.", valueName: "role"))
    var actorRole: String?

    @Option(help: ArgumentHelp("The ente the operator acts for (actor.ente).", valueName: "name"))
    var actorEnte: String?

    @Option(help: ArgumentHelp("The ambito's code (actor.ambito), e.g. potenza.", valueName: "code"))
    var actorAmbito: String?

    @Option(help: ArgumentHelp("The operator on whose behalf the actor records (actor.onBehalfOf).", valueName: "id"))
    var actorOnBehalfOf: String?

    @Option(help: ArgumentHelp("Record only if the case file is at this version: any (default), no_stream, or a number.",
                               valueName: "any|no_stream|N"))
    var expectedVersion: String?

    @Option(help: ArgumentHelp("Makes a retry safe: the same key and content gives the original answer.", valueName: "key"))
    var idempotencyKey: String?

    @OptionGroup var daemon: DaemonOptions

    private var actorParts: [(String, String?)] {
        [("operator", actorOperator), ("role", actorRole), ("ente", actorEnte), ("ambito", actorAmbito)]
    }

    func validate() throws {
        let given = actorParts.filter { $0.1 != nil }
        if actor != nil {
            guard given.isEmpty && actorOnBehalfOf == nil else { throw ValidationError("give either --actor FILE or the --actor-* options") }
        } else if !given.isEmpty || actorOnBehalfOf != nil {
            let missing = actorParts.filter { $0.1 == nil }.map { "--actor-" + $0.0 }
            guard missing.isEmpty else { throw ValidationError("the actor also needs \(missing.joined(separator: ", "))") }
        }
        let fromStandardInput = [("EVENTS", events == "-"), ("--actor", actor == "-"), ("--person-file", person.personFile == "-")]
            .filter(\.1).map(\.0)
        if fromStandardInput.count > 1 {
            throw ValidationError("only one of \(fromStandardInput.joined(separator: " and ")) can come from standard input")
        }
        if let expectedVersion { _ = try Append.expectedVersionJSON(expectedVersion) }
    }

    static func read(_ path: String, what: String) throws -> (bytes: [UInt8], name: String) {
        let name = path == "-" ? "standard input" : path
        do {
            return (path == "-" ? try Files.readStandardInput(limit: 64 << 20) : try Files.read(path, limit: 64 << 20), name)
        } catch {
            Terminal.error("error: \(what): \(error)")
            throw Exit.couldNotRun
        }
    }

    /// The request body, and the events' types (for the answer's table). Events and actor go
    /// out as written: they are amended into the body, never re-encoded.
    func requestBody(person: ResolvedPerson) throws -> (body: [UInt8], types: [String]) {
        let (bytes, name) = try Self.read(events, what: "EVENTS")
        let parsed: JSON
        do { parsed = try JSON.parse(bytes) } catch {
            Terminal.error("error: \(name) is \(error)")
            throw Exit.couldNotRun
        }
        let shape = "one event {\"type\":…,\"occurredAt\":…,\"data\":{…}}, an array of events, or {\"events\":[…]}"
        var members: [(key: String, value: ArraySlice<UInt8>)] = []
        let eventValues: [JSON]
        if let array = parsed.array {
            eventValues = array
            members.append(("events", JSON.trimmed(bytes)))
        } else if parsed.isObject, parsed["type"] != nil {
            eventValues = [parsed]
            members.append(("events", ArraySlice(Array("[".utf8) + JSON.trimmed(bytes) + Array("]".utf8))))
        } else if parsed.isObject, let array = parsed["events"]?.array, let raw = try? JSON.rawMembers(bytes) {
            eventValues = array
            for member in raw {
                switch member.key {
                case "events", "actor", "expectedVersion", "idempotencyKey": members.append(member)
                case "person":
                    Terminal.error("error: \(name) names a person: give the person with \(PersonOption.sources), and the events without it")
                    throw Exit.couldNotRun
                default:
                    Terminal.error("error: \(name) has a member \(jsonString(member.key)); it holds \(shape)")
                    throw Exit.couldNotRun
                }
            }
        } else {
            Terminal.error("error: \(name) is not \(shape)")
            throw Exit.couldNotRun
        }
        guard !eventValues.isEmpty else {
            Terminal.error("error: \(name) has no events")
            throw Exit.couldNotRun
        }

        func set(_ key: String, _ value: [UInt8]) {
            if let index = members.firstIndex(where: { $0.key == key }) {
                members[index].value = ArraySlice(value)
            } else {
                members.append((key, ArraySlice(value)))
            }
        }
        if let actor {
            let (actorBytes, actorName) = try Self.read(actor, what: "--actor")
            do {
                guard try JSON.parse(actorBytes).isObject else {
                    Terminal.error("error: \(actorName) is not a JSON object {\"operator\":…,\"role\":…,\"ente\":…,\"ambito\":…}")
                    throw Exit.couldNotRun
                }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                Terminal.error("error: \(actorName) is \(error)")
                throw Exit.couldNotRun
            }
            set("actor", Array(JSON.trimmed(actorBytes)))
        } else if actorOperator != nil {
            var parts = actorParts.compactMap { key, value in value.map { jsonString(key) + ":" + jsonString($0) } }
            if let actorOnBehalfOf { parts.append(jsonString("onBehalfOf") + ":" + jsonString(actorOnBehalfOf)) }
            set("actor", Array(("{" + parts.joined(separator: ",") + "}").utf8))
        }
        guard members.contains(where: { $0.key == "actor" }) else {
            Terminal.error("error: who records this? give --actor FILE, or --actor-operator, --actor-role, --actor-ente and --actor-ambito")
            throw Exit.couldNotRun
        }
        if let expectedVersion { set("expectedVersion", Array(try Append.expectedVersionJSON(expectedVersion).compact.utf8)) }
        if let idempotencyKey { set("idempotencyKey", Array(jsonString(idempotencyKey).utf8)) }

        // The daemon's order: person, actor, events, expectedVersion, idempotencyKey.
        let order = ["actor", "events", "expectedVersion", "idempotencyKey"]
        members.sort { order.firstIndex(of: $0.key)! < order.firstIndex(of: $1.key)! }
        var body = Array(("{\"person\":" + jsonString(person.identifier)).utf8)
        for member in members {
            body += Array(("," + jsonString(member.key) + ":").utf8) + member.value
        }
        body += Array("}".utf8)
        return (body, eventValues.map { $0["type"]?.string ?? "?" })
    }

    func run() throws {
        let person = try self.person.resolve()
        let (body, types) = try requestBody(person: person)
        let session = DaemonSession(daemon, redaction: person.redaction)
        let response = try session.send("POST", "/v1/persons/events", body: body)
        guard response.isSuccess else { throw session.refusal(response) }
        if daemon.json {
            session.printRaw(response)
            return
        }
        let result = try session.parse(response)
        let positions = result["positions"]?.array?.compactMap(\.uint64) ?? []
        let versions = result["streamVersions"]?.array?.compactMap(\.uint64) ?? []
        let pseudonym = result["person"]?.string ?? "?"
        let count = positions.count
        let what = "\(count) event\(count == 1 ? "" : "s")"
        if result["deduplicated"]?.bool == true {
            session.say("already recorded (same idempotency key and content): \(what) for person \(pseudonym); nothing new recorded")
        } else {
            session.say("recorded \(what) for person \(pseudonym): stream version\(count == 1 ? "" : "s") \(span(versions))")
        }
        for line in fields([("person", pseudonym), ("stream", result["stream"]?.string ?? "?"),
                            ("code table", result["codeTable"]?.string ?? "?")]) {
            session.say(line)
        }
        let rows = positions.indices.map { index in
            [String(positions[index]), index < versions.count ? String(versions[index]) : "?", index < types.count ? types[index] : "?"]
        }
        for line in table(["POSITION", "VERSION", "TYPE"], rows) { session.say(line) }
    }
}

// MARK: - person show

struct PersonShow: ParsableCommand {
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

    @Option(help: ArgumentHelp("Why the case file is read (required from auditors; stored in clear — name the reason, not the person).",
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

    func run() throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, redaction: person.redaction)
        var headers = [("Fascicolo-Person", person.identifier)]
        if let purpose { headers.append(("Fascicolo-Purpose", purpose)) }
        if let operatorID { headers.append(("Fascicolo-Operator", operatorID)) }
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init))])
        let (response, file) = try session.getJSON("/v1/persons/case-file" + query, headers: headers)
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
        summary.append(("open interventions", open.isEmpty ? "none"
                        : "\(open.count) (version\(open.count == 1 ? "" : "s") \(open.map(String.init).joined(separator: ", ")))"))
        for line in fields(summary) { session.say(line) }
        session.say("")

        let rows = entries.map { entry in
            [entry["version"]?.compact ?? "", entry["occurredAt"]?.string ?? "", entry["type"]?.string ?? "",
             entry["label"]?.string ?? "", Self.marks(entry), shortened(entry["data"]?.compact ?? "", to: 200)]
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
        let italian = ["no_case": "nessun fascicolo aperto", "opened": "fascicolo aperto", "taken_in_charge": "presa in carico",
                       "suspended": "sospeso", "closed": "chiuso", "transferred_out": "trasferito ad altro ambito"][phase]
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

// MARK: - person erase

struct PersonErase: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Erase a person's personal data for good (role admin).",
        discussion: """
            The daemon destroys the person's data key and records an ErasureExecuted entry with \
            the legal ground and the reference of the act that orders it. Every personal field of \
            the case file becomes unreadable for ever; the entries, their signatures and the \
            proofs stay valid, and nothing more can be recorded for the person. There is no undo.

            Asks for confirmation on a terminal; elsewhere (scripts) --yes is required, and without \
            it nothing is sent and the command exits 2.

            """ + Exit.help)

    @OptionGroup var person: PersonOption

    @Option(help: ArgumentHelp("Why: art17_request, retention_ended, unlawful_processing or court_order.", valueName: "ground"))
    var legalGround: String

    @Option(help: ArgumentHelp("The reference of the request or act (e.g. a protocol number).", valueName: "text"))
    var reference: String

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, redaction: person.redaction)
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                Terminal.error("error: erasure cannot be undone: confirm it with --yes (standard input is not a terminal to ask on); nothing was sent")
                throw Exit.couldNotRun
            }
            Terminal.error(person.redaction.apply("""
                This erases the personal data of the person given, for good: their data key \
                is destroyed, and every personal field of their case file becomes unreadable for ever. The \
                entries and their signatures stay. Legal ground: \(legalGround); reference: \(reference).
                """))
            _ = "Type yes to erase: ".withCString { write(STDERR_FILENO, $0, strlen($0)) }
            let answer = readLine(strippingNewline: true)?.trimmingWhitespace().lowercased()
            guard answer == "yes" || answer == "sì" || answer == "si" else {
                Terminal.error("not erased: nothing was sent")
                throw Exit.couldNotRun
            }
        }
        let body = "{\"person\":\(jsonString(person.identifier)),\"legalGround\":\(jsonString(legalGround)),"
            + "\"reference\":\(jsonString(reference))}"
        let response = try session.send("POST", "/v1/persons/erasure", body: Array(body.utf8))
        guard response.isSuccess else { throw session.refusal(response) }
        if daemon.json {
            session.printRaw(response)
            return
        }
        let result = try session.parse(response)
        let pseudonym = result["person"]?.string ?? "?"
        let position = result["positions"]?.array?.first?.uint64.map(String.init) ?? "?"
        let version = result["streamVersions"]?.array?.first?.uint64.map(String.init) ?? "?"
        session.say("erased: the personal data of person \(pseudonym) can no longer be read")
        session.say("ErasureExecuted recorded at position \(position), stream version \(version) of \(result["stream"]?.string ?? "?")")
    }
}

// MARK: - catalogue

struct CatalogueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue",
        abstract: "List the event types a case file may hold, with purpose and retention (any role).",
        discussion: """
            Without TYPE: every type with its Italian label, schema version, processing purpose, \
            retention class and personal fields (sealed with the person's data key, never stored \
            in clear). With TYPE: that type's fields, their kinds and which are required. Types \
            written by the daemon itself (RecordAccessed, ErasureExecuted) are marked.

            """ + Exit.help)

    @Argument(help: "One event type to describe field by field.")
    var type: String?

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let session = DaemonSession(daemon)
        let (response, catalogue) = try session.getJSON("/v1/catalogue")
        let types = catalogue["types"]?.array ?? []
        if let type {
            guard let schema = types.first(where: { $0["type"]?.string == type }) else {
                Terminal.error("error: the catalogue has no type \(jsonString(type)) (fascicolo catalogue lists them)")
                throw Exit.failed
            }
            if daemon.json {
                Terminal.out(schema.compact)
                return
            }
            for line in fields([
                ("type", type), ("label", schema["label"]?.string ?? "?"), ("version", schema["version"]?.compact ?? "?"),
                ("purpose", schema["purpose"]?.string ?? "?"), ("legal basis", schema["legalBasis"]?.string ?? "?"),
                ("retention", schema["retention"]?.string ?? "?"), ("correction", schema["correction"]?.string ?? "?"),
                ("judicial", schema["judicial"]?.bool == true ? "yes (GDPR art. 10)" : "no"),
                ("written by", schema["writtenBy"]?.string ?? "?"),
            ]) { Terminal.out(line) }
            Terminal.out("")
            let rows = (schema["fields"]?.array ?? []).map { field in
                [field["name"]?.string ?? "", Self.kind(field), field["required"]?.bool == true ? "yes" : "no",
                 field["personal"]?.bool == true ? "yes (sealed)" : "no"]
            }
            for line in table(["FIELD", "KIND", "REQUIRED", "PERSONAL"], rows) { Terminal.out(line) }
            return
        }
        if daemon.json {
            session.printRaw(response)
            return
        }
        let rows = types.map { schema in
            let personal = (schema["fields"]?.array ?? []).filter { $0["personal"]?.bool == true }.compactMap { $0["name"]?.string }
            return [schema["type"]?.string ?? "", schema["label"]?.string ?? "", schema["version"]?.compact ?? "",
                    schema["purpose"]?.string ?? "", schema["retention"]?.string ?? "",
                    (personal.isEmpty ? "-" : personal.joined(separator: ", "))
                        + (schema["writtenBy"]?.string == "daemon" ? "  (written by the daemon)" : "")]
        }
        for line in table(["TYPE", "LABEL", "VERSION", "PURPOSE", "RETENTION", "PERSONAL FIELDS"], rows) { Terminal.out(line) }
    }

    /// `choice: F, M, X`, `text ≤ 200`, `integer 1900…2100`, `code:ambiti`, …
    static func kind(_ field: JSON) -> String {
        let kind = field["kind"]?.string ?? "?"
        if let values = field["values"]?.array?.compactMap(\.string) { return kind + ": " + values.joined(separator: ", ") }
        if let minimum = field["minimum"]?.compact, let maximum = field["maximum"]?.compact { return "\(kind) \(minimum)…\(maximum)" }
        if let items = field["maxItems"]?.compact, let length = field["maxLength"]?.compact { return "\(kind) ≤ \(items) × ≤ \(length)" }
        if let length = field["maxLength"]?.compact { return "\(kind) ≤ \(length)" }
        return kind
    }
}
