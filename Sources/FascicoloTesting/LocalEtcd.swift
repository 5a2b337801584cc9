import Glibc

/// A single-member etcd (Debian's `etcd-server`, `/usr/bin/etcd`) on free loopback ports, with its
/// data in `directory`, for the failover tests and benchmarks. `stop` kills it (SIGKILL);
/// `pause`/`resume` freeze it (SIGSTOP/SIGCONT), which is what a partitioned or hung etcd looks
/// like to a client.
public final class LocalEtcd {
    public static let binary = "/usr/bin/etcd"
    /// Why the tests that need etcd skip, when the binary is absent (CI installs it: tools/bootstrap).
    public static let absence = "etcd is not installed (apt-get install etcd-server, as tools/bootstrap does)"
    public static var isInstalled: Bool { access(binary, X_OK) == 0 }

    public let directory: String
    public let clientPort: Int
    public let peerPort: Int
    public private(set) var pid: pid_t = 0
    public var endpoint: String { "http://127.0.0.1:\(clientPort)" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts it and waits until it answers.
    public init(directory: String) throws {
        self.directory = directory
        clientPort = try freePort()
        peerPort = try freePort()
        try start()
    }

    /// Starts it again on the same ports and data (after `stop`).
    public func start() throws {
        let log = directory + "/etcd-\(Int.random(in: 0...1_000_000)).log"
        let peer = "http://127.0.0.1:\(peerPort)"
        pid = try spawn(
            Self.binary,
            [
                "--name", "test", "--data-dir", directory + "/etcd-data",
                "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "test=" + peer, "--log-level", "warn",
            ], outputFile: log)
        for _ in 0..<1_000 {
            if let answer = try? httpPost(port: clientPort, path: "/v3/kv/range", body: #"{"key":"AA=="}"#), answer.status == 200 { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw Failure(description: "etcd exited: \(readFile(log))")
            }
            usleep(10_000)
        }
        stop()
        throw Failure(description: "etcd did not answer within 10 s: \(readFile(log))")
    }

    public func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    public func pause() { if pid > 0 { kill(pid, SIGSTOP) } }
    public func resume() { if pid > 0 { kill(pid, SIGCONT) } }

    deinit { stop() }
}

/// A TCP port on 127.0.0.1 that nothing listens on now (bound to port 0, then released).
public func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw LocalEtcd.Failure(description: "no free port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One POST over a fresh TCP connection to 127.0.0.1 (for readiness checks).
public func httpPost(port: Int, path: String, body: String) throws -> TCPClient.Response {
    let client = try TCPClient(port: port)
    return try client.request("POST", path, body: Array(body.utf8))
}
