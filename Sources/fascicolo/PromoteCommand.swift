import ArgumentParser
import FascicoloJSON

/// `fascicolo promote`: a follower becomes the primary, by hand (sites without etcd).
struct Promote: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Make this follower the primary: it stops following and takes appends (admin; sites without etcd).",
        discussion: """
            FENCE THE OLD PRIMARY FIRST: stop it (systemctl stop fascicolod on its host) or make \
            sure it is dead, and check that it no longer appends (fascicolo health against it answers \
            503 or nothing; its checkpoint size no longer grows). Two primaries would fork the log. \
            The follower continues the log with the signing key it holds. Refused when the daemon \
            follows nothing, when [failover] gives leadership to the lease in etcd, or when the \
            follower lacks entries the primary announced (--force promotes it anyway: those entries \
            are lost). See docs/operations.md, "Promotion by hand".

            """ + Exit.help)

    @Flag(help: "Promote even if the follower lacks entries the primary announced (they are lost).")
    var force = false

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        var body = JSONBytes()
        body.object { $0.member("force", force) }
        let response = try await session.send("POST", "/v1/admin/promote", body: body.bytes)
        guard response.isSuccess else { throw session.refusal(response) }
        if daemon.json {
            session.printRaw(response)
            return
        }
        let value = try session.parse(response)
        Terminal.out("promoted: this daemon is the primary; its next entry is at position \(value["size"]?.uint64 ?? 0)")
    }
}
