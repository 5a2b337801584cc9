import FascicoloTesting
import Foundation
import Glibc
import Testing

/// Daemons with `[failover]` on a real etcd (started by the test on free localhost ports): only
/// the leaseholder appends, the other answers 503 not_primary naming it; kill -9 of the holder
/// lets the other take over within TTL + a bound; a clean stop hands over at once.
@Suite(.serialized) struct FailoverTests {
    /// A daemon `name` on `directory/name`, a candidate for the lease of `key` on `etcd`.
    static func daemon(
        _ name: String, in directory: String, etcd: String, key: String = "/fascicolo/test", ttl: Int = 2, extra: String = ""
    ) throws -> RunningDaemon {
        let home = directory + "/" + name
        mkdir(home, 0o755)
        let socket = home + "/api.sock"
        let config = home + "/fascicolod.toml"
        try writeFile(
            config,
            """
            [storage]
            data_directory = "\(home)/data"
            [socket]
            path = "\(socket)"
            [access]
            admin = "uid:0"
            [ledger]
            checkpoint_every_milliseconds = 50
            [domain]
            reference_directory = "\(packageDirectory())/Config/reference"
            [failover]
            etcd_endpoints = ["\(etcd)"]
            key = "\(key)"
            node_name = "\(name)"
            advertised_location = "\(socket)"
            lease_ttl_seconds = \(ttl)
            \(extra)
            """)
        return try RunningDaemon(directory: home, configPath: config, socket: socket)
    }

    static func appendOne(_ daemon: RunningDaemon, _ index: Int) throws -> Int {
        try daemon.call(
            "/v1/streams/failover-\(index % 7)/events", method: "POST", body: #"{"events":[{"type":"X","data":{"n":\#(index)}}]}"#,
            maxSeconds: 5
        ).status
    }

