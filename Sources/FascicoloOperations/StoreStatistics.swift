import FascicoloCrypto
import FascicoloLedger
import FascicoloStorage
import Glibc

/// What `fascicolo stat` shows of a data directory, read-only: counts, the last checkpoint
/// (shown only once its signature checks), map usage of the log and of the read models, the
/// verifier key and the state of erasures.
public struct StoreStatistics: Sendable {
    public let origin: String
    /// The verifier key from signing.pub, or why it could not be read.
    public let verifierKey: Result<String, OperationError>
    public let entries: UInt64
    public let streams: Int
    public let checkpoints: Int
    /// The last checkpoint, when its signature checks with signing.pub.
    public let lastCheckpoint: Checkpoint?
    /// Why the last checkpoint is not shown ("DOES NOT VERIFY with signing.pub: …", "not checked: …").
    public let lastCheckpointProblem: String?
    /// The last checkpoint is not what signing.pub signed: the data is not what was signed.
    public let lastCheckpointFails: Bool
    public let mapUsedBytes: Int
    public let mapSizeBytes: Int
    /// The bytes the read models' environment uses; nil before a daemon made it.
    public let readModelsUsedBytes: Int?
    /// An erasure's records.key rotation is not done yet.
    public let erasureShreddingPending: Bool
    /// One more at every erasure.
    public let recordsKeyGeneration: UInt64

    /// Reads the statistics of `directory`; `unreadable` when the store cannot be read.
    public static func read(_ directory: String) throws(OperationError) -> StoreStatistics {
        do {
            return try readUnchecked(directory)
        } catch {
            throw OperationError(.unreadable, "\(error)", cause: error)
        }
    }

    private static func readUnchecked(_ directory: String) throws -> StoreStatistics {
        let counts = try LogReads.counts(directory)
        let published = Result { try KeyFile.loadVerifierKey(directory: directory) }
        var checkpoint: Checkpoint?
        var problem: String?
        var fails = false
        if let note = counts.lastCheckpointNote {
            switch published {
            case .success(let key):
                // After a rotation the latest checkpoint may be the rotation's, signed by the key before.
                let chain = counts.keyRotations ?? KeyChain(origin: counts.origin, first: key.publicKey)
                do {
                    guard chain.keys.contains(key.publicKey) else {
                        throw KeyRotation.Invalid(reason: "signing.pub is none of the log's keys")
                    }
                    checkpoint = try chain.verify(note: note)
                } catch {
                    problem = "DOES NOT VERIFY with signing.pub: \(error)"
                    fails = true
                }
            case .failure(let error):
                problem = "not checked: \(error)"
            }
        }
        let verifierKey =
            published
            .map { SignedNote.verifierKey(name: $0.name, publicKey: $0.publicKey) }
            .mapError { OperationError(.unreadable, "\($0)", cause: $0) }
        return StoreStatistics(
            origin: counts.origin, verifierKey: verifierKey, entries: counts.entries, streams: counts.streams,
            checkpoints: counts.checkpoints, lastCheckpoint: checkpoint, lastCheckpointProblem: problem, lastCheckpointFails: fails,
            mapUsedBytes: counts.mapUsedBytes, mapSizeBytes: counts.mapSizeBytes,
            readModelsUsedBytes: try readModelsUsedBytes(directory),
            erasureShreddingPending: counts.shreddingDue, recordsKeyGeneration: counts.recordsKeyGeneration)
    }

    /// The read models' environment: `ProjectionEngine.directory(in:)`, written here again so that
    /// the offline operations do not link the projections; a test checks the two agree.
    public static func readModelsDirectory(in dataDirectory: String) -> String { dataDirectory + "/projections" }

    private static func readModelsUsedBytes(_ dataDirectory: String) throws -> Int? {
        let path = readModelsDirectory(in: dataDirectory)
        guard access(path + "/data.mdb", F_OK) == 0 else { return nil }
        var options = Environment.Options()
        options.readOnly = true
        let environment = try Environment(path: path, options: options)
        defer { environment.close() }
        return environment.usedBytes
    }
}
