import FascicoloJSON
import Hummingbird
import Synchronization

/// Promotion of a follower by hand, for sites without etcd (`POST /v1/admin/promote`, admin;
/// `fascicolo promote`): the follower stops following and opens its write gate. The daemon
/// installs the handler when it follows a primary; anything else answers 409.
public final class Promotion: Sendable {
    /// Why a promotion is refused.
    public enum Refusal: Error, Sendable, Equatable {
        /// This daemon is a primary already, or follows nothing.
        case notAFollower
        /// Leadership is the lease's in etcd (`[failover]`): promoting by hand would bypass it.
        case managedByLease
        /// The follower lacks entries the primary announced, or — nil — has not heard from its
        /// primary since it started, so cannot tell (`force` promotes it anyway).
        case notCaughtUp(behind: UInt64?)
        /// The follower does not hold the key that signs the log's next entry (a copy of the
        /// primary's `signing.key`): it could not append.
        case noSigningKey
        /// The follower stopped on a primary's log it refused (a fork): it is no standby.
        case replicationRefused
    }

    /// Stops following and opens the gate; returns the log's size, which the new primary
    /// appends after.
    public typealias Handler = @Sendable (_ force: Bool) async throws -> UInt64

    private let handler = Mutex<Handler?>(nil)

    public init() {}

    public func install(_ handler: @escaping Handler) { self.handler.withLock { $0 = handler } }

    func promote(force: Bool) async throws -> UInt64 {
        guard let handler = handler.withLock({ $0 }) else { throw Refusal.notAFollower }
        return try await handler(force)
    }
}

extension APIRoutes {
    func registerPromotion(on groups: RouteGroups) {
        groups.admins.post("v1/admin/promote") { request, _ in
            let body: JSON
            do {
                let bytes = try await jsonBody(request, bytesMax: 1 << 10)
                body = bytes.isEmpty ? .object([]) : try JSON.parse(bytes)
            } catch let error as JSON.Malformed {
                throw Problem.badRequest("\(error)")
            }
            for member in body.members ?? [] where member.key != "force" {
                throw Problem.badRequest("an unknown member (the one member is force)")
            }
            guard body.isObject, body["force"] == nil || body["force"]?.bool != nil else {
                throw Problem(.unprocessableContent, code: "schema_violation", detail: "force is true or false", field: "force")
            }
            do {
                let size = try await promotion.promote(force: body["force"]?.bool ?? false)
                var json = JSONBytes()
                json.object { json in
                    json.member("role", "primary")
                    json.member("size", size)
                }
                return FascicoloServer.json(status: .ok, json.bytes)
            } catch let refusal as Promotion.Refusal {
                switch refusal {
                case .notAFollower:
                    throw Problem(.conflict, code: "not_a_follower", detail: "this daemon follows no primary: there is nothing to promote")
                case .managedByLease:
                    throw Problem(
                        .conflict, code: "failover_managed",
                        detail: "this daemon's leadership is decided by its lease in etcd ([failover]); it takes over by itself")
                case .noSigningKey:
                    throw Problem(
                        .conflict, code: "no_signing_key",
                        detail: "this follower does not hold the log's current signing key (signing.key, 0600): it could not append")
                case .replicationRefused:
                    throw Problem(
                        .conflict, code: "replication_refused",
                        detail: "this follower refused its primary's log (a fork or a rollback): make a new standby instead")
                case .notCaughtUp(let behind?):
                    throw Problem(
                        .conflict, code: "not_caught_up",
                        detail: "this follower lacks \(behind) entries the primary announced; wait, or promote with force (they are lost)")
                case .notCaughtUp(nil):
                    throw Problem(
                        .conflict, code: "not_caught_up",
                        detail:
                            "this follower has not heard from its primary since it started, so it cannot tell what it lacks; "
                            + "promote with force if the primary is gone (what it did not receive is lost)")
                }
            }
        }
    }
}
