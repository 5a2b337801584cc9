import ArgumentParser
import Dispatch
import FascicoloConcurrency
import FascicoloCrypto
import FascicoloTesting
import Glibc

/// `fascicolo-bench versus-postgres`: durable appends over the daemon's socket against the
/// alternative a team would weigh them with — inserts into a plain table on PostgreSQL, durable
/// defaults (fsync on, synchronous_commit on), over a Unix socket — on the same machine, in the
/// same invocation, rounds alternating (issue 22). PostgreSQL is started by the benchmark itself
/// (initdb in a temporary directory) when its binaries are installed (`tools/bootstrap --bench`);
/// without them only the daemon's side is printed. Also prints the Ed25519 signing ceiling on all
/// cores measured in the same run: a batch of 100 events costs 100 signatures.
struct VersusPostgresBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "versus-postgres",
        abstract: "Durable appends over the socket against pgbench inserting the same payload into PostgreSQL, same run.")

    @Option(help: "Seconds per point.")
    var seconds: Double = 5

    @Option(help: "Rounds per point (daemon, then PostgreSQL); the medians are printed.")
    var rounds: Int = 3

    @Option(help: "Client counts to run.")
    var clients: [Int] = [1, 8, 64]

    @Option(help: "Events per append (rows per INSERT) to run.")
    var batch: [Int] = [1, 100]

    @Option(help: "The fascicolod binary (default: the one next to this benchmark).")
    var daemon: String?

    @Option(
        help: """
            The daemon's commit: lmdb (LMDB's durable commit, two flushes), journal (storage.journal, one flush), or both \
            (each point runs both daemons, alternating with PostgreSQL).
            """)
    var commit: String = "both"

    @Option(help: "The directory of PostgreSQL's binaries (default: the newest /usr/lib/postgresql/*/bin).")
    var postgresBin: String?

    func run() throws {
        let binary = daemon ?? (executableDirectory() + "/fascicolod")
        let postgres = try postgresBin ?? Postgres.defaultBinaries()
        printOut(
            "fascicolo-bench versus-postgres — \(ProcessInfo.cores) cores, \(format(seconds, 1)) s per point, \(rounds) rounds "
                + "alternating, medians; daemon \(binary)")
        let server: Postgres?
        if let postgres {
            server = try Postgres.start(binaries: postgres)
            printOut(
                "PostgreSQL: \(server!.version), fsync=on, synchronous_commit=on (defaults), Unix socket, pgbench inserting "
                    + "\(samplePayload(0).count)-byte rows into a plain table (no index)")
        } else {
            server = nil
            printOut("PostgreSQL is not installed (tools/bootstrap --bench installs it): the daemon's side only")
        }
        defer { server?.stop() }
        printOut("")
        let kinds: [(name: String, storage: String)] =
            switch commit {
            case "lmdb": [("lmdb", "")]
            case "journal": [("journal", "journal = true")]
            default: [("lmdb", ""), ("journal", "journal = true")]
            }
        var header = "clients × events"
        for kind in kinds { header += "  " + pad("\(kind.name) ev/s", 14) + pad("p99 ms", 8) }
        header += "  PostgreSQL rows/s  p99 ms  "
        for kind in kinds { header += pad("ratio \(kind.name) (range)", 24) }
        printOut(header)
        var batchOfHundred64: [String: Double] = [:]
        for batch in batch {
            for clients in clients {
                var ours: [[(rate: Double, p99: Double)]] = Array(repeating: [], count: kinds.count)
                var theirs: [(rate: Double, p99: Double)] = []
                for _ in 0..<max(1, rounds) {
                    for (index, kind) in kinds.enumerated() {
                        var load = SocketLoad(binary: binary, seconds: seconds, reference: nil)
                        load.storageConfiguration = kind.storage
                        let run = try load.run(clients: clients, subscribe: false) { WitnessedBenchmark.plan(client: $0, batch: batch) }
                        ours[index].append((run.eventsPerSecond, run.latency.p99))
                    }
                    if let server { theirs.append(try server.pgbench(clients: clients, rows: batch, seconds: seconds)) }
                }
                var line = pad("\(clients) × \(batch)", 16)
                for (index, kind) in kinds.enumerated() {
                    let rate = median(ours[index].map(\.rate))
                    if clients == 64 && batch == 100 { batchOfHundred64[kind.name] = rate }
                    line += "  " + pad(format(rate), 14) + pad(format(median(ours[index].map(\.p99)), 2), 8)
                }
                if !theirs.isEmpty {
                    line += "  " + pad(format(median(theirs.map(\.rate))), 19) + pad(format(median(theirs.map(\.p99)), 2), 8)
                    for index in kinds.indices {
                        let ratios = zip(ours[index], theirs).map { $0.rate / $1.rate }.sorted()
                        line += pad(format(median(ratios), 2) + " (" + format(ratios.first!, 2) + "–" + format(ratios.last!, 2) + ")", 24)
                    }
                }
                printOut(line)
            }
        }
        let ceiling = Self.signingCeiling(seconds: 2)
        printOut("")
        printOut(
            "Ed25519 signing ceiling, libsodium on all \(ProcessInfo.cores) cores, ~370-byte messages: \(format(ceiling)) signatures/s")
        for kind in kinds {
            guard let rate = batchOfHundred64[kind.name] else { continue }
            printOut("64 × 100 (\(kind.name)) at \(format(rate / ceiling * 100))% of the signing ceiling")
        }
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// Signatures per second, one signing loop per core on Dispatch's worker threads (as the
    /// writer signs), over messages of the size of the benchmark's entries.
    static func signingCeiling(seconds: Double) -> Double {
        let key = SigningKey()
        let messages = (0..<256).map { samplePayload($0) + [UInt8](repeating: 7, count: 70) }
        let cores = ProcessInfo.cores
        let counts = SendableCounterArray(count: cores)
        let start = monotonic.nanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        DispatchQueue.concurrentPerform(iterations: cores) { core in
            var signature = [UInt8](repeating: 0, count: Signature.byteCount)
            var done = 0
            while monotonic.nanoseconds() < deadline {
                for message in messages {
                    message.withUnsafeBytes { bytes in signature.withUnsafeMutableBytes { key.sign(bytes, into: $0) } }
                    done += 1
                }
            }
            counts.set(core, done)
        }
        return Double(counts.total) / (Double(monotonic.nanoseconds() - start) / 1e9)
    }
}

