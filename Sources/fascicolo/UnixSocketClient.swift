import Glibc

/// A small, blocking HTTP/1.1 client for the daemon's Unix socket: one request per connection
/// (`Connection: close`), a deadline for the whole exchange and a limit on the answer's size.
///
/// It reads bodies framed by `Content-Length`, by chunked transfer encoding, or by the end of the
/// connection — whichever the server chose.
struct UnixSocketClient: Sendable {
    let path: String
    /// The whole exchange — connect, send, read — must finish within this many seconds.
    var timeoutSeconds: Double = 30
    /// The largest answer (headers and body) accepted.
    var responseBytesMax = 256 << 20
    var userAgent = "fascicolo/\(Fascicolo.version)"
    /// When this descriptor becomes readable (a signal handler writes to it), any wait ends with
    /// `Failure.interrupted`; -1 for none.
    var interruptDescriptor: Int32 = -1

    struct Response: Sendable {
        let status: Int
        let reason: String
        let headers: [(name: String, value: String)]
        let body: [UInt8]

        /// The first header with this name (case-insensitive).
        func header(_ name: String) -> String? {
            let wanted = name.lowercased()
            return headers.first { $0.name.lowercased() == wanted }?.value
        }

        var text: String { String(decoding: body, as: UTF8.self) }
        var isSuccess: Bool { (200..<300).contains(status) }
    }

    enum Failure: Error, CustomStringConvertible, Sendable {
        case noSocket(path: String)
        case permissionDenied(path: String, detail: String)
        case connectionRefused(path: String)
        case notASocket(path: String)
        case pathTooLong(path: String)
        case timedOut(path: String, seconds: Double, during: String)
        case responseTooLarge(limit: Int)
        case malformedResponse(String)
        case system(operation: String, path: String, errno: Int32)
        /// A stream sent nothing, not even a heartbeat, for this long.
        case idle(path: String, seconds: Double)
        /// The interrupt descriptor became readable.
        case interrupted

        var description: String {
            switch self {
            case .noSocket(let path):
                "is fascicolod running? no socket at \(path) (pass --socket PATH or set FASCICOLO_SOCKET)"
            case .permissionDenied(let path, let detail):
                "permission denied on the socket \(path): \(detail)"
            case .connectionRefused(let path):
                "connection refused at \(path): the socket file exists but no fascicolod is listening on it "
                    + "(left by a crash? the daemon removes it when it next starts)"
            case .notASocket(let path):
                "\(path) is not a socket (is --socket right? fascicolod's socket is <data directory>/fascicolod.sock by default)"
            case .pathTooLong(let path):
                "the socket path \(path) is longer than a Unix socket path may be (107 bytes)"
            case .timedOut(let path, let seconds, let during):
                "no answer from fascicolod at \(path) within \(Terminal.format(seconds, decimals: 1)) s (while \(during)); "
                    + "it may be overloaded or stuck (--timeout sets the wait)"
            case .responseTooLarge(let limit):
                "the daemon's answer is larger than \(limit) bytes; ask for less (--limit)"
            case .malformedResponse(let why):
                "the daemon's answer is not valid HTTP/1.1: \(why)"
            case .system(let operation, let path, let code):
                "\(operation) \(path): \(errorText(code))"
            case .idle(let path, let seconds):
                "nothing from fascicolod at \(path) for \(Terminal.format(seconds, decimals: 1)) s, not even a heartbeat "
                    + "(--idle-timeout sets the wait)"
            case .interrupted:
                "interrupted"
            }
        }
    }

    init(path: String) {
        self.path = path
    }

