import AsyncHTTPClient
import FascicoloCrypto
import FascicoloJSON
import NIOCore

/// The few calls of etcd's v3 API that leadership needs, through its JSON gateway (plain HTTP,
/// `POST /v3/...`, keys and values in base64, 64-bit numbers as strings; etcd 3.4 as Debian
/// ships it in `etcd-server`): grant, renew and revoke a lease, create a key with a lease only if
/// it is absent, read a key. Every call has a timeout; on a failure to reach one endpoint the next
/// is tried (a cluster of three on localhost ports, or on three hosts), within the same timeout.
///
/// Nothing here decides anything: the `LeaseKeeper` does, from what these calls answer.
public struct EtcdClient: Sendable {
    /// `http://host:port` of each etcd member's client URL.
    public let endpoints: [String]
    let http: HTTPClient
    /// How long one call may take, all endpoints tried included.
    public let timeout: Duration

    public init(endpoints: [String], http: HTTPClient, timeout: Duration) {
        precondition(!endpoints.isEmpty, "at least one etcd endpoint")
        self.endpoints = endpoints
        self.http = http
        self.timeout = timeout
    }

    /// A lease etcd granted: its id and the TTL etcd will count from when it last heard of it.
    public struct Lease: Sendable, Equatable {
        public let id: Int64
        public let ttlSeconds: Int64
    }

    /// A key's value, and the lease it is attached to (0: none).
    public struct KeyValue: Sendable, Equatable {
        public let value: [UInt8]
        public let lease: Int64
    }

    /// What `createIfAbsent` found.
    public enum Creation: Sendable, Equatable {
        case created
        /// The key existed: its current value and lease.
        case exists(KeyValue)
    }

    /// A lease of `ttlSeconds` (etcd may grant more, never less: its minimum TTL is about 1.5 ×
    /// the election timeout).
    public func grantLease(ttlSeconds: Int64) async throws(EtcdError) -> Lease {
        let answer = try await call("/v3/lease/grant", body: object { $0.member("TTL", ttlSeconds) })
        guard let id = answer["ID"].flatMap(Self.int64), let ttl = answer["TTL"].flatMap(Self.int64), ttl > 0 else {
            throw .malformed("a lease grant without an ID and a TTL")
        }
        return Lease(id: id, ttlSeconds: ttl)
    }

    /// Renews `lease` once; returns the TTL etcd counts again from now. Throws `.leaseNotFound`
    /// when etcd no longer has it (expired or revoked): the keys attached to it are gone.
    public func keepAlive(_ lease: Int64) async throws(EtcdError) -> Int64 {
        // A streaming RPC: the gateway answers one {"result": …} per request object sent.
        let answer = try await call("/v3/lease/keepalive", body: object { $0.member("ID", "\(lease)") })
        guard let result = answer["result"] else { throw .malformed("a keep-alive answer without a result") }
        // An expired lease is answered with its ID and no TTL (zero is left out of proto3 JSON).
        guard let ttl = result["TTL"].flatMap(Self.int64), ttl > 0 else { throw .leaseNotFound }
        return ttl
    }

    /// Revokes `lease`, deleting the keys attached to it at once. A lease etcd does not know
    /// (expired already) is not an error.
    public func revoke(_ lease: Int64) async throws(EtcdError) {
        do {
            _ = try await call("/v3/lease/revoke", body: object { $0.member("ID", "\(lease)") })
        } catch .leaseNotFound {
            return
        }
    }

    /// One transaction: if `key` has never been created (or was deleted), put `value` attached
    /// to `lease` — and `also`, a key and value attached to no lease, in the same revision;
    /// otherwise read `key`. Two campaigners can never both see `.created`.
    public func createIfAbsent(
        key: [UInt8], value: [UInt8], lease: Int64, also: (key: [UInt8], value: [UInt8])? = nil
    ) async throws(EtcdError) -> Creation {
        let encodedKey = Base64.encode(key)
        let body = object { body in
            body.key("compare")
            body.array { compares in
                compares.object { compare in
                    compare.member("key", encodedKey)
                    compare.member("target", "CREATE")
                    compare.member("result", "EQUAL")
                    compare.member("create_revision", "0")
                }
            }
            body.key("success")
            body.array { operations in
                operations.object { operation in
                    operation.key("request_put")
                    operation.object { put in
                        put.member("key", encodedKey)
                        put.member("value", Base64.encode(value))
                        put.member("lease", "\(lease)")
                    }
                }
                if let also {
                    operations.object { operation in
                        operation.key("request_put")
                        operation.object { put in
                            put.member("key", Base64.encode(also.key))
                            put.member("value", Base64.encode(also.value))
                        }
                    }
                }
            }
            body.key("failure")
            body.array { operations in
                operations.object { operation in
                    operation.key("request_range")
                    operation.object { range in range.member("key", encodedKey) }
                }
            }
        }
        let answer = try await call("/v3/kv/txn", body: body)
        if answer["succeeded"]?.bool == true { return .created }
        // The failure branch's range: the holder's value (absent again if it expired meanwhile:
        // reported as an empty value, and the caller simply tries again).
        let range = answer["responses"]?.array?.first?["response_range"]
        guard let range else { throw .malformed("a failed transaction without its range") }
        return .exists(try Self.firstKeyValue(range) ?? KeyValue(value: [], lease: 0))
    }

