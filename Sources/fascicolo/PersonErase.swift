import ArgumentParser
import FascicoloJSON
import Glibc

struct PersonErase: DaemonCommand {
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

    func run(client: DaemonClient) async throws {
        let person = try self.person.resolve()
        let session = DaemonSession(daemon, client: client, redaction: person.redaction)
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                Terminal.error(
                    "error: erasure cannot be undone: confirm it with --yes (standard input is not a terminal to ask on); nothing was sent")
                throw Exit.couldNotRun
            }
            Terminal.error(
                person.redaction.apply(
                    """
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
        let body =
            "{\"person\":\(jsonString(person.identifier)),\"legalGround\":\(jsonString(legalGround)),"
            + "\"reference\":\(jsonString(reference))}"
        let response = try await session.send("POST", "/v1/persons/erasure", body: Array(body.utf8))
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
