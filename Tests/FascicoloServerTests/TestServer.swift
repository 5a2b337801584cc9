import FascicoloDomain
import FascicoloLedger
import FascicoloProjections
import FascicoloTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import FascicoloServer

/// The API's routes on a real ledger, domain and read models in a temporary directory, driven
/// in process with HummingbirdTesting: no socket, no child process. Each request runs as the
/// peer it names — the kernel credentials a connection would carry — bound where the router
/// builds the request's context.
///
/// Roles: uid 0 is admin, 2001 writer (service `test-writer`), 2002 auditor, 2004 replica; 2003 has none.
struct TestServer {
    static let admin = PeerCredentials(pid: 1, uid: 0, gid: 0)
    static let writer = PeerCredentials(pid: 1, uid: 2001, gid: 2001)
    static let auditor = PeerCredentials(pid: 1, uid: 2002, gid: 2002)
    static let stranger = PeerCredentials(pid: 1, uid: 2003, gid: 2003)
    static let replica = PeerCredentials(pid: 1, uid: 2004, gid: 2004)

    let client: any TestClientProtocol
    let ledger: Ledger
    /// The read models, for tests that look at every row they keep.
    let projections: ProjectionEngine
    let metrics: ServerMetrics
    let shutdown: ShutdownSwitch
    /// Every route the router has, as `GET /v1/entries/{position}`.
    let routes: [String]

    /// uid 0 admin; `auditor` and `writer` (named `test-writer`) as given.
    static func policy(auditor: UInt32 = auditor.uid, writer: UInt32 = writer.uid) -> AccessPolicy {
        var policy = AccessPolicy()
        policy.setMembers([.init(kind: .uid, id: 0)], of: .admin)
        policy.setMembers([.init(kind: .uid, id: writer)], of: .writer)
        policy.setMembers([.init(kind: .uid, id: auditor)], of: .auditor)
        policy.setMembers([.init(kind: .uid, id: Self.replica.uid)], of: .replica)
        policy.setServiceNames([writer: "test-writer"])
        return policy
    }

    /// Runs `body` against a fresh store: payloads up to 1 KiB, requests up to 16 KiB,
    /// checkpoints every 50 ms (as the end-to-end tests' daemon).
    static func run<T: Sendable>(
        policy: AccessPolicy = policy(), metrics: ServerMetrics = ServerMetrics(), promotion: Promotion = Promotion(),
        _ body: @Sendable (TestServer) async throws -> T
    )
        async throws -> T
    {
        try await withTemporaryDirectory { directory in
            var configuration = LedgerConfiguration()
            configuration.checkpointEveryMilliseconds = 50
            configuration.limits.payloadBytesMax = 1_024
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            let ledger = try Ledger.open(directory: directory + "/data", configuration: configuration, logger: logger)
            let reference = try ReferenceData.load(directory: packageDirectory() + "/Config/reference")
            let caseFiles = try CaseFiles.open(ledger: ledger, directory: directory + "/data", reference: reference, logger: logger)
            let projections = try ProjectionEngine(
                ledger: ledger, reference: reference,
                projections: ReadModels.all, personalFields: caseFiles,
                logger: logger)
            try projections.start()
            defer {
                projections.stop()
                ledger.close()
            }
            let shutdown = ShutdownSwitch()
            let routes = APIRoutes(
                caseFiles: caseFiles, projections: projections, policy: policy, metrics: metrics,
                openAPIDocument: OpenAPIDocument.yaml, version: "test", requestBytesMax: 16_384,
                promotion: promotion, shutdown: shutdown)
            let router = APIServer.router(routes: routes)
            let registered = router.routes.map(\.description)
            let application = Application(router: router, logger: logger)
            return try await application.test(.router) { client in
                try await body(
                    TestServer(
                        client: client, ledger: ledger, projections: projections, metrics: metrics, shutdown: shutdown, routes: registered))
            }
        }
    }

    /// One request as `peer`; the body, if any, is sent as JSON.
    @discardableResult
    func call(
        _ method: HTTPRequest.Method = .get, _ uri: String, as peer: PeerCredentials = admin, body: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = headers
        if body != nil && headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await PeerCredentials.$current.withValue(peer) {
            try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        }
        return Reply(
            status: Int(response.status.code), headers: response.headers, body: String(buffer: response.body),
            bytes: Array(buffer: response.body))
    }

    func append(_ stream: String, _ body: String, as peer: PeerCredentials = admin) async throws -> Reply {
        try await call(.post, "/v1/streams/\(stream)/events", as: peer, body: body)
    }

    struct Reply: Sendable {
        let status: Int
        let headers: HTTPFields
        let body: String
        /// The body's bytes (a tile is not text).
        let bytes: [UInt8]

        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }

        /// The problem code of a refusal, if it is one.
        var code: String? { json?["code"] as? String }

        func expectProblem(_ status: Int, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(self.status == status, "\(body)", sourceLocation: sourceLocation)
            #expect(self.code == code, "\(body)", sourceLocation: sourceLocation)
            #expect(json?["status"] as? Int == status, sourceLocation: sourceLocation)
        }
    }
}

/// The end-to-end tests' way of calling (`RunningDaemon`: a uid, headers as `Name: value`),
/// in process, so that a test moves here with little more than `await`.
struct InProcessDaemon {
    let server: TestServer

    func call(_ path: String, method: String = "GET", body: String? = nil, as uid: UInt32 = 0, headers: [String] = [])
        async throws -> (status: Int, body: String)
    {
        var fields = HTTPFields()
        for header in headers {
            let parts = header.split(separator: ":", maxSplits: 1)
            let name = try #require(HTTPFields.Element.Name(String(parts[0])), "a header name: \(header)")
            fields[name] = String(parts[1].drop { $0 == " " })
        }
        let reply = try await server.call(
            method == "POST" ? .post : .get, path, as: PeerCredentials(pid: 1, uid: uid, gid: uid),
            body: body, headers: fields)
        return (reply.status, reply.body)
    }

    func json(_ path: String, as uid: UInt32 = 0, headers: [String] = []) async throws -> [String: Any] {
        let result = try await call(path, as: uid, headers: headers)
        try #require(result.status == 200, "\(path) → \(result.status) \(result.body)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any])
    }

    func expectProblem(
        _ result: (status: Int, body: String), _ status: Int, _ code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(result.status == status, "\(result.body)", sourceLocation: sourceLocation)
        let problem = try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any]
        #expect(problem?["code"] as? String == code, "\(result.body)", sourceLocation: sourceLocation)
        #expect(problem?["status"] as? Int == status, sourceLocation: sourceLocation)
    }
}
