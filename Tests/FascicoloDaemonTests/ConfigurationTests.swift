import FascicoloDomain
import FascicoloLedger
import FascicoloTesting
import Glibc
import Logging
import Testing

@testable import FascicoloDaemon

@Suite struct ConfigurationTests {
    @Test func theShippedFileParsesToTheEmbeddedDefaults() throws {
        // The tests run from the package root.
        var fromFile = DaemonConfiguration()
        try fromFile.load(path: "Config/fascicolod.toml")
        let defaults = DaemonConfiguration()
        #expect(fromFile.dataDirectory == defaults.dataDirectory)
        #expect(fromFile.logLevel == defaults.logLevel)
        #expect(fromFile.ledger.limits == defaults.ledger.limits)
        #expect(fromFile.ledger.origin == defaults.ledger.origin)
        #expect(fromFile.ledger.checkpointEveryEntries == defaults.ledger.checkpointEveryEntries)
        #expect(fromFile.ledger.checkpointEveryMilliseconds == defaults.ledger.checkpointEveryMilliseconds)
        #expect(fromFile.ledger.commitEventsMax == defaults.ledger.commitEventsMax)
        #expect(fromFile.ledger.mapSizeBytes == defaults.ledger.mapSizeBytes)
        #expect(fromFile.ledger.journal == defaults.ledger.journal)
        #expect(fromFile.ledger.journalOptions.capacityBytes == defaults.ledger.journalOptions.capacityBytes)
        #expect(fromFile.ledger.journalOptions.checkpointMilliseconds == defaults.ledger.journalOptions.checkpointMilliseconds)
        #expect(fromFile.socketPath == defaults.socketPath && fromFile.socketMode == defaults.socketMode)
        #expect(fromFile.socketGroup == defaults.socketGroup)
        #expect(fromFile.access == defaults.access)
        #expect(fromFile.subscriptions == defaults.subscriptions)
        #expect(fromFile.connections == defaults.connections)
        #expect(fromFile.requestBytesMax == defaults.requestBytesMax)
        #expect(fromFile.projections.batchEntriesMax == defaults.projections.batchEntriesMax)
        #expect(fromFile.projections.liveIntervalMilliseconds == defaults.projections.liveIntervalMilliseconds)
        #expect(fromFile.projections.buildBatchEntriesMax == defaults.projections.buildBatchEntriesMax)
    }

    @Test func theShippedFileListsEveryKey() throws {
        let file = try ConfigurationFile(text: readFile("Config/fascicolod.toml"), source: "Config/fascicolod.toml")
        #expect(Set(file.values.keys) == Set(DaemonConfiguration.keys.map(\.name)))
    }

    @Test func valuesApplyAndTheEnvironmentOverridesTheFile() throws {
        var configuration = DaemonConfiguration()
        try configuration.apply(
            ConfigurationFile(
                text: """
                    # a comment
                    [limits]
                    payload_bytes_max = 1_024   # trailing comment
                    [storage]
                    data_directory = "/var/lib/fascicolo"
                    """, source: "test.toml"))
        #expect(configuration.ledger.limits.payloadBytesMax == 1_024)
        #expect(configuration.dataDirectory == "/var/lib/fascicolo")
        try configuration.applyEnvironment(["FASCICOLO_LIMITS_PAYLOAD_BYTES_MAX": "2048", "FASCICOLO_LOG_LEVEL": "debug", "OTHER": "x"])
        #expect(configuration.ledger.limits.payloadBytesMax == 2_048)
        #expect(!configuration.ledger.journal)
        try configuration.applyEnvironment(["FASCICOLO_STORAGE_JOURNAL": "true"])
        #expect(configuration.ledger.journal)
        #expect(configuration.logLevel == .debug)
    }

