import ArgumentParser
import FascicoloConcurrency
import FascicoloCrypto
import FascicoloJSON
import FascicoloTesting
import Glibc
import Synchronization

/// `fascicolo-bench failover`: two daemons on one local etcd (started here), the leaseholder
/// under load from several clients, then `kill -9`: how long until the other accepts appends,
/// and — when the other follows the first (`--standby follower`) — how many acknowledged
/// entries it lacks (must be 0 with synchronous replication).
struct FailoverBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover", abstract: "kill -9 of the leaseholder under load: time until the standby appends, entries lost.")

    @Option(help: "Runs (each a fresh etcd and two fresh data directories).")
    var runs: Int = 3

    @Option(help: "Client threads appending (one event per append).")
    var clients: Int = 4

    @Option(help: "Seconds of load before the kill.")
    var seconds: Double = 2

    @Option(help: "The lease's TTL in seconds.")
    var ttl: Int = 2

    @Option(help: "The standby: primary (a second primary with its own log: the lease alone) or follower (fascicolod --follow).")
    var standby: String = "follower"

    @Option(help: "Extra TOML for the follower (e.g. the synchronous replication settings of the primary go in --primary-extra).")
    var followerExtra: String = ""

    @Option(help: "Extra TOML for the first primary (e.g. synchronous replication).")
    var primaryExtra: String = ""

    @Option(help: "The fascicolod binary (default: the one next to this benchmark).")
    var daemon: String?

    func run() throws {
        guard LocalEtcd.isInstalled else { throw ValidationError(LocalEtcd.absence) }
        guard standby == "primary" || standby == "follower" else { throw ValidationError("--standby is primary or follower") }
        let binary = daemon ?? (executableDirectory() + "/fascicolod")
        printOut(
            "fascicolo-bench failover — \(ProcessInfo.cores) cores, lease TTL \(ttl) s, \(clients) clients, kill -9 after "
                + "\(format(seconds, 1)) s of load, standby: \(standby)")
        printOut("")
        printOut("run  acked before kill  takeover s  acked by standby  acked lost")
        var takeovers: [Double] = []
        for run in 1...max(1, runs) {
            let result = try once(binary: binary)
            takeovers.append(result.takeover)
            printOut(
                pad("\(run)", 5) + pad("\(result.ackedBefore)", 19) + pad(format(result.takeover, 2), 12)
                    + pad("\(result.ackedAfter)", 18) + "  " + (standby == "follower" ? "\(result.lost)" : "- (separate logs)"))
        }
        let sorted = takeovers.sorted()
        printOut("")
        printOut(
            "takeover: median \(format(sorted[sorted.count / 2], 2)) s, max \(format(sorted.last!, 2)) s (target ≤ 5 s with a 2 s lease)")
    }

    struct Outcome {
        var ackedBefore = 0
        var ackedAfter = 0
        var takeover = 0.0
        var lost = 0
    }

    func once(binary: String) throws -> Outcome {
        let directory = temporaryDirectory("failover")
        defer { removeDirectory(directory) }
        chmod(directory, 0o755)
        let etcd = try LocalEtcd(directory: directory)
        defer { etcd.stop() }
        // The log's key, made here so that the follower can hold a copy (a standby that may take over).
        let key = SigningKey()
        for node in ["a", "b"] {
            mkdir(directory + "/" + node, 0o700)
            mkdir(directory + "/" + node + "/data", 0o700)
            if node == "a" || standby == "follower" {
                try key.withSeed { try KeyFile.writeNewSecret(path: directory + "/\(node)/data/" + KeyFile.secretName, bytes: $0) }
            }
        }
        let origin = "fascicolo.invalid/ledger"
        let verifierKey = SignedNote.verifierKey(name: origin, publicKey: key.publicKey)
        let a = try BenchDaemon(binary: binary, name: "a", directory: directory, etcd: etcd.endpoint, ttl: ttl, extra: primaryExtra)
        defer { a.kill() }
        guard a.waitForLease() else { throw ValidationError("the first primary never took the lease: \(readFile(a.log))") }
        let followerSettings = """
            [replication]
            follow = "\(a.socket)"
            trusted_key = "\(verifierKey)"
            \(followerExtra)
            """
        let b = try BenchDaemon(
            binary: binary, name: "b", directory: directory, etcd: etcd.endpoint, ttl: ttl,
            extra: standby == "follower" ? followerSettings : "")
        defer { b.kill() }

        // The load: each client appends {"c":client,"n":seq} to the leaseholder, and to the
        // other daemon once the first fails.
        let acked = Mutex<[(client: Int, seq: Int, node: Int, at: UInt64)]>([])
        let stop = Mutex(false)
        let sockets = [a.socket, b.socket]
        var threads: [Promise<Void>] = []
        for client in 0..<clients {
            threads.append(
                Promise.onNewThread {
                    var node = 0
                    var connection: SocketClient?
                    var seq = 0
                    while !stop.withLock({ $0 }) {
                        seq += 1
                        let body = Array(#"{"events":[{"type":"BenchmarkEvent","data":{"c":\#(client),"n":\#(seq)}}]}"#.utf8)
                        do {
                            if connection == nil { connection = try SocketClient(path: sockets[node]) }
                            let answer = try connection!.request("POST", "/v1/streams/failover-\(client)/events", body: body)
                            if answer.status == 201 {
                                let now = monotonic.nanoseconds()
                                acked.withLock { $0.append((client, seq, node, now)) }
                                continue
                            }
                            if answer.status == 503, node == 0 {
                                (node, connection) = (1, nil)
                            }  // the first is fenced: go on at the other
                            else {
                                usleep(5_000)
                            }
                        } catch {
                            (node, connection) = (1 - node, nil)  // dead or not yet there
                            usleep(5_000)
                        }
                    }
                })
        }
        usleep(UInt32(seconds * 1_000_000))
        let killed = monotonic.nanoseconds()
        a.kill()
        // Until every client has been acknowledged by the standby a few times, at most 15 s.
        let deadline = killed + 15_000_000_000
        while monotonic.nanoseconds() < deadline {
            let after = acked.withLock { entries in Set(entries.filter { $0.node == 1 }.map(\.client)).count }
            if after == clients { break }
            usleep(20_000)
        }
        usleep(300_000)
        stop.withLock { $0 = true }
        for thread in threads { _ = try? thread.wait() }
        let entries = acked.withLock { $0 }
        var outcome = Outcome()
        outcome.ackedBefore = entries.filter { $0.node == 0 }.count
        outcome.ackedAfter = entries.filter { $0.node == 1 }.count
        let firstAfter = entries.filter { $0.node == 1 }.map(\.at).min() ?? deadline
        outcome.takeover = Double(firstAfter > killed ? firstAfter - killed : 0) / 1e9
        if standby == "follower" {
            let held = try b.loggedPairs()
            outcome.lost = entries.filter { $0.node == 0 && !held.contains("\($0.client)/\($0.seq)") }.count
        }
        return outcome
    }
}

