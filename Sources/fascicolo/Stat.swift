import ArgumentParser
import FascicoloCrypto
import FascicoloLedger
import FascicoloStorage
import Glibc

struct Stat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show sizes, counts, the last checkpoint and map usage of a data directory (read-only).",
        discussion: Exit.status)

    @Argument(help: "The data directory.")
    var dataDirectory: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        do {
            let store = try LedgerReader.open(directory: dataDirectory)
            defer { store.close() }
            let origin = try store.origin()
            let verifierKey = Result { try KeyFile.loadVerifierKey(directory: dataDirectory) }
            let (entries, streams, checkpoints, lastCheckpoint, shreddingDue, keyGeneration) = try store.read { log in
                let (count, last) = try log.checkpoints()
                // The meta row PersonKeys.rotationDueRow (Formats.md, "Erasure rotates records.key").
                let due = try log.metaValue("records_key_rotation_due") != nil
                // records.key's generation: one more at every erasure (Formats.md, "Erasure rotates records.key").
                let generation = try log.metaValue("records_key_generation").flatMap(BigEndian.uint64) ?? 0
                return (try log.entryCount(), try log.streamCount(), count, last, due, generation)
            }
            // The last checkpoint is shown only once its signature checks; a problem is said, not hidden.
            var checkpoint: Checkpoint?
            var checkpointProblem: String?
            var checkpointFails = false
            if let note = lastCheckpoint {
                switch verifierKey {
                case .success(let key):
                    do { checkpoint = try Checkpoint.verify(note: note, origin: origin, publicKey: key.publicKey) } catch {
                        checkpointProblem = "DOES NOT VERIFY with signing.pub: \(error)"
                        checkpointFails = true
                    }
                case .failure(let error):
                    checkpointProblem = "not checked: \(error)"
                }
            }
            let key: String
            switch verifierKey {
            case .success(let parsed): key = SignedNote.verifierKey(name: parsed.name, publicKey: parsed.publicKey)
            case .failure(let error): key = "(unreadable: \(error))"
            }
            let used = store.usedBytes
            let mapped = store.mapSizeBytes
            let readModelsUsed = try readModelsUsedBytes()
            if json {
                Terminal.out("""
                    {"origin":\(jsonString(origin)),"verifierKey":\(jsonString(key)),"entries":\(entries),\
                    "streams":\(streams),"checkpoints":\(checkpoints),"lastCheckpointSize":\(checkpoint.map { "\($0.size)" } ?? "null"),\
                    "lastCheckpointRoot":\(checkpoint.map { jsonString($0.root.hex) } ?? "null"),\
                    "lastCheckpointProblem":\(checkpointProblem.map(jsonString) ?? "null"),\
                    "mapUsedBytes":\(used),"mapSizeBytes":\(mapped),"readModelsUsedBytes":\(readModelsUsed.map { "\($0)" } ?? "null"),\
                    "erasureShreddingPending":\(shreddingDue),"recordsKeyGeneration":\(keyGeneration)}
                    """)
            } else {
                let rows: [(String, String)] = [
                    ("origin", origin),
                    ("verifier key", key),
                    ("entries", "\(entries)"),
                    ("streams", "\(streams)"),
                    ("checkpoints", "\(checkpoints)"),
                    ("last checkpoint", checkpoint.map { "size \($0.size), root \($0.root.hex)" } ?? checkpointProblem ?? "none"),
                    ("map used", "\(used / 1_048_576) MiB of \(mapped / 1_048_576) MiB (\(mapped > 0 ? used * 100 / mapped : 0)%)"),
                    ("erasures", shreddingDue
                        ? "PENDING: an erasure's records.key rotation is not done yet (the daemon finishes it at its next start)"
                        : "every erasure shredded (no pending records.key rotation); records.key generation \(keyGeneration)"),
                    ("read models", readModelsUsed.map { "\($0 / 1_048_576) MiB in projections/ (rebuilt from the log when missing)" } ?? "none yet"),
                ]
                let width = rows.map(\.0.count).max() ?? 0
                for (name, value) in rows {
                    Terminal.out(name + String(repeating: " ", count: width - name.count) + "  " + value)
                }
            }
            // Data that is not what was signed is a failed check, whatever else stat shows.
            if checkpointFails { throw Exit.failed }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Terminal.error("fascicolo stat: \(error)")
            throw ExitCode(2)
        }
    }

    /// The bytes the read models' environment (`<data>/projections`) uses; nil before a daemon made it.
    /// The path is `ProjectionEngine.directory(in:)`, written here again so that this offline
    /// command does not link the projections; `CLITests` checks the two agree (stat finds it).
    private func readModelsUsedBytes() throws -> Int? {
        let path = dataDirectory + "/projections"
        guard access(path + "/data.mdb", F_OK) == 0 else { return nil }
        var options = Environment.Options()
        options.readOnly = true
        let environment = try Environment(path: path, options: options)
        defer { environment.close() }
        return environment.usedBytes
    }
}
