import ArgumentParser
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import FascicoloOperations
import Glibc

// The commands that talk to a running fascicolod over its Unix socket. Each needs a role on the
// daemon for the calling uid: health any role; append writer or admin; read writer, auditor or
// admin; log, entry, checkpoint and proofs auditor or admin.

struct Health: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the daemon whether it is live and ready, and which version it runs.",
        discussion: "Any role may ask.\n" + Exit.help)

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let live = try await session.send("GET", "/v1/health/live")
        // A daemon that answers at all is live; if it refuses (403), say why and stop.
        guard live.isSuccess else { throw session.refusal(live) }
        let ready = try await session.send("GET", "/v1/health/ready")
        let version = try await session.send("GET", "/v1/version")
        if daemon.json {
            func raw(_ response: DaemonClient.Response) -> String {
                (try? JSON.parse(response.body)) != nil ? response.text : "null"
            }
            Terminal.out("{\"live\":\(raw(live)),\"ready\":\(raw(ready)),\"version\":\(raw(version))}")
        } else {
            let readyJSON = try? JSON.parse(ready.body)
            let versionJSON = try? JSON.parse(version.body)
            let readyText =
                ready.isSuccess
                ? "yes, \(readyJSON?["entries"]?.uint64.map(String.init) ?? "?") entries"
                : "no: " + DaemonSession.describe(ready)
            let versionText =
                version.isSuccess
                ? "fascicolod \(versionJSON?["version"]?.string ?? "?"), API \(versionJSON?["api"]?.string ?? "?")"
                : DaemonSession.describe(version)
            for line in fields([("socket", session.client.path), ("live", "yes"), ("ready", readyText), ("version", versionText)]) {
                Terminal.out(line)
            }
        }
        if !ready.isSuccess { throw (400..<500).contains(ready.status) ? Exit.failed : Exit.couldNotRun }
    }
}

