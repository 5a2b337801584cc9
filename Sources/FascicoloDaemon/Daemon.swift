import Dispatch
import FascicoloLedger
import Glibc
import Logging

/// The daemon's life: take the data directory's lock, open the ledger (creating the directory
/// and its signing key on first start), serve until SIGTERM or SIGINT, then drain the writer,
/// sign a final checkpoint and close.
public final class Daemon: Sendable {
    public let configuration: DaemonConfiguration
    public let ledger: Ledger
    private let lock: DataDirectoryLock
    private let logger: Logger

    public init(configuration: DaemonConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        lock = try DataDirectoryLock(directory: configuration.dataDirectory)
        ledger = try Ledger.open(directory: configuration.dataDirectory, configuration: configuration.ledger, logger: logger)
        logger.notice("fascicolod started", metadata: [
            "dataDirectory": "\(configuration.dataDirectory)", "entries": "\(ledger.size)",
            "verifierKey": "\(ledger.verifierKey)",
        ])
    }

    /// Blocks until SIGTERM or SIGINT, then shuts down cleanly.
    public func runUntilSignalled() {
        let stop = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        logger.notice("shutting down: committing queued appends")
        shutdown()
        sources.forEach { $0.cancel() }
    }

    public func shutdown() {
        ledger.close()
        logger.notice("fascicolod stopped", metadata: ["entries": "\(ledger.size)"])
    }
}
