import ArgumentParser
import FascicoloCrypto
import FascicoloDaemon
import FascicoloWitness
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// fascicolo-witness — a C2SP tlog-witness for Fascicolo logs (and any log that signs C2SP
/// checkpoints with Ed25519). A separate executable, not a `fascicolo` subcommand: it is a
/// long-running server run by another party (a Region, for each Ambito it oversees) on its own
/// machine, and the `fascicolo` CLI is a client that links no server.
@main
struct FascicoloWitnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fascicolo-witness",
        abstract: "Cosign the checkpoints of the logs it follows (C2SP tlog-witness), refusing any split view.",
        discussion: """
            init creates the witness's key (0600) and its state, and prints its verifier key; serve \
            answers POST /add-checkpoint over HTTP. Both read the configuration file given with \
            --config (see Config/fascicolo-witness.toml). Exit status: 0 success, 1 refused \
            (configuration, key, state), 2 bad command line.
            """,
        subcommands: [Init.self, Serve.self])

    /// As ArgumentParser's, except that a bad command line exits 2 (not 64), as `fascicolo` does.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("fascicolo-witness: \(message)\n".utf8))
        return ExitCode(1)
    }

    static func configuration(_ path: String) throws -> WitnessConfiguration {
        do {
            return try WitnessConfiguration.load(path: path)
        } catch {
            throw fail("\(error)")
        }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the witness's key (mode 0600) and empty state; print its verifier key.",
            discussion: "An existing key or state is never replaced: a witness that loses its state must be retired, not re-created.")

        @Option(name: .long, help: "The configuration file.")
        var config: String

        func run() async throws {
            let settings = try FascicoloWitnessCommand.configuration(config)
            if mkdir(settings.dataDirectory, 0o700) != 0 && errno != EEXIST {
                throw FascicoloWitnessCommand.fail("cannot create the data directory \(settings.dataDirectory) (errno \(errno))")
            }
            let keyPath = settings.resolvedKeyFile
            guard access(keyPath, F_OK) != 0, access(settings.stateDirectory, F_OK) != 0 else {
                throw FascicoloWitnessCommand.fail(
                    "\(keyPath) or \(settings.stateDirectory) already exists: a witness is initialised once")
            }
            let key = SigningKey()
            do {
                try key.withSeed { seed in try KeyFile.writeNewSecret(path: keyPath, bytes: seed) }
                let state = try WitnessState(directory: settings.stateDirectory)
                state.close()
            } catch {
                throw FascicoloWitnessCommand.fail("\(error)")
            }
            print(WitnessKey.verifierKey(name: settings.name, publicKey: key.publicKey))
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve POST /add-checkpoint until SIGTERM or SIGINT.")

        @Option(name: .long, help: "The configuration file.")
        var config: String

        func run() async throws {
            let settings = try FascicoloWitnessCommand.configuration(config)
            let level = settings.logLevel
            LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, level: level) }
            let logger = Logger(label: "fascicolo-witness")
            // Without its state a witness would cosign a rolled-back log as if it had never seen
            // it: the state comes from `init` only, and a missing one stops the start.
            guard access(settings.stateDirectory + "/data.mdb", F_OK) == 0 else {
                throw FascicoloWitnessCommand.fail(
                    "no witness state in \(settings.stateDirectory): run fascicolo-witness init (once; a witness whose state is lost is retired)"
                )
            }
            let witness: Witness
            do {
                let key = try KeyFile.load(path: settings.resolvedKeyFile)
                let state = try WitnessState(directory: settings.stateDirectory)
                witness = Witness(name: settings.name, key: key, logs: settings.logs, state: state, logger: logger)
            } catch {
                throw FascicoloWitnessCommand.fail("\(error)")
            }
            let application = WitnessServer.application(witness: witness, settings: settings.http, logger: logger)
            let group = ServiceGroup(
                configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            logger.notice(
                "fascicolo-witness started",
                metadata: ["logs": "\(settings.logs.count)", "verifierKey": "\(witness.verifierKey)"])
            try await group.run()
            logger.notice("fascicolo-witness stopped")
        }
    }
}
