import FascicoloDaemon
import Testing

@Suite struct AccessPolicyTests {
    @Test func rolesComeFromUidsAndGidsListedInTheConfiguration() throws {
        var configuration = DaemonConfiguration()
        #expect(configuration.access.roles(uid: 0, gid: 0) == [.admin])
        #expect(configuration.access.roles(uid: 1000, gid: 1000).isEmpty)
        try configuration.apply(
            ConfigurationFile(
                text: """
                    [access]
                    writer = "uid:1001, gid:2000"
                    auditor = "uid:1002"
                    admin = "uid:0, uid:1002"
                    services = "1001=cartella-app, 1003=gepi-bridge"
                    """, source: "access.toml"))
        let access = configuration.access
        #expect(access.roles(uid: 1001, gid: 1001) == [.writer])
        #expect(access.roles(uid: 1003, gid: 2000) == [.writer])  // by group
        #expect(access.roles(uid: 1002, gid: 1002) == [.auditor, .admin])
        #expect(access.roles(uid: 4242, gid: 4242).isEmpty)
        #expect(access.author(uid: 1001) == "uid:1001/cartella-app")
        #expect(access.author(uid: 4242) == "uid:4242/unnamed")
    }

    @Test(arguments: [
        ("writer = \"user:1001\"", "access.writer"),
        ("writer = \"uid:abc\"", "access.writer"),
        ("auditor = \"uid:-1\"", "access.auditor"),
        ("services = \"1001\"", "access.services"),
        ("services = \"x=name\"", "access.services"),
        ("services = \"1001=has/slash\"", "access.services"),
    ])
    func malformedAccessListsAreRefused(line: String, key: String) {
        var configuration = DaemonConfiguration()
        do {
            try configuration.apply(ConfigurationFile(text: "[access]\n" + line + "\n", source: "bad.toml"))
            Issue.record("accepted \(line)")
        } catch let error as DaemonConfiguration.Invalid {
            #expect(error.key == key)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func theSocketModeMustNotOpenTheSocketToOthers() throws {
        var configuration = DaemonConfiguration()
        try configuration.apply(ConfigurationFile(text: "[socket]\nmode = \"0600\"\n", source: "f"))
        #expect(configuration.socketMode == 0o600)
        for bad in ["\"0666\"", "\"660\"", "\"0668\"", "\"04660\"", "432"] {
            #expect(throws: DaemonConfiguration.Invalid.self) {
                var other = DaemonConfiguration()
                try other.apply(ConfigurationFile(text: "[socket]\nmode = \(bad)\n", source: "f"))
            }
        }
        #expect(configuration.resolvedSocketPath == "data/fascicolod.sock")
        try configuration.apply(ConfigurationFile(text: "[socket]\ngroup = \"root\"\n", source: "f"))
        #expect(configuration.socketGroup == 0)
        #expect(throws: DaemonConfiguration.Invalid.self) {
            try configuration.apply(name: "socket.group", value: .string("no-such-group-here"), source: "test")
        }
    }
}
