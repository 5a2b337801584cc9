import ArgumentParser
import FascicoloCrypto
import FascicoloJSON
import FascicoloLedger
import Glibc

/// Exit status of every command: 0 success; 1 verification failed or the daemon refused the
/// request (4xx); 2 the command could not run (bad arguments, no socket, unreadable directory, 5xx).
/// A `--key` value ('<name>+<key id>+<base64 key>'); a bad one is a usage error (exit 2).
func parseKeyOption(_ text: String) throws -> (name: String, publicKey: PublicKey) {
    guard let parsed = SignedNote.parseVerifierKey(text) else {
        Terminal.error("error: --key is not '<name>+<key id>+<base64 key>' with a matching key id")
        throw Exit.couldNotRun
    }
    return parsed
}

enum Exit {
    static let failed = ExitCode(1)
    static let couldNotRun = ExitCode(2)

    /// For the end of a command's discussion that ends with an empty line.
    static let help = "\n" + status

    static let status = """
        Exit status: 0 success; 1 verification failed, or the daemon refused the request (HTTP 4xx); \
        2 the command could not run (bad arguments, no socket, unreadable directory, HTTP 5xx).
        """
}

/// The options every command that talks to the daemon shares.
struct DaemonOptions: ParsableArguments {
    static let defaultSocket = "data/fascicolod.sock"

    @Option(help: ArgumentHelp("The daemon's Unix socket (default: $FASCICOLO_SOCKET, else \(defaultSocket)).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Seconds to wait for the daemon's answer.", valueName: "seconds"))
    var timeout: Double = 30

    @Flag(help: "Print the daemon's JSON unchanged (problem details too, on standard output).")
    var json = false

    var socketPath: String {
        if let socket { return socket }
        if let value = getenv("FASCICOLO_SOCKET"), value.pointee != 0 { return String(cString: value) }
        return Self.defaultSocket
    }

    func validate() throws {
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout is a number of seconds above 0") }
    }
}

/// A command that talks to the daemon. `Fascicolo.main` runs it with the process's one client
/// (AsyncHTTPClient over the socket), and shuts the client down when it ends.
protocol DaemonCommand: ParsableCommand {
    var daemon: DaemonOptions { get }
    /// Seconds of silence after which a stream's connection counts as dead; nil for one-shot commands.
    var idleSeconds: Double? { get }
    func run(client: DaemonClient) async throws
}

extension DaemonCommand {
    var idleSeconds: Double? { nil }
}

/// One command's conversation with the daemon: requests, refusals, and the exit status they mean.
struct DaemonSession {
    let options: DaemonOptions
    let client: DaemonClient
    /// Applied to everything printed from the daemon's answers (the person commands keep a
    /// person's identifier out of their output with it).
    let redaction: Redaction

    init(_ options: DaemonOptions, client: DaemonClient, redaction: Redaction = Redaction()) {
        self.options = options
        self.redaction = redaction
        self.client = client
    }

    /// Sends a request; a failure to talk to the daemon at all is printed and exits 2.
    func send(
        _ method: String, _ target: String, body: [UInt8]? = nil,
        accept: String = "application/json", headers extra: [(String, String)] = []
    ) async throws -> DaemonClient.Response {
        var headers = [("Accept", accept)]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        headers += extra
        do {
            return try await client.send(method: method, target: target, headers: headers, body: body)
        } catch {
            Terminal.error("error: \(error)")
            throw Exit.couldNotRun
        }
    }

    /// A GET that must succeed; a refusal is printed and exits 1 (4xx) or 2 (5xx).
    func get(_ target: String, accept: String = "application/json", headers: [(String, String)] = []) async throws -> DaemonClient.Response
    {
        let response = try await send("GET", target, accept: accept, headers: headers)
        guard response.isSuccess else { throw refusal(response) }
        return response
    }

    /// A GET whose answer must be a JSON object.
    func getJSON(_ target: String, headers: [(String, String)] = []) async throws -> (response: DaemonClient.Response, value: JSON) {
        let response = try await get(target, headers: headers)
        return (response, try parse(response))
    }

    func parse(_ response: DaemonClient.Response) throws -> JSON {
        do {
            return try JSON.parse(response.body)
        } catch {
            Terminal.error("error: the daemon's answer is \(error)")
            throw Exit.couldNotRun
        }
    }

    /// Prints a refusal — `error: <detail> (<code>, HTTP <status>)`, then the field at fault and
    /// the Italian sentence of a path rule when the problem has them — and returns its exit status.
    func refusal(_ response: DaemonClient.Response) -> ExitCode {
        if options.json && !response.body.isEmpty { Terminal.out(redaction.apply(response.text)) }
        Terminal.error(redaction.apply("error: " + Self.describe(response)))
        if let problem = try? JSON.parse(response.body), problem["code"]?.string != nil {
            if let field = problem["field"]?.string { Terminal.error(redaction.apply("  field: " + field)) }
            if let italian = problem["detailItalian"]?.string { Terminal.error(redaction.apply("  " + italian)) }
        }
        return (400..<500).contains(response.status) ? Exit.failed : Exit.couldNotRun
    }

    static func describe(_ response: DaemonClient.Response) -> String {
        if let problem = try? JSON.parse(response.body), let detail = problem["detail"]?.string,
            let code = problem["code"]?.string
        {
            return "\(detail) (\(code), HTTP \(response.status))"
        }
        let snippet = String(response.text.prefix(200).filter { $0 != "\n" && $0 != "\r" })
        return "HTTP \(response.status) \(response.reason)" + (snippet.isEmpty ? "" : ": \(snippet)")
    }

