import ArgumentParser
import FascicoloLedger

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every signature, hash, index and checkpoint of a data directory, offline.",
        discussion: """
            Read-only and safe while the daemon runs: it checks one consistent snapshot. \
            On failure it names the first bad position and exits 1.
            """ + "\n" + Exit.help)

    @Argument(help: "The data directory.")
    var dataDirectory: String

    @Flag(help: "Check hashes, indexes and checkpoint signatures, but not each entry's signature.")
    var fast = false

    @Option(help: "Verify against this key ('<name>+<key id>+<base64 key>') instead of the directory's signing.pub.")
    var key: String?

    @Option(help: "Threads to use (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let report = try DataDirectory.verify(dataDirectory, key: key, fast: fast, label: fast ? "verify --fast" : "verify",
                                              json: json, threads: threads)
        let rate = report.elapsedSeconds > 0 ? Int(Double(report.entries) / report.elapsedSeconds) : 0
        if json {
            Terminal.out("""
                {"ok":true,"mode":\(jsonString(fast ? "fast" : "full")),"entries":\(report.entries),\
                "checkpoints":\(report.checkpoints),"streams":\(report.streams),\
                "seconds":\(Terminal.format(report.elapsedSeconds, decimals: 3)),"entriesPerSecond":\(rate)}
                """)
        } else {
            Terminal.out("OK: \(report.entries) entries, \(report.streams) streams, \(report.checkpoints) checkpoints "
                         + "verified (\(fast ? "fast" : "full")) in \(Terminal.format(report.elapsedSeconds, decimals: 2)) s, \(rate) entries/s")
        }
    }
}
