import ArgumentParser
import FascicoloJSON
import Glibc

// The projections' status, rebuilds and digests (/v1/projections).

struct Projections: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The read models: their state, rebuilds and digests.",
        discussion: """
            The daemon keeps four projections (timeline, cases, interventions, compliance), each \
            following the log in the background. A projection is live (serving and following), \
            building (no generation of its version yet: queries wait), or failed (stopped at an \
            entry it could not apply; it answers as of that position). A rebuild (admin) builds a \
            new generation from position 0 beside the serving one and swaps it in; its record \
            keeps the digest of the rows and the log root it reflects, so that anyone can check \
            that the incremental rows equal a rebuild from the signed log.

            """ + Exit.help,
        subcommands: [ProjectionsList.self, ProjectionsStatus.self, ProjectionsRebuild.self, ProjectionsDigest.self])
}

struct ProjectionsList: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the projections: state, position, lag, build progress, last rebuild (any role).",
        discussion: Exit.status)

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let (response, answer) = try await session.getJSON("/v1/projections")
        if daemon.json {
            session.printRaw(response)
            return
        }
        let statuses = answer["projections"]?.array ?? answer.array ?? []
        let rows = statuses.map { status in
            [
                status["name"]?.string ?? "?", status["version"]?.cell ?? "?", ProjectionText.state(status),
                status["position"]?.cell ?? "?", status["lag"]?.cell ?? "?", ProjectionText.buildSummary(status),
                ProjectionText.rebuildSummary(status["lastRebuild"]),
            ]
        }
        printTable(
            ["NAME", "VERSION", "STATE", "POSITION", "LAG", "BUILD", "LAST REBUILD"], rows, session: session,
            empty: "no projections")
    }
}

struct ProjectionsStatus: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show one projection: state, position, failure, build progress and the last rebuild's record (any role).",
        discussion: Exit.status)

    @Argument(help: "The projection: timeline, cases, interventions or compliance.")
    var name: String

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let (response, status) = try await session.getJSON("/v1/projections/\(percentEncoded(name, inPath: true))")
        if daemon.json {
            session.printRaw(response)
            return
        }
        for line in fields(ProjectionText.statusFields(status)) { session.say(line) }
    }
}

struct ProjectionsRebuild: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild a projection from position 0 and swap it in (role admin).",
        discussion: """
            The new generation is built beside the serving one, which keeps answering queries until \
            the new one has caught up with the log and is swapped in. Unless --no-wait, the command \
            follows the build (a progress bar on a terminal: position of log size, entries per \
            second, ETA) until the rebuild's record appears, then prints it: the position reached, \
            the digest of the rows, the log's root there. A rebuild already running is refused \
            (rebuild_in_progress, HTTP 409: exit 1); a build that fails exits 2.

            """ + Exit.help)

    @Argument(help: "The projection: timeline, cases, interventions or compliance.")
    var name: String

    @Flag(help: "Return once the rebuild has started.")
    var noWait = false

    @Option(help: ArgumentHelp("How often to ask for progress while waiting.", valueName: "seconds"))
    var poll: Double = 0.25

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard poll >= 0.01, poll <= 60 else { throw ValidationError("--poll is 0.01 to 60 seconds") }
    }

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let target = "/v1/projections/\(percentEncoded(name, inPath: true))"
        // The record before, to know when the new one is in.
        let before = noWait ? nil : try await session.getJSON(target).value["lastRebuild"]
        let response = try await session.send("POST", target + "/rebuild", body: Array("{}".utf8))
        guard response.isSuccess else { throw session.refusal(response) }
        let started = try session.parse(response)
        let startedAt = started["build"]?["startedAt"]?.string
        if noWait {
            if daemon.json {
                session.printRaw(response)
            } else {
                session.say(
                    "rebuild of \(name) started" + (started["build"]?["slot"]?.string.map { " into generation \($0)" } ?? "")
                        + "; follow it with: fascicolo projections status \(name)")
            }
            return
        }

        let clock = ContinuousClock()
        let began = clock.now
        var idleSince: ContinuousClock.Instant?
        while true {
            let (statusResponse, status) = try await session.getJSON(target)
            let record = status["lastRebuild"] ?? .null
            let build = status["build"] ?? .null
            if record != .null, record != (before ?? .null),
                startedAt == nil || record["startedAt"]?.string == startedAt
            {
                Terminal.endProgress()
                if daemon.json {
                    session.printRaw(statusResponse)
                } else {
                    let seconds =
                        Double((clock.now - began).components.seconds)
                        + Double((clock.now - began).components.attoseconds) / 1e18
                    session.say("rebuilt \(name) in \(Terminal.format(seconds, decimals: 1)) s")
                    for line in fields(ProjectionText.rebuildFields(record)) { session.say(line) }
                }
                return
            }
            if let failure = build["failure"], failure != .null {
                Terminal.endProgress()
                if daemon.json { session.printRaw(statusResponse) }
                Terminal.error(
                    "error: the rebuild of \(name) stopped at position \(failure["position"]?.cell ?? "?"): "
                        + (failure["reason"]?.string ?? "?"))
                throw Exit.couldNotRun
            }
            if build == .null {
                // Neither running nor recorded: the swap failed (the daemon logs why), or another
                // client's rebuild is being swapped in. Give it a moment before concluding.
                let since = idleSince ?? clock.now
                idleSince = since
                if clock.now - since > .seconds(5) {
                    Terminal.endProgress()
                    if daemon.json { session.printRaw(statusResponse) }
                    Terminal.error(
                        "error: the rebuild of \(name) ended without a record (the old generation keeps serving; see the daemon's log)")
                    throw Exit.couldNotRun
                }
            } else {
                idleSince = nil
                Terminal.progress(ProjectionText.progressBar(name: name, build: build))
            }
            try await Task.sleep(for: .seconds(poll))
        }
    }
}

struct ProjectionsDigest: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "The digest of a projection's serving rows and the position they reflect (roles auditor, admin).",
        discussion: """
            Equal digests at equal positions mean equal rows: compare with the last rebuild's \
            record (fascicolo projections status NAME) to check that following the log \
            incrementally gave what a rebuild from position 0 gives.

            """ + Exit.help)

    @Argument(help: "The projection: timeline, cases, interventions or compliance.")
    var name: String

    @OptionGroup var daemon: DaemonOptions

    func run(client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)
        let (response, answer) = try await session.getJSON("/v1/projections/\(percentEncoded(name, inPath: true))/digest")
        if daemon.json {
            session.printRaw(response)
            return
        }
        for line in fields([
            ("name", answer["name"]?.cell ?? name), ("digest", answer["digest"]?.cell ?? "?"),
            ("position", answer["position"]?.cell ?? "?"),
        ]) {
            session.say(line)
        }
    }
}
