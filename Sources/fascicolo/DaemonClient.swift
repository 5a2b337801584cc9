import AsyncHTTPClient
import FascicoloOperations  // errorText
import FoundationEssentials  // URL(httpURLWithSocketPath:uri:)
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix

/// The daemon's HTTP/1.1 API on its Unix socket, through AsyncHTTPClient (`http+unix://`, the
/// socket path percent-encoded as the host).
///
/// Limits on everything: a request's whole exchange — connect, send, the answer to its last byte —
/// must finish within `timeoutSeconds`, and an answer is at most `responseBytesMax` bytes. A
/// stream (`streamLines`, for tail) may run for ever, but each line is limited, and silence for
/// the HTTP client's read timeout (`makeHTTPClient(idleSeconds:)`) ends it.
struct DaemonClient: Sendable {
    let http: HTTPClient
    let path: String
    /// The whole exchange must finish within this many seconds (a stream: until its head arrives).
    var timeoutSeconds: Double = 30
    /// The largest answer accepted (a stream: the longest line).
    var responseBytesMax = 256 << 20
    var userAgent = "fascicolo/\(Fascicolo.version)"

    /// The one HTTP client of a command. A connect that fails is not retried (a daemon that is not
    /// there is said at once, not after the timeout), redirects are not followed, and with
    /// `idleSeconds` a connection silent for that long fails (`Failure.idle`).
    static func makeHTTPClient(connectSeconds: Double, idleSeconds: Double?) -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: HTTPClient.Configuration.Timeout(
                connect: TimeAmount(seconds: connectSeconds), read: idleSeconds.map(TimeAmount.init(seconds:))),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

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
        /// The request's task was cancelled (tail: SIGINT or SIGTERM).
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

    init(http: HTTPClient, path: String) {
        self.http = http
        self.path = path
    }