    /// Sends one request and reads the whole answer. `target` is the path with its query.
    func send(method: String, target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws(Failure) -> Response {
        let deadline = Deadline(seconds: timeoutSeconds, interrupt: interruptDescriptor)
        let descriptor = try connect(deadline: deadline)
        defer { close(descriptor) }
        try sendRequest(descriptor, method: method, target: target, headers: headers, body: body, deadline: deadline)

        var reader = Reader(descriptor: descriptor, deadline: deadline, limit: responseBytesMax, path: path, timeout: timeoutSeconds)
        return try reader.readResponse(method: method)
    }

    /// Sends one request and hands a successful (2xx) answer's body to `onLine` one complete line
    /// at a time (without its LF or CRLF) as it arrives, whether the body is chunked, has a
    /// Content-Length, or runs to the end of the connection. Returns when the body ends or
    /// `onLine` returns false; the returned response then has an empty body. Any other answer is
    /// read whole and returned as `send` would.
    ///
    /// Connecting and sending must finish within `timeoutSeconds`; after that, only silence
    /// matters: when nothing at all arrives for `idleSeconds` it throws `Failure.idle`. A line
    /// cut off by a dropped connection is never handed over (it throws instead); each line is
    /// limited to `responseBytesMax` bytes, the stream as a whole is not.
    func streamLines(method: String = "GET", target: String, headers: [(String, String)] = [], idleSeconds: Double,
                     onLine: (ArraySlice<UInt8>) -> Bool) throws(Failure) -> Response {
        let deadline = Deadline(seconds: timeoutSeconds, interrupt: interruptDescriptor)
        let descriptor = try connect(deadline: deadline)
        defer { close(descriptor) }
        try sendRequest(descriptor, method: method, target: target, headers: headers, body: nil, deadline: deadline)

        var reader = Reader(descriptor: descriptor, deadline: deadline, limit: responseBytesMax, path: path, timeout: timeoutSeconds)
        reader.idleSeconds = idleSeconds
        let head = try reader.readHead()
        guard (200..<300).contains(head.status), method != "HEAD", head.status != 204 else {
            return try reader.readResponse(method: method, head: head)
        }
        reader.countsTotal = false
        var pending: [UInt8] = []  // the start of a line whose end has not arrived
        /// Hands over the complete lines in `bytes`; false when `onLine` asked to stop.
        func deliver(_ bytes: ArraySlice<UInt8>) throws(Failure) -> Bool {
            var rest = bytes
            while let newline = rest.firstIndex(of: 0x0A) {
                var line = rest[..<newline]
                rest = rest[(newline + 1)...]
                if !pending.isEmpty {
                    pending += line
                    line = pending[...]
                }
                if line.last == 0x0D { line = line.dropLast() }
                let more = onLine(line)
                pending.removeAll(keepingCapacity: true)
                if !more { return false }
            }
            guard pending.count + rest.count <= responseBytesMax else { throw .responseTooLarge(limit: responseBytesMax) }
            pending += rest
            return true
        }
        let empty = Response(status: head.status, reason: head.reason, headers: head.headers, body: [])
        switch head.framing {
        case .chunked:
            while let chunk = try reader.nextChunk() {
                guard try deliver(chunk) else { return empty }
            }
        case .length(var left):
            while left > 0 {
                if reader.available == 0 {
                    guard try reader.fill() else {
                        throw .malformedResponse("the connection closed after \(left) body bytes were still due")
                    }
                }
                let piece = reader.take(upTo: left)
                left -= piece.count
                guard try deliver(piece) else { return empty }
            }
        case .toEnd:
            repeat {
                guard try deliver(reader.take(upTo: reader.available)) else { return empty }
            } while try reader.fill()
        }
        // The body ended cleanly: a last line without its newline is still a line.
        if !pending.isEmpty { _ = onLine(pending[...]) }
        return empty
    }

    private func sendRequest(_ descriptor: Int32, method: String, target: String, headers: [(String, String)], body: [UInt8]?,
                             deadline: Deadline) throws(Failure) {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: \(userAgent)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try sendAll(descriptor, Array(head.utf8) + (body ?? []), deadline: deadline)
    }

    // MARK: - Connecting and sending

    private func connect(deadline: Deadline) throws(Failure) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let pathBytes = Array(path.utf8)
        guard !pathBytes.isEmpty, pathBytes.count < capacity else { throw .pathTooLong(path: path) }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in pathBytes.enumerated() { buffer[index] = byte }
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .system(operation: "cannot create a socket for", path: path, errno: errno) }
        // A blocking connect on a Unix socket waits only when the listen queue is full; the
        // send timeout bounds that wait on Linux.
        var timeout = deadline.remainingTimeval()
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result == 0 { return descriptor }
        let code = errno
        close(descriptor)
        switch code {
        case ENOENT: throw .noSocket(path: path)
        case EACCES, EPERM: throw .permissionDenied(path: path, detail: Self.permissionAdvice(path: path))
        case ECONNREFUSED:
            var info = stat()
            if lstat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFSOCK { throw .notASocket(path: path) }
            throw .connectionRefused(path: path)
        case EAGAIN, EINPROGRESS, ETIMEDOUT: throw .timedOut(path: path, seconds: timeoutSeconds, during: "connecting")
        case ENOTDIR: throw .noSocket(path: path)
        default: throw .system(operation: "cannot connect to", path: path, errno: code)
        }
    }

    /// Why a connect was refused with EACCES, in the operator's terms.
    static func permissionAdvice(path: String) -> String {
        let uid = getuid()
        var text = "uid \(uid)\(userName(uid).map { " (\($0))" } ?? "") may not connect. "
        var info = stat()
        if stat(path, &info) == 0 {
            let group = groupName(info.st_gid).map { "'\($0)'" } ?? "gid \(info.st_gid)"
            text += "The socket is mode 0\(String(info.st_mode & 0o777, radix: 8)), group \(group): this uid needs access through "
                + "that group, and a role (writer, auditor or admin) in fascicolod's [access] configuration."
        } else {
            text += "A directory on the path is not searchable by this uid (the data directory is 0700: put the socket "
                + "elsewhere with socket.path); the uid also needs the socket's group and a role in fascicolod's [access] configuration."
        }
        return text
    }

    private func sendAll(_ descriptor: Int32, _ bytes: [UInt8], deadline: Deadline) throws(Failure) {
        var sent = 0
        while sent < bytes.count {
            try deadline.wait(descriptor, events: Int16(POLLOUT), path: path, timeout: timeoutSeconds, during: "sending the request")
            let count = bytes.withUnsafeBytes { buffer in
                Glibc.send(descriptor, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if count < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { continue }
                // The daemon may answer (413, say) and close before reading the whole body:
                // stop sending and read what it said.
                if code == EPIPE || code == ECONNRESET { return }
                throw .system(operation: "cannot send the request to", path: path, errno: code)
            }
            sent += count
        }
    }

    // MARK: - Reading the answer

    private struct Reader {
        let descriptor: Int32
        let deadline: Deadline
        let limit: Int
        let path: String
        let timeout: Double
        var buffer: [UInt8] = []
        var start = 0  // bytes before `start` are consumed
        var total = 0  // bytes received
        var atEnd = false
        /// Streaming: each wait for more bytes may last this long (the deadline still bounds
        /// nothing else), and a longer wait is `Failure.idle`.
        var idleSeconds: Double?
        /// Whether `limit` bounds all the bytes received (a one-shot answer) or not (a stream).
        var countsTotal = true

        init(descriptor: Int32, deadline: Deadline, limit: Int, path: String, timeout: Double) {
            self.descriptor = descriptor
            self.deadline = deadline
            self.limit = limit
            self.path = path
            self.timeout = timeout
        }

        var available: Int { buffer.count - start }

        /// Reads more bytes; false at the end of the connection.
        mutating func fill() throws(Failure) -> Bool {
            if atEnd { return false }
            if start > 65_536 && start > buffer.count / 2 {
                buffer.removeFirst(start)
                start = 0
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                if let idleSeconds {
                    do {
                        try Deadline(seconds: idleSeconds, interrupt: deadline.interrupt)
                            .wait(descriptor, events: Int16(POLLIN), path: path, timeout: idleSeconds, during: "reading the answer")
                    } catch .timedOut {
                        throw .idle(path: path, seconds: idleSeconds)
                    }
                } else {
                    try deadline.wait(descriptor, events: Int16(POLLIN), path: path, timeout: timeout, during: "reading the answer")
                }
                let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if count < 0 {
                    let code = errno
                    if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { continue }
                    if code == ECONNRESET {
                        atEnd = true
                        return false
                    }
                    throw .system(operation: "cannot read the answer from", path: path, errno: code)
                }
                if count == 0 {
                    atEnd = true
                    return false
                }
                total += count
                guard total <= limit || !countsTotal else { throw .responseTooLarge(limit: limit) }
                buffer += chunk[..<count]
                return true
            }
        }

        /// The next line, without its CRLF (or LF).
        mutating func line(maximum: Int = 65_536) throws(Failure) -> String {
            var searched = 0  // bytes after `start` known to hold no newline (`fill` may move `start`)
            while true {
                if let index = buffer[(start + searched)...].firstIndex(of: 0x0A) {
                    var end = index
                    if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                    let text = String(decoding: buffer[start..<end], as: UTF8.self)
                    start = index + 1
                    return text
                }
                guard buffer.count - start <= maximum else { throw .malformedResponse("a header or chunk line is too long") }
                searched = buffer.count - start
                guard try fill() else { throw .malformedResponse("the connection closed in the middle of the answer") }
            }
        }

        mutating func bytes(_ count: Int) throws(Failure) -> ArraySlice<UInt8> {
            guard count <= limit else { throw .responseTooLarge(limit: limit) }
            while available < count {
                guard try fill() else { throw .malformedResponse("the connection closed after \(available) of \(count) body bytes") }
            }
            defer { start += count }
            return buffer[start..<(start + count)]
        }

        /// Up to `count` buffered bytes, consumed.
        mutating func take(upTo count: Int) -> ArraySlice<UInt8> {
            let taken = min(count, available)
            defer { start += taken }
            return buffer[start..<(start + taken)]
        }

        enum Framing {
            case chunked
            case length(Int)
            case toEnd
        }

        struct Head {
            let status: Int
            let reason: String
            let headers: [(name: String, value: String)]
            let framing: Framing
        }

        /// The status line and headers (after any interim 1xx answers), and how the body is framed.
        mutating func readHead() throws(Failure) -> Head {
            var statusLine = try line()
            var status = 0
            var reason = ""
            var headers: [(name: String, value: String)] = []
            while true {
                // "HTTP/1.1 200 OK"
                let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let code = Int(parts[1]) else {
                    throw .malformedResponse("bad status line \(statusLine.prefix(80))")
                }
                status = code
                reason = parts.count > 2 ? String(parts[2]) : ""
                headers = try readHeaders()
                guard (100..<200).contains(status) else { break }
                statusLine = try line()  // an interim answer (100 Continue): the real one follows
            }
            let framing: Framing
            let transferEncoding = headers.first { $0.name.lowercased() == "transfer-encoding" }?.value.lowercased()
            if let transferEncoding, transferEncoding.split(separator: ",").last?.trimmed() == "chunked" {
                framing = .chunked
            } else if let lengthText = headers.first(where: { $0.name.lowercased() == "content-length" })?.value {
                guard let length = Int(lengthText.trimmed()), length >= 0 else {
                    throw .malformedResponse("bad Content-Length \(lengthText)")
                }
                framing = .length(length)
            } else {
                framing = .toEnd
            }
            return Head(status: status, reason: reason, headers: headers, framing: framing)
        }

        mutating func readResponse(method: String) throws(Failure) -> Response {
            try readResponse(method: method, head: try readHead())
        }

        mutating func readResponse(method: String, head: Head) throws(Failure) -> Response {
            let body: [UInt8]
            if method == "HEAD" || head.status == 204 || head.status == 304 {
                body = []
            } else {
                switch head.framing {
                case .chunked:
                    body = try readChunked()
                case .length(let length):
                    body = Array(try bytes(length))
                case .toEnd:
                    while try fill() {}
                    body = Array(buffer[start...])
                    start = buffer.count
                }
            }
            return Response(status: head.status, reason: head.reason, headers: head.headers, body: body)
        }

        mutating func readHeaders() throws(Failure) -> [(name: String, value: String)] {
            var headers: [(name: String, value: String)] = []
            while true {
                let text = try line()
                if text.isEmpty { return headers }
                guard let colon = text.firstIndex(of: ":") else { throw .malformedResponse("bad header line") }
                headers.append((String(text[..<colon]), String(text[text.index(after: colon)...]).trimmed()))
                guard headers.count <= 200 else { throw .malformedResponse("too many headers") }
            }
        }

        mutating func readChunked() throws(Failure) -> [UInt8] {
            var body: [UInt8] = []
            while let chunk = try nextChunk(sizeLimit: limit - body.count) {
                body += chunk
            }
            return body
        }

        /// The next chunk's data; nil after the last chunk (and its trailers).
        mutating func nextChunk(sizeLimit: Int? = nil) throws(Failure) -> ArraySlice<UInt8>? {
            let sizeLine = try line()
            let sizeText = sizeLine.split(separator: ";", maxSplits: 1).first.map { String($0).trimmed() } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else {
                throw .malformedResponse("bad chunk size \(sizeLine.prefix(40))")
            }
            if size == 0 {
                _ = try readHeaders()  // trailers, up to the empty line
                return nil
            }
            guard size <= sizeLimit ?? limit else { throw .responseTooLarge(limit: limit) }
            let data = try bytes(size)
            guard try line(maximum: 2).isEmpty else { throw .malformedResponse("a chunk is longer than its size") }
            return data
        }
    }

    /// The end of the exchange, on the monotonic clock.
    private struct Deadline {
        let end: Double
        /// Readable means: stop waiting (`Failure.interrupted`); -1 for none.
        let interrupt: Int32

        init(seconds: Double, interrupt: Int32 = -1) {
            end = Self.now() + seconds
            self.interrupt = interrupt
        }

        static func now() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }

        var remaining: Double { end - Self.now() }

        func remainingTimeval() -> timeval {
            let seconds = max(0.001, remaining)
            return timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        }

        /// Waits until the descriptor is ready for `events`, or throws when the deadline passes.
        func wait(_ descriptor: Int32, events: Int16, path: String, timeout: Double, during: String) throws(Failure) {
            while true {
                let left = remaining
                guard left > 0 else { throw .timedOut(path: path, seconds: timeout, during: during) }
                // A negative descriptor is ignored by poll.
                var pollers = [pollfd(fd: descriptor, events: events, revents: 0), pollfd(fd: interrupt, events: Int16(POLLIN), revents: 0)]
                let ready = poll(&pollers, 2, Int32(min(left * 1000, Double(Int32.max)).rounded(.up)))
                if ready > 0 && pollers[1].revents != 0 { throw .interrupted }
                if ready > 0 { return }  // readable, writable, or hung up: the next call says which
                if ready < 0 && errno != EINTR { throw .system(operation: "cannot wait for", path: path, errno: errno) }
            }
        }
    }
}

func errorText(_ code: Int32) -> String {
    guard let message = strerror(code) else { return "errno \(code)" }
    return String(cString: message)
}

func userName(_ uid: uid_t) -> String? {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else { return nil }
    return String(cString: name)
}

func groupName(_ gid: gid_t) -> String? {
    var entry = group()
    var result: UnsafeMutablePointer<group>?
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getgrgid_r(gid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.gr_name else { return nil }
    return String(cString: name)
}

extension StringProtocol {
    func trimmed() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
