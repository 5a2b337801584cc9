import Glibc

/// An exclusive `flock` on `<data directory>/fascicolod.lock`, held for the life of the daemon,
/// so that a second daemon on the same data directory refuses to start. The kernel drops the lock
/// when the process dies, so a crash never leaves a stale lock behind.
public final class DataDirectoryLock: Sendable {
    private let descriptor: Int32
    public static let fileName = "fascicolod.lock"

    public struct Held: Error, CustomStringConvertible, Sendable {
        public let path: String
        public var description: String {
            "another fascicolod holds \(path): only one daemon may use a data directory"
        }
    }

    /// The lock file could not be opened or created (a permission, a missing directory).
    public struct CannotOpen: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let error: Int32
        public var description: String { "cannot open \(path): \(String(cString: strerror(error)))" }
    }

    public init(directory: String) throws {
        if access(directory, F_OK) != 0 { mkdir(directory, 0o700) }
        let path = directory + "/" + Self.fileName
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CannotOpen(path: path, error: errno) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw Held(path: path)
        }
    }

    deinit { close(descriptor) }
}
