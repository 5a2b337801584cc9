import FascicoloProjections
import FascicoloStorage
import Glibc
import Logging

/// At start, before the store is opened for serving: its structure is checked in a child
/// process (`fascicolod --check-store DIR`), which follows every B-tree of the log's environment
/// and of the read models' to every record (`StoreStructure`). A damaged log is refused with a
/// report — rather than aborting later on a read, in the middle of serving. Damaged read models
/// are set aside and rebuilt from the log: nothing in them is original.
///
/// The walk reads the whole file once (measured in the closing note of the issue that added it);
/// it is what a start costs to be sure the store can be trusted.
public enum StoreCheck {
    /// The exit status of a child that found the read models (not the log) damaged.
    static let readModelsDamaged: Int32 = 3

    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public let problem: String
        public var description: String { "the data directory's store is damaged, so the daemon will not serve it: \(problem)" }
    }

    /// The check was stopped from outside (a SIGTERM during start): nothing is known of the store.
    public struct Interrupted: Error, CustomStringConvertible, Sendable {
        let signal: Int32
        public var description: String {
            "the check of the store's structure was interrupted (\(IsolatedReader.signalName(signal))); start again"
        }
    }

    /// In the parent: runs the child and acts on its outcome.
    static func atStart(dataDirectory: String, logger: Logger) throws {
        // No store yet, or one whose first open did not finish (empty): the daemon's open starts it.
        var info = stat()
        guard stat(dataDirectory + "/data.mdb", &info) == 0, info.st_size > 0 else { return }
        // A commit journal left by a crash: the file is put back to its last synced snapshot
        // first (the ledger's open applies the journal's records on top of it).
        try Journal.restoreLastSyncedSnapshot(directory: dataDirectory)
        let outcome = try IsolatedReader.run(arguments: ["--check-store", dataDirectory])
        switch outcome {
        case .exited(0):
            return
        case .exited(readModelsDamaged):
            let aside = ProjectionEngine.directory(in: dataDirectory) + ".damaged-\(time(nil))"
            rename(ProjectionEngine.directory(in: dataDirectory), aside)
            logger.warning("the read models' store is damaged: set aside, rebuilt from the log", metadata: ["asideAt": "\(aside)"])
        case .exited:
            throw Refusal(problem: "see the check's report above; `fascicolo verify` names what it can")
        case .killed(let signal, _) where IsolatedReader.isInterruption(signal):
            throw Interrupted(signal: signal)
        case .killed(let signal, let progress):
            if progress?.hasPrefix("read models") == true {
                let aside = ProjectionEngine.directory(in: dataDirectory) + ".damaged-\(time(nil))"
                rename(ProjectionEngine.directory(in: dataDirectory), aside)
                logger.warning(
                    "reading the read models' store ended its reader: set aside, rebuilt from the log",
                    metadata: ["signal": "\(IsolatedReader.signalName(signal))", "asideAt": "\(aside)"])
                return
            }
            throw Refusal(
                problem: StoreStructure.explainDeath(signal: signal, directory: dataDirectory)
                    + (progress.map { " (\($0))" } ?? ""))
        }
    }

    /// In the child: walks both environments; returns the exit status.
    public static func child(dataDirectory: String) -> Int32 {
        do {
            try walk(directory: dataDirectory, label: "log")
        } catch {
            writeError("fascicolod: \(error)")
            return 1
        }
        let readModels = ProjectionEngine.directory(in: dataDirectory)
        guard access(readModels + "/data.mdb", F_OK) == 0 else { return 0 }
        do {
            try walk(directory: readModels, label: "read models")
        } catch {
            writeError("fascicolod: the read models' store: \(error)")
            return readModelsDamaged
        }
        return 0
    }

    private static func walk(directory: String, label: String) throws {
        try StoreStructure.checkFile(directory: directory)
        var options = Environment.Options()
        options.readOnly = true
        options.readLastSyncedSnapshot = true  // the parent restored it; the ledger applies the journal after
        let environment = try Environment(path: directory, options: options)
        defer { environment.close() }
        _ = try StoreStructure.walk(environment) { table in IsolatedReader.report("\(label): walking table \(table)") }
    }

    private static func writeError(_ text: String) {
        var bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
