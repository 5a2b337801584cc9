import Glibc

/// File operations for the offline operations, with errors that name the path and the reason.
package enum Files {
    package struct Failure: Error, CustomStringConvertible, Sendable {
        package let operation: String
        package let path: String
        package let errno: Int32

        package var description: String { "cannot \(operation) \(path): \(errorText(errno))" }
    }

    package struct TooLarge: Error, CustomStringConvertible, Sendable {
        package let path: String
        package let limit: Int
        package var description: String { "\(path) is larger than \(limit) bytes" }
    }

    package static func read(_ path: String, limit: Int) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(operation: "read", path: path, errno: errno) }
        defer { close(descriptor) }
        return try readAll(descriptor, path: path, limit: limit)
    }

    package static func readStandardInput(limit: Int) throws -> [UInt8] {
        try readAll(STDIN_FILENO, path: "standard input", limit: limit)
    }

    private static func readAll(_ descriptor: Int32, path: String, limit: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "read", path: path, errno: errno)
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            guard bytes.count <= limit else { throw TooLarge(path: path, limit: limit) }
        }
    }

    /// Copies `source` to a new file `destination` (which must not exist) with `mode`, then
    /// makes it durable. Returns the number of bytes copied.
    @discardableResult
    package static func copy(_ source: String, to destination: String, mode: mode_t, owner: (uid: uid_t, gid: gid_t)? = nil) throws -> Int {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw Failure(operation: "read", path: source, errno: errno) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard output >= 0 else { throw Failure(operation: "create", path: destination, errno: errno) }
        defer { close(output) }
        fchmod(output, mode)  // the umask may have narrowed it; never wider than `mode`
        if let owner { fchown(output, owner.uid, owner.gid) }
        var total = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "read", path: source, errno: errno)
            }
            if count == 0 { break }
            var written = 0
            while written < count {
                let result = chunk.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + written, count - written) }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw Failure(operation: "write", path: destination, errno: errno)
                }
                written += result
            }
            total += count
        }
        guard fsync(output) == 0 else { throw Failure(operation: "sync", path: destination, errno: errno) }
        return total
    }

    /// Makes a directory's entries (files created, renamed, removed) durable.
    package static func syncDirectory(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Failure(operation: "sync", path: path, errno: errno) }
    }

    /// The directory holding `path` ("." for a bare name).
    package static func parent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    package static func syncFile(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Failure(operation: "sync", path: path, errno: errno) }
    }

    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    package static func status(_ path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }

    package static func isDirectory(_ path: String) -> Bool {
        guard let info = status(path) else { return false }
        return info.st_mode & S_IFMT == S_IFDIR
    }

    package static func size(_ path: String) -> Int {
        guard let info = status(path) else { return 0 }
        return Int(info.st_size)
    }

    /// The names in a directory, without "." and "..".
    package static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw Failure(operation: "list", path: path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Seconds on the monotonic clock.
    package static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// The C library's text for an errno value.
package func errorText(_ code: Int32) -> String {
    guard let message = strerror(code) else { return "errno \(code)" }
    return String(cString: message)
}
