import Glibc

/// A minimal blocking HTTP/1.1 client over a Unix socket with keep-alive, for the load
/// generator: one per client thread, so measured latency is the daemon's, not a client library's.
final class SocketClient {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else {
            close(descriptor)
            throw Failure(message: "cannot connect to \(path): errno \(errno)")
        }
    }

    deinit { close(descriptor) }

    /// Sends a request and reads the whole response; returns the status and the body.
    func request(_ method: String, _ path: String, body: [UInt8] = []) throws -> (status: Int, body: [UInt8]) {
        try send(method, path, body: body)
        let (status, headers) = try readHead()
        guard let length = headers["content-length"].flatMap({ Int($0) }) else {
            throw Failure(message: "response without content-length")
        }
        return (status, try read(count: length))
    }

    func send(_ method: String, _ path: String, body: [UInt8] = []) throws {
        var request = Array("\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n".utf8)
        if !body.isEmpty { request += Array("Content-Type: application/json\r\nContent-Length: \(body.count)\r\n".utf8) }
        request += Array("\r\n".utf8) + body
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw Failure(message: "write failed: errno \(errno)") }
            sent += count
        }
    }

    /// Reads the status line and headers (names lower-cased).
    func readHead() throws -> (Int, [String: String]) {
        while true {
            if let end = headEnd() {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                let lines = head.split(separator: "\r\n")
                let status = lines.first.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...]).trimmingCharacters()
                }
                return (status, headers)
            }
            try fill()
        }
    }

    func read(count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    /// Reads one line of a chunked body (through CRLF), for the subscriber.
    func readLine() throws -> [UInt8] {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                defer { buffer.removeFirst(newline + 1) }
                return Array(buffer[..<newline])
            }
            try fill()
        }
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = Glibc.read(descriptor, &chunk, chunk.count)
        guard count > 0 else { throw Failure(message: "connection closed") }
        buffer += chunk[..<count]
    }
}

extension String {
    func trimmingCharacters() -> String {
        var slice = Substring(self)
        while slice.first == " " { slice.removeFirst() }
        while slice.last == " " || slice.last == "\r" { slice.removeLast() }
        return String(slice)
    }
}
