import Glibc

/// Runs this executable again as a child to read a store that may be damaged (see
/// `StoreStructure`): if LMDB ends the child (SIGSEGV, SIGBUS, an assertion's SIGABRT), the
/// parent survives to report it, with the last progress line the child sent.
///
/// The child inherits standard output and error, and finds in its environment
/// `FASCICOLO_ISOLATED=1` (so it does the work instead of spawning again) and
/// `FASCICOLO_PROGRESS_FD`, a pipe on which it writes one line per step (`report`).
public enum IsolatedReader {
    public static let isolatedVariable = "FASCICOLO_ISOLATED"
    static let progressVariable = "FASCICOLO_PROGRESS_FD"

    /// How the child ended.
    public enum Outcome: Sendable, Equatable {
        case exited(Int32)
        /// Killed by a signal: the store (or the child) is damaged.
        case killed(signal: Int32, lastProgress: String?)
    }

    /// Whether this process is the isolated child.
    public static var isChild: Bool { getenv(isolatedVariable).map { String(cString: $0) == "1" } ?? false }

    /// In the child: one progress line for the parent (no-op elsewhere).
    public static func report(_ line: String) {
        guard let text = getenv(progressVariable), let descriptor = Int32(String(cString: text)) else { return }
        var bytes = Array((line.replacingNewlines + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    /// Runs `/proc/self/exe` with `arguments` as the isolated child and waits for it.
    public static func run(arguments: [String], extraEnvironment: [String] = []) throws -> Outcome {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw SpawnError(errno: errno) }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        let childFD: Int32 = 3
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, writeEnd, childFD)
        var environment: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if !text.hasPrefix(isolatedVariable + "=") && !text.hasPrefix(progressVariable + "=") { environment.append(text) }
            index += 1
        }
        environment += ["\(isolatedVariable)=1", "\(progressVariable)=\(childFD)"] + extraEnvironment
        let executable = "/proc/self/exe"
        let argv = ([CommandLine.arguments.first ?? executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for argument in argv { free(argument) }
            for variable in envp { free(variable) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(writeEnd)
        guard status == 0 else {
            close(readEnd)
            throw SpawnError(errno: status)
        }
        // Read progress until the child closes the pipe (it exits), so it never blocks on a full pipe.
        var lastLine: String?
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = read(readEnd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            pending += buffer[..<count]
            while let newline = pending.firstIndex(of: 0x0A) {
                lastLine = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
            }
        }
        close(readEnd)
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        let signal = waitStatus & 0x7F
        if signal == 0 { return .exited((waitStatus >> 8) & 0xFF) }
        return .killed(signal: signal, lastProgress: lastLine)
    }

    /// Signals that stop a process from outside (Ctrl-C, a kill, the OOM killer): the reader was
    /// interrupted, which says nothing about the store.
    public static func isInterruption(_ signal: Int32) -> Bool {
        [SIGINT, SIGTERM, SIGHUP, SIGKILL, SIGPIPE, SIGQUIT].contains(signal)
    }

    public static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: "SIGSEGV"
        case SIGBUS: "SIGBUS"
        case SIGABRT: "SIGABRT (an LMDB assertion)"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        default: "signal \(signal)"
        }
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let errno: Int32
        public var description: String { "cannot start the isolated reader (errno \(errno))" }
    }
}

extension String {
    fileprivate var replacingNewlines: String { String(map { $0 == "\n" ? " " : $0 }) }
}