    /// Sends one request and reads the whole answer. `target` is the path with its query.
    func send(method: String, target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws(Failure) -> Response {
        let request = try makeRequest(method: method, target: target, headers: headers, body: body)
        let limit = responseBytesMax
        do {
            return try await withTimeLimit(seconds: timeoutSeconds) { [http, timeoutSeconds] in
                let response = try await http.execute(request, timeout: TimeAmount(seconds: timeoutSeconds))
                let body = try await response.body.collect(upTo: limit)
                return Response(response, body: Array(buffer: body))
            }
        } catch {
            throw failure(error)
        }
    }

    /// Sends one request and hands a successful (2xx) answer's body to `onLine` one complete line
    /// at a time (without its LF or CRLF) as it arrives. Returns when the body ends or `onLine`
    /// returns false; the returned response then has an empty body. Any other answer is read
    /// whole and returned as `send` would.
    ///
    /// The answer's head must arrive within `timeoutSeconds`; after that only silence matters: the
    /// HTTP client's read timeout (`idleSeconds` here, to name it in the failure) ends the stream
    /// with `Failure.idle`. A line cut off by a dropped connection is never handed over (it throws
    /// instead); each line is limited to `responseBytesMax` bytes, the stream as a whole is not.
    func streamLines(
        target: String, headers: [(String, String)] = [], idleSeconds: Double,
        onLine: (ArraySlice<UInt8>) -> Bool
    ) async throws(Failure) -> Response {
        let request = try makeRequest(method: "GET", target: target, headers: headers, body: nil)
        do {
            let response = try await http.execute(request, timeout: TimeAmount(seconds: timeoutSeconds))
            guard (200..<300).contains(Int(response.status.code)), response.status != .noContent else {
                return Response(response, body: Array(buffer: try await response.body.collect(upTo: responseBytesMax)))
            }
            var lines = LineSplitter(lineBytesMax: responseBytesMax)
            for try await piece in response.body {
                guard try lines.split(piece.readableBytesView, onLine: onLine) else { return Response(response, body: []) }
            }
            // The body ended cleanly: a last line without its newline is still a line.
            lines.finish(onLine: onLine)
            return Response(response, body: [])
        } catch let error as LineSplitter.TooLong {
            throw .responseTooLarge(limit: error.limit)
        } catch {
            throw failure(error, idleSeconds: idleSeconds)
        }
    }

    private func makeRequest(method: String, target: String, headers: [(String, String)], body: [UInt8]?) throws(Failure)
        -> HTTPClientRequest
    {
        // sockaddr_un's sun_path holds 108 bytes with the terminating zero.
        guard !path.isEmpty, path.utf8.count < 108 else { throw .pathTooLong(path: path) }
        guard let url = URL(httpURLWithSocketPath: path, uri: target) else {
            throw .malformedResponse("cannot make a URL of the socket path and \(shortened(target, to: 80))")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        // As before AsyncHTTPClient: not the percent-encoded socket path the URL carries.
        request.headers.add(name: "Host", value: "localhost")
        request.headers.add(name: "User-Agent", value: userAgent)
        // One request per connection, as before: a command sends a few requests at most, and a
        // connection kept alive may be closed by the daemon (its idle timeout) or by anything in
        // between just as the next request goes out, which AsyncHTTPClient does not retry.
        request.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        return request
    }

    /// The failure, in the operator's terms, of an error from AsyncHTTPClient or SwiftNIO.
    private func failure(_ error: any Error, idleSeconds: Double? = nil) -> Failure {
        switch error {
        case let failure as Failure:
            return failure
        case let error as IOError:
            return connectFailure(errno: error.errnoCode)
        case let error as HTTPClientError where error == .readTimeout:
            return idleSeconds.map { .idle(path: path, seconds: $0) }
                ?? .timedOut(path: path, seconds: timeoutSeconds, during: "reading the answer")
        case let error as HTTPClientError where error == .connectTimeout:
            return .timedOut(path: path, seconds: timeoutSeconds, during: "connecting")
        case let error as HTTPClientError where error == .deadlineExceeded:
            return .timedOut(path: path, seconds: timeoutSeconds, during: "waiting for the answer")
        case let error as HTTPClientError where error == .cancelled:
            return .interrupted
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            return .malformedResponse("the connection closed in the middle of the answer")
        case is NIOTooManyBytesError:
            return .responseTooLarge(limit: responseBytesMax)
        case is TimeLimitExceeded:
            return .timedOut(path: path, seconds: timeoutSeconds, during: "waiting for the answer")
        case is CancellationError:
            return .interrupted
        case SocketAddressError.unixDomainSocketPathTooLong:
            return .pathTooLong(path: path)
        default:
            return .malformedResponse("\(error)")
        }
    }

    /// A connect refused by the system, explained.
    private func connectFailure(errno code: Int32) -> Failure {
        switch code {
        case ENOENT, ENOTDIR: return .noSocket(path: path)
        case EACCES, EPERM: return .permissionDenied(path: path, detail: Self.permissionAdvice(path: path))
        case ECONNREFUSED:
            var info = stat()
            if lstat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFSOCK { return .notASocket(path: path) }
            return .connectionRefused(path: path)
        case EAGAIN, EINPROGRESS, ETIMEDOUT: return .timedOut(path: path, seconds: timeoutSeconds, during: "connecting")
        default: return .system(operation: "cannot connect to", path: path, errno: code)
        }
    }

    /// Why a connect was refused with EACCES, in the operator's terms.
    static func permissionAdvice(path: String) -> String {
        let uid = getuid()
        var text = "uid \(uid)\(userName(uid).map { " (\($0))" } ?? "") may not connect. "
        var info = stat()
        if stat(path, &info) == 0 {
            let group = groupName(info.st_gid).map { "'\($0)'" } ?? "gid \(info.st_gid)"
            text +=
                "The socket is mode 0\(String(info.st_mode & 0o777, radix: 8)), group \(group): this uid needs access through "
                + "that group, and a role (writer, auditor or admin) in fascicolod's [access] configuration."
        } else {
            text +=
                "A directory on the path is not searchable by this uid (the data directory is 0700: put the socket "
                + "elsewhere with socket.path); the uid also needs the socket's group and a role in fascicolod's [access] configuration."
        }
        return text
    }
}

extension DaemonClient.Response {
    init(_ response: HTTPClientResponse, body: [UInt8]) {
        self.init(
            status: Int(response.status.code), reason: response.status.reasonPhrase,
            headers: response.headers.map { ($0.name, $0.value) }, body: body)
    }
}

/// Cuts a stream of bytes into lines (LF or CRLF), at most `lineBytesMax` bytes each.
struct LineSplitter {
    struct TooLong: Error {
        let limit: Int
    }

    let lineBytesMax: Int
    /// The start of a line whose end has not arrived.
    private var pending: [UInt8] = []

    init(lineBytesMax: Int) {
        self.lineBytesMax = lineBytesMax
    }

    /// Hands over the complete lines in `bytes`; false when `onLine` asked to stop.
    mutating func split<Bytes: Collection<UInt8>>(_ bytes: Bytes, onLine: (ArraySlice<UInt8>) -> Bool) throws(TooLong) -> Bool {
        var rest = bytes[...]
        while let newline = rest.firstIndex(of: 0x0A) {
            pending += rest[..<newline]
            rest = rest[rest.index(after: newline)...]
            var line = pending[...]
            if line.last == 0x0D { line = line.dropLast() }
            let more = onLine(line)
            pending.removeAll(keepingCapacity: true)
            if !more { return false }
        }
        guard pending.count + rest.count <= lineBytesMax else { throw TooLong(limit: lineBytesMax) }
        pending += rest
        return true
    }

    /// The last line, when the stream ended without a newline after it.
    mutating func finish(onLine: (ArraySlice<UInt8>) -> Bool) {
        if !pending.isEmpty { _ = onLine(pending[...]) }
        pending.removeAll()
    }
}

/// Runs `operation`, cancelling it (and throwing `timedOut`) when it takes longer than `seconds`.
private func withTimeLimit<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let result = try await group.next(), let value = result else {
            throw TimeLimitExceeded()
        }
        return value
    }
}

private struct TimeLimitExceeded: Error {}

extension TimeAmount {
    init(seconds: Double) {
        self = .nanoseconds(Int64(min(seconds, 1e9) * 1e9))
    }
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
