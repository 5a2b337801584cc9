import ArgumentParser
import FascicoloStorage
import Glibc

/// fascicolo — the operators' command line.
///
/// Offline commands read a data directory (verify, stat, backup, restore); the others talk to a
/// running fascicolod over its Unix socket (--socket, or FASCICOLO_SOCKET).
///
/// Exit status: 0 success; 1 verification failed, or the daemon refused the request (HTTP 4xx);
/// 2 the command could not run (bad arguments, no socket, unreadable directory, HTTP 5xx).
@main
struct Fascicolo: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "fascicolo",
        abstract: "Operate and audit a Fascicolo records log.",
        discussion: """
            Offline, on a data directory: verify, stat, backup, restore; on a person bundle: bundle verify, bundle show. \
            Against a running fascicolod, over its Unix socket (--socket PATH, or FASCICOLO_SOCKET; \
            default data/fascicolod.sock): health, append, read, log, tail, entry, checkpoint, checkpoints, proof; \
            the case files: person record, show, timeline, state, erase, catalogue; the SIUSS feed: \
            siuss export, siuss register; and the read \
            models: projections, caseload, interventions, indicators, compliance. \
            The daemon decides what the calling uid may do from its kernel credentials.

            """ + Exit.help,
        version: version,
        subcommands: [
            Verify.self, Stat.self, Backup.self, Restore.self, BundleCommand.self, TilesCommand.self, KeysCommand.self,
            Health.self, Append.self, Read.self, Log.self, Tail.self, EntryCommand.self, CheckpointCommand.self, CheckpointsCommand.self,
            Proof.self,
            Person.self, CatalogueCommand.self, SiussCommand.self,
            Projections.self, Caseload.self, InterventionsCommand.self, Indicators.self, ComplianceCommand.self, RetentionCommand.self,
            StandbyCommand.self,
            Promote.self,
        ])

    /// As ArgumentParser's, except that bad arguments exit 2 (not 64), as documented; the offline
    /// commands run in an isolated child, those that talk to the daemon with one HTTP client.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exitWithStatus2IfUsage(error)
            exit(withError: error)
        }
        // The offline commands read the store's file, which may be damaged: they run in a child
        // whose death this process reports (see IsolatedReader).
        let stores: [String]? =
            switch command {
            case let verify as Verify: [verify.dataDirectory]
            case let stat as Stat: [stat.dataDirectory]
            case let backup as Backup: [backup.dataDirectory]
            case let restore as Restore: [restore.backup, restore.dataDirectory]
            case let export as TilesExportCommand: [export.dataDirectory]
            default: nil
            }
        if let stores, !IsolatedReader.isChild { runIsolated(stores: stores) }
        do {
            if let daemonCommand = command as? any DaemonCommand {
                try await run(daemonCommand)
            } else if let standby = command as? StandbyInit {
                try await standby.runAsync()
            } else {
                try command.run()
            }
        } catch {
            exitWithStatus2IfUsage(error)
            exit(withError: error)
        }
    }

    /// Runs a command with the process's one HTTP client, shut down when the command ends.
    private static func run(_ command: some DaemonCommand) async throws {
        let options = command.daemon
        let http = DaemonClient.makeHTTPClient(connectSeconds: options.timeout, idleSeconds: command.idleSeconds)
        var client = DaemonClient(http: http, path: options.socketPath)
        client.timeoutSeconds = options.timeout
        do {
            try await command.run(client: client)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try? await http.shutdown()
    }

    /// Runs this command line again as an isolated child and exits as it did; a child killed
    /// while reading the store is reported as damage (exit 1).
    private static func runIsolated(stores: [String]) -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let outcome: IsolatedReader.Outcome
        do { outcome = try IsolatedReader.run(arguments: arguments) } catch {
            Terminal.error("error: \(error)")
            Glibc.exit(2)
        }
        switch outcome {
        case .exited(let status):
            Glibc.exit(status)
        case .killed(let signal, _) where IsolatedReader.isInterruption(signal):
            Terminal.endProgress()
            Terminal.error("error: interrupted (\(IsolatedReader.signalName(signal)))")
            Glibc.exit(2)
        case .killed(let signal, let progress):
            Terminal.endProgress()
            // A store cut short explains the death better than a generic word about another store.
            let explained =
                stores.lazy.compactMap { StoreStructure.truncation(signal: signal, directory: $0) }.first
                ?? StoreStructure.explainDeath(signal: signal, directory: stores[0])
            let problem =
                "the store's structure is damaged: " + explained
                + (progress.map { " (\($0))" } ?? " (before any entry was checked)")
            if arguments.contains("--json") {
                Terminal.out("{\"ok\":false,\"position\":null,\"problem\":\(jsonString(problem))}")
            } else {
                Terminal.out("FAILED: \(problem)")
            }
            Glibc.exit(1)
        }
    }

    private static func exitWithStatus2IfUsage(_ error: any Error) {
        guard exitCode(for: error) == .validationFailure else { return }
        // ArgumentParser quotes stray arguments: keep a codice fiscale given by mistake out of it.
        Terminal.error(personRedaction.apply(fullMessage(for: error)))
        Glibc.exit(2)
    }

    /// Redacts the value of --person (wherever it is on the command line) and anything shaped like a codice fiscale.
    private static var personRedaction: Redaction {
        let arguments = CommandLine.arguments
        var person: String?
        for (index, argument) in arguments.enumerated() {
            if argument == "--person", index + 1 < arguments.count { person = arguments[index + 1] }
            if argument.hasPrefix("--person=") { person = String(argument.dropFirst("--person=".count)) }
        }
        return Redaction(person: person)
    }
}
