import FascicoloLedger
import Glibc

/// `fascicolo keys rotate --data-directory DIR`: the key rotation of a stopped daemon's data
/// directory (`Ledger.rotateKey`), under the daemon's lock so that a daemon cannot start meanwhile.
public enum KeyRotationOperation {
    public static func run(dataDirectory: String, retire: KeyRetirement, author: String) async throws(OperationError) -> KeyRotationResult {
        guard Files.exists(dataDirectory + "/" + DataDirectory.data) else {
            throw OperationError(.unusableDirectory, "\(dataDirectory) is not a data directory (no \(DataDirectory.data))")
        }
        let lockPath = dataDirectory + "/" + DataDirectory.daemonLock
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw OperationError(.unusableDirectory, "cannot open \(lockPath): errno \(errno)") }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            throw OperationError(
                .daemonRunning,
                "fascicolod is running on \(dataDirectory) (it holds \(lockPath)): rotate through it, without --data-directory")
        }
        let ledger: Ledger
        do { ledger = try Ledger.open(directory: dataDirectory) } catch {
            throw OperationError(.unreadable, "cannot open the log in \(dataDirectory): \(error)", cause: error)
        }
        defer { ledger.close() }
        do { return try await ledger.rotateKey(author: author, retire: retire) } catch {
            throw OperationError(.copyFailed, "the key was not rotated: \(error)", cause: error)
        }
    }
}
