import ArgumentParser
import FascicoloJSON
import Glibc

struct SiussCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siuss",
        abstract: "The SIUSS feed to INPS (d.lgs. 147/2017 art. 24): export, register.",
        subcommands: [SiussExportCommand.self, SiussRegisterCommand.self])
}

struct SiussExportCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the SIUSS transmission files of what changed since the last export (role admin).",
        discussion: """
            The daemon derives the SIUSS records of the window — PS/PSA prestazioni by month, and \
            SINBA/SINA/SIP records of the plans that follow a multidimensional assessment — from \
            the log, compares them with what earlier exports sent, and returns insertions of what \
            is new and cancellations of what was voided or rectified (a rectified record is \
            cancelled and inserted again). Each codice fiscale it opens is recorded as a read of \
            that person; the export — each item sent and each file's SHA-256 — is recorded in the \
            log (stream siuss:exports), so the next export sends only what changed. \
            The files (one per section of the layout in Config/reference/siuss) are written into \
            OUT, created if missing (mode 0700); each file is mode 0600: it holds codici fiscali.

            """ + Exit.help)

    @Option(help: ArgumentHelp("First day of the window (YYYY-MM-DD).", valueName: "date"))
    var from: String

    @Option(help: ArgumentHelp("Last day of the window (YYYY-MM-DD), not after today.", valueName: "date"))
    var to: String

    @Argument(help: ArgumentHelp("The directory to write the files into.", valueName: "out"))
    var out: String

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        if mkdir(out, 0o700) != 0 && errno != EEXIST {
            Terminal.error("error: cannot create \(out) (errno \(errno)); nothing was sent")
            throw Exit.couldNotRun
        }
        let body = "{\"from\":\(jsonString(from)),\"to\":\(jsonString(to))}"
        let response = try await session.send("POST", "/v1/siuss/exports", body: Array(body.utf8))
        guard response.isSuccess else { throw session.refusal(response) }
        let result = try session.parse(response)
        var written: [(name: String, sha256: String, records: Int)] = []
        for file in result["files"]?.array ?? [] {
            guard let name = file["name"]?.string, !name.contains("/"), name != "..", let content = file["content"]?.string else {
                Terminal.error("error: the daemon's answer names a file this command will not write")
                throw Exit.couldNotRun
            }
            try PersonExport.writePrivate(Array(content.utf8), to: out + "/" + name)
            written.append((name, file["sha256"]?.string ?? "?", file["records"]?.int ?? 0))
        }
        // The figures only: the files hold codici fiscali, the terminal and --json do not.
        if daemon.json {
            var json = JSONBytes()
            json.object { json in
                for key in ["position", "parts", "insertions", "cancellations", "persons", "withoutCodiceFiscale"] {
                    json.key(key)
                    json.value(result[key] ?? .null)
                }
                json.key("files")
                json.array { json in
                    for file in written {
                        json.object { json in
                            json.member("name", file.name)
                            json.member("sha256", file.sha256)
                            json.member("records", file.records)
                        }
                    }
                }
            }
            Terminal.out(String(decoding: json.bytes, as: UTF8.self))
            return
        }
        func figure(_ key: String) -> String { result[key]?.uint64.map(String.init) ?? "?" }
        session.say(
            "SIUSS export \(from) to \(to): \(figure("insertions")) insertions, \(figure("cancellations")) cancellations, "
                + "\(figure("persons")) persons (each read recorded), \(figure("withoutCodiceFiscale")) records held back without a codice fiscale"
        )
        for file in written { session.say("  \(out)/\(file.name)  \(file.records) records  sha256 \(file.sha256)") }
        session.say("recorded at position \(figure("position")) (\(figure("parts")) SiussExported entries of stream siuss:exports)")
    }
}

struct SiussRegisterCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "The SIUSS transmission register: per prestazione and plan, whether and when it was sent (roles auditor, admin).",
        discussion: """
            One line per prestazione (InterventionRequested) or plan (PlanSigned), by log position: \
            the person's pseudonym, whether its records were sent, how many stand (inserted and not \
            cancelled), the last export that sent one, when, and the SHA-256 of the file that carried it.

            """ + Exit.help)

    @Option(help: ArgumentHelp("Start after this log position.", valueName: "position"))
    var after: UInt64 = 0

    @Option(help: ArgumentHelp("Only those sent (true) or never sent (false).", valueName: "bool"))
    var sent: Bool?

    @Option(help: ArgumentHelp("At most this many rows (1 to 1000).", valueName: "n"))
    var limit = 100

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        var path = "/v1/siuss/register?after=\(after)&limit=\(limit)"
        if let sent { path += "&sent=\(sent)" }
        let response = try await session.send("GET", path)
        guard response.isSuccess else { throw session.refusal(response) }
        if daemon.json {
            session.printRaw(response)
            return
        }
        let result = try session.parse(response)
        session.say(
            "position     kind         person                            sent  standing  last export  at                        file sha256"
        )
        for row in result["rows"]?.array ?? [] {
            func text(_ key: String) -> String {
                switch row[key] {
                case .string(let value)?: value
                case .number(let value)?: value
                case .bool(let value)?: value ? "yes" : "no"
                default: "-"
                }
            }
            session.say(
                [
                    text("position"), text("kind"), text("person"), text("sent"), text("standing"), text("lastExport"),
                    text("lastExportAt"),
                    text("fileSHA256"),
                ].joined(separator: "  "))
        }
    }
}