struct Append: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append an event to a stream (roles writer, admin).",
        discussion: """
            Either --type and --data for one event, or --file with a prepared request body: \
            {"events":[{"type":…,"data":…},…],"expectedVersion":…,"idempotencyKey":…} (or just the \
            array of events); '-' reads it from standard input. --expected-version and \
            --idempotency-key override the file's. Each event's data is sent exactly as given: \
            the daemon stores and signs those bytes. The events of one append are stored atomically. \
            Use an idempotency key for anything a script may retry: the same key and content \
            returns the original answer instead of storing the events twice.

            A version or idempotency conflict is HTTP 409 and exits 1.

            """ + Exit.help)

    @Argument(help: "The stream, e.g. case-2026-00042.")
    var stream: String

    @Option(help: "The event's type, e.g. CaseOpened.")
    var type: String?

    @Option(help: ArgumentHelp("The event's data, as JSON.", valueName: "json"))
    var data: String?

    @Option(help: ArgumentHelp("A prepared request body (JSON); '-' for standard input.", valueName: "path"))
    var file: String?

    @Option(
        help: ArgumentHelp(
            "Append only if the stream is at this version: any (default), no_stream, or a number.",
            valueName: "any|no_stream|N"))
    var expectedVersion: String?

    @Option(
        help: ArgumentHelp(
            "Ask for signed receipts and add them to this file, one per line (keep it: "
                + "fascicolo verify --receipts FILE proves later that each entry is still in the log).", valueName: "file"))
    var receipts: String?

    @Option(help: ArgumentHelp("Makes a retry safe: the same key and content gives the original answer.", valueName: "key"))
    var idempotencyKey: String?

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if file != nil {
            guard type == nil && data == nil else { throw ValidationError("give either --file, or --type and --data") }
        } else {
            guard type != nil, data != nil else { throw ValidationError("give --type and --data (or --file)") }
        }
        if let data {
            do { _ = try JSON.parse(data) } catch { throw ValidationError("--data is \(error)") }
        }
        if let expectedVersion { _ = try Self.expectedVersionJSON(expectedVersion) }
        guard !stream.isEmpty else { throw ValidationError("the stream name is empty") }
    }

    /// Appends the answer's receipts to `path`, one compact JSON object per line, synced.
    static func keep(receiptsOf response: DaemonClient.Response, in path: String) throws {
        guard let answer = try? JSON.parse(response.body), let receipts = answer["receipts"]?.array else {
            Terminal.error("error: the daemon's answer has no receipts")
            throw Exit.couldNotRun
        }
        let lines = receipts.map { $0.compact + "\n" }.joined()
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        let written = descriptor >= 0 ? Array(lines.utf8).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } : -1
        let synced = descriptor >= 0 && fsync(descriptor) == 0
        if descriptor >= 0 { close(descriptor) }
        guard written == lines.utf8.count, synced else {
            Terminal.error("error: cannot write the receipts to \(path) (errno \(errno)); the append itself was stored")
            throw Exit.couldNotRun
        }
    }

    static func expectedVersionJSON(_ text: String) throws -> JSON {
        switch text {
        case "any": return .string("any")
        case "no_stream", "no-stream": return .string("no_stream")
        default:
            guard let number = UInt64(text) else {
                throw ValidationError("--expected-version is any, no_stream or a stream version (a number), not \(text)")
            }
            return .number(String(number))
        }
    }

    /// The request body. Event data goes out exactly as given — the daemon stores and signs the
    /// bytes it receives — so a body is amended, never re-encoded.
    func requestBody() throws -> [UInt8] {
        var members: [(key: String, value: ArraySlice<UInt8>)]
        if let file {
            let name = file == "-" ? "standard input" : file
            let bytes: [UInt8]
            do {
                bytes = file == "-" ? try Files.readStandardInput(limit: 512 << 20) : try Files.read(file, limit: 512 << 20)
            } catch {
                Terminal.error("error: \(error)")
                throw Exit.couldNotRun
            }
            let parsed: JSON
            do {
                parsed = try JSON.parse(bytes)
            } catch {
                Terminal.error("error: \(name) is \(error)")
                throw Exit.couldNotRun
            }
            if case .array = parsed {
                members = [("events", JSON.trimmed(bytes))]
            } else if parsed.isObject, parsed["events"]?.array != nil, let raw = try? JSON.rawMembers(bytes) {
                if expectedVersion == nil && idempotencyKey == nil { return bytes }  // the prepared body, unchanged
                members = raw
            } else {
                Terminal.error(
                    "error: \(name) is not an append body: expected {\"events\":[{\"type\":…,\"data\":…}]} or an array of events")
                throw Exit.couldNotRun
            }
        } else {
            let event =
                "[{\"type\":\(jsonString(type ?? "")),\"data\":"
                + String(decoding: JSON.trimmed(Array((data ?? "null").utf8)), as: UTF8.self) + "}]"
            members = [("events", ArraySlice(event.utf8))]
        }
        func set(_ key: String, _ value: String) {
            if let index = members.firstIndex(where: { $0.key == key }) {
                members[index].value = ArraySlice(value.utf8)
            } else {
                members.append((key, ArraySlice(value.utf8)))
            }
        }
        if let expectedVersion { set("expectedVersion", try Self.expectedVersionJSON(expectedVersion).compact) }
        if let idempotencyKey { set("idempotencyKey", jsonString(idempotencyKey)) }
        var body = Array("{".utf8)
        for (index, member) in members.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += Array((jsonString(member.key) + ":").utf8) + member.value
        }
        return body + Array("}".utf8)
    }

    func run(client: DaemonClient) async throws {
        let body = try requestBody()
        let session = DaemonSession(daemon, client: client)
        let response = try await session.send(
            "POST",
            "/v1/streams/\(percentEncoded(stream, inPath: true))/events"
                + (receipts == nil ? "" : "?receipts=true"), body: body)
        guard response.isSuccess else { throw session.refusal(response) }
        if let receipts { try Self.keep(receiptsOf: response, in: receipts) }
        if daemon.json {
            session.printRaw(response)
            return
        }
        let result = try session.parse(response)
        let positions = result["positions"]?.array?.compactMap(\.uint64) ?? []
        let versions = result["streamVersions"]?.array?.compactMap(\.uint64) ?? []
        let hashes = result["leafHashes"]?.array?.compactMap(\.string) ?? []
        func span(_ values: [UInt64]) -> String {
            guard let first = values.first, let last = values.last else { return "?" }
            return first == last ? "\(first)" : "\(first)–\(last)"
        }
        let count = positions.count
        let what = "\(count) event\(count == 1 ? "" : "s")"
        let placed = "position\(count == 1 ? "" : "s") \(span(positions)), stream version\(count == 1 ? "" : "s") \(span(versions))"
        if result["deduplicated"]?.bool == true {
            Terminal.out("already stored (same idempotency key and content): \(what) in \(stream) at \(placed); nothing new appended")
        } else {
            Terminal.out("appended \(what) to \(stream): \(placed)")
        }
        for (position, hash) in zip(positions, hashes) { Terminal.out("  leaf hash of \(position): \(hash)") }
    }
}

