import ArgumentParser
import FascicoloJSON
import FascicoloOperations
import Glibc

struct PersonRecord: DaemonCommand {
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

    @Option(
        help: ArgumentHelp(
            "Record only if the case file is at this version: any (default), no_stream, or a number.",
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
            guard given.isEmpty && actorOnBehalfOf == nil else {
                throw ValidationError("give either --actor FILE or the --actor-* options")
            }
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

    func run(client: DaemonClient) async throws {
        let person = try self.person.resolve()
        let (body, types) = try requestBody(person: person)
        let session = DaemonSession(daemon, client: client, redaction: person.redaction)
        let response = try await session.send("POST", "/v1/persons/events", body: body)
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
        for line in fields([
            ("person", pseudonym), ("stream", result["stream"]?.string ?? "?"),
            ("code table", result["codeTable"]?.string ?? "?"),
        ]) {
            session.say(line)
        }
        let rows = positions.indices.map { index in
            [String(positions[index]), index < versions.count ? String(versions[index]) : "?", index < types.count ? types[index] : "?"]
        }
        for line in table(["POSITION", "VERSION", "TYPE"], rows) { session.say(line) }
    }
}

/// "3–5" or "3".
func span(_ values: [UInt64]) -> String {
    guard let first = values.first, let last = values.last else { return "?" }
    return first == last ? "\(first)" : "\(first)–\(last)"
}