    /// Prints the daemon's JSON as it came.
    func printRaw(_ response: DaemonClient.Response) {
        Terminal.out(redaction.apply(response.text))
    }

    /// Prints a line of the command's output, redacted.
    func say(_ line: String) {
        Terminal.out(redaction.apply(line))
    }

    // MARK: - Trust anchors

    /// The key that signs the log: `--key` (obtained out of band, the independent check), or the
    /// daemon's own `/v1/keys` (convenient, but then the daemon vouches for itself).
    ///
    /// The log's key can change (Formats.md, "Key rotation"): the key given is the trust anchor,
    /// and the later keys are followed through the rotation checkpoints `/v1/keys` serves, each
    /// verified with the key before it.
    struct Key {
        let name: String
        let text: String
        let fromDaemon: Bool
        /// The keys from the first, as followed from the anchor.
        let chain: KeyChain

        var source: String {
            fromDaemon ? "from the daemon's /v1/keys" : "given with --key"
        }

        /// Verifies a checkpoint note with the key of its size (and its log cosignature).
        func verify(note: String) throws(Checkpoint.Failure) -> Checkpoint {
            let checkpoint: Checkpoint
            do { checkpoint = try chain.verify(note: note) } catch let failure as Checkpoint.Failure { throw failure } catch {
                throw .malformed("\(error)")
            }
            guard checkpoint.timestampSeconds != nil else {
                throw Checkpoint.Failure.malformed("no cosignature/v1 line by the log's key")
            }
            return checkpoint
        }
    }

    func verifierKey(_ option: String?) async throws -> Key {
        let (_, keys) = try await getJSON("/v1/keys")
        let served = (keys["firstKey"]?.string ?? keys["verifierKey"]?.string).flatMap(SignedNote.parseVerifierKey)
        guard let served else {
            Terminal.error("error: the daemon's /v1/keys has no valid firstKey")
            throw Exit.couldNotRun
        }
        let notes = (keys["rotationCheckpoints"]?.array ?? []).compactMap(\.string)
        let chain: KeyChain
        do { chain = try KeyChain.following(rotationCheckpoints: notes, origin: served.name, first: served.publicKey) } catch {
            Terminal.error("FAILED: the log's key rotations do not verify: \(error)")
            throw Exit.failed
        }
        guard let option else {
            return Key(
                name: served.name, text: SignedNote.verifierKey(name: served.name, publicKey: served.publicKey), fromDaemon: true,
                chain: chain)
        }
        let parsed = try parseKeyOption(option)
        guard parsed.name == served.name, chain.keys.contains(parsed.publicKey) else {
            Terminal.error(
                "FAILED: the key given with --key is not one of the log's keys (its first key is \(SignedNote.verifierKey(name: served.name, publicKey: served.publicKey)))"
            )
            throw Exit.failed
        }
        return Key(name: parsed.name, text: option, fromDaemon: false, chain: chain)
    }

    /// The latest checkpoint's note as served (a 404 when none is signed yet exits 1).
    func latestCheckpointNote() async throws -> String {
        try await checkpointNote(size: nil)
    }

    /// The note of the stored checkpoint of `size` entries, or the latest when nil, as served (a
    /// 404 when there is none exits 1).
    func checkpointNote(size: UInt64?) async throws -> String {
        try await get("/v1/checkpoints/" + (size.map(String.init) ?? "latest"), accept: "text/plain").text
    }
}

/// Percent-encodes a query value (`inPath: false`: everything but unreserved characters) or a
/// path segment (`inPath: true`: ':' and '@', which stream names use, stay as they are — the
/// daemon matches the segment as sent; '/' is encoded, so that it stays one segment).
func percentEncoded(_ text: String, inPath: Bool = false) -> String {
    var result = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            result.unicodeScalars.append(Unicode.Scalar(byte))
        case UInt8(ascii: ":") where inPath, UInt8(ascii: "@") where inPath:
            result.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".unicodeScalars)
            result += "%"
            result.unicodeScalars.append(hex[Int(byte >> 4)])
            result.unicodeScalars.append(hex[Int(byte & 0x0F)])
        }
    }
    return result
}

/// `?a=1&b=2` from the parameters that are set; "" when none is.
func queryString(_ parameters: [(String, String?)]) -> String {
    let set = parameters.compactMap { name, value in value.map { "\(name)=\(percentEncoded($0))" } }
    return set.isEmpty ? "" : "?" + set.joined(separator: "&")
}

/// Rows aligned in columns; the last column is not padded.
func table(_ header: [String], _ rows: [[String]]) -> [String] {
    let all = [header] + rows
    var widths = [Int](repeating: 0, count: header.count)
    for row in all {
        for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
    }
    return all.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
        }.joined(separator: "  ")
    }
}

/// Name/value lines, the names padded to one width.
func fields(_ rows: [(String, String)]) -> [String] {
    let width = rows.map(\.0.count).max() ?? 0
    return rows.map { name, value in name + String(repeating: " ", count: width - name.count) + "  " + value }
}

/// `2026-11-23T17:52:56Z`
func iso8601(seconds: UInt64) -> String {
    var time = time_t(seconds)
    var parts = tm()
    gmtime_r(&time, &parts)
    func pad(_ value: Int32, _ width: Int = 2) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
        + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))Z"
}

/// Shortens `text` to `limit` characters, marking the cut.
func shortened(_ text: String, to limit: Int) -> String {
    text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
}