    /// The value of `key` and its lease; nil when absent.
    public func get(key: [UInt8]) async throws(EtcdError) -> KeyValue? {
        let answer = try await call("/v3/kv/range", body: object { $0.member("key", Base64.encode(key)) })
        return try Self.firstKeyValue(answer)
    }

    // MARK: - The calls

    private func object(_ body: (inout JSONBytes) -> Void) -> [UInt8] {
        var writer = JSONBytes(capacity: 256)
        writer.object(body)
        return writer.bytes
    }

    /// POSTs `body` to each endpoint in turn until one answers, within `timeout` in all; an
    /// answer from etcd (even an error) ends the call, a failure to reach it tries the next.
    private func call(_ path: String, body: [UInt8]) async throws(EtcdError) -> JSON {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastFailure = EtcdError.unreachable("no endpoint tried")
        for (index, endpoint) in endpoints.enumerated() {
            // Each endpoint gets its share of what is left: AsyncHTTPClient keeps retrying a
            // connection that is refused until the request's deadline, so a dead member would
            // otherwise take the whole timeout.
            let left = clock.now.duration(to: deadline) / (endpoints.count - index)
            guard left > .zero else { throw .timedOut }
            var request = HTTPClientRequest(url: endpoint + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
            let status: Int
            let answer: [UInt8]
            do {
                let response = try await http.execute(request, timeout: TimeAmount.nanoseconds(Self.nanoseconds(left)))
                status = Int(response.status.code)
                var buffer = try await response.body.collect(upTo: Self.answerBytesMax)
                answer = buffer.readBytes(length: buffer.readableBytes) ?? []
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
                lastFailure = .timedOut
                continue
            } catch {
                lastFailure = .unreachable(String(describing: type(of: error)) + ": \(error)")
                continue
            }
            return try Self.parse(status: status, answer: answer)
        }
        throw lastFailure
    }

    /// An answer of etcd: 200 with a JSON object, or an error object `{"code": …, "message": …}`
    /// (gRPC codes: 5 not found).
    static func parse(status: Int, answer: [UInt8]) throws(EtcdError) -> JSON {
        let json: JSON
        do { json = try JSON.parse(answer) } catch { throw .malformed("not JSON (HTTP \(status))") }
        if status == 200, json["error"] == nil, json.isObject { return json }
        let code = json["code"]?.int ?? 0
        let message = String((json["message"]?.string ?? "").prefix(200))
        if code == 5 && message.contains("lease not found") { throw .leaseNotFound }
        throw .refused(status: status, code: code, message: message)
    }

    /// The first `kvs` item of a range answer.
    static func firstKeyValue(_ range: JSON) throws(EtcdError) -> KeyValue? {
        guard let item = range["kvs"]?.array?.first else { return nil }
        guard let value = Base64.decode(item["value"]?.string ?? "") else { throw .malformed("a value not in base64") }
        return KeyValue(value: value, lease: item["lease"].flatMap(int64) ?? 0)
    }

    /// etcd writes int64 as JSON strings (proto3's JSON mapping); numbers are read too.
    static func int64(_ value: JSON) -> Int64? {
        switch value {
        case .string(let text), .number(let text): Int64(text)
        default: nil
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// etcd's answers here are a few hundred bytes; a larger one is not etcd's.
    static let answerBytesMax = 64 << 10
}

/// Why an etcd call failed.
public enum EtcdError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No endpoint could be reached (refused, reset, DNS …).
    case unreachable(String)
    /// The call's timeout passed before an answer.
    case timedOut
    /// etcd no longer knows the lease: it expired or was revoked.
    case leaseNotFound
    /// etcd answered with an error.
    case refused(status: Int, code: Int, message: String)
    /// The answer is not what etcd's gateway sends.
    case malformed(String)

    public var description: String {
        switch self {
        case .unreachable(let reason): "etcd unreachable (\(reason))"
        case .timedOut: "etcd did not answer in time"
        case .leaseNotFound: "etcd no longer has the lease"
        case .refused(let status, let code, let message): "etcd refused the call (HTTP \(status), code \(code)): \(message)"
        case .malformed(let reason): "an answer not from etcd's gateway: \(reason)"
        }
    }
}