struct Read: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a stream's events (roles writer, auditor, admin).",
        discussion: Exit.status)

    @Argument(help: "The stream.")
    var stream: String

    @Option(help: "The first stream version to show (forwards: default 1; backwards: default the newest).")
    var from: UInt64?

    @Flag(help: "Newest first.")
    var backwards = false

    @Option(help: "At most this many events (1 to 1000; default 100).")
    var limit: Int?

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
    }

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let query = queryString([
            ("from", from.map(String.init)), ("direction", backwards ? "backwards" : nil),
            ("limit", limit.map(String.init)),
        ])
        let (response, value) = try await session.getJSON("/v1/streams/\(percentEncoded(stream, inPath: true))/events" + query)
        if daemon.json {
            session.printRaw(response)
            return
        }
        let entries = value["entries"]?.array ?? []
        let rows = entries.map { entry in
            [
                entry["streamVersion"]?.compact ?? "", entry["position"]?.compact ?? "", entry["type"]?.string ?? "",
                entry["recordedAt"]?.string ?? "", entry["author"]?.string ?? "", shortened(entry["data"]?.compact ?? "", to: 100),
            ]
        }
        EntryTable.print(header: ["VERSION", "POSITION", "TYPE", "RECORDED AT", "AUTHOR", "DATA"], rows: rows)
        if entries.count == (limit ?? 100), let last = entries.last?["streamVersion"]?.uint64, !(backwards && last <= 1) {
            let next = backwards ? last - 1 : last + 1
            Terminal.error("more may follow: fascicolo read \(stream)\(backwards ? " --backwards" : "") --from \(next)")
        }
    }
}

struct Log: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the global log from a position (roles auditor, admin).",
        discussion: """
            With --signed each entry comes with its signed bytes, and is checked here as \
            'fascicolo entry' checks one: its Ed25519 signature against --key (obtained out of \
            band) or else the daemon's /v1/keys, its leaf hash, its position in the page, and \
            the daemon's summary against the signed bytes. A person's entry read without \
            --purpose comes withheld (no signed bytes to check). An entry that does not check \
            out exits 1.

            """ + Exit.help)

    @Option(help: "The first position to show (default 0).")
    var from: UInt64?

    @Option(help: "At most this many entries (1 to 1000; default 100).")
    var limit: Int?

    @Flag(help: "Fetch each entry's signed bytes and check its signature here.")
    var signed = false

    @Option(
        help: ArgumentHelp(
            "With --signed, the verifier key '<name>+<key id>+<base64 key>' (default: the daemon's /v1/keys).", valueName: "vkey"))
    var key: String?

    @OptionGroup var purpose: RawReadPurpose

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
        if key != nil && !signed { throw ValidationError("--key checks signed bytes: give --signed too") }
    }

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let from = self.from ?? 0
        let query = queryString([
            ("from", String(from)), ("limit", limit.map(String.init)), ("signed", signed ? "true" : nil),
        ])
        let verifierKey = signed ? try await session.verifierKey(key) : nil
        let (response, value) = try await session.getJSON(
            "/v1/log" + query, headers: purpose.purpose.map { [("Fascicolo-Purpose", $0)] } ?? [])
        let entries = value["entries"]?.array ?? []
        // Each entry where the page puts it: one left out or moved shows as a wrong position.
        let checks = verifierKey.map { key in
            entries.enumerated().map { index, entry in
                CheckedEntry.check(entry, position: from + UInt64(index), key: key, response: response)
            }
        }
        if daemon.json {
            session.printRaw(response)
        } else {
            var header = ["POSITION", "STREAM", "VERSION", "TYPE", "RECORDED AT", "AUTHOR", "DATA"]
            if checks != nil { header.insert("SIGNATURE", at: 6) }
            let rows = entries.enumerated().map { index, entry in
                var row = [
                    entry["position"]?.compact ?? "", entry["stream"]?.string ?? "", entry["streamVersion"]?.compact ?? "",
                    entry["type"]?.string ?? "", entry["recordedAt"]?.string ?? "", entry["author"]?.string ?? "",
                    shortened(entry["data"]?.compact ?? "", to: 80),
                ]
                if let check = checks?[index] {
                    row.insert(!check.problems.isEmpty ? "FAILED" : check.withheldLeafHash != nil ? "withheld" : "valid", at: 6)
                }
                return row
            }
            EntryTable.print(header: header, rows: rows)
        }
        if entries.count == (limit ?? 100), let last = entries.last?["position"]?.uint64 {
            Terminal.error("more may follow: fascicolo log --from \(last + 1)\(signed ? " --signed" : "")")
        }
        guard let checks, let verifierKey else { return }
        // Named by the position the page should hold there, not by what the daemon says it is.
        let failures = checks.enumerated().filter { !$0.element.problems.isEmpty }
        for (index, check) in failures {
            // With --json, standard output holds only the daemon's JSON.
            (daemon.json ? Terminal.error : Terminal.out)(
                "FAILED: entry \(from + UInt64(index)): " + check.problems.joined(separator: "; "))
        }
        guard failures.isEmpty else { throw Exit.failed }
        let withheld = checks.filter { $0.withheldLeafHash != nil }.count
        Terminal.error(
            "verified: \(checks.count - withheld) signatures valid for \(verifierKey.text) (\(verifierKey.source))"
                + (withheld > 0 ? "; \(withheld) entries of persons' case files withheld (--purpose reads them, recorded)" : ""))
    }
}

