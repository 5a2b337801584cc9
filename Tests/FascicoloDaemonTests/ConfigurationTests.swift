@testable import FascicoloDaemon
import FascicoloLedger
import FascicoloTesting
import Glibc
import Logging
import Testing

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
        try configuration.apply(ConfigurationFile(text: """
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
        #expect(configuration.logLevel == .debug)
    }

    /// `[connections]` from the environment, and the limit that must fit the descriptor limit.
    @Test func connectionLimitsFromTheEnvironmentAndTheDescriptorLimit() throws {
        var configuration = DaemonConfiguration()
        try configuration.applyEnvironment(["FASCICOLO_CONNECTIONS_MAX": "2_000", "FASCICOLO_CONNECTIONS_NO_ROLE_PER_UID_MAX": "0",
                                            "FASCICOLO_CONNECTIONS_IDLE_TIMEOUT_MILLISECONDS": "5000"])
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
        try configuration.applyEnvironment(["FASCICOLO_SOCKET_MODE": "0640", "FASCICOLO_SOCKET_GROUP": "0",
                                            "FASCICOLO_LEDGER_CHECKPOINT_EVERY_ENTRIES": "2_000"])
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
        ("[limits]\npayload_bytes_maxx = 10\n", "limits.payload_bytes_maxx", "10"),
        ("[log]\nlevel = \"loud\"\n", "log.level", "\"loud\""),
        ("[ledger]\norigin = \"has space\"\n", "ledger.origin", "\"has space\""),
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

    @Test func malformedLinesAreRefusedWithTheirLineNumber() {
        for text in ["[limits\n", "just words\n", "a = 1\na = 2\n", "x = [1, 2]\n"] {
            #expect(throws: ConfigurationFile.ParseError.self) { try ConfigurationFile(text: text, source: "f") }
        }
    }
}
