import FascicoloJSON

/// `[failover]`: leadership through a lease in etcd. Off (today's behaviour: the daemon always
/// appends) while `etcdEndpoints` is empty.
public struct FailoverSettings: Sendable, Equatable {
    /// `http://host:port` of each etcd member's client URL (the v3 JSON gateway).
    public var etcdEndpoints: [String] = []
    /// The leader key: one per log (per Ambito), shared by the nodes that may append to it.
    public var key = "/fascicolo/leader"
    /// This node's name in the leader key (unique among the nodes of one log).
    public var nodeName = ""
    /// Where this node's API is reached by the others and by clients: its socket path, or the
    /// HTTP(S) URL a proxy exposes it at. Put in the leader key: it is the `primary` of the 503
    /// `not_primary` answers and the source the other nodes follow.
    public var advertisedLocation = ""
    /// The lease's time to live, in whole seconds (etcd's unit).
    public var leaseTTLSeconds = 2
    /// The gate closes this long before the earliest moment etcd could expire the lease (see
    /// `LeaseKeeper`): it covers a commit that passed the gate just before, and the drift of
    /// this machine's clock against etcd's over one TTL.
    public var safetyMarginMilliseconds = 500
    /// How long one etcd call may take, all endpoints tried.
    public var etcdTimeoutMilliseconds = 500

    public init() {}

    public var isEnabled: Bool { !etcdEndpoints.isEmpty }

    /// Renewals (and campaigns) every quarter of the TTL: three chances to renew before the gate
    /// closes with the default margin.
    public var renewIntervalMilliseconds: Int { leaseTTLSeconds * 1_000 / 4 }

    /// How long after a renewal was sent the gate stays open.
    public var openMilliseconds: Int { leaseTTLSeconds * 1_000 - safetyMarginMilliseconds }

    /// The leader key's value: `{"node":"<name>","location":"<location>"}`.
    public var leaderRecord: LeaderRecord { LeaderRecord(node: nodeName, location: advertisedLocation) }

    /// What is wrong with the settings taken together (each key was checked alone already).
    public var problem: String? {
        guard isEnabled else { return nil }
        if nodeName.isEmpty { return "failover.node_name is required with failover.etcd_endpoints" }
        if advertisedLocation.isEmpty { return "failover.advertised_location is required with failover.etcd_endpoints" }
        if safetyMarginMilliseconds * 2 > leaseTTLSeconds * 1_000 {
            return "failover.safety_margin_milliseconds must be at most half of the lease's TTL"
        }
        if etcdTimeoutMilliseconds > renewIntervalMilliseconds * 2 {
            return "failover.etcd_timeout_milliseconds must be at most half of the lease's TTL"
        }
        return nil
    }

    /// A name or location as the leader key carries it: printable ASCII without quotes or
    /// backslashes, at most 200 bytes (it ends up in answers and logs).
    static func plainText(_ text: String) -> Bool {
        text.utf8.count <= 200
            && text.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    static func keyProblem(_ key: String) -> String? {
        key.isEmpty || !plainText(key) ? "expected a key of printable ASCII, at most 200 bytes" : nil
    }

    static func nameProblem(_ name: String) -> String? {
        name.isEmpty || plainText(name) ? nil : "expected printable ASCII without quotes, at most 200 bytes"
    }

    /// The location is written into the leader key and sent to every client of the other nodes
    /// (the `primary` member of 503 `not_primary`): held to a follower's SOURCE rule, so that no
    /// credentials, query or fragment can travel in it.
    static func locationProblem(_ location: String) -> String? {
        guard !location.isEmpty else { return nil }
        guard plainText(location), case .success = ReplicationSource.parse(location) else {
            return "expected the node's socket (an absolute path) or an http(s)://host[:port][/prefix] URL, "
                + "without credentials, query or fragment, printable ASCII without quotes, at most 200 bytes"
        }
        return nil
    }

    /// An etcd client URL: `http://host:port`, no path.
    static func endpointProblem(_ text: String) -> String? {
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), plainText(text) else {
            return "expected an array of etcd client URLs like [\"http://127.0.0.1:2379\"]"
        }
        let rest = text.drop { $0 != "/" }.dropFirst(2)
        return rest.dropLast(rest.hasSuffix("/") ? 1 : 0).contains("/") ? "an etcd client URL has no path: http://host:port" : nil
    }
}

/// Who holds the leader key: written by the holder from its own configuration.
public struct LeaderRecord: Sendable, Equatable {
    public let node: String
    public let location: String

    public init(node: String, location: String) {
        self.node = node
        self.location = location
    }

    public var bytes: [UInt8] {
        var writer = JSONBytes(capacity: 128)
        writer.object { object in
            object.member("node", node)
            object.member("location", location)
        }
        return writer.bytes
    }

    /// nil for a value that is not one (another program's key, or damage): such a holder is
    /// reported without a location.
    public init?(bytes: [UInt8]) {
        guard let json = try? JSON.parse(bytes), let node = json["node"]?.string, let location = json["location"]?.string,
            FailoverSettings.plainText(node), FailoverSettings.plainText(location)
        else { return nil }
        self.init(node: node, location: location)
    }
}
