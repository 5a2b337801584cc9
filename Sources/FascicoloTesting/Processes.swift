import Glibc

/// The directory holding the built products: on Linux the test runner is
/// `<products>/FascicoloPackageTests.xctest`, next to the executables.
public func productsDirectory() -> String {
    let runner = CommandLine.arguments[0]
    return String(runner[..<(runner.lastIndex(of: "/") ?? runner.startIndex)])
}

public struct SpawnFailure: Error, Sendable {
    public let executable: String
    public let status: Int32
}

/// Starts an executable with standard output and error redirected to `outputFile`.
public func spawn(_ executable: String, _ arguments: [String], outputFile: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard status == 0 else { throw SpawnFailure(executable: executable, status: status) }
    return pid
}

/// Runs an executable to completion; returns its exit status and its output (stdout and stderr).
public func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let output = "/tmp/fascicolo-test-output-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { unlink(output) }
    let pid = try spawn(executable, arguments, outputFile: output)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return ((status >> 8) & 0xff, readFile(output))
}

/// The package's root directory (where Package.swift is), from this file's path at build time.
public func packageDirectory() -> String {
    var path = #filePath  // <root>/Sources/FascicoloTesting/Processes.swift
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path
}