    /// `[failover]` (issue 23): off by default; on, the node needs a name and a location, and
    /// the margin must leave the lease room to be renewed.
    @Test func failoverIsOffByDefaultAndCheckedAsAWhole() throws {
        #expect(!DaemonConfiguration().failover.isEnabled && DaemonConfiguration().failover.problem == nil)
        var configuration = DaemonConfiguration()
        try configuration.apply(
            ConfigurationFile(
                text: """
                    [failover]
                    etcd_endpoints = ["http://127.0.0.1:2379/", "http://10.0.0.2:2379"]
                    key = "/fascicolo/ambito-rm1/leader"
                    node_name = "rm1-a"
                    lease_ttl_seconds = 4
                    """, source: "test.toml"))
        #expect(configuration.failover.etcdEndpoints == ["http://127.0.0.1:2379", "http://10.0.0.2:2379"])
        #expect(configuration.failover.problem == "failover.advertised_location is required with failover.etcd_endpoints")
        try configuration.applyEnvironment(["FASCICOLO_FAILOVER_ADVERTISED_LOCATION": "/run/fascicolo/fascicolod.sock"])
        #expect(configuration.failover.problem == nil)
        #expect(configuration.failover.renewIntervalMilliseconds == 1_000 && configuration.failover.openMilliseconds == 3_500)
        configuration.failover.safetyMarginMilliseconds = 2_500
        #expect(configuration.failover.problem?.contains("at most half") == true)
        for bad in [
            "etcd_endpoints = [\"127.0.0.1:2379\"]", "etcd_endpoints = [\"http://h:1/v3\"]", "lease_ttl_seconds = 1",
            "node_name = \"a b\"", "key = \"\"",
            // The location reaches every client of the other nodes (503 not_primary): no
            // credentials, query or fragment, as a follower's SOURCE.
            "advertised_location = \"https://user:secret@fascicolo.example\"",
            "advertised_location = \"https://fascicolo.example/?token=x\"", "advertised_location = \"relative.sock\"",
        ] {
            var refused = DaemonConfiguration()
            #expect(throws: DaemonConfiguration.Invalid.self, "\(bad)") {
                try refused.apply(ConfigurationFile(text: "[failover]\n" + bad, source: "test.toml"))
            }
        }
    }

    /// The unusual-access report's thresholds are configuration (issue 19: "thresholds configurable").
    @Test func theUnusualAccessThresholdsAreConfigured() throws {
        var configuration = DaemonConfiguration()
        #expect(configuration.unusualAccess == UnusualAccessRules())
        try configuration.apply(
            ConfigurationFile(
                text: """
                    [compliance]
                    working_hours = "08:30-18:00"
                    working_days = ["mon", "tue", "wed", "thu", "fri"]
                    bulk_persons_per_hour = 50
                    """, source: "test.toml"))
        #expect(configuration.unusualAccess.workdayStartMinutes == 510 && configuration.unusualAccess.workdayEndMinutes == 1_080)
        #expect(configuration.unusualAccess.workingDays == [1, 2, 3, 4, 5])
        #expect(configuration.unusualAccess.bulkPersonsPerHour == 50)
        for bad in ["working_hours = \"20:00-07:00\"", "working_hours = \"7-20\"", "working_days = [\"lun\"]", "working_days = []"] {
            var refused = DaemonConfiguration()
            #expect(throws: DaemonConfiguration.Invalid.self, "\(bad)") {
                try refused.apply(ConfigurationFile(text: "[compliance]\n\(bad)\n", source: "bad.toml"))
            }
        }
    }

    /// `[connections]` from the environment, and the limit that must fit the descriptor limit.
    @Test func connectionLimitsFromTheEnvironmentAndTheDescriptorLimit() throws {
        var configuration = DaemonConfiguration()
        try configuration.applyEnvironment([
            "FASCICOLO_CONNECTIONS_MAX": "2_000", "FASCICOLO_CONNECTIONS_NO_ROLE_PER_UID_MAX": "0",
            "FASCICOLO_CONNECTIONS_IDLE_TIMEOUT_MILLISECONDS": "5000",
        ])
        #expect(configuration.connections.max == 2_000 && configuration.connections.noRolePerUIDMax == 0)
        #expect(configuration.connections.idleTimeoutMilliseconds == 5_000)
        #expect(throws: DaemonConfiguration.Invalid.self) {
            try configuration.applyEnvironment(["FASCICOLO_CONNECTIONS_ADMIN_RESERVED": "0"])
        }
        let logger = Logger(label: "test")
        #expect(try DescriptorLimit.fit(configuration.connections, descriptors: 65_536, logger: logger).max == 2_000)
        #expect(try DescriptorLimit.fit(configuration.connections, descriptors: 1_024, logger: logger).max == 896)
        #expect(throws: DaemonConfiguration.Invalid.self) {
            try DescriptorLimit.fit(configuration.connections, descriptors: 140, logger: logger)
        }
        configuration.connections.max = 16  // not more than admin_reserved (16): nobody else could connect
        #expect(throws: DaemonConfiguration.Invalid.self) {
            try DescriptorLimit.fit(configuration.connections, descriptors: 65_536, logger: logger)
        }
    }

    /// Text keys whose values look like numbers stay text: a mode keeps its leading zero, and a
    /// group may be given by number.
    @Test func environmentVariablesKeepTheTextOfTextKeys() throws {
        var configuration = DaemonConfiguration()
        try configuration.applyEnvironment([
            "FASCICOLO_SOCKET_MODE": "0640", "FASCICOLO_SOCKET_GROUP": "0",
            "FASCICOLO_LEDGER_CHECKPOINT_EVERY_ENTRIES": "2_000",
        ])
        #expect(configuration.socketMode == 0o640)
        #expect(configuration.socketGroup == 0)
        #expect(configuration.ledger.checkpointEveryEntries == 2_000)
        let refused = #expect(throws: DaemonConfiguration.Invalid.self) {
            try configuration.applyEnvironment(["FASCICOLO_LIMITS_PAYLOAD_BYTES_MAX": "big"])
        }
        #expect(refused?.key == "limits.payload_bytes_max")
        #expect("\(refused!)".contains("big"))
    }

    @Test(arguments: [
        ("[limits]\npayload_bytes_max = 0\n", "limits.payload_bytes_max", "0"),
        ("[limits]\npayload_bytes_max = \"big\"\n", "limits.payload_bytes_max", "\"big\""),
        ("[limits]\npayload_bytes_maxx = 10\n", "limits.payload_bytes_maxx", ""),  // an unknown key's value is not repeated
        ("[log]\nlevel = \"loud\"\n", "log.level", "\"loud\""),
        ("[ledger]\norigin = \"has space\"\n", "ledger.origin", "\"has space\""),
        ("[socket]\nmode = 660\n", "socket.mode", "660"),  // decimal: not 0o660
        ("[socket]\nmode = 0o666\n", "socket.mode", "0o666"),
        ("[access]\nwriter = [1001]\n", "access.writer", "[1001]"),
        ("[access]\nwriter = [\"uid:1, uid:2\"]\n", "access.writer", "[\"uid:1, uid:2\"]"),
        ("[access]\nenti = [\"Comune di Potenza\"]\n", "access.enti", "[\"Comune di Potenza\"]"),
        ("[access]\nenti = [\"1001=\"]\n", "access.enti", "[\"1001=\"]"),
        ("[limits]\npayload_bytes_max = 1.5\n", "limits.payload_bytes_max", "(a floating-point number)"),
        ("[limits.payload_bytes_max]\nx = 1\n", "limits.payload_bytes_max.x", ""),
    ])
    func aBadValueIsRefusedNamingTheKeyAndTheValue(text: String, key: String, value: String) throws {
        var configuration = DaemonConfiguration()
        do {
            try configuration.apply(ConfigurationFile(text: text, source: "bad.toml"))
            Issue.record("accepted \(text)")
        } catch let error as DaemonConfiguration.Invalid {
            #expect(error.key == key && error.value == value)
            #expect(error.description.contains(key) && error.description.contains("bad.toml:2"))
        }
    }

    @Test(arguments: [
        ("[limits\n", 1), ("# fine\njust words\n", 2), ("a = 1\na = 2\n", 2), ("a = \"x\n", 1),
        ("a = 1\nb = \"x\u{0}y\"\n", 2), ("a = 1\n\nb = \"x\\u0000y\"\n", 3), ("k = 99999999999999999999\n", 1),
        // Found by the fuzz target: toml++ 3.4 asserts on a header that does not start with a key.
        ("a = 1\n[ = 2\n", 2), ("[\n", 1), ("[[ #\n", 1), ("x = [\n  [ [1], +2 ],\n]\n[ +]\n", 4),
    ])
    func malformedLinesAreRefusedWithTheirLineNumber(text: String, line: Int) {
        let error = #expect(throws: ConfigurationFile.ParseError.self) { try ConfigurationFile(text: text, source: "f") }
        #expect(error?.line == line, "\(text): \(String(describing: error))")
    }

    /// A directory opens, then fails to read: that must stop the start, not read as an empty file.
    @Test func aConfigurationPathThatCannotBeReadIsRefused() throws {
        try withTemporaryDirectory { directory in
            var configuration = DaemonConfiguration()
            let error = #expect(throws: DaemonConfiguration.Invalid.self) { try configuration.load(path: directory) }
            #expect(error?.reason == "cannot read the file")
        }
    }

    @Test func bytesThatAreNotUTF8AreRefusedWithTheirLine() {
        let bytes = Array("a = 1\nb = \"".utf8) + [0xFF] + Array("\"\n".utf8)
        let error = #expect(throws: ConfigurationFile.ParseError.self) { try ConfigurationFile(bytes: bytes, source: "f") }
        #expect(error?.line == 2)
    }

    /// TOML's types: arrays for the access lists, an octal integer for the mode, an integer group.
    @Test func listsAreArraysAndTheModeIsAnOctalInteger() throws {
        var configuration = DaemonConfiguration()
        try configuration.apply(
            ConfigurationFile(
                text: """
                    [socket]
                    mode = 0o640
                    group = 0
                    [access]
                    writer = [
                        "uid:1001",  # the case-file application
                        "gid:2000",
                    ]
                    admin = []
                    services = ["1001=cartella-app"]
                    ambiti = ["1001=potenza", "1001=matera"]
                    enti = ["1001=Comune di Potenza", "1001=Azienda Sanitaria di Potenza"]
                    """, source: "types.toml"))
        #expect(configuration.access.ambiti(uid: 1001) == ["potenza", "matera"] && configuration.access.ambiti(uid: 2) == nil)
        #expect(configuration.access.enti(uid: 1001) == ["Comune di Potenza", "Azienda Sanitaria di Potenza"])
        #expect(configuration.access.enti(uid: 2) == nil)
        #expect(configuration.socketMode == 0o640 && configuration.socketGroup == 0)
        #expect(configuration.access.roles(uid: 1001, gid: 1) == [.writer])
        #expect(configuration.access.roles(uid: 7, gid: 2000) == [.writer])
        #expect(configuration.access.roles(uid: 0, gid: 0).isEmpty)
        #expect(configuration.access.author(uid: 1001) == "uid:1001/cartella-app")
    }

    /// Files written for earlier versions keep working: a list as one comma-separated string, a
    /// mode as the string "0660", read as before.
    @Test func theEncodingsOfEarlierVersionsReadTheSame() throws {
        func read(_ text: String) throws -> DaemonConfiguration {
            var configuration = DaemonConfiguration()
            try configuration.apply(ConfigurationFile(text: text, source: "f.toml"))
            return configuration
        }
        let old = try read("[socket]\nmode = \"0640\"\n[access]\nwriter = \"uid:1001, gid:2000\"\nservices = \"1001=app, 1002=other\"\n")
        let new = try read(
            "[socket]\nmode = 0o640\n[access]\nwriter = [\"uid:1001\", \"gid:2000\"]\nservices = [\"1001=app\", \"1002=other\"]\n")
        #expect(old.socketMode == 0o640 && old.socketMode == new.socketMode && old.access == new.access)
    }

    /// TOMLKit gives no positions for keys: KeyPlaces finds them. Multi-line strings and arrays,
    /// quoted and dotted keys and inline tables must not move a later key's line.
    @Test func errorsNameTheLineTheKeyIsWrittenOn() throws {
        let text = #"""
            [domain]
            reference_directory = """
            [limits]
            payload_bytes_max = 1
            """
            'quoted' = 1
            [access]
            writer = [
              "uid:1", # ] [limits]
              '''
            x = 1''',
            ]
            "limits".event_type_bytes_max = 5
            storage = { data_directory = "x", typo = 1 }
            [ socket ] # a comment
            mode = 0o600
            bad_key = 1
            """#
        let file = try ConfigurationFile(text: text, source: "f")
        #expect(file.values["domain.reference_directory"]?.line == 2)
        #expect(file.values["domain.quoted"]?.line == 6)
        #expect(file.values["access.writer"]?.line == 8)
        #expect(file.values["access.limits.event_type_bytes_max"]?.line == 13)
        #expect(file.values["access.storage.typo"]?.line == 14)
        #expect(file.values["socket.mode"]?.line == 16 && file.values["socket.mode"]?.value == .octal(0o600))
        #expect(file.values["socket.bad_key"]?.line == 17)
        #expect(file.values.count == 8)
    }

    /// A file saved with a byte order mark (as some Windows editors do): toml++ skips the mark, and
    /// the key's line must not be lost with it (found by `tools/fuzz config`: a mark before a
    /// comment put every key on line 1).
    /// `a = [ }` trips an assertion in toml++ 3.4 (found by tools/fuzz config): refused first.
    @Test func mismatchedBracketsAreRefusedBeforeTheTOMLParserSeesThem() {
        for text in ["[storage]\nwriter = [ }\n", "[storage]\nwriter = [\n  \"uid:1\",\n}\n", "a = { b = [ } ]\n"] {
            #expect(throws: ConfigurationFile.ParseError.self) { try ConfigurationFile(text: text, source: "f") }
        }
    }

    @Test func aByteOrderMarkKeepsTheLinesOfKeys() throws {
        let text = "\u{FEFF}# a comment\n\n[storage]\n# why\nwriter = []\n[socket]\nmode = 0o600\n"
        let file = try ConfigurationFile(text: text, source: "f")
        #expect(file.values["storage.writer"]?.line == 5)
        #expect(file.values["socket.mode"]?.line == 7 && file.values["socket.mode"]?.value == .octal(0o600))
    }

    /// A misspelt key may hold a secret, and toml++ quotes what it could not read: neither reaches
    /// the message.
    @Test func refusalsDoNotRepeatValuesThatMayBeSecret() throws {
        var configuration = DaemonConfiguration()
        let unknown = #expect(throws: DaemonConfiguration.Invalid.self) {
            try configuration.apply(ConfigurationFile(text: "[ledger]\nsigning_passphrase = \"hunter2-secret\"\n", source: "f.toml"))
        }
        #expect(unknown.map { "\($0)" } == "invalid configuration: ledger.signing_passphrase (f.toml:2): unknown key")
        let syntax = #expect(throws: ConfigurationFile.ParseError.self) {
            try ConfigurationFile(text: "[ledger]\npin = 12345678901234567890123\n", source: "f.toml")
        }
        #expect(
            syntax.map { "\($0)".contains("f.toml:2:") && !"\($0)".contains("12345678901234567890123") } == true,
            "\(String(describing: syntax))")
    }
}
