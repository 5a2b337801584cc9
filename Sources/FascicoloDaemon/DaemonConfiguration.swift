import FascicoloCrypto
import FascicoloDomain
import FascicoloLedger
import FascicoloProjections
import FascicoloServer
import Glibc
import Logging

/// Everything `fascicolod` reads at start. Defaults are embedded, so the daemon runs without a
/// file; `Config/fascicolod.toml` lists every key with its default and why. Precedence, highest
/// first: command-line flags, environment variables (`FASCICOLO_<SECTION>_<KEY>`, upper case),
/// the configuration file, the embedded defaults.
public struct DaemonConfiguration: Sendable {
    public var dataDirectory = "data"
    /// The Unix socket's path; empty means `<data directory>/fascicolod.sock`.
    public var socketPath = ""
    /// The socket file's mode, applied after binding (the umask would otherwise decide).
    public var socketMode: UInt32 = 0o660
    /// The group the socket file is given after binding (nil: the daemon's own group), so that
    /// client services in that group can connect.
    public var socketGroup: UInt32?
    public var logLevel = Logger.Level.info
    public var ledger = LedgerConfiguration()
    public var subscriptions = SubscriptionSettings()
    /// Connection limits and timeouts (`[connections]`).
    public var connections = ConnectionSettings()
    /// The largest request body the API accepts.
    public var requestBytesMax = 16 << 20
    /// The directory of versioned reference data files (intervention codes, ambiti, …).
    public var referenceDirectory = "Config/reference"
    public var caseFiles = CaseFiles.Limits()
    public var projections = ProjectionEngine.Options()
    /// What the unusual-access report flags (`[compliance]`).
    public var unusualAccess = UnusualAccessRules()
    /// The witnesses every new checkpoint is submitted to (`[witnesses]`), and how long one
    /// request may take.
    public var witnesses: [WitnessEndpoint] = []
    public var witnessTimeoutMilliseconds = 10_000
    /// Follower mode (`--follow`, `replication.follow`): where the primary is; nil on a primary.
    public var follow: ReplicationSource?
    /// The verifier key of the followed log's first key (`replication.trusted_key`); empty: the
    /// one kept in `<data>/follow.pub` by an earlier start or by `fascicolo standby init`.
    public var followTrustedKey = ""
    /// This follower's name at its primary (`replication.name`); empty: the host's name.
    public var followerName = ""
    /// By default only root is admin; every other peer is refused until listed.
    public var access: AccessPolicy = {
        var policy = AccessPolicy()
        policy.setMembers([AccessPolicy.Principal(kind: .uid, id: 0)], of: .admin)
        return policy
    }()

    /// The socket path in effect.
    public var resolvedSocketPath: String { socketPath.isEmpty ? dataDirectory + "/fascicolod.sock" : socketPath }

