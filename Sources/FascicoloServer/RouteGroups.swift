import Hummingbird

/// The router's routes, by who may call them. Every route is added to exactly one of these
/// groups, whose `RequireRoles` refuses any other caller (403 `forbidden`) before the handler
/// runs: a handler never checks roles on its first line, and a new route cannot forget to.
/// (`RouteAccessTests` calls every registered route as each role and as a peer without one.)
struct RouteGroups {
    typealias Group = RouterGroup<FascicoloRequestContext>

    /// Health, version, keys, the documents, stream reads and person reads: every role.
    let everyRole: Group
    /// Appends: writers and admins.
    let writers: Group
    /// The whole log, entries, proofs, checkpoints, digests and compliance: auditors and admins.
    let auditors: Group
    /// Operations — metrics, rebuilds, erasure: admins only.
    let admins: Group
    /// The log for followers (`GET /v1/replication/log`): replicas and admins.
    let replicas: Group

    init(router: Router<FascicoloRequestContext>, policy: AccessPolicy) {
        func group(_ roles: Set<AccessPolicy.Role>) -> Group {
            router.group().add(middleware: RequireRoles(roles: roles, policy: policy))
        }
        everyRole = group(APIRoutes.anyRole)
        writers = group([.writer, .admin])
        auditors = group(APIRoutes.auditors)
        admins = group([.admin])
        replicas = group([.replica, .admin])
    }
}

/// Lets a request through only if the connection's peer holds one of `roles`.
struct RequireRoles: RouterMiddleware {
    typealias Context = FascicoloRequestContext
    let roles: Set<AccessPolicy.Role>
    let policy: AccessPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let peer = context.peer else { throw Problem.forbidden("the peer's credentials are unknown") }
        try policy.authorize(peer, roles)
        return try await next(request, context)
    }
}

// Here rather than in AccessPolicy.swift, which tools/fuzz compiles without the server's types.
extension AccessPolicy {
    /// Throws 403 `forbidden` unless the peer holds one of `roles`. The detail names the roles
    /// needed, or says the uid has none — never anything the client sent.
    func authorize(_ peer: PeerCredentials, _ roles: Set<Role>) throws(Problem) {
        let held = self.roles(uid: peer.uid, gid: peer.gid)
        if !held.isDisjoint(with: roles) { return }
        throw Problem.forbidden(
            held.isEmpty
                ? "uid \(peer.uid) has no role on this daemon"
                : "this needs one of the roles \(roles.map(\.rawValue).sorted().joined(separator: ", "))")
    }
}
