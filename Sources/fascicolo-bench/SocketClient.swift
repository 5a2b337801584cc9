import Glibc

/// A minimal blocking HTTP/1.1 client over a Unix socket with keep-alive, for the load
/// generator: one per client thread, so measured latency is the daemon's, not a client library's.
///
/// Kept by hand on purpose (the CLI uses AsyncHTTPClient): a benchmark of the server must not
/// measure an event loop hop, a connection pool or a task per request on the client side, and
/// each load thread blocks on its own socket, which is what the figures assume.
final class SocketClient {
    private let descriptor: Int32
    /// Bytes read and not yet consumed are `storage[start..<end]`.
    private var storage = [UInt8](repeating: 0, count: 65_536)
    private var start = 0
    private var end = 0

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
    func request(_ method: String, _ path: String, body: [UInt8] = [], headers: [String] = []) throws -> (status: Int, body: [UInt8]) {
        try send(method, path, body: body, headers: headers)
        let (status, length) = try readHead()
        guard let length else { throw Failure(message: "response without content-length") }
        return (status, try read(count: length))
    }

    /// `headers`: whole header lines without their line end (`Name: value`).
    func send(_ method: String, _ path: String, body: [UInt8] = [], headers: [String] = []) throws {
        var request = Array("\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n".utf8)
        for header in headers { request += Array((header + "\r\n").utf8) }
        if !body.isEmpty { request += Array("Content-Type: application/json\r\nContent-Length: \(body.count)\r\n".utf8) }
        request += Array("\r\n".utf8) + body
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw Failure(message: "write failed: errno \(errno)") }
            sent += count
        }
    }

    /// Reads the status line and headers; returns the status and the content length, if given.
    /// Parsed on the bytes: the load generator shares the daemon's two cores, and what it spends
    /// per response the daemon does not get.
    func readHead() throws -> (status: Int, contentLength: Int?) {
        while true {
            if let boundary = headEnd() {
                let parsed = storage.withUnsafeBufferPointer { all -> (status: Int?, contentLength: Int?) in
                    let head = UnsafeBufferPointer(rebasing: all[start..<boundary])
                    // "HTTP/1.1 201 …": the three digits after the first space.
                    guard let space = head.firstIndex(of: UInt8(ascii: " ")), space + 3 < head.count else { return (nil, nil) }
                    return (Self.decimal(UnsafeBufferPointer(rebasing: head[(space + 1)..<(space + 4)])), Self.contentLength(in: head))
                }
                start = boundary + 4
                guard let status = parsed.status else { throw Failure(message: "bad status line") }
                return (status, parsed.contentLength)
            }
            try fill()
        }
    }

    func read(count: Int) throws -> [UInt8] {
        while end - start < count { try fill() }
        defer { start += count }
        return Array(storage[start..<(start + count)])
    }

    /// Reads one line of a chunked body (through CRLF), for the subscriber.
    func readLine() throws -> [UInt8] {
        while true {
            if let newline = storage[start..<end].firstIndex(of: 0x0A) {
                defer { start = newline + 1 }
                return Array(storage[start..<newline])
            }
            try fill()
        }
    }

    /// The index of the CRLF CRLF that ends the head, if it has arrived.
    private func headEnd() -> Int? {
        guard end - start >= 4 else { return nil }
        for index in start...(end - 4)
        where storage[index] == 13 && storage[index + 1] == 10 && storage[index + 2] == 13 && storage[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// The value of a `content-length` header (any case) in a response head.
    private static func contentLength(in head: UnsafeBufferPointer<UInt8>) -> Int? {
        let name = Array("\r\ncontent-length:".utf8)
        guard head.count > name.count else { return nil }
        for index in 0...(head.count - name.count) {
            // ASCII letters compare case-insensitively with the 0x20 bit set.
            guard (0..<name.count).allSatisfy({ head[index + $0] | 0x20 == name[$0] | 0x20 }) else { continue }
            var cursor = index + name.count
            while cursor < head.count, head[cursor] == UInt8(ascii: " ") { cursor += 1 }
            var digits = cursor
            while digits < head.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(head[digits]) { digits += 1 }
            return decimal(UnsafeBufferPointer(rebasing: head[cursor..<digits]))
        }
        return nil
    }

    private static func decimal(_ digits: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    /// Reads what the socket has into the free end of the buffer (moving the unread bytes to
    /// the front first, and growing it only for a response larger than it).
    private func fill() throws {
        if start > 0 {
            storage.withUnsafeMutableBufferPointer { raw in
                _ = memmove(raw.baseAddress!, raw.baseAddress! + start, end - start)
            }
            end -= start
            start = 0
        }
        if end == storage.count { storage += [UInt8](repeating: 0, count: storage.count) }
        let count = storage.withUnsafeMutableBufferPointer { Glibc.read(descriptor, $0.baseAddress! + end, $0.count - end) }
        guard count > 0 else { throw Failure(message: "connection closed") }
        end += count
    }
}
