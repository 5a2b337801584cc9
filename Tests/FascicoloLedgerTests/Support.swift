import FascicoloLedger
import Glibc
import Testing

/// A temporary directory, removed (with its files) when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async rethrows -> T {
    var template = Array("/tmp/fascicolo-test-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    defer { removeTree(path) }
    return try await body(path)
}

func removeTree(_ path: String) {
    guard let directory = opendir(path) else { unlink(path); return }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != "." && name != ".." else { continue }
        if entry.pointee.d_type == UInt8(DT_DIR) { removeTree(path + "/" + name) } else { unlink(path + "/" + name) }
    }
    closedir(directory)
    rmdir(path)
}

/// A configuration for tests of logic: small limits where a test needs them. Durability stays
/// on unless a test asks otherwise, since several tests reopen the store.
func testConfiguration(noSync: Bool = false) -> LedgerConfiguration {
    var configuration = LedgerConfiguration()
    configuration.unsafeNoSync = noSync
    configuration.checkpointEveryEntries = 10
    configuration.checkpointEveryMilliseconds = 50
    return configuration
}

func payload(_ text: String) -> [UInt8] { Array(text.utf8) }

func event(_ text: String, type: String = "TestEvent") -> NewEvent { NewEvent(type: type, payload: payload(text)) }

/// The directory holding the built products (the test bundle sits next to the executables).
func productsDirectory() -> String {
    let runner = CommandLine.arguments[0]
    var path = runner
    if let slash = path.lastIndex(of: "/") { path = String(path[..<slash]) }
    // On Linux the runner is <products>/FascicoloPackageTests.xctest.
    return path
}

/// Runs an executable to completion; returns its exit status and standard output.
func runProcess(_ executable: String, _ arguments: [String], outputFile: String? = nil) throws -> (status: Int32, output: String) {
    let output = outputFile ?? "/tmp/fascicolo-test-output-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let pid = try spawn(executable, arguments, outputFile: output)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    let text = readFile(output)
    if outputFile == nil { unlink(output) }
    return ((status >> 8) & 0xff, text)
}

/// Starts an executable with standard output and error redirected to `outputFile`.
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
    guard status == 0 else { throw SpawnFailure(executable: executable, status: status) }
    return pid
}

struct SpawnFailure: Error { let executable: String; let status: Int32 }

func readFile(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func sleepMilliseconds(_ milliseconds: Int) {
    usleep(UInt32(milliseconds * 1000))
}
