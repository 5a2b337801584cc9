import Glibc

/// A fresh directory under /tmp (mkdtemp), removed with everything in it when `body` returns.
public func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = makeTemporaryDirectory()
    defer { removeTree(path) }
    return try body(path)
}

/// The same, for async bodies.
public func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = makeTemporaryDirectory()
    defer { removeTree(path) }
    return try await body(path)
}

func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/fascicolo-test-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { buffer in
        guard let created = mkdtemp(buffer.baseAddress!) else { preconditionFailure("mkdtemp failed: errno \(errno)") }
        return String(decoding: UnsafeRawBufferPointer(start: created, count: strlen(created)), as: UTF8.self)
    }
}

/// Removes a directory and everything below it.
public func removeTree(_ path: String) {
    guard let directory = opendir(path) else {
        unlink(path)
        return
    }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != "." && name != ".." else { continue }
        if entry.pointee.d_type == UInt8(DT_DIR) { removeTree(path + "/" + name) } else { unlink(path + "/" + name) }
    }
    closedir(directory)
    rmdir(path)
}
