import FascicoloCrypto
import FascicoloDaemon
import FascicoloLedger
import Glibc
import Logging
import Testing

@Suite struct DaemonTests {
    @Test func firstStartCreatesAPrivateKeyAndASecondDaemonIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = DaemonConfiguration()
            configuration.dataDirectory = directory + "/data"
            let daemon = try Daemon(configuration: configuration, logger: Logger(label: "test"))
            var info = stat()
            #expect(stat(configuration.dataDirectory + "/signing.key", &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(stat(configuration.dataDirectory, &info) == 0 && info.st_mode & 0o077 == 0)
            #expect(throws: DataDirectoryLock.Held.self) { try Daemon(configuration: configuration, logger: Logger(label: "test")) }
            daemon.shutdown()
        }
    }

    @Test func aKeyFileReadableByOthersIsRefusedNamingTheFileAndTheFix() async throws {
        try await withTemporaryDirectory { directory in
            let ledger = try Ledger.open(directory: directory)
            ledger.close()
            let keyPath = directory + "/signing.key"
            chmod(keyPath, 0o640)
            do {
                _ = try Ledger.open(directory: directory)
                Issue.record("opened with a group-readable key")
            } catch let failure as KeyFile.Failure {
                #expect(failure.description.contains(keyPath) && failure.description.contains("chmod 600 \(keyPath)"))
            }
        }
    }

    /// The real binary: starts on a fresh directory, refuses a second instance and a bad
    /// configuration with a clear message, and exits 0 on SIGTERM after signing a checkpoint.
    @Test func theDaemonBinaryStartsRefusesAndStopsCleanly() async throws {
        let binary = productsDirectory() + "/fascicolod"
        try #require(access(binary, X_OK) == 0, "build fascicolod first (tools/test does)")
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let log = directory + "/first.log"
            let pid = try spawn(binary, ["--data-dir", data], outputFile: log)
            var started = false
            for _ in 0..<500 where !started {
                usleep(10_000)
                started = readFile(log).contains("fascicolod started")
            }
            #expect(started, "\(readFile(log))")
            let seed = readBytes(data + "/signing.key")
            #expect(seed.count == 32)
            #expect(!readFile(log).contains(Hex.encode(seed)) && !readFile(log).contains(Base64.encode(seed)),
                    "the log must not contain the secret key")

            let second = try runProcess(binary, ["--data-dir", data])
            #expect(second.status == 1 && second.output.contains("another fascicolod holds"), "\(second.output)")

            let badConfig = directory + "/bad.toml"
            try writeFile(badConfig, "[limits]\nevents_per_append_max = -5\n")
            let refused = try runProcess(binary, ["--config", badConfig, "--data-dir", directory + "/other"])
            #expect(refused.status == 1 && refused.output.contains("limits.events_per_append_max = -5"), "\(refused.output)")

            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0, "exit status \(status): \(readFile(log))")
            #expect(readFile(log).contains("fascicolod stopped"))
        }
    }

}

func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async rethrows -> T {
    var template = Array("/tmp/fascicolo-test-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    defer { _ = system("rm -rf '\(path)'") }
    return try await body(path)
}

func productsDirectory() -> String {
    let runner = CommandLine.arguments[0]
    return String(runner[..<(runner.lastIndex(of: "/") ?? runner.startIndex)])
}

func spawn(_ executable: String, _ arguments: [String], outputFile: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard status == 0 else { throw SpawnError(status: status) }
    return pid
}

struct SpawnError: Error { let status: Int32 }

func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let output = "/tmp/fascicolo-daemon-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { unlink(output) }
    let pid = try spawn(executable, arguments, outputFile: output)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return ((status >> 8) & 0xff, readFile(output))
}

func readFile(_ path: String) -> String {
    String(decoding: readBytes(path), as: UTF8.self)
}

func readBytes(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "r") else { return [] }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return bytes
}

func writeFile(_ path: String, _ text: String) throws {
    guard let file = fopen(path, "w") else { throw SpawnError(status: errno) }
    defer { fclose(file) }
    _ = text.withCString { fputs($0, file) }
}
