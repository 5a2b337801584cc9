import CSodium
import Glibc

/// The signing key's files in a data directory:
/// - `signing.key`: the 32-byte Ed25519 seed, raw, mode 0600 — the only secret;
/// - `signing.pub`: the verifier key string (see `SignedNote.verifierKey`), mode 0644, for verifiers.
public enum KeyFile {
    public static let secretName = "signing.key"
    public static let publicName = "signing.pub"

    public enum Failure: Error, CustomStringConvertible, Sendable {
        /// The file can be read by group or others. Names the file and the fix.
        case tooOpen(path: String, mode: UInt32)
        case unreadable(path: String, errno: Int32)
        case unwritable(path: String, errno: Int32)
        case malformed(path: String, reason: String)
        /// The signing key is missing from a data directory whose log already has entries.
        case missing(path: String, entries: UInt64)

        public var description: String {
            switch self {
            case .tooOpen(let path, let mode):
                "key file \(path) has mode \(String(mode & 0o777, radix: 8)), readable by group or others; run: chmod 600 \(path)"
            case .unreadable(let path, let code):
                "cannot read key file \(path): \(String(decoding: strerrorBytes(code), as: UTF8.self))"
            case .unwritable(let path, let code):
                "cannot write key file \(path): \(String(decoding: strerrorBytes(code), as: UTF8.self))"
            case .malformed(let path, let reason):
                "key file \(path) is malformed: \(reason)"
            case .missing(let path, let entries):
                "key file \(path) is missing but the log has \(entries) entries signed with it; "
                    + "restore the key (fascicolo restore --signing-key) — a new key is only made for an empty log"
            }
        }
    }

    /// Refuses a secret file that group or others may read or write.
    public static func checkPermissions(path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Failure.unreadable(path: path, errno: errno) }
        if info.st_mode & 0o077 != 0 { throw Failure.tooOpen(path: path, mode: info.st_mode) }
    }

    /// Loads the signing key from `directory`, creating it (and its public file) when absent.
    /// Refuses to load a key file that is readable by group or others.
    public static func loadOrCreate(directory: String, name: String) throws -> SigningKey {
        let path = directory + "/" + secretName
        if access(path, F_OK) != 0 {
            let key = SigningKey()
            try key.withSeed { seed in try writeNew(path: path, bytes: seed, mode: 0o600) }
            try writePublic(directory: directory, name: name, key: key.publicKey)
            return key
        }
        let key = try load(path: path)
        if access(directory + "/" + publicName, F_OK) != 0 {
            try writePublic(directory: directory, name: name, key: key.publicKey)
        }
        return key
    }

    /// Loads an existing signing key, checking its permissions first.
    public static func load(path: String) throws -> SigningKey {
        try checkPermissions(path: path)
        var seed = try readAll(path: path, limit: 64)
        defer { sodium_memzero(&seed, seed.count) }
        guard seed.count == SigningKey.seedByteCount, let key = SigningKey(seed: seed) else {
            throw Failure.malformed(path: path, reason: "expected a 32-byte Ed25519 seed, found \(seed.count) bytes")
        }
        return key
    }

    /// Reads the verifier key from `signing.pub` (no secret needed: what `verify` uses).
    public static func loadVerifierKey(directory: String) throws -> (name: String, publicKey: PublicKey) {
        let path = directory + "/" + publicName
        let text = String(decoding: try readAll(path: path, limit: 4096), as: UTF8.self)
        guard let parsed = SignedNote.parseVerifierKey(text.trimmingSuffixNewlines()) else {
            throw Failure.malformed(path: path, reason: "expected '<name>+<key id>+<base64 key>'")
        }
        return parsed
    }

    public static func writePublic(directory: String, name: String, key: PublicKey) throws {
        let text = SignedNote.verifierKey(name: name, publicKey: key) + "\n"
        let path = directory + "/" + publicName
        unlink(path)
        try Array(text.utf8).withUnsafeBytes { bytes in try writeNew(path: path, bytes: bytes, mode: 0o644) }
    }

    /// Creates `path` exclusively with `mode`, writes `bytes`, and makes file and directory entry durable.
    static func writeNew(path: String, bytes: UnsafeRawBufferPointer, mode: mode_t) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Failure.unwritable(path: path, errno: errno) }
        defer { close(descriptor) }
        fchmod(descriptor, mode)  // the umask may have narrowed it; never widened beyond `mode`
        guard write(descriptor, bytes.baseAddress, bytes.count) == bytes.count, fsync(descriptor) == 0 else {
            let code = errno
            unlink(path)  // a short key file would be read later as a malformed one
            throw Failure.unwritable(path: path, errno: code)
        }
        syncDirectory(of: path)
    }

    /// A new secret key file (mode 0600), durable with its directory entry once this returns.
    public static func writeNewSecret(path: String, bytes: UnsafeRawBufferPointer) throws {
        try writeNew(path: path, bytes: bytes, mode: 0o600)
    }

    /// Makes the directory entry of `path` (a creation, a rename) durable.
    public static func syncDirectory(of path: String) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    static func readAll(path: String, limit: Int) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure.unreadable(path: path, errno: errno) }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: limit + 1)
        let count = read(descriptor, &buffer, buffer.count)
        guard count >= 0 else { throw Failure.unreadable(path: path, errno: errno) }
        guard count <= limit else { throw Failure.malformed(path: path, reason: "larger than \(limit) bytes") }
        return Array(buffer[..<count])
    }
}

func strerrorBytes(_ code: Int32) -> [UInt8] {
    guard let message = strerror(code) else { return Array("errno \(code)".utf8) }
    return Array(UnsafeBufferPointer(start: UnsafeRawPointer(message).assumingMemoryBound(to: UInt8.self), count: strlen(message)))
}

extension String {
    func trimmingSuffixNewlines() -> String {
        var result = self
        while result.last == "\n" || result.last == "\r" { result.removeLast() }
        return result
    }
}
