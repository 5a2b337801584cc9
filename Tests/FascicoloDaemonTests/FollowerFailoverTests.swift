import FascicoloCrypto
import FascicoloTesting
import Foundation
import Glibc
import Testing

@testable import FascicoloDaemon

/// Failover with a follower (issue 23, part 3): a primary and a standby following it, both with
/// `[failover]` on one local etcd. kill -9 of the primary under load: the caught-up standby takes
/// the lease, stops following and appends, continuing the same log with its copy of the key;
/// nothing acknowledged is lost with synchronous replication; the history is one log — the
/// standby's verifies from the first key, and the old primary, restarted as a follower of the new
/// one, finds its log a prefix of it and follows (or, holding entries the new primary never
/// received, refuses and alarms).
@Suite(.serialized) struct FollowerFailoverTests {
    struct Pair {
        let directory: String
        let verifierKey: String
        let a: RunningDaemon
        let b: RunningDaemon
    }

    /// `a` primary, `b` following it; both candidates for the lease.
    static func pair(in directory: String, etcd: String, primaryExtra: String = "", followerExtra: String = "") throws -> Pair {
        let key = SigningKey()
        for node in ["a", "b"] {
            mkdir(directory + "/" + node, 0o755)
            mkdir(directory + "/\(node)/data", 0o700)
            try key.withSeed { try KeyFile.writeNewSecret(path: directory + "/\(node)/data/" + KeyFile.secretName, bytes: $0) }
        }
        let verifierKey = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: key.publicKey)
        let a = try FailoverTests.daemon("a", in: directory, etcd: etcd, extra: primaryExtra)
        // The lease, not an append: with synchronous replication a waits for its follower.
        #expect(
            try FailoverTests.secondsUntil(20) { try a.call("/metrics").body.contains("fascicolo_lease_held 1") } != nil,
            "a never took the lease")
        let b = try FailoverTests.daemon(
            "b", in: directory, etcd: etcd,
            extra: """
                \(followerExtra)
                [replication]
                follow = "\(a.socket)"
                trusted_key = "\(verifierKey)"
                """)
        return Pair(directory: directory, verifierKey: verifierKey, a: a, b: b)
    }

    /// Appends `{"n":i}` to `daemon` from a shell loop for `seconds`; the file lists each
    /// acknowledged n.
    static func load(_ daemon: RunningDaemon, seconds: Int, into file: String) throws -> pid_t {
        let script = """
            end=$(($(date +%s) + \(seconds))); i=0
            while [ $(date +%s) -lt $end ]; do
              i=$((i + 1))
              code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket \(daemon.socket) \\
                -H 'content-type: application/json' --data-binary '{"events":[{"type":"X","data":{"n":'$i'}}]}' \\
                http://localhost/v1/streams/load/events)
              [ "$code" = 201 ] && echo $i >> \(file)
            done
            """
        return try spawn("/bin/sh", ["-c", script], outputFile: file + ".log")
    }

    static func loggedNumbers(_ daemon: RunningDaemon) throws -> Set<Int> {
        var numbers = Set<Int>()
        var from = 0
        while true {
            let page = try daemon.json("/v1/log?from=\(from)&limit=1000")
            let entries = page["entries"] as? [[String: Any]] ?? []
            for entry in entries where entry["stream"] as? String == "load" {
                if let n = (entry["data"] as? [String: Any])?["n"] as? Int { numbers.insert(n) }
            }
            guard entries.count == 1_000 else { return numbers }
            from += 1_000
        }
    }

    static func replicationState(_ daemon: RunningDaemon) throws -> String? {
        let status = try daemon.json("/v1/replication/status")
        return (status["following"] as? [String: Any])?["state"] as? String
    }

    /// kill -9 of the primary under load; the follower takes over. Returns (takeover seconds,
    /// acknowledged entries lost).
    static func killThePrimaryUnderLoad(_ pair: Pair) throws -> (takeover: Double, lost: Int, acked: Int) {
        #expect(try FailoverTests.secondsUntil(30) { try replicationState(pair.b) == "caught_up" } != nil)
        let acknowledged = pair.directory + "/acked"
        let loader = try load(pair.a, seconds: 30, into: acknowledged)
        sleepMilliseconds(1_500)
        pair.a.kill(SIGKILL)
        kill(loader, SIGKILL)
        var status: Int32 = 0
        waitpid(loader, &status, 0)
        let takeover = try #require(try FailoverTests.secondsUntil(20) { try FailoverTests.appendOne(pair.b, 1_000_000) == 201 })
        let acked = Set(readFile(acknowledged).split(separator: "\n").compactMap { Int($0) })
        let held = try loggedNumbers(pair.b)
        return (takeover, acked.subtracting(held).count, acked.count)
    }

    /// After kill -9 and the takeover: one log (the new primary's verifies from the first key),
    /// and the old primary, restarted as a follower of the new one, follows it when its log is a
    /// prefix — or, holding entries the new primary never received (committed while it waited
    /// for its follower, or never shipped), refuses it with the alarm, overwriting nothing.
    static func checkOneLogAndTheRejoin(_ pair: Pair) throws -> String {
        #expect(try Self.replicationState(pair.b) == "stopped")
        let verified = try cli(["verify", "--fast", "--key", pair.verifierKey, pair.directory + "/b/data"])
        #expect(verified.status == 0, "\(verified.output)")
        let follow = "follow = \"\(pair.b.socket)\"\ntrusted_key = \"\(pair.verifierKey)\"\n"
        let configuration = readFile(pair.a.configPath)
        try writeFile(
            pair.a.configPath,
            configuration.contains("[replication]\n")
                ? configuration.replacingOccurrences(of: "[replication]\n", with: "[replication]\n" + follow)
                : configuration + "\n[replication]\n" + follow)
        try pair.a.start()
        var state: String?
        _ = try FailoverTests.secondsUntil(10) {
            state = try Self.replicationState(pair.a)
            return state == "caught_up" || state == "refused"
        }
        #expect(state == "caught_up" || state == "refused", "\(state ?? "-")")
        try pair.a.expectProblem(try pair.a.append("x", #"{"events":[{"type":"X","data":{}}]}"#), 503, "not_primary")
        if state == "refused" {
            #expect(try pair.a.call("/metrics").body.contains("fascicolo_replication_refused 1"))
        }
        return state ?? "-"
    }

    @Test(.enabled(if: LocalEtcd.isInstalled, Comment(rawValue: LocalEtcd.absence)))
    func aCaughtUpFollowerTakesOverAndTheOldPrimaryRejoinsAsItsFollower() throws {
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            let etcd = try LocalEtcd(directory: directory)
            defer { etcd.stop() }
            let pair = try Self.pair(in: directory, etcd: etcd.endpoint)
            defer {
                pair.a.kill(SIGKILL)
                pair.b.kill(SIGKILL)
            }
            let result = try Self.killThePrimaryUnderLoad(pair)
            let rejoin = try Self.checkOneLogAndTheRejoin(pair)
            print(
                "failover, asynchronous follower: \(result.acked) appends acknowledged by the primary, \(result.lost) of them lost; "
                    + "the follower accepted appends \(String(format: "%.2f", result.takeover)) s after kill -9; the old primary, "
                    + "restarted as a follower: \(rejoin)")
            #expect(result.takeover <= 10)  // ≤ 5 s is the target on a quiet machine (printed above)
        }
    }

    static let synchronousReplicationLanded = DaemonConfiguration.keys.contains { $0.name == "replication.synchronous_followers" }

    @Test(
        .enabled(if: LocalEtcd.isInstalled, Comment(rawValue: LocalEtcd.absence)),
        .enabled(if: synchronousReplicationLanded, "synchronous replication (helper follow's) is not on this branch yet"))
    func withASynchronousFollowerNothingAcknowledgedIsLost() throws {
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            let etcd = try LocalEtcd(directory: directory)
            defer { etcd.stop() }
            let pair = try Self.pair(
                in: directory, etcd: etcd.endpoint, primaryExtra: "[replication]\nsynchronous_followers = 1\n")
            defer {
                pair.a.kill(SIGKILL)
                pair.b.kill(SIGKILL)
            }
            let result = try Self.killThePrimaryUnderLoad(pair)
            let rejoin = try Self.checkOneLogAndTheRejoin(pair)
            print(
                "failover, synchronous follower (K = 1): \(result.acked) appends acknowledged by the primary, \(result.lost) of them lost; "
                    + "the follower accepted appends \(String(format: "%.2f", result.takeover)) s after kill -9; the old primary, "
                    + "restarted as a follower: \(rejoin)")
            #expect(result.acked > 0)
            #expect(result.lost == 0)
            #expect(result.takeover <= 10)  // ≤ 5 s is the target on a quiet machine (printed above)
        }
    }

    /// Promotion by hand, for sites without etcd: `fascicolo promote` refuses a primary, and
    /// once the old primary is down makes the caught-up follower the primary, continuing the
    /// same log.
    /// `a` primary and `b` following it, without etcd: the same key in both directories.
    static func plainPair(in directory: String) throws -> (a: RunningDaemon, b: RunningDaemon, verifierKey: String) {
        let key = SigningKey()
        let verifierKey = SignedNote.verifierKey(name: "fascicolo.invalid/ledger", publicKey: key.publicKey)
        var daemons: [RunningDaemon] = []
        for node in ["a", "b"] {
            let home = directory + "/" + node
            mkdir(home, 0o755)
            mkdir(home + "/data", 0o700)
            try key.withSeed { try KeyFile.writeNewSecret(path: home + "/data/" + KeyFile.secretName, bytes: $0) }
            try writeFile(
                home + "/fascicolod.toml",
                """
                [storage]
                data_directory = "\(home)/data"
                [socket]
                path = "\(home)/api.sock"
                [access]
                admin = "uid:0"
                [ledger]
                checkpoint_every_milliseconds = 50
                [domain]
                reference_directory = "\(packageDirectory())/Config/reference"
                """
                    + (node == "b" ? "\n[replication]\nfollow = \"\(directory)/a/api.sock\"\ntrusted_key = \"\(verifierKey)\"\n" : ""))
            daemons.append(try RunningDaemon(directory: home, configPath: home + "/fascicolod.toml", socket: home + "/api.sock"))
        }
        return (daemons[0], daemons[1], verifierKey)
    }

    /// Promotion by hand, for sites without etcd: `fascicolo promote` refuses a primary, and
    /// once the old primary is down makes the caught-up follower the primary, continuing the
    /// same log.
    @Test func fascicoloPromoteMakesACaughtUpFollowerThePrimary() throws {
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            let (a, b, verifierKey) = try Self.plainPair(in: directory)
            defer {
                a.kill(SIGKILL)
                b.kill(SIGKILL)
            }
            for index in 1...5 { #expect(try FailoverTests.appendOne(a, index) == 201) }
            #expect(try FailoverTests.secondsUntil(30) { try Self.replicationState(b) == "caught_up" } != nil)

            let refused = try cli(a, "promote")
            #expect(refused.status == 1 && refused.output.contains("not_a_follower"), "\(refused.output)")
            try b.expectProblem(try b.append("x", #"{"events":[{"type":"X","data":{}}]}"#), 503, "not_primary")

            // The fence first: the old primary is stopped. Then the promotion.
            a.kill(SIGKILL)
            let promoted = try cli(b, "promote")
            #expect(promoted.status == 0 && promoted.output.contains("this daemon is the primary"), "\(promoted.output)")
            #expect(try FailoverTests.appendOne(b, 6) == 201)
            let again = try cli(b, "promote")
            #expect(again.status == 1 && again.output.contains("not_a_follower"), "promoted already: \(again.output)")
            let verified = try cli(["verify", "--fast", "--key", verifierKey, directory + "/b/data"])
            #expect(verified.status == 0, "\(verified.output)")
        }
    }

    /// The old primary holds entries the promoted follower never received: restarted as the new
    /// primary's follower, it finds the logs forked, refuses to follow and raises the alarm,
    /// overwriting nothing. Also: a follower that has not heard from its primary since it
    /// started is promoted only with --force.
    @Test func anOldPrimaryWithEntriesTheNewOneLacksRefusesToFollowIt() throws {
        try withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            let (a, b, _) = try Self.plainPair(in: directory)
            defer {
                a.kill(SIGKILL)
                b.kill(SIGKILL)
            }
            for index in 1...3 { #expect(try FailoverTests.appendOne(a, index) == 201) }
            #expect(try FailoverTests.secondsUntil(30) { try Self.replicationState(b) == "caught_up" } != nil)
            b.kill(SIGKILL)
            for index in 4...5 { #expect(try FailoverTests.appendOne(a, index) == 201) }  // b never gets these
            let sizeOfA = try a.json("/v1/replication/status")["entries"] as? Int
            a.kill(SIGKILL)

            try b.start()
            let unsure = try cli(b, "promote")
            #expect(unsure.status == 1 && unsure.output.contains("not_caught_up"), "\(unsure.output)")
            let forced = try cli(b, "promote", "--force")
            #expect(forced.status == 0, "\(forced.output)")
            #expect(try FailoverTests.appendOne(b, 100) == 201)

            try writeFile(
                a.configPath,
                readFile(a.configPath) + "\n[replication]\nfollow = \"\(b.socket)\"\n"
                    + "trusted_key = \"\(try #require(try b.json("/v1/keys")["firstKey"] as? String))\"\n")
            try a.start()
            #expect(try FailoverTests.secondsUntil(30) { try Self.replicationState(a) == "refused" } != nil)
            #expect(try a.call("/metrics").body.contains("fascicolo_replication_refused 1"))
            // Nothing overwritten: a still holds its own five entries.
            #expect(try a.json("/v1/replication/status")["entries"] as? Int == sizeOfA)
        }
    }
}
