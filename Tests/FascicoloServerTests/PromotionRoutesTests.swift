import Synchronization
import Testing

@testable import FascicoloServer

/// `POST /v1/admin/promote`: the daemon's handler decides; the route reads the body strictly and
/// maps each refusal to its 409 code.
@Suite struct PromotionRoutesTests {
    @Test func aFollowerIsPromotedAndEachRefusalHasItsCode() async throws {
        let promotion = Promotion()
        let asked = Mutex<[Bool]>([])
        try await TestServer.run(promotion: promotion) { server in
            try await server.call(.post, "/v1/admin/promote", body: "{}").expectProblem(409, "not_a_follower")

            promotion.install { force in
                asked.withLock { $0.append(force) }
                guard force else { throw Promotion.Refusal.notCaughtUp(behind: 3) }
                return 42
            }
            let behind = try await server.call(.post, "/v1/admin/promote", body: "{}")
            behind.expectProblem(409, "not_caught_up")
            #expect(behind.body.contains("lacks 3 entries"))
            let promoted = try await server.call(.post, "/v1/admin/promote", body: #"{"force":true}"#)
            #expect(promoted.status == 200 && promoted.body == #"{"role":"primary","size":42}"#, "\(promoted.body)")
            #expect(asked.withLock { $0 } == [false, true])

            try await server.call(.post, "/v1/admin/promote", body: #"{"force":1}"#).expectProblem(422, "schema_violation")
            try await server.call(.post, "/v1/admin/promote", body: #"{"now":true}"#).expectProblem(400, "malformed_request")
            try await server.call(.post, "/v1/admin/promote", as: TestServer.writer, body: "{}").expectProblem(403, "forbidden")

            promotion.install { _ in throw Promotion.Refusal.managedByLease }
            try await server.call(.post, "/v1/admin/promote", body: "{}").expectProblem(409, "failover_managed")
            promotion.install { _ in throw Promotion.Refusal.noSigningKey }
            try await server.call(.post, "/v1/admin/promote", body: "{}").expectProblem(409, "no_signing_key")
            promotion.install { _ in throw Promotion.Refusal.replicationRefused }
            try await server.call(.post, "/v1/admin/promote", body: "{}").expectProblem(409, "replication_refused")
        }
    }
}
