import FascicoloConcurrency
import FascicoloLedger
import Glibc
import Logging
import Synchronization

/// The daemon's log lines on standard error, one per event:
///
///     2026-11-24T05:55:00.123Z info fascicolod: projection generation swapped in projection=cases slot=1
///
/// Metadata is formatted when a line is written, not when it is set: the HTTP server sets a
/// request ID on every request's logger, and swift-log's `StreamLogHandler` formatted all of the
/// metadata at each change (1.6% of the daemon's CPU at 64 clients appending single events).
/// Keys are written in order, so lines compare across runs.
public struct StandardErrorLogHandler: LogHandler {
    let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// Lines from several threads are written whole, one at a time.
    private static let output = Mutex(())

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        var text = "\(WallClock.system.timestamp) \(event.level) \(label): \(event.message)"
        for key in all.keys.sorted() { text += " \(key)=\(all[key]!)" }
        text += "\n"
        let bytes = Array(text.utf8)
        Self.output.withLock { _ in
            var written = 0
            while written < bytes.count {
                let result = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress! + written, $0.count - written) }
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { return }  // standard error closed or full: the line is dropped
                written += result
            }
        }
    }
}