enum EntryTable {
    static func print(header: [String], rows: [[String]]) {
        guard !rows.isEmpty else {
            Terminal.out("no entries")
            return
        }
        for line in table(header, rows) { Terminal.out(line) }
        if rows.contains(where: { $0.last?.hasSuffix("…") ?? false }) {
            Terminal.error("(long data shortened; fascicolo entry POSITION or --json shows it whole)")
        }
    }
}

struct EntryCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "entry",
        abstract: "Show one entry, checking its signature and leaf hash locally (roles auditor, admin).",
        discussion: """
            The fields shown are read from the entry's signed bytes, not from the daemon's summary; \
            the Ed25519 signature is checked against --key (obtained out of band) or else the \
            daemon's /v1/keys. A signature, key or hash that does not check out exits 1.

            """ + Exit.help)

    @Argument(help: "The entry's position in the log (0-based).")
    var position: UInt64

    @OptionGroup var purpose: RawReadPurpose

    @Option(help: ArgumentHelp("The verifier key '<name>+<key id>+<base64 key>' (default: the daemon's /v1/keys).", valueName: "vkey"))
    var key: String?

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let key = try await session.verifierKey(key)
        let checked = try await CheckedEntry.fetch(position: position, session: session, key: key, purpose: purpose.purpose)
        if daemon.json {
            session.printRaw(checked.response)
        } else if let leaf = checked.withheldLeafHash {
            let value = (try? JSON.parse(checked.response.body)) ?? .null
            let rows: [(String, String)] = [
                ("position", "\(position)"), ("stream", value["stream"]?.string ?? "?"),
                ("stream version", value["streamVersion"]?.compact ?? "?"), ("type", value["type"]?.string ?? "?"),
                ("recorded at", value["recordedAt"]?.string ?? "?"), ("author", value["author"]?.string ?? "?"),
                ("leaf hash", leaf.hex + " (the daemon's; fascicolo proof inclusion ties it to a signed root)"),
                ("data", "withheld"),
            ]
            for line in fields(rows) { Terminal.out(line) }
            Terminal.out("note: " + CheckedEntry.withheldNote)
        } else if let entry = checked.entry {
            let rows: [(String, String)] = [
                ("position", "\(entry.position)"),
                ("stream", entry.stream),
                ("stream version", "\(entry.streamVersion)"),
                ("type", entry.eventType),
                ("recorded at", isoMilliseconds(entry.recordedAtMilliseconds)),
                ("author", entry.author),
                ("key id", Hex.encode(entry.keyID)),
                ("leaf hash", entry.leafHash.hex),
                (
                    "signature",
                    checked.problems.isEmpty
                        ? "valid (Ed25519, key \(key.text), \(key.source))"
                        : "NOT VALID — see below"
                ),
                ("data", String(decoding: entry.payload, as: UTF8.self)),
            ]
            for line in fields(rows) { Terminal.out(line) }
        }
        if !checked.problems.isEmpty {
            for problem in checked.problems {
                // With --json, standard output holds only the daemon's JSON.
                (daemon.json ? Terminal.error : Terminal.out)("FAILED: entry \(position): \(problem)")
            }
            throw Exit.failed
        }
    }
}

/// An entry fetched with its signed bytes and checked here: it parses, sits at the position
/// asked for, carries the key's ID, its signature verifies, and the daemon's summary agrees
/// with the signed bytes.
struct CheckedEntry {
    let response: DaemonClient.Response
    /// Parsed from the signed bytes; nil when they do not parse or were withheld.
    let entry: Entry?
    let problems: [String]
    /// The daemon's leaf hash of a person's entry served withheld (`--purpose` not given).
    var withheldLeafHash: Digest?