    /// Seconds until `body` is true, polling every 20 ms; nil past `limit`.
    static func secondsUntil(_ limit: Double, _ body: () throws -> Bool) rethrows -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < limit {
            if try body() { return Date().timeIntervalSince(start) }
            usleep(20_000)
        }
        return nil
    }

    @Test(.enabled(if: LocalEtcd.isInstalled, Comment(rawValue: LocalEtcd.absence)))
    func onlyTheLeaseholderAppendsAndKillingItHandsTheLeaseOver() throws {
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            let etcd = try LocalEtcd(directory: directory)
            defer { etcd.stop() }
            let a = try Self.daemon("a", in: directory, etcd: etcd.endpoint)
            defer { a.kill(SIGKILL) }
            #expect(try Self.secondsUntil(20) { try Self.appendOne(a, 0) == 201 } != nil, "a never got the lease")
            let b = try Self.daemon("b", in: directory, etcd: etcd.endpoint)
            defer { b.kill(SIGKILL) }
            // b waits, and sends writers to a.
            _ = try Self.secondsUntil(3) { try b.append("failover-0", "{}").body.contains("not_primary") }
            let refused = try b.append("failover-0", #"{"events":[{"type":"X","data":{}}]}"#)
            try b.expectProblem(refused, 503, "not_primary")
            #expect(refused.body.contains(#""primary":"\#(a.socket)""#), "\(refused.body)")
            // Health says which node holds the lease: b is not the primary, and names it.
            let ready = try b.call("/v1/health/ready")
            #expect(ready.status == 503 && ready.body.contains(#""status":"not_primary""#), "\(ready.body)")
            #expect(ready.body.contains(#""primary":"\#(a.socket)""#), "\(ready.body)")
            #expect(try a.call("/v1/health/ready").status == 200)
            let metrics = try a.call("/metrics").body
            #expect(metrics.contains("fascicolo_lease_held 1"), "\(metrics)")
            #expect(try b.call("/metrics").body.contains("fascicolo_lease_held 0"))

            // Under load, a dies: kill -9. b accepts appends within TTL + 1.5 s.
            for index in 1...20 { #expect(try Self.appendOne(a, index) == 201) }
            a.kill(SIGKILL)
            let takeover = try #require(try Self.secondsUntil(10) { try Self.appendOne(b, 100) == 201 }, "b never took over")
            print("failover: b accepted appends \(String(format: "%.2f", takeover)) s after kill -9 of a (lease TTL 2 s)")
            // TTL + etcd's 500 ms tick + the campaign's on a quiet machine; room for a loaded one.
            #expect(takeover <= 10)

            // a comes back: it led before and b led since, so it does not campaign (it must
            // rejoin as a follower) and sends writers to b.
            try a.start()
            let answer = try a.append("failover-0", #"{"events":[{"type":"X","data":{}}]}"#)
            try a.expectProblem(answer, 503, "not_primary")
            #expect(answer.body.contains(#""primary":"\#(b.socket)""#), "\(answer.body)")

            // A clean stop of b releases the lease at once; a, deposed, still does not take it.
            #expect(b.kill(SIGTERM) == 0)
            sleepMilliseconds(3_000)
            #expect(try Self.appendOne(a, 200) == 503)
        }
    }

    @Test(.enabled(if: LocalEtcd.isInstalled, Comment(rawValue: LocalEtcd.absence)))
    func aCleanStopHandsTheLeaseOverAtOnceAndLosingEtcdFences() throws {
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            let etcd = try LocalEtcd(directory: directory)
            defer { etcd.stop() }
            // A 6 s lease: a handover well within it shows the lease was released, not waited for.
            let a = try Self.daemon("a", in: directory, etcd: etcd.endpoint, ttl: 6)
            defer { a.kill(SIGKILL) }
            #expect(try Self.secondsUntil(20) { try Self.appendOne(a, 0) == 201 } != nil)
            let b = try Self.daemon("b", in: directory, etcd: etcd.endpoint, ttl: 6)
            defer { b.kill(SIGKILL) }
            sleepMilliseconds(1_000)
            #expect(a.kill(SIGTERM) == 0)
            let handover = try #require(try Self.secondsUntil(20) { try Self.appendOne(b, 1) == 201 })
            print("clean stop: b accepted appends \(String(format: "%.2f", handover)) s after a stopped (lease TTL 6 s)")
            #expect(handover < 4, "the lease is revoked at stop: no TTL to wait")

            // etcd gone: b fences itself within TTL − margin (5.5 s), and answers fenced.
            etcd.stop()
            let fenced = try #require(try Self.secondsUntil(20) { try Self.appendOne(b, 2) == 503 })
            print("etcd stopped: b fenced after \(String(format: "%.2f", fenced)) s (TTL 6 s − margin 0.5 s)")
            #expect(fenced <= 5.5 + 2)
            try b.expectProblem(try b.append("failover-0", #"{"events":[{"type":"X","data":{}}]}"#), 503, "fenced")
        }
    }

    /// The partition: both daemons under load, the leaseholder cut off from etcd (through a
    /// proxy that stops forwarding) while the other still reaches it. The cut-off one stops
    /// appending before the other starts: every entry it recorded is older than every entry the
    /// other recorded (the writers' own timestamps, one machine, one clock).
    @Test(.enabled(if: LocalEtcd.isInstalled, Comment(rawValue: LocalEtcd.absence)))
    func aPrimaryCutOffFromEtcdStopsBeforeTheOtherStarts() throws {
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            let etcd = try LocalEtcd(directory: directory)
            defer { etcd.stop() }
            let proxy = try TCPProxy(target: etcd.clientPort)
            let a = try Self.daemon("a", in: directory, etcd: "http://127.0.0.1:\(proxy.port)")
            defer { a.kill(SIGKILL) }
            #expect(try Self.secondsUntil(20) { try Self.appendOne(a, 0) == 201 } != nil)
            let b = try Self.daemon("b", in: directory, etcd: etcd.endpoint)
            defer { b.kill(SIGKILL) }

            // Writers on both, for about six seconds; the cut after one.
            func load(_ daemon: RunningDaemon) throws -> pid_t {
                let script = """
                    end=$(($(date +%s) + 6)); i=0
                    while [ $(date +%s) -lt $end ]; do
                      i=$((i + 1))
                      curl -s -o /dev/null --max-time 5 --unix-socket \(daemon.socket) -H 'content-type: application/json' \\
                        --data-binary '{"events":[{"type":"X","data":{"n":'$i'}}]}' http://localhost/v1/streams/load/events
                    done
                    """
                return try spawn("/bin/sh", ["-c", script], outputFile: daemon.directory + "/load.log")
            }
            let loads = [try load(a), try load(b)]
            sleepMilliseconds(1_000)
            proxy.cut()
            for pid in loads {
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }

            func recordedTimes(_ daemon: RunningDaemon) throws -> [String] {
                var times: [String] = []
                var from = 0
                while true {
                    let page = try daemon.json("/v1/log?from=\(from)&limit=1000")
                    let entries = page["entries"] as? [[String: Any]] ?? []
                    times += entries.compactMap { $0["recordedAt"] as? String }
                    guard entries.count == 1_000 else { return times }
                    from += 1_000
                }
            }
            let timesA = try recordedTimes(a)
            let timesB = try recordedTimes(b)
            print(
                "partition under load: a appended \(timesA.count), b \(timesB.count); a's last at \(timesA.max() ?? "-"), b's first at \(timesB.min() ?? "-")"
            )
            #expect(timesA.count > 1 && !timesB.isEmpty, "both appended: a before the cut, b after its takeover")
            // ISO 8601 in UTC with milliseconds: the text orders as the time.
            #expect(try #require(timesA.max()) < (try #require(timesB.min())), "the two primaries' appends overlap")
            try b.expectProblem(try a.append("x", #"{"events":[{"type":"X","data":{}}]}"#), 503, "fenced")
        }
    }
}
