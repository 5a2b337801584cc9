import ArgumentParser
import FascicoloBundle
import Glibc

struct PersonExport: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a person's whole file as a bundle anyone can verify (roles auditor, admin; recorded with its purpose).",
        discussion: """
            The daemon records the export as a read of the person's file (RecordAccessed, what \
            "export", with --purpose), signs a checkpoint that covers it, and answers one JSON \
            document (Formats.md "Person bundles"): every entry of the person's case file and of \
            the record of who read it, with signatures, inclusion proofs, the stream-head proofs \
            that show none is missing, the checkpoint, the log's verifier key, and the personal \
            fields in clear with the person's data key that checks them (none once erased). \
            tools/verify-bundle.py or fascicolo bundle verify checks it without the daemon.

            The bundle holds personal data: it is written with mode 0600 (--out FILE; without it, \
            to standard output). --html FILE also writes a self-contained page for people who will \
            not run a verifier (mode 0600 too).

            """ + Exit.help)

    @OptionGroup var person: PersonOption

    @Option(
        help: ArgumentHelp(
            "Why the file is exported (required; stored in clear in the person's access record — name the reason, not the person).",
            valueName: "text"))
    var purpose: String

    @Option(name: .customLong("operator"), help: ArgumentHelp("The operator on whose behalf this is exported.", valueName: "id"))
    var operatorID: String?

    @Option(help: ArgumentHelp("Write the JSON bundle to this file (mode 0600; replaced if it exists).", valueName: "path"))
    var out: String?

    @Option(help: ArgumentHelp("Also write a human-readable HTML rendering to this file (mode 0600).", valueName: "path"))
    var html: String?

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        try checkHeaderValue(purpose, option: "--purpose", lengths: 3...200)
        try checkHeaderValue(operatorID, option: "--operator", lengths: 1...64)
        if out?.isEmpty == true || html?.isEmpty == true { throw ValidationError("--out and --html need a path") }
    }

    func run(client: DaemonClient) async throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, client: client, redaction: person.redaction)
        var headers = [("Fascicolo-Person", person.identifier), ("Fascicolo-Purpose", purpose)]
        if let operatorID { headers.append(("Fascicolo-Operator", operatorID)) }
        let response = try await session.send("POST", "/v1/persons/export", headers: headers)
        guard response.isSuccess else { throw session.refusal(response) }
        let bundle: PersonBundle
        do { bundle = try PersonBundle.parse(response.body) } catch {
            Terminal.error("error: the daemon's answer is \(error)")
            throw Exit.couldNotRun
        }
        if let out {
            try Self.writePrivate(response.body, to: out)
        } else {
            Terminal.out(response.text)
        }
        if let html { try Self.writePrivate(Array(bundle.html.utf8), to: html) }
        let lines = bundle.checkpoint.split(separator: "\n", omittingEmptySubsequences: false)
        let size = lines.count > 1 ? String(lines[1]) : "?"
        let entries = bundle.streams.map { "\($0.entries.count) in \($0.stream)" }.joined(separator: ", ")
        let summary =
            "exported person \(bundle.person) at checkpoint size \(size): \(entries)"
            + (bundle.dataKey == nil ? "; personal data erased" : "")
            + (out.map { " → \($0)" } ?? "") + (html.map { " (HTML: \($0))" } ?? "")
        // Standard output may hold the bundle itself: the summary goes to standard error then.
        if out == nil { Terminal.error(person.redaction.apply(summary)) } else { session.say(summary) }
    }

    /// Writes `bytes` to `path` with mode 0600 (an existing file is truncated and narrowed to
    /// 0600 first), then syncs it. A failure says so and exits 2.
    static func writePrivate(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            Terminal.error("error: cannot write \(path) (errno \(errno))")
            throw Exit.couldNotRun
        }
        defer { close(descriptor) }
        var failed = fchmod(descriptor, 0o600) != 0
        var written = 0
        while !failed && written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { failed = true } else { written += count }
        }
        if failed || fsync(descriptor) != 0 {
            Terminal.error("error: cannot write \(path) (errno \(errno))")
            throw Exit.couldNotRun
        }
    }
}
