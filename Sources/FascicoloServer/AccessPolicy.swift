/// Who may do what, decided from the peer's kernel credentials (SO_PEERCRED) — never from
/// anything the client sends.
///
/// The configuration lists, for each role, the uids and gids that hold it
/// (`"uid:1001, gid:2000"`); a peer holds every role its uid or its gid is listed under. The gid
/// is the connecting process's effective group, as SO_PEERCRED reports it: supplementary groups
/// are not consulted. A peer with no role is refused. The author identity stamped into entries
/// is `uid:<uid>/<service>`, where the service name comes from `access.services`
/// (`"1001=cartella-app"`) or is `unnamed`.
public struct AccessPolicy: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable, Comparable {
        /// Appends events and reads streams.
        case writer
        /// Reads everything: streams, the global log, entries with signatures, proofs, checkpoints.
        case auditor
        /// Everything, including operations.
        case admin
        /// Reads the whole log to follow it (`GET /v1/replication/log`), and nothing else: the
        /// uid of a follower daemon (or of the proxy a remote follower comes through).
        case replica

        public static func < (lhs: Role, rhs: Role) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    public struct Principal: Hashable, Sendable {
        public enum Kind: String, Sendable { case uid, gid }
        public let kind: Kind
        public let id: UInt32

        public init(kind: Kind, id: UInt32) {
            self.kind = kind
            self.id = id
        }
    }

    public private(set) var members: [Role: Set<Principal>] = [:]
    public private(set) var serviceNames: [UInt32: String] = [:]
    /// The ambiti each scoped service acts for (`access.ambiti`); a uid not listed acts for all.
    public private(set) var serviceAmbiti: [UInt32: Set<String>] = [:]
    /// The enti a uid's service records for (`access.enti`); unlisted: every ente.
    public private(set) var serviceEnti: [UInt32: Set<String>] = [:]

    public init() {}

    /// The roles held by a peer with this uid and gid.
    public func roles(uid: UInt32, gid: UInt32) -> Set<Role> {
        Set(
            Role.allCases.filter { role in
                let principals = members[role] ?? []
                return principals.contains(Principal(kind: .uid, id: uid)) || principals.contains(Principal(kind: .gid, id: gid))
            })
    }

    /// The author identity the daemon stamps into entries appended by this uid.
    public func author(uid: UInt32) -> String {
        "uid:\(uid)/\(serviceNames[uid] ?? "unnamed")"
    }

    /// Parses `"uid:1001, gid:2000"`.
    package static func parsePrincipals(_ text: String) -> Result<Set<Principal>, ParseProblem> {
        var result = Set<Principal>()
        for item in text.split(separator: ",").map({ $0.trimmingWhitespace() }) where !item.isEmpty {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let kind = Principal.Kind(rawValue: String(parts[0])), let id = UInt32(parts[1]) else {
                return .failure(ParseProblem(reason: "expected a list like \"uid:1001, gid:2000\", found \(item)"))
            }
            result.insert(Principal(kind: kind, id: id))
        }
        return .success(result)
    }

    /// The ambiti a uid's service acts for; nil when it is not scoped (every ambito).
    public func ambiti(uid: UInt32) -> Set<String>? {
        serviceAmbiti[uid]
    }

    /// Parses `"1001=potenza, 1001=matera, 1002=lagonegro"`: a uid once per ambito it acts for.
    package static func parseServiceAmbiti(_ text: String) -> Result<[UInt32: Set<String>], ParseProblem> {
        var result: [UInt32: Set<String>] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingWhitespace() }) where !item.isEmpty {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            let ambito = parts.count == 2 ? parts[1].trimmingWhitespace() : ""
            guard parts.count == 2, let uid = UInt32(parts[0].trimmingWhitespace()), !ambito.isEmpty, ambito.count <= 100,
                ambito.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
            else {
                return .failure(ParseProblem(reason: "expected a list like \"1001=potenza\", found \(item)"))
            }
            result[uid, default: []].insert(ambito)
        }
        return .success(result)
    }

    /// The enti a uid's service records for; nil when it is not scoped (every ente).
    public func enti(uid: UInt32) -> Set<String>? {
        serviceEnti[uid]
    }

    /// Parses `"1001=Comune di Potenza, 1002=Comune di Matera"`: a uid once per ente (names may
    /// hold spaces, not commas or control characters).
    package static func parseServiceEnti(_ text: String) -> Result<[UInt32: Set<String>], ParseProblem> {
        var result: [UInt32: Set<String>] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingWhitespace() }) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let ente = parts.count == 2 ? parts[1].trimmingWhitespace() : ""
            guard parts.count == 2, let uid = UInt32(parts[0].trimmingWhitespace()), !ente.isEmpty, ente.unicodeScalars.count <= 200,
                ente.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
            else {
                return .failure(ParseProblem(reason: "expected a list like \"1001=Comune di Potenza\", found \(item)"))
            }
            result[uid, default: []].insert(ente)
        }
        return .success(result)
    }

    /// Parses `"1001=cartella-app, 1002=gepi-bridge"`.
    package static func parseServiceNames(_ text: String) -> Result<[UInt32: String], ParseProblem> {
        var result: [UInt32: String] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingWhitespace() }) where !item.isEmpty {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            let name = parts.count == 2 ? parts[1].trimmingWhitespace() : ""
            guard parts.count == 2, let uid = UInt32(parts[0].trimmingWhitespace()), !name.isEmpty, name.count <= 64,
                name.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "/") })
            else {
                return .failure(ParseProblem(reason: "expected a list like \"1001=cartella-app\", found \(item)"))
            }
            result[uid] = name
        }
        return .success(result)
    }

    package struct ParseProblem: Error {
        package let reason: String
    }

    package mutating func setMembers(_ principals: Set<Principal>, of role: Role) {
        members[role] = principals.isEmpty ? nil : principals
    }
    package mutating func setServiceNames(_ names: [UInt32: String]) { serviceNames = names }
    package mutating func setServiceAmbiti(_ ambiti: [UInt32: Set<String>]) { serviceAmbiti = ambiti }
    package mutating func setServiceEnti(_ enti: [UInt32: Set<String>]) { serviceEnti = enti }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