    public init() {}

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let key: String
        /// The value as written; empty for an unknown key, whose value is not repeated (a
        /// misspelt key may hold anything, a secret too).
        public let value: String
        public let reason: String
        public let source: String
        public var description: String {
            let setting = value.isEmpty ? key : "\(key) = \(value)"
            return "invalid configuration: \(setting) (\(source)): \(reason)"
        }
    }

    /// One configurable key: its name, and how it parses and applies a value.
    struct Key: Sendable {
        let name: String
        /// Integer keys read an environment variable as a number; every other key takes its
        /// text as it is (`FASCICOLO_SOCKET_MODE=0660` is the string "0660", not 660).
        var takesInteger = false
        let apply: @Sendable (inout DaemonConfiguration, ConfigurationFile.Value) -> String?
    }

    private static func integer(
        _ name: String, _ range: ClosedRange<Int>,
        _ set: @escaping @Sendable (inout DaemonConfiguration, Int) -> Void
    ) -> Key {
        Key(name: name, takesInteger: true) { configuration, value in
            let number: Int
            switch value {
            case .integer(let integer), .octal(let integer): number = integer
            default: return "expected an integer, found \(value.typeName)"
            }
            guard range.contains(number) else { return "expected \(range.lowerBound)…\(range.upperBound)" }
            set(&configuration, number)
            return nil
        }
    }

    private static func string(
        _ name: String, refusing check: @escaping @Sendable (String) -> String?,
        _ set: @escaping @Sendable (inout DaemonConfiguration, String) -> Void
    ) -> Key {
        Key(name: name) { configuration, value in
            guard case .string(let text) = value else { return "expected a string, found \(value.typeName)" }
            if let problem = check(text) { return problem }
            set(&configuration, text)
            return nil
        }
    }

    /// `"07:00-20:00"` as minutes after midnight, the start before the end (an end of 24:00 is midnight).
    static func workingHours(_ text: String) -> (Int, Int)? {
        func minutes(_ part: Substring) -> Int? {
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 2, fields.allSatisfy({ $0.count == 2 }), let hours = Int(fields[0]), let minutes = Int(fields[1]),
                (0...24).contains(hours), (0..<60).contains(minutes), hours * 60 + minutes <= 1_440
            else { return nil }
            return hours * 60 + minutes
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]), start < end else { return nil }
        return (start, end)
    }

    /// Why a value is refused.
    struct Refusal: Error {
        let reason: String
    }

    /// The items of a list key, comma-separated for AccessPolicy's parsers: a TOML array of
    /// strings, or — as files written for earlier versions have it, and as an environment
    /// variable gives it — one comma-separated string.
    private static func listItems(_ value: ConfigurationFile.Value, example: String) -> Result<String, Refusal> {
        switch value {
        case .string(let text):
            return .success(text)
        case .array(let elements):
            var items: [String] = []
            for element in elements {
                guard case .string(let item) = element, !item.contains(",") else {
                    return .failure(Refusal(reason: "expected an array of strings like \(example), one item each"))
                }
                items.append(item)
            }
            return .success(items.joined(separator: ","))
        default:
            return .failure(Refusal(reason: "expected an array of strings like \(example), found \(value.typeName)"))
        }
    }

    private static func principals(_ role: AccessPolicy.Role) -> Key {
        Key(name: "access.\(role.rawValue)") { configuration, value in
            let parsed = listItems(value, example: #"["uid:1001", "gid:2000"]"#).flatMap { items in
                AccessPolicy.parsePrincipals(items).mapError { Refusal(reason: $0.reason) }
            }
            switch parsed {
            case .success(let principals): configuration.access.setMembers(principals, of: role)
            case .failure(let problem): return problem.reason
            }
            return nil
        }
    }

    /// The socket's mode: an integer in TOML's octal notation (`0o660`), or the octal text
    /// `"0660"` that files written for earlier versions, and environment variables, give. A
    /// decimal integer is refused: `660` is not 0o660, and a mode must not be misread.
    private static func socketMode(_ value: ConfigurationFile.Value) -> Result<UInt32, Refusal> {
        let refusal = Refusal(reason: "expected an octal mode like 0o660 (TOML's octal notation) with no permissions for others")
        let mode: UInt32
        switch value {
        case .octal(let number) where (0...0o7777).contains(number):
            mode = UInt32(number)
        case .string(let text) where text.utf8.count == 4 && text.hasPrefix("0"):
            guard let number = UInt32(text, radix: 8) else { return .failure(refusal) }
            mode = number
        default:
            return .failure(refusal)
        }
        return mode & 0o7007 == 0 ? .success(mode) : .failure(refusal)
    }

    private static func trustedKeyProblem(_ key: String) -> String? {
        key.isEmpty || SignedNote.parseVerifierKey(key) != nil
            ? nil : "expected the verifier key <origin>+<key id>+<base64 key> of the log's first key"
    }

    private static func followerNameProblem(_ name: String) -> String? {
        name.isEmpty || FollowerReports.isValidName(name) ? nil : "expected 1 to 64 of A-Z a-z 0-9 . _ -"
    }

    private static func emptyPath(_ path: String) -> String? { path.isEmpty ? "expected a path" : nil }

    private static func longSocketPath(_ path: String) -> String? {
        path.utf8.count > 100 ? "a Unix socket path is at most 100 bytes" : nil
    }

    private static func unknownLogLevel(_ level: String) -> String? {
        Logger.Level(rawValue: level) == nil ? "expected trace, debug, info, notice, warning, error or critical" : nil
    }

    static let keys: [Key] = [
        string("storage.data_directory", refusing: emptyPath) { $0.dataDirectory = $1 },
        string("socket.path", refusing: longSocketPath) { $0.socketPath = $1 },
        Key(name: "socket.mode") { configuration, value in
            switch socketMode(value) {
            case .success(let mode): configuration.socketMode = mode
            case .failure(let problem): return problem.reason
            }
            return nil
        },
        Key(name: "socket.group") { configuration, value in
            let name: String
            switch value {
            case .string(let text): name = text
            case .integer(let number) where number >= 0: name = "\(number)"
            default: return "expected a group's name or number, found \(value.typeName)"
            }
            guard name.isEmpty || groupID(name) != nil else { return "no such group" }
            configuration.socketGroup = name.isEmpty ? nil : groupID(name)
            return nil
        },
        principals(.writer),
        principals(.auditor),
        principals(.admin),
        principals(.replica),
        Key(name: "access.services") { configuration, value in
            let parsed = listItems(value, example: #"["1001=cartella-app"]"#).flatMap { items in
                AccessPolicy.parseServiceNames(items).mapError { Refusal(reason: $0.reason) }
            }
            switch parsed {
            case .success(let names): configuration.access.setServiceNames(names)
            case .failure(let problem): return problem.reason
            }
            return nil
        },
        Key(name: "access.ambiti") { configuration, value in
            let parsed = listItems(value, example: #"["1001=potenza", "1001=matera"]"#).flatMap { items in
                AccessPolicy.parseServiceAmbiti(items).mapError { Refusal(reason: $0.reason) }
            }
            switch parsed {
            case .success(let ambiti): configuration.access.setServiceAmbiti(ambiti)
            case .failure(let problem): return problem.reason
            }
            return nil
        },
        Key(name: "access.enti") { configuration, value in
            let parsed = listItems(value, example: #"["1001=Comune di Potenza"]"#).flatMap { items in
                AccessPolicy.parseServiceEnti(items).mapError { Refusal(reason: $0.reason) }
            }
            switch parsed {
            case .success(let enti): configuration.access.setServiceEnti(enti)
            case .failure(let problem): return problem.reason
            }
            return nil
        },
        Key(name: "witnesses.list") { configuration, value in
            let example = #"["witness.example/regione+1a2b3c4d+BAbc…= http://127.0.0.1:7380"]"#
            guard case .array(let elements) = value else { return "expected an array of strings like \(example)" }
            var witnesses: [WitnessEndpoint] = []
            for element in elements {
                guard case .string(let item) = element, let witness = WitnessEndpoint.parse(item) else {
                    return "expected an array of \"<cosignature vkey> <http(s) URL>\" strings like \(example)"
                }
                guard !witnesses.contains(where: { $0.name == witness.name }) else { return "a witness is listed twice" }
                witnesses.append(witness)
            }
            configuration.witnesses = witnesses
            return nil
        },
        integer("witnesses.timeout_milliseconds", 100...300_000) { $0.witnessTimeoutMilliseconds = $1 },
        Key(name: "replication.follow") { configuration, value in
            guard case .string(let text) = value else { return "expected a string, found \(value.typeName)" }
            guard !text.isEmpty else {
                configuration.follow = nil
                return nil
            }
            switch ReplicationSource.parse(text) {
            case .success(let source): configuration.follow = source
            case .failure(let problem): return problem.reason
            }
            return nil
        },
        string("replication.trusted_key", refusing: trustedKeyProblem) { $0.followTrustedKey = $1 },
        string("replication.name", refusing: followerNameProblem) { $0.followerName = $1 },
        Key(name: "compliance.working_hours") { configuration, value in
            guard case .string(let text) = value, let (start, end) = workingHours(text) else {
                return "expected \"HH:MM-HH:MM\", the start before the end"
            }
            configuration.unusualAccess.workdayStartMinutes = start
            configuration.unusualAccess.workdayEndMinutes = end
            return nil
        },
        Key(name: "compliance.working_days") { configuration, value in
            let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            let parsed = listItems(value, example: #"["mon", "tue", "wed", "thu", "fri", "sat"]"#)
            guard case .success(let items) = parsed else { return "expected an array of day names: mon tue wed thu fri sat sun" }
            var days = Set<Int>()
            for item in items.split(separator: ",").map({ String($0.filter { $0 != " " }) }) {
                guard let index = names.firstIndex(of: item) else { return "expected an array of day names: mon tue wed thu fri sat sun" }
                days.insert(index + 1)
            }
            guard !days.isEmpty else { return "expected at least one working day" }
            configuration.unusualAccess.workingDays = days
            return nil
        },
        integer("compliance.bulk_persons_per_hour", 1...100_000) { $0.unusualAccess.bulkPersonsPerHour = $1 },
        integer("storage.map_size_bytes", (1 << 20)...(1 << 40)) { $0.ledger.mapSizeBytes = $1 },
        string("ledger.origin", refusing: LedgerConfiguration.originProblem) { $0.ledger.origin = $1 },
        integer("ledger.checkpoint_every_entries", 1...10_000_000) { $0.ledger.checkpointEveryEntries = UInt64($1) },
        integer("ledger.checkpoint_every_milliseconds", 10...3_600_000) { $0.ledger.checkpointEveryMilliseconds = $1 },
        integer("ledger.commit_events_max", 1...1_000_000) { $0.ledger.commitEventsMax = $1 },
        integer("ledger.commit_retry_milliseconds", 1...60_000) { $0.ledger.commitRetryMilliseconds = UInt64($1) },
        integer("limits.payload_bytes_max", 1...(16 << 20)) { $0.ledger.limits.payloadBytesMax = $1 },
        integer("limits.events_per_append_max", 1...100_000) { $0.ledger.limits.eventsPerAppendMax = $1 },
        integer("limits.stream_name_bytes_max", 1...400) { $0.ledger.limits.streamNameBytesMax = $1 },
        integer("limits.event_type_bytes_max", 1...1_000) { $0.ledger.limits.eventTypeBytesMax = $1 },
        integer("limits.author_bytes_max", 1...1_000) { $0.ledger.limits.authorBytesMax = $1 },
        integer("limits.idempotency_key_bytes_max", 1...400) { $0.ledger.limits.idempotencyKeyBytesMax = $1 },
        integer("limits.request_bytes_max", 1_024...(1 << 30)) { $0.requestBytesMax = $1 },
        string("domain.reference_directory", refusing: emptyPath) { $0.referenceDirectory = $1 },
        integer("domain.events_per_request_max", 1...1_000) { $0.caseFiles.eventsPerRequestMax = $1 },
        integer("domain.entries_per_read_max", 1...10_000) { $0.caseFiles.entriesPerReadMax = $1 },
        integer("projections.batch_entries_max", 1...1_000_000) { $0.projections.batchEntriesMax = $1 },
        integer("projections.build_batch_entries_max", 1...1_000_000) { $0.projections.buildBatchEntriesMax = $1 },
        integer("projections.live_interval_milliseconds", 0...10_000) { $0.projections.liveIntervalMilliseconds = $1 },
        integer("subscriptions.heartbeat_milliseconds", 100...600_000) { $0.subscriptions.heartbeatMilliseconds = $1 },
        integer("subscriptions.lag_entries_max", 1...100_000_000) { $0.subscriptions.lagEntriesMax = UInt64($1) },
        integer("subscriptions.concurrent_max", 1...100_000) { $0.subscriptions.concurrentMax = $1 },
        integer("connections.max", 1...1_000_000) { $0.connections.max = $1 },
        integer("connections.admin_reserved", 1...10_000) { $0.connections.adminReserved = $1 },
        integer("connections.per_uid_max", 1...1_000_000) { $0.connections.perUIDMax = $1 },
        integer("connections.no_role_per_uid_max", 0...10_000) { $0.connections.noRolePerUIDMax = $1 },
        integer("connections.no_role_max", 0...100_000) { $0.connections.noRoleMax = $1 },
        integer("connections.idle_timeout_milliseconds", 100...86_400_000) { $0.connections.idleTimeoutMilliseconds = $1 },
        integer("connections.request_read_timeout_milliseconds", 100...3_600_000) {
            $0.connections.requestReadTimeoutMilliseconds = $1
        },
        integer("connections.response_write_timeout_milliseconds", 100...3_600_000) {
            $0.connections.responseWriteTimeoutMilliseconds = $1
        },
        integer("connections.refusal_log_interval_milliseconds", 100...86_400_000) {
            $0.connections.refusalLogIntervalMilliseconds = $1
        },
        string("log.level", refusing: unknownLogLevel) {
            $0.logLevel = Logger.Level(rawValue: $1)!
        },
    ]

    /// Applies a configuration file's values; an unknown key or a bad value throws `Invalid`.
    public mutating func apply(_ file: ConfigurationFile) throws {
        for (name, entry) in file.values.sorted(by: { $0.value.line < $1.value.line }) {
            try apply(name: name, value: entry.value, source: "\(file.source):\(entry.line)")
        }
    }

    /// Applies `FASCICOLO_<SECTION>_<KEY>` environment variables: the value of an integer key is
    /// read as a number (underscores allowed, as in the file); any other key takes the text as it
    /// is, with no quotes.
    public mutating func applyEnvironment(_ environment: [String: String]) throws {
        for key in Self.keys {
            let variable = "FASCICOLO_" + key.name.uppercased().replacingOccurrences(".", with: "_")
            guard let text = environment[variable] else { continue }
            let number = key.takesInteger ? Int(String(text.filter { $0 != "_" })) : nil
            let value: ConfigurationFile.Value = number.map { .integer($0) } ?? .string(text)
            try apply(name: key.name, value: value, source: "environment variable \(variable)")
        }
    }

    public mutating func apply(name: String, value: ConfigurationFile.Value, source: String) throws {
        guard let key = Self.keys.first(where: { $0.name == name }) else {
            throw Invalid(key: name, value: "", reason: "unknown key", source: source)
        }
        if let problem = key.apply(&self, value) {
            throw Invalid(key: name, value: value.description, reason: problem, source: source)
        }
    }

    /// Reads the file at `path` and applies it.
    public mutating func load(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Invalid(key: "--config", value: path, reason: "cannot open the file", source: "command line") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {  // a directory, say: it opens, and would otherwise read as an empty file
                throw Invalid(key: "--config", value: path, reason: "cannot read the file", source: "command line")
            }
            if count == 0 { break }
            bytes += buffer[..<count]
            guard bytes.count <= 1 << 20 else {
                throw Invalid(key: "--config", value: path, reason: "larger than 1 MiB", source: "command line")
            }
        }
        try apply(ConfigurationFile(bytes: bytes, source: path))
    }
}

/// A group's id from its name or its number.
func groupID(_ name: String) -> UInt32? {
    if let number = UInt32(name) { return number }
    return getgrnam(name).map { $0.pointee.gr_gid }
}

extension String {
    func replacingOccurrences(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