    static let withheldNote =
        "the entry is in a person's case file: its data and signed bytes are withheld, so its signature "
        + "is not checked here; give --purpose to read them (the read is recorded in the person's access stream)"

    static func fetch(position: UInt64, session: DaemonSession, key: DaemonSession.Key, purpose: String?) async throws -> CheckedEntry {
        let (response, value) = try await session.getJSON(
            "/v1/entries/\(position)", headers: purpose.map { [("Fascicolo-Purpose", $0)] } ?? [])
        return check(value, position: position, key: key, response: response)
    }

    /// Checks one entry of the daemon's answer (`/v1/entries/{position}`, or one of a
    /// `/v1/log?signed=true` page, whose `response` is the whole page).
    static func check(_ value: JSON, position: UInt64, key: DaemonSession.Key, response: DaemonClient.Response) -> CheckedEntry {
        if value["withheld"] != nil {
            // A person's entry read without a purpose: no signed bytes to check, only the leaf
            // hash, which a proof against a signed root authenticates on its own.
            guard let leaf = value["leafHash"]?.string.flatMap(Hex.decode).flatMap(Digest.init) else {
                return CheckedEntry(response: response, entry: nil, problems: ["the daemon's answer has no valid leafHash"])
            }
            return CheckedEntry(response: response, entry: nil, problems: [], withheldLeafHash: leaf)
        }
        guard let signedBytes = value["signedBytes"]?.string.flatMap(Base64.decode),
            let signature = value["signature"]?.string.flatMap(Base64.decode), signature.count == Signature.byteCount
        else {
            return CheckedEntry(response: response, entry: nil, problems: ["the daemon's answer has no valid signedBytes and signature"])
        }
        let record = signedBytes + signature
        let entry: Entry
        do {
            entry = try record.withUnsafeBytes { bytes throws(EntryView.Malformed) in Entry(try EntryView(record: bytes)) }
        } catch {
            return CheckedEntry(response: response, entry: nil, problems: ["the signed bytes are \(error)"])
        }
        var problems: [String] = []
        if entry.position != position { problems.append("the signed bytes are of position \(entry.position)") }
        let signer = key.chain.key(forEntryAt: entry.position)
        if entry.keyID != key.chain.keyID(signer) {
            problems.append(
                "key id \(Hex.encode(entry.keyID)) is not that of the log's key at this position \(SignedNote.verifierKey(name: key.name, publicKey: signer))"
            )
        } else if !signer.isValidSignature(signature, for: signedBytes) {
            problems.append("the Ed25519 signature does not verify")
        }
        // The daemon's summary must say what the signed bytes say.
        var mismatched: [String] = []
        if value["position"]?.uint64 != entry.position { mismatched.append("position") }
        if value["stream"]?.string != entry.stream { mismatched.append("stream") }
        if value["streamVersion"]?.uint64 != entry.streamVersion { mismatched.append("streamVersion") }
        if value["type"]?.string != entry.eventType { mismatched.append("type") }
        if value["author"]?.string != entry.author { mismatched.append("author") }
        if value["recordedAt"]?.string != isoMilliseconds(entry.recordedAtMilliseconds) { mismatched.append("recordedAt") }
        if value["leafHash"]?.string != entry.leafHash.hex { mismatched.append("leafHash") }
        if value["data"]?.compact != (try? JSON.parse(entry.payload))?.compact { mismatched.append("data") }
        if !mismatched.isEmpty {
            problems.append("the daemon's fields \(mismatched.joined(separator: ", ")) differ from the signed bytes")
        }
        return CheckedEntry(response: response, entry: entry, problems: problems)
    }
}

/// `2026-11-23T17:52:56.123Z`, as the daemon renders `recordedAt`.
func isoMilliseconds(_ milliseconds: Int64) -> String {
    let seconds = iso8601(seconds: UInt64(max(0, milliseconds / 1000)))
    let fraction = String(milliseconds % 1000)
    return seconds.dropLast() + "." + String(repeating: "0", count: 3 - fraction.count) + fraction + "Z"
}

/// `--purpose` of the raw reads (`entry`, `log`, `proof inclusion`): without it the daemon serves
/// the entries of persons' case files withheld; with it, it records the read for every person
/// whose entries it serves.
struct RawReadPurpose: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Why you read persons' entries (recorded in each person's access stream); without it their data is withheld.",
            valueName: "text"))
    var purpose: String?
}
