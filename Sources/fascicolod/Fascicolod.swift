import ArgumentParser
import FascicoloDaemon
import Foundation
import Logging

/// fascicolod — the Fascicolo records daemon.
@main
struct Fascicolod: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fascicolod",
        abstract: "The Fascicolo records daemon: a signed, append-only, verifiable log on LMDB, served on a Unix socket.",
        discussion: """
            Without --config the embedded defaults apply (data directory ./data, created with a \
            fresh signing key on first start; socket <data directory>/fascicolod.sock). \
            Environment variables FASCICOLO_<SECTION>_<KEY> override the file; flags override both. \
            Exit status: 0 after a clean shutdown, 1 when the configuration or the data directory is refused, \
            2 for a bad command line.
            """)

    @Option(name: .long, help: "The configuration file (see Config/fascicolod.toml).")
    var config: String?

    @Option(name: .long, help: "The data directory (overrides storage.data_directory).")
    var dataDir: String?

    @Option(name: .long, help: "The Unix socket path (overrides socket.path).")
    var socket: String?

    @Option(name: .long, help: "The log level (overrides log.level).")
    var logLevel: String?

    @Option(
        name: .long,
        help: "Follow a primary (overrides replication.follow): its Unix socket, or an http(s):// URL of its API.")
    var follow: String?

    @Option(name: .long, help: "The verifier key of the followed log's first key (overrides replication.trusted_key).")
    var trustedKey: String?

    /// The start's structure check, run by the daemon itself as a child (StoreCheck).
    @Option(name: .long, help: .hidden)
    var checkStore: String?

    /// As ArgumentParser's, except that a bad command line exits 2 (not 64), as `fascicolo` does.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if let daemon = command as? Fascicolod { try await daemon.run() } else { try command.run() }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    func run() async throws {
        if let checkStore { Foundation.exit(StoreCheck.child(dataDirectory: checkStore)) }
        var settings = DaemonConfiguration()
        do {
            if let config { try settings.load(path: config) }
            try settings.applyEnvironment(ProcessInfo.processInfo.environment)
            if let dataDir { try settings.apply(name: "storage.data_directory", value: .string(dataDir), source: "--data-dir") }
            if let socket { try settings.apply(name: "socket.path", value: .string(socket), source: "--socket") }
            if let logLevel { try settings.apply(name: "log.level", value: .string(logLevel), source: "--log-level") }
            if let follow { try settings.apply(name: "replication.follow", value: .string(follow), source: "--follow") }
            if let trustedKey {
                try settings.apply(name: "replication.trusted_key", value: .string(trustedKey), source: "--trusted-key")
            }
        } catch {
            FileHandle.standardError.write(Data("fascicolod: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, level: level) }
        let logger = Logger(label: "fascicolod")
        let daemon: Daemon
        do {
            daemon = try Daemon(configuration: settings, logger: logger)
        } catch {
            logger.critical("refusing to start", metadata: ["reason": "\(error)"])
            FileHandle.standardError.write(Data("fascicolod: \(error)\n".utf8))
            throw ExitCode(1)
        }
        try await daemon.run()
    }
}
