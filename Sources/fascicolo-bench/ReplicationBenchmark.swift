import ArgumentParser
import FascicoloLedger
import Foundation
import Glibc

/// `fascicolo-bench replication`: real daemons on one machine. Appends over the primary's socket
/// with 0, 1 and 2 synchronous followers (each append acknowledged once K followers hold it), in
/// one run; then a fresh follower's apply rate on a primary holding a prepared log (entries/s
/// verified — every signature, every checkpoint — and stored).
struct ReplicationBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replication",
        abstract: "Append rate and latency with 0, 1, 2 synchronous followers; a follower's apply rate.")

    @Option(help: "Seconds per scenario.")
    var seconds: Double = 5

    @Option(help: "Concurrent clients appending single events.")
    var clients: Int = 8

    @Option(help: "Synchronous follower counts to run.")
    var followers: [Int] = [0, 1, 2]

    @Option(help: "Entries of the prepared log a fresh follower copies.")
    var entries: Int = 50_000

    @Option(help: "The fascicolod binary (default: the one next to this benchmark).")
    var daemon: String?

    func run() async throws {
        let binary = daemon ?? (executableDirectory() + "/fascicolod")
        printOut(
            "fascicolo-bench replication — \(ProcessInfo.cores) cores, \(format(seconds, 1)) s per scenario, \(clients) clients, "
                + "single-event appends, durable commits; primary and followers on this machine (their disk, their cores)")
        printOut("")
        printOut("sync followers  events/s  p50 ms  p99 ms  p999 ms  commits/s  followers' lag at the end")
        for count in followers {
            let run = try appendScenario(binary: binary, synchronousFollowers: count)
            printOut(
                pad("\(count)", 16) + pad(format(run.eventsPerSecond), 10) + pad(format(run.latency.p50, 2), 8)
                    + pad(format(run.latency.p99, 2), 8) + pad(format(run.latency.p999, 2), 9) + pad(format(run.commitsPerSecond), 11)
                    + "  " + (run.lags.isEmpty ? "-" : run.lags.map(String.init).joined(separator: ", ")))
        }
        printOut("")
        let apply = try await applyScenario(binary: binary)
        printOut(
            "follower apply: \(apply.entries) entries (\(format(apply.bytesPerEntry)) bytes each, \(apply.checkpoints) checkpoints) "
                + "verified and stored in \(format(apply.seconds, 2)) s from the follower's start: \(format(Double(apply.entries) / apply.seconds)) entries/s"
        )
    }

    struct AppendRun {
        let eventsPerSecond: Double
        let latency: Percentiles
        let commitsPerSecond: Double
        let lags: [Int]
    }

    /// A daemon with its own directory and configuration; stopped by `stop`.
    struct Daemon {
        let directory: String
        let socket: String
        let pid: pid_t

        static func start(binary: String, directory: String, extra: String) throws -> Daemon {
            mkdir(directory, 0o700)
            let socket = directory + "/api.sock"
            let config = """
                [storage]
                data_directory = "\(directory)/data"
                [socket]
                path = "\(socket)"
                [access]
                admin = "uid:\(getuid())"
                [log]
                level = "warning"
                \(extra)
                """
            let path = directory + "/fascicolod.toml"
            let file = fopen(path, "w")
            fputs(config, file)
            fclose(file)
            let pid = try spawnProcess(binary, ["--config", path])
            for _ in 0..<1_000 where access(socket, F_OK) != 0 { usleep(10_000) }
            guard access(socket, F_OK) == 0 else { throw SocketClient.Failure(message: "the daemon in \(directory) did not start") }
            return Daemon(directory: directory, socket: socket, pid: pid)
        }

        func stop() {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }

        func status() -> [String: Any] {
            guard let client = try? SocketClient(path: socket), let answer = try? client.request("GET", "/v1/replication/status"),
                let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
            else { return [:] }
            return object
        }

        /// The follower's position, when it follows.
        var position: Int? { (status()["following"] as? [String: Any])?["position"] as? Int }

        var firstKey: String {
            let file = fopen(directory + "/data/signing.pub", "r")
            defer { fclose(file) }
            var buffer = [CChar](repeating: 0, count: 4096)
            fgets(&buffer, Int32(buffer.count), file)
            return String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    func startFollower(binary: String, directory: String, primary: Daemon, name: String) throws -> Daemon {
        try Daemon.start(
            binary: binary, directory: directory,
            extra: "[replication]\nfollow = \"\(primary.socket)\"\ntrusted_key = \"\(primary.firstKey)\"\nname = \"\(name)\"")
    }

    func appendScenario(binary: String, synchronousFollowers count: Int) throws -> AppendRun {
        let directory = temporaryDirectory("replication")
        defer { removeDirectory(directory) }
        let primary = try Daemon.start(
            binary: binary, directory: directory + "/primary",
            extra: "[replication]\nsynchronous_followers = \(count)\nsynchronous_timeout_milliseconds = 30000")
        defer { primary.stop() }
        let followers = try (0..<count).map { index in
            try startFollower(binary: binary, directory: directory + "/follower-\(index)", primary: primary, name: "bench-\(index)")
        }
        defer {
            for follower in followers { follower.stop() }
        }
        // Each follower in touch (it reported to the primary) before the clock starts.
        for _ in 0..<1_000 where (primary.status()["followers"] as? [Any])?.count ?? 0 < count { usleep(10_000) }

        let commitsAtStart = commits(primary.socket)
        let deadline = monotonic.nanoseconds() + UInt64(seconds * 1e9)
        let socket = primary.socket
        let results = runThreads(count: clients) { client -> [UInt64] in
            guard let connection = try? SocketClient(path: socket) else { return [] }
            let body = Array("{\"events\":[{\"type\":\"BenchmarkEvent\",\"data\":".utf8) + samplePayload(client) + Array("}]}".utf8)
            var samples: [UInt64] = []
            while monotonic.nanoseconds() < deadline {
                let begin = monotonic.nanoseconds()
                guard let response = try? connection.request("POST", "/v1/streams/bench-\(client)/events", body: body),
                    response.status == 201
                else {
                    printOut("client \(client): an append failed")
                    return samples
                }
                samples.append(monotonic.nanoseconds() - begin)
            }
            return samples
        }
        let latencies = results.flatMap { $0 }
        let size = latencies.count
        return AppendRun(
            eventsPerSecond: Double(size) / seconds, latency: Percentiles(latencies),
            commitsPerSecond: (commits(primary.socket) - commitsAtStart) / seconds,
            lags: followers.map { follower in max(0, (primary.status()["entries"] as? Int ?? 0) - (follower.position ?? 0)) })
    }

    private func commits(_ socket: String) -> Double {
        guard let client = try? SocketClient(path: socket), let response = try? client.request("GET", "/metrics") else { return 0 }
        for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") where line.hasPrefix("fascicolo_commits_total ") {
            return Double(line.split(separator: " ")[1]) ?? 0
        }
        return 0
    }

    struct ApplyRun {
        let entries: Int
        let bytesPerEntry: Double
        let checkpoints: Int
        let seconds: Double
    }

    /// A log of `entries` (appended in process, batches of 100: checkpoints every 1,000 entries
    /// as by default), served by a primary; a fresh follower copies it.
    func applyScenario(binary: String) async throws -> ApplyRun {
        let directory = temporaryDirectory("replication-apply")
        defer { removeDirectory(directory) }
        mkdir(directory + "/primary", 0o700)
        let ledger = try Ledger.open(directory: directory + "/primary/data", logger: quietLogger)
        let total = entries
        var written = 0
        while written < total {
            let events = (0..<min(100, total - written)).map { NewEvent(type: "BenchmarkEvent", payload: samplePayload(written + $0)) }
            _ = try await ledger.append(AppendRequest(stream: "stream-\(written / 100 % 500)", events: events, author: "bench"))
            written += events.count
        }
        let bytes = samplePayload(0).count
        let checkpoints = try ledger.read { try $0.checkpoints().count }
        ledger.close()
        let primary = try Daemon.start(binary: binary, directory: directory + "/primary", extra: "")
        defer { primary.stop() }
        let began = monotonic.nanoseconds()
        let follower = try startFollower(binary: binary, directory: directory + "/follower", primary: primary, name: "apply")
        defer { follower.stop() }
        while (follower.position ?? 0) < total { usleep(20_000) }
        return ApplyRun(
            entries: total, bytesPerEntry: Double(bytes + 120), checkpoints: checkpoints,
            seconds: Double(monotonic.nanoseconds() - began) / 1e9)
    }
}
