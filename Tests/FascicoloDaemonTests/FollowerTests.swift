import FascicoloTesting
import Foundation
import Glibc
import Testing

/// Follower mode end to end: real daemons on their own sockets and data directories, the follower
/// reading the primary's socket (`fascicolod --follow`).
@Suite(.serialized) struct FollowerTests {
    @Test func aFollowerVerifiesStoresAndServesTheLogAndRefusesAppends() throws {
        try withPrimaryAndFollower { primary, follower in
            for index in 0..<30 {
                #expect(try primary.append("orders-\(index % 3)", #"{"events":[{"type":"Placed","data":{"n":\#(index)}}]}"#).status == 201)
            }
            // A key rotation: the follower goes on with the key the log's KeyRotated entry names.
            let rotated = try primary.call("/v1/admin/keys/rotate", method: "POST", body: #"{"retire":"keep"}"#)
            #expect(rotated.status == 201, "\(rotated.body)")
            for index in 0..<10 {
                #expect(try primary.append("orders-after", #"{"events":[{"type":"Placed","data":{"n":\#(index)}}]}"#).status == 201)
            }
            let size = try waitUntilCaughtUp(primary: primary, follower: follower)
            #expect(size == 41)

            // The same entries, signatures and checkpoints, at the same positions.
            let primaryLog = try primary.call("/v1/log?from=0&limit=1000&signed=true")
            let followerLog = try follower.call("/v1/log?from=0&limit=1000&signed=true")
            #expect(primaryLog.status == 200 && primaryLog.body == followerLog.body)
            #expect(try follower.call("/v1/checkpoints/latest").body == primary.call("/v1/checkpoints/latest").body)
            #expect(
                try follower.call("/v1/proofs/consistency?from=7&to=41").body == primary.call("/v1/proofs/consistency?from=7&to=41").body)
            #expect(try follower.call("/v1/keys").body == primary.call("/v1/keys").body)

            // Appends are refused, naming the primary; reads that must be recorded are refused too.
            let refused = try follower.append("orders-0", #"{"events":[{"type":"Placed","data":{"n":1}}]}"#)
            try follower.expectProblem(refused, 503, "not_primary")
            #expect(refused.body.contains(primary.socket))
            let status = try follower.json("/v1/replication/status")
            #expect(status["role"] as? String == "follower")
            let following = try #require(status["following"] as? [String: Any])
            #expect(following["state"] as? String == "caught_up")
            #expect(following["verifiedCheckpointSize"] as? Int == 41)
            #expect(following["refused"] is NSNull)
            let metrics = try follower.call("/metrics").body
            #expect(metrics.contains("fascicolo_replication_lag_entries 0"))
            #expect(metrics.contains("fascicolo_replication_verified_checkpoint_size 41"))
            #expect(metrics.contains("fascicolo_replication_refused 0"))
            // The primary knows its follower and how far it is.
            let followers = try #require(try primary.json("/v1/replication/status")["followers"] as? [[String: Any]])
            #expect(followers.first?["name"] as? String == "standby-1")
        }
    }

    @Test func aFollowerRestartedMidStreamResumesWithoutAGap() throws {
        try withPrimaryAndFollower { primary, follower in
            let load = try appendLoop(primary, count: 400)
            defer { Glibc.kill(load, SIGKILL) }
            // Killed while entries keep coming, then started again.
            for _ in 0..<3 {
                sleepMilliseconds(400)
                follower.kill(SIGKILL)
                sleepMilliseconds(200)
                try follower.restart()
            }
            var status: Int32 = 0
            waitpid(load, &status, 0)
            let size = try waitUntilCaughtUp(primary: primary, follower: follower)
            #expect(size == 400)
            let primaryLog = try primary.call("/v1/log?from=0&limit=1000&signed=true")
            #expect(primaryLog.body == (try follower.call("/v1/log?from=0&limit=1000&signed=true")).body)
            #expect(try follower.call("/v1/checkpoints/latest").body == primary.call("/v1/checkpoints/latest").body)
        }
    }

    @Test func aPrimaryRolledBackOrForkedIsRefusedWithAnAlarmAndNothingIsOverwritten() throws {
        try withPrimaryAndFollower { primary, follower in
            for index in 0..<10 { _ = try primary.append("a", #"{"events":[{"type":"T","data":{"n":\#(index)}}]}"#) }
            _ = try waitUntilCaughtUp(primary: primary, follower: follower)
            // An older copy of the primary's directory, kept aside…
            #expect(primary.kill(SIGTERM) == 0)
            let data = primary.directory + "/data"
            #expect(try runProcess("/bin/cp", ["-a", data, primary.directory + "/backup"]).status == 0)
            try primary.restart()
            for index in 10..<20 { _ = try primary.append("a", #"{"events":[{"type":"T","data":{"n":\#(index)}}]}"#) }
            _ = try waitUntilCaughtUp(primary: primary, follower: follower)
            let held = try follower.call("/v1/checkpoints/latest").body

            // …is restored: the primary's log is now shorter than the follower's.
            #expect(primary.kill(SIGTERM) == 0)
            #expect(try runProcess("/bin/sh", ["-c", "rm -rf '\(data)' && mv '\(primary.directory)/backup' '\(data)'"]).status == 0)
            #expect(try runProcess("/bin/cp", ["-a", data, primary.directory + "/backup"]).status == 0)
            try primary.restart()
            let rolledBack = try waitForRefusal(follower)
            #expect(rolledBack["kind"] as? String == "rolled_back")
            #expect(try follower.call("/metrics").body.contains("fascicolo_replication_refused 1"))
            #expect(try follower.call("/v1/checkpoints/latest").body == held)

            // Appended to after the restore: other entries at positions the follower holds.
            for index in 0..<15 { _ = try primary.append("b", #"{"events":[{"type":"T","data":{"other":\#(index)}}]}"#) }
            follower.kill(SIGTERM)
            try follower.restart()
            let forked = try waitForRefusal(follower)
            #expect(forked["kind"] as? String == "forked")
            #expect(try follower.call("/v1/checkpoints/latest").body == held)
            let logs = try runProcess("/bin/sh", ["-c", "cat '\(follower.directory)'/daemon-*.log"]).output
            #expect(logs.contains("replication stopped"))
        }
    }
}

// MARK: - Helpers

/// A primary (admins: root, so the follower — run as root too — may read its log) and a follower
/// of it, each with its own directory, socket and configuration.
func withPrimaryAndFollower(
    primaryExtra: String = "", followerExtra: String = "", _ body: (RunningDaemon, RunningDaemon) throws -> Void
) throws {
    try withTemporaryDirectory { directory in
        chmod(directory, 0o755)
        let primaryDirectory = directory + "/primary"
        let followerDirectory = directory + "/follower"
        mkdir(primaryDirectory, 0o755)
        mkdir(followerDirectory, 0o755)
        let primary = try RunningDaemon(
            directory: primaryDirectory, configPath: try writeDaemonConfiguration(primaryDirectory, extra: primaryExtra),
            socket: primaryDirectory + "/api.sock")
        defer { primary.kill(SIGKILL) }
        let firstKey = readFile(primaryDirectory + "/data/signing.pub").trimmingCharacters(in: .whitespacesAndNewlines)
        let follower = try RunningDaemon(
            directory: followerDirectory,
            configPath: try writeDaemonConfiguration(
                followerDirectory,
                extra: """
                    [replication]
                    follow = "\(primary.socket)"
                    trusted_key = "\(firstKey)"
                    name = "standby-1"
                    \(followerExtra)
                    """),
            socket: followerDirectory + "/api.sock")
        defer { follower.kill(SIGKILL) }
        try body(primary, follower)
    }
}

func writeDaemonConfiguration(_ directory: String, extra: String) throws -> String {
    let path = directory + "/fascicolod.toml"
    try writeFile(
        path,
        """
        [storage]
        data_directory = "\(directory)/data"
        [socket]
        path = "\(directory)/api.sock"
        [access]
        admin = "uid:0"
        [ledger]
        checkpoint_every_milliseconds = 50
        [limits]
        payload_bytes_max = 1024
        request_bytes_max = 16384
        [domain]
        reference_directory = "\(packageDirectory())/Config/reference"
        \(extra)
        """)
    return path
}

/// Waits until the follower holds every entry of the (idle) primary; returns that size.
@discardableResult
func waitUntilCaughtUp(primary: RunningDaemon, follower: RunningDaemon, seconds: Int = 30) throws -> Int {
    for _ in 0..<(seconds * 20) {
        let size = try primary.json("/v1/replication/status")["entries"] as? Int ?? -1
        let status = try follower.json("/v1/replication/status")
        let following = status["following"] as? [String: Any]
        if let position = following?["position"] as? Int, position == size, status["entries"] as? Int == size { return size }
        sleepMilliseconds(50)
    }
    Issue.record("the follower did not catch up: \(try follower.call("/v1/replication/status").body)")
    return -1
}

/// Waits for the follower's alarm; returns its `refused` member.
func waitForRefusal(_ follower: RunningDaemon, seconds: Int = 30) throws -> [String: Any] {
    for _ in 0..<(seconds * 20) {
        let following = try follower.json("/v1/replication/status")["following"] as? [String: Any]
        if let refused = following?["refused"] as? [String: Any] { return refused }
        sleepMilliseconds(50)
    }
    Issue.record("the follower did not refuse: \(try follower.call("/v1/replication/status").body)")
    return [:]
}

/// A shell loop appending `count` entries, one request each, to the daemon.
func appendLoop(_ daemon: RunningDaemon, count: Int) throws -> pid_t {
    let body = #"{"events":[{"type":"Tick","data":{"n":1}}]}"#
    return try spawn(
        "/bin/sh",
        [
            "-c",
            "i=0; while [ $i -lt \(count) ]; do curl -s -o /dev/null --unix-socket \(daemon.socket) "
                + "-X POST -H 'content-type: application/json' --data-binary '\(body)' "
                + "http://localhost/v1/streams/load-$((i % 4))/events; i=$((i+1)); done",
        ], outputFile: daemon.directory + "/load.log")
}
