import Glibc

public func readBytes(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "r") else { return [] }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return bytes
}

public func readFile(_ path: String) -> String {
    String(decoding: readBytes(path), as: UTF8.self)
}

public struct FileError: Error, Sendable {
    public let path: String
    public let errno: Int32
}

public func writeFile(_ path: String, _ text: String) throws {
    guard let file = fopen(path, "w") else { throw FileError(path: path, errno: errno) }
    defer { fclose(file) }
    _ = text.withCString { fputs($0, file) }
}

public func sleepMilliseconds(_ milliseconds: Int) {
    usleep(UInt32(milliseconds * 1000))
}
