import Glibc

/// A TCP forwarder on a free loopback port to `127.0.0.1:target`, for cutting one client off a
/// server while others still reach it (a network partition on one machine): `cut` closes the
/// listener and every forwarded connection, so new connections are refused.
public final class TCPProxy: @unchecked Sendable {
    // @unchecked: `connections` and `listener` are only touched under `lock`.
    public let port: Int
    private let target: Int
    private var listener: Int32
    private var connections: [Int32] = []
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init(target: Int) throws {
        self.target = target
        let listening = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listening, $0, length) == 0 && getsockname(listening, $0, &length) == 0
            }
        }
        guard bound, listen(listening, 64) == 0 else { throw LocalEtcd.Failure(description: "the proxy cannot listen: errno \(errno)") }
        listener = listening
        port = Int(UInt16(bigEndian: address.sin_port))
        pthread_mutex_init(lock, nil)
        startDetached { [self] in acceptLoop(listening) }
    }

    /// Cuts every connection and refuses new ones.
    public func cut() {
        pthread_mutex_lock(lock)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        listener = -1
        for connection in connections { shutdown(connection, Int32(SHUT_RDWR)) }
        pthread_mutex_unlock(lock)
    }

    private func acceptLoop(_ listening: Int32) {
        while true {
            let client = accept(listening, nil, nil)
            guard client >= 0 else { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: target)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            pthread_mutex_lock(lock)
            let open = listener >= 0 && connected
            if open { connections += [client, server] }
            pthread_mutex_unlock(lock)
            guard open else {
                close(client)
                close(server)
                continue
            }
            startDetached { Self.pump(from: client, to: server) }
            startDetached { Self.pump(from: server, to: client) }
        }
    }

    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = read(source, &buffer, buffer.count)
            guard count > 0, buffer.withUnsafeBytes({ write(destination, $0.baseAddress, count) }) == count else { break }
        }
        shutdown(destination, Int32(SHUT_WR))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return address
    }
}

/// A detached thread running `body`.
func startDetached(_ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    pthread_create(
        &thread, nil,
        { pointer in
            let box = Unmanaged<Box>.fromOpaque(pointer!).takeRetainedValue()
            box.body()
            return nil
        }, box)
    pthread_detach(thread)
}
