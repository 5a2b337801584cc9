import ArgumentParser
import FascicoloBundle
import FascicoloOperations
import Glibc

/// `fascicolo bundle show FILE`: a person bundle as text, offline — what `person export --html`
/// shows, for a terminal. (A subcommand of `fascicolo bundle`, beside `verify`.)
struct BundleShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a person bundle as text: who, which checkpoint, every entry with its corrections, the reads (offline).",
        discussion: """
            Prints what the bundle says — it checks nothing: run fascicolo bundle verify (or \
            tools/verify-bundle.py) with the log's verifier key for that. --html FILE writes the \
            same as a self-contained page (mode 0600: it holds personal data).

            """ + Exit.help)

    @Argument(help: "The bundle (JSON).")
    var file: String

    @Option(help: ArgumentHelp("Also write the HTML rendering to this file (mode 0600).", valueName: "path"))
    var html: String?

    func run() throws {
        let bundle: PersonBundle
        do {
            bundle = try PersonBundle.parse(try Files.read(file, limit: PersonBundle.bytesMax))
        } catch {
            Terminal.error("error: \(file): \(error)")
            throw Exit.failed
        }
        for line in bundle.textLines { Terminal.out(line) }
        if let html { try PersonExport.writePrivate(Array(bundle.html.utf8), to: html) }
    }
}
