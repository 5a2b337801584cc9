import ArgumentParser
import FascicoloOperations

/// `fascicolo tiles export`: the log in C2SP tlog-tiles form, for publication.
struct TilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tiles",
        abstract: "The log in C2SP tlog-tiles form, readable by standard transparency-log clients.",
        subcommands: [TilesExportCommand.self])
}

struct TilesExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the log, as of its latest checkpoint, as tlog-tiles to a directory (incremental).",
        discussion: """
            Writes checkpoint and tile/<L>/<N>[.p/<W>] (Merkle tree hashes) to DIR, which any static \
            web server or object store can publish; tiles already in DIR are kept (they never change), \
            and the checkpoint is replaced last, once every tile it needs is durable. Read-only on the \
            data directory and safe while the daemon runs. --entries also writes the entry bundles \
            tile/entries/<N>[.p/<W>]: they hold the entries themselves (pseudonyms and the clear \
            fields), so they are written 0600 — for the Region or an auditor, never a public server. \
            Formats.md, "Tiles", describes every file.
            """ + "\n" + Exit.help)

    @Argument(help: "The data directory.")
    var dataDirectory: String

    @Argument(help: "The directory to write the tiles to (created if missing).")
    var output: String

    @Flag(help: "Also write the entry bundles (personal data: mode 0600, not for publication).")
    var entries = false

    @Option(help: "Check the checkpoint with this key ('<name>+<key id>+<base64 key>') instead of the directory's signing.pub.")
    var key: String?

    func run() throws {
        let report: TilesExport.Report
        do {
            report = try TilesExport.run(
                dataDirectory: dataDirectory, to: output, verifierKey: key, entries: entries, observer: OperationOutput.show)
        } catch {
            throw OperationOutput.report(error, json: false)
        }
        let rate = report.seconds > 0 ? Double(report.written) / report.seconds : 0
        Terminal.out(
            "exported the checkpoint of \(report.treeSize) entries: \(report.written) tiles written "
                + "(\(report.bytesWritten) bytes, \(Int(rate)) tiles/s), \(report.kept) already there")
    }
}