/// A throwaway PostgreSQL cluster: initdb in a temporary directory, listening only on a Unix
/// socket in it, with the durable defaults; stopped and removed by `stop`. As root, every
/// PostgreSQL program runs as the `postgres` user (initdb refuses root).
struct Postgres {
    let binaries: String
    let directory: String
    let owner: (uid: uid_t, gid: gid_t)?
    let version: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The newest installed major version's binaries, or nil.
    static func defaultBinaries() throws -> String? {
        guard let root = opendir("/usr/lib/postgresql") else { return nil }
        defer { closedir(root) }
        var versions: [Int] = []
        while let entry = readdir(root) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let version = Int(name), access("/usr/lib/postgresql/\(name)/bin/pgbench", X_OK) == 0 { versions.append(version) }
        }
        return versions.max().map { "/usr/lib/postgresql/\($0)/bin" }
    }

    static func start(binaries: String) throws -> Postgres {
        let directory = temporaryDirectory("postgres")
        var owner: (uid: uid_t, gid: gid_t)?
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else { throw Failure(description: "running as root, and there is no postgres user") }
            owner = (user.pointee.pw_uid, user.pointee.pw_gid)
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        var server = Postgres(binaries: binaries, directory: directory, owner: owner, version: "")
        // --no-sync only makes initdb itself faster; the server runs with fsync on.
        try server.check("initdb", ["-D", directory + "/cluster", "-U", "bench", "-A", "trust", "--no-sync", "-E", "UTF8"])
        try server.check(
            "pg_ctl",
            [
                "-D", directory + "/cluster", "-l", directory + "/server.log", "-w", "start", "-o",
                "-c listen_addresses='' -c unix_socket_directories='\(directory)'",
            ])
        let settings = try server.sql(["SHOW fsync", "SHOW synchronous_commit", "SELECT version()"])
        let lines = settings.split(separator: "\n")
        guard lines.count >= 3, lines[0] == "on", lines[1] == "on" else {
            server.stop()
            throw Failure(description: "PostgreSQL is not durable by default here: \(settings)")
        }
        server = Postgres(
            binaries: binaries, directory: directory, owner: owner,
            version: String(lines[2].split(separator: " ").prefix(2).joined(separator: " ")))
        _ = try server.sql(["CREATE TABLE audit (payload text NOT NULL)"])
        return server
    }

    func stop() {
        _ = try? run("pg_ctl", ["-D", directory + "/cluster", "-m", "fast", "-w", "stop"])
        removeDirectory(directory)
    }

    /// pgbench inserting `rows` rows per transaction (one INSERT with that many VALUES) from
    /// `clients` connections for `seconds`: rows per second and the p99 of a transaction, in ms,
    /// from its per-transaction log.
    func pgbench(clients: Int, rows: Int, seconds: Double) throws -> (rate: Double, p99: Double) {
        let payload = String(decoding: samplePayload(0), as: UTF8.self)
        let values = (0..<rows).map { _ in "('\(payload)')" }.joined(separator: ",")
        let script = directory + "/insert-\(rows).sql"
        try writeFile(script, "INSERT INTO audit (payload) VALUES \(values);\n")
        let logs = directory + "/log-\(clients)-\(rows)-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(logs, 0o755)
        if let owner {
            chown(script, owner.uid, owner.gid)
            chown(logs, owner.uid, owner.gid)
        }
        let output = try check(
            "pgbench",
            [
                "-n", "-h", directory, "-U", "bench", "-f", script, "-c", "\(clients)", "-j", "\(min(clients, ProcessInfo.cores))",
                "-T", "\(max(1, Int(seconds.rounded())))", "-l", "--log-prefix", logs + "/tx", "postgres",
            ])
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst(6).prefix { $0 != " " })
        else { throw Failure(description: "pgbench printed no rate: \(output.suffix(500))") }
        var latencies: [UInt64] = []
        if let entries = opendir(logs) {
            while let entry = readdir(entries) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard name.hasPrefix("tx") else { continue }
                // client_id transaction_no time(µs) script_no epoch epoch_µs
                for row in readFile(logs + "/" + name).split(separator: "\n") {
                    let fields = row.split(separator: " ")
                    if fields.count >= 3, let micros = UInt64(fields[2]) { latencies.append(micros * 1000) }
                }
            }
            closedir(entries)
        }
        removeDirectory(logs)
        return (tps * Double(rows), Percentiles(latencies).p99)
    }

    /// Runs each statement in turn (one `-c` each); their results, one line each.
    func sql(_ statements: [String]) throws -> String {
        try check(
            "psql",
            ["-h", directory, "-U", "bench", "-d", "postgres", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
                + statements.flatMap { ["-c", $0] })
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when we are root); its output, or a failure.
    @discardableResult
    func check(_ program: String, _ arguments: [String]) throws -> String {
        let (status, output) = try run(program, arguments)
        guard status == 0 else { throw Failure(description: "\(program) failed (\(status)): \(output.suffix(800))") }
        return output
    }

    func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        if owner != nil {
            return try Self.runWithDefaultSignals("/usr/sbin/runuser", ["-u", "postgres", "--", binaries + "/" + program] + arguments)
        }
        return try Self.runWithDefaultSignals(binaries + "/" + program, arguments)
    }

    /// Runs a program to completion with no signal blocked and every disposition the default:
    /// the threads of this process block most signals, a spawned child inherits that mask, and
    /// pgbench then never sees the SIGALRM that ends its `-T` run.
    static func runWithDefaultSignals(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let output = "/tmp/fascicolo-bench-output-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard status == 0 else { throw Failure(description: "cannot start \(executable): \(status)") }
        var exit: Int32 = 0
        waitpid(pid, &exit, 0)
        return ((exit >> 8) & 0xff, readFile(output))
    }
}