/// A fascicolod with `[failover]` on a local etcd, for the failover benchmark.
final class BenchDaemon {
    let socket: String
    let log: String
    private var pid: pid_t

    init(binary: String, name: String, directory: String, etcd: String, ttl: Int, extra: String) throws {
        let home = directory + "/" + name
        socket = home + "/api.sock"
        log = home + "/daemon.log"
        let config = home + "/fascicolod.toml"
        try writeFile(
            config,
            """
            [storage]
            data_directory = "\(home)/data"
            [socket]
            path = "\(socket)"
            [access]
            admin = ["uid:0"]
            [ledger]
            checkpoint_every_milliseconds = 50
            [domain]
            reference_directory = "\(packageDirectory())/Config/reference"
            [log]
            level = "notice"
            [failover]
            etcd_endpoints = ["\(etcd)"]
            key = "/fascicolo/bench"
            node_name = "\(name)"
            advertised_location = "\(socket)"
            lease_ttl_seconds = \(ttl)
            \(extra)
            """)
        pid = try spawn(binary, ["--config", config], outputFile: log)
        for _ in 0..<3_000 where !readFile(log).contains("listening") { usleep(10_000) }
    }

    /// Whether this daemon holds the lease within 10 s (its metrics say so: with synchronous
    /// replication an append would wait for a follower).
    func waitForLease() -> Bool {
        for _ in 0..<500 {
            if let client = try? SocketClient(path: socket), let answer = try? client.request("GET", "/metrics"), answer.status == 200,
                String(decoding: answer.body, as: UTF8.self).contains("fascicolo_lease_held 1")
            {
                return true
            }
            usleep(20_000)
        }
        return false
    }

    /// Every `"c/n"` of the BenchmarkEvent entries in this daemon's log.
    func loggedPairs() throws -> Set<String> {
        let client = try SocketClient(path: socket)
        var pairs = Set<String>()
        var from = 0
        while true {
            let answer = try client.request("GET", "/v1/log?from=\(from)&limit=1000")
            guard answer.status == 200, let page = try? JSON.parse(answer.body), let entries = page["entries"]?.array else {
                throw ValidationError("the standby's log could not be read (HTTP \(answer.status))")
            }
            for entry in entries {
                if let data = entry["data"], let c = data["c"]?.int, let n = data["n"]?.int { pairs.insert("\(c)/\(n)") }
            }
            guard entries.count == 1_000 else { return pairs }
            from += 1_000
        }
    }

    func kill() {
        guard pid > 0 else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }
}
