import ArgumentParser
import FascicoloCrypto
import FascicoloJSON

struct CheckpointsCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoints",
        abstract: "List the signed checkpoints the daemon stores, by size (roles auditor, admin).",
        discussion: """
            One line per checkpoint from --from entries on, in increasing size: its tree size, \
            root (hex) and the time the log signed it. A list, not a proof: the notes are not \
            shown nor checked here; 'fascicolo checkpoint --size N --verify' fetches and checks \
            one. With --json the daemon's page is printed unchanged.

            """ + Exit.help)

    @Option(help: "The smallest tree size to list (default 0: from the first).")
    var from: UInt64?

    @Option(help: "At most this many checkpoints (1 to 1000; default 100).")
    var limit: Int?

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if let limit, !(1...1_000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
    }

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let query = queryString([("from", from.map(String.init)), ("limit", limit.map(String.init))])
        let (response, value) = try await session.getJSON("/v1/checkpoints" + query)
        if daemon.json {
            session.printRaw(response)
            return
        }
        let checkpoints = value["checkpoints"]?.array ?? []
        if checkpoints.isEmpty {
            Terminal.out("no checkpoints")
        } else {
            let rows = checkpoints.map { checkpoint in
                [
                    checkpoint["size"]?.compact ?? "",
                    checkpoint["root"]?.string.flatMap(Base64.decode).map(Hex.encode) ?? "?",
                    checkpoint["timestamp"]?.uint64.map(iso8601(seconds:)) ?? "?",
                ]
            }
            for line in table(["SIZE", "ROOT", "SIGNED AT"], rows) { Terminal.out(line) }
        }
        if let next = value["next"]?.uint64 {
            Terminal.error("more follow: fascicolo checkpoints --from \(next)")
        }
    }
}
