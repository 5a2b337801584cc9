import ArgumentParser
import FascicoloOperations

struct Stat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show sizes, counts, the last checkpoint and map usage of a data directory (read-only).",
        discussion: Exit.status)

    @Argument(help: "The data directory.")
    var dataDirectory: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let statistics: StoreStatistics
        do { statistics = try StoreStatistics.read(dataDirectory) } catch {
            Terminal.error("fascicolo stat: \(error)")
            throw ExitCode(2)
        }
        let key: String
        switch statistics.verifierKey {
        case .success(let text): key = text
        case .failure(let error): key = "(unreadable: \(error))"
        }
        let checkpoint = statistics.lastCheckpoint
        let used = statistics.mapUsedBytes
        let mapped = statistics.mapSizeBytes
        let readModelsUsed = statistics.readModelsUsedBytes
        if json {
            Terminal.out(
                """
                {"origin":\(jsonString(statistics.origin)),"verifierKey":\(jsonString(key)),"entries":\(statistics.entries),\
                "streams":\(statistics.streams),"checkpoints":\(statistics.checkpoints),"lastCheckpointSize":\(checkpoint.map { "\($0.size)" } ?? "null"),\
                "lastCheckpointRoot":\(checkpoint.map { jsonString($0.root.hex) } ?? "null"),\
                "lastCheckpointProblem":\(statistics.lastCheckpointProblem.map(jsonString) ?? "null"),\
                "mapUsedBytes":\(used),"mapSizeBytes":\(mapped),"readModelsUsedBytes":\(readModelsUsed.map { "\($0)" } ?? "null"),\
                "erasureShreddingPending":\(statistics.erasureShreddingPending),"recordsKeyGeneration":\(statistics.recordsKeyGeneration)}
                """)
        } else {
            let rows: [(String, String)] = [
                ("origin", statistics.origin),
                ("verifier key", key),
                ("entries", "\(statistics.entries)"),
                ("streams", "\(statistics.streams)"),
                ("checkpoints", "\(statistics.checkpoints)"),
                (
                    "last checkpoint",
                    checkpoint.map { "size \($0.size), root \($0.root.hex)" } ?? statistics.lastCheckpointProblem ?? "none"
                ),
                ("map used", "\(used / 1_048_576) MiB of \(mapped / 1_048_576) MiB (\(mapped > 0 ? used * 100 / mapped : 0)%)"),
                (
                    "erasures",
                    statistics.erasureShreddingPending
                        ? "PENDING: an erasure's records.key rotation is not done yet (the daemon finishes it at its next start)"
                        : "every erasure shredded (no pending records.key rotation); records.key generation \(statistics.recordsKeyGeneration)"
                ),
                (
                    "read models",
                    readModelsUsed.map { "\($0 / 1_048_576) MiB in projections/ (rebuilt from the log when missing)" } ?? "none yet"
                ),
            ]
            for line in fields(rows) { Terminal.out(line) }
        }
        // Data that is not what was signed is a failed check, whatever else stat shows.
        if statistics.lastCheckpointFails { throw Exit.failed }
    }
}
