import FascicoloCrypto
import FascicoloLedger
import FascicoloTesting
import Foundation
import Glibc
import Testing

/// The real daemon on a temporary socket, driven with curl — as its users drive it.
@Suite(.serialized) struct EndToEndTests {
    /// The daemon serves the API on its socket, as curl sees it. Every endpoint and refusal is
    /// checked in process (FascicoloServerTests/APIRoutesTests); this is what needs the process.
    @Test func theDaemonServesTheAPIOnItsSocket() throws {
        try withDaemon { daemon in
            #expect(try daemon.call("/v1/health/live") == (200, #"{"status":"live"}"#))
            #expect(try daemon.call("/v1/openapi.yaml").body.hasPrefix("openapi: 3.1.0"))
            let first = try daemon.append("case-1", #"{"events":[{"type":"CaseOpened","data":{"b":1}},{"type":"Note","data":"ok"}]}"#)
            #expect(first.status == 201 && first.body.contains(#""positions":[0,1]"#))
            try daemon.expectProblem(
                daemon.append("case-1", #"{"events":[{"type":"X","data":1}],"expectedVersion":0}"#), 409, "wrong_expected_version")
            try daemon.expectProblem(daemon.call("/nowhere"), 404, "not_found")
            let stream = try daemon.json("/v1/streams/case-1/events?direction=backwards&limit=1")
            let newest = try #require((stream["entries"] as? [[String: Any]])?.first)
            #expect(newest["author"] as? String == "uid:0/unnamed")  // uid 0, from the kernel

            // The process's metrics: its writer, its connections, Hummingbird's request metrics.
            let metrics = try daemon.call("/metrics").body
            #expect(metrics.contains("fascicolo_appends_total 1") && metrics.contains("fascicolo_log_entries 2"))
            #expect(metrics.contains(#"fascicolo_rejections_total{code="wrong_expected_version"} 1"#))
            #expect(metrics.contains(#"http_route="/v1/streams/{stream}/events""#) && !metrics.contains("case-1"))
            for phase in ["wait", "sign", "write", "sync"] {
                let prefix = #"fascicolo_commit_seconds_total{phase=""# + phase + #""} "#
                let value = metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
                #expect(value.map { phase == "wait" ? $0 >= 0 : $0 > 0 } == true, "\(phase): \(String(describing: value))")
            }
        }
    }

    @Test(.enabled(if: getuid() == 0, "needs root to act as other uids with setpriv"))
    func rolesComeFromTheKernelAndAreEnforced() throws {
        try withDaemon(access: #"writer = "uid:2001"\#nauditor = "uid:2002"\#nservices = "2001=test-writer""#) { daemon in
            let writer: UInt32 = 2001
            let auditor: UInt32 = 2002
            let stranger: UInt32 = 2003
            let appended = try daemon.append("case-9", #"{"events":[{"type":"X","data":{"n":1}}]}"#, as: writer)
            #expect(appended.status == 201, "\(appended.body)")
            #expect(try daemon.call("/v1/streams/case-9/events", as: writer).status == 200)
            for path in ["/v1/log", "/v1/entries/0", "/v1/proofs/inclusion?position=0", "/v1/checkpoints/latest", "/metrics"] {
                try daemon.expectProblem(daemon.call(path, as: writer), 403, "forbidden")
            }
            let entries = try daemon.json("/v1/log", as: auditor)["entries"] as? [[String: Any]]
            #expect(entries?.first?["author"] as? String == "uid:2001/test-writer")  // stamped by the daemon
            try daemon.expectProblem(daemon.append("case-9", #"{"events":[{"type":"X","data":1}]}"#, as: auditor), 403, "forbidden")
            try daemon.expectProblem(daemon.call("/metrics", as: auditor), 403, "forbidden")
            for path in ["/v1/health/live", "/v1/keys", "/v1/streams/case-9/events"] {
                try daemon.expectProblem(daemon.call(path, as: stranger), 403, "forbidden")
            }
            try daemon.expectProblem(daemon.append("case-9", #"{"events":[{"type":"X","data":1}]}"#, as: stranger), 403, "forbidden")
        }
    }

    @Test func sigkillLosesNoAcknowledgedAppendAndAStaleSocketDoesNotBlockARestart() throws {
        try withDaemon { daemon in
            // Four shell loops append through curl and record each acknowledged answer.
            let script = """
                for i in $(seq 1 400); do
                  curl -s --unix-socket "\(daemon.socket)" -H 'content-type: application/json' \
                    -d "{\\"events\\":[{\\"type\\":\\"X\\",\\"data\\":$i}]}" http://localhost/v1/streams/s-$1/events \
                    -w '\\n%{http_code}\\n' | tr '\\n' ' ' | grep ' 201 ' >> "$2" || true
                  echo >> "$2"
                done
                """
            let scriptPath = daemon.directory + "/load.sh"
            try writeFile(scriptPath, script)
            let loaders = try (0..<4).map { index in
                try spawn("/bin/sh", [scriptPath, "\(index)", daemon.directory + "/acks-\(index)"], outputFile: "/dev/null")
            }
            sleepMilliseconds(700)
            daemon.kill(SIGKILL)
            for loader in loaders {
                kill(loader, SIGKILL)
                var status: Int32 = 0
                waitpid(loader, &status, 0)
            }
            #expect(access(daemon.socket, F_OK) == 0, "the crash leaves the socket file behind")

            try daemon.restart()
            var acknowledged = 0
            for index in 0..<4 {
                for line in readFile(daemon.directory + "/acks-\(index)").split(separator: "\n") where line.contains("positions") {
                    let digits = line.split(separator: "[")[1].prefix { $0.isNumber }
                    let position = try #require(Int(digits))
                    let entry = try daemon.json("/v1/entries/\(position)")
                    #expect(entry["stream"] as? String == "s-\(index)")
                    acknowledged += 1
                }
            }
            #expect(acknowledged > 0)
        }
    }

    @Test func sigtermDrainsCommitsAndRemovesTheSocket() throws {
        try withDaemon { daemon in
            for index in 0..<20 {
                #expect(try daemon.append("s", #"{"events":[{"type":"X","data":\#(index)}]}"#).status == 201)
            }
            let status = daemon.kill(SIGTERM)
            #expect(status == 0)
            #expect(access(daemon.socket, F_OK) != 0, "the socket file is removed on a clean exit")
            let report = try Verifier.verify(directory: daemon.directory + "/data")
            #expect(report.entries == 20 && report.checkpoints >= 1)
        }
    }

    @Test func aSubscriberReceivesLiveAppendsInOrderAndResumesAfterADisconnect() throws {
        try withDaemon { daemon in
            #expect(try daemon.append("s", #"{"events":[{"type":"X","data":0}]}"#).status == 201)
            let output = daemon.directory + "/subscription-1.ndjson"
            let subscriber = try spawn(
                "/usr/bin/env",
                [
                    "curl", "-sN", "--unix-socket", daemon.socket,
                    "http://localhost/v1/subscribe?from=0",
                ], outputFile: output)
            for index in 1...30 {
                #expect(try daemon.append("s", #"{"events":[{"type":"X","data":\#(index)},{"type":"Y","data":\#(index)}]}"#).status == 201)
            }
            var lines: [Substring] = []
            for _ in 0..<200 where lines.count < 61 {
                sleepMilliseconds(10)
                lines = readFile(output).split(separator: "\n")
            }
            kill(subscriber, SIGKILL)  // the client goes away
            var status: Int32 = 0
            waitpid(subscriber, &status, 0)
            let positions = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .compactMap { $0["position"] as? Int }
            #expect(positions == Array(0..<61), "in order, no gap, no duplicate")

            // Data sent with line breaks between tokens stays on one NDJSON line.
            #expect(try daemon.append("s", "{\"events\":[{\"type\":\"X\",\"data\":{\"a\":\r\n1}}]}").status == 201)
            let multiline = try daemon.call("/v1/streams/s/events?direction=backwards&limit=1").body
            #expect(!multiline.contains("\n") && multiline.contains(#""data":{"a":  1}"#), "\(multiline)")

            // Resume from the next position: earlier entries are not sent again; new ones follow.
            let resumed = daemon.directory + "/subscription-2.ndjson"
            let second = try spawn(
                "/usr/bin/env",
                [
                    "curl", "-sN", "--unix-socket", daemon.socket,
                    "http://localhost/v1/subscribe?from=62",
                ], outputFile: resumed)
            #expect(try daemon.append("s", #"{"events":[{"type":"X","data":"after"}]}"#).status == 201)
            var resumedLines: [Substring] = []
            for _ in 0..<200 where resumedLines.isEmpty {
                sleepMilliseconds(10)
                resumedLines = readFile(resumed).split(separator: "\n")
            }
            #expect(resumedLines.first?.contains(#""position":62"#) == true, "\(resumedLines)")
            // A heartbeat arrives while the log is quiet (every 300 ms in this configuration).
            sleepMilliseconds(700)
            #expect(readFile(resumed).contains(#""heartbeat":true"#))
            // Shutdown ends the stream with a reason and the position to resume from.
            #expect(daemon.kill(SIGTERM) == 0)
            waitpid(second, &status, 0)
            #expect(
                readFile(resumed).split(separator: "\n").last?.contains(#"{"end":"shutting_down","resumeFrom":63}"#) == true,
                "\(readFile(resumed))")
        }
    }

    @Test func aSubscriberThatFallsTooFarBehindIsEndedWithAResumePosition() throws {
        try withDaemon(extra: "[subscriptions]\nlag_entries_max = 5\nheartbeat_milliseconds = 300") { daemon in
            // A client that reads nothing: curl writing into a pipe nobody drains would block; a
            // paused (SIGSTOP) curl stops reading its socket, so the server's writes back up.
            let output = daemon.directory + "/slow.ndjson"
            let subscriber = try spawn(
                "/usr/bin/env",
                [
                    "curl", "-sN", "--unix-socket", daemon.socket,
                    "http://localhost/v1/subscribe",
                ], outputFile: output)
            sleepMilliseconds(300)
            kill(subscriber, SIGSTOP)
            let big = String(repeating: "x", count: 900)
            for _ in 0..<400 {
                _ = try daemon.append("s", #"{"events":[{"type":"X","data":"\#(big)"}]}"#)
            }
            kill(subscriber, SIGCONT)
            var status: Int32 = 0
            waitpid(subscriber, &status, 0)  // the server ended the stream
            let last = readFile(output).split(separator: "\n").last ?? ""
            #expect(last.contains(#""end":"too_far_behind""#) && last.contains("resumeFrom"), "\(last)")
        }
    }

    /// Subscriptions beyond `subscriptions.concurrent_max` are refused (503, Retry-After) until
    /// one ends.
    @Test func subscriptionsBeyondTheLimitAreRefused() throws {
        try withDaemon(extra: "[subscriptions]\nconcurrent_max = 1\nheartbeat_milliseconds = 300") { daemon in
            let output = daemon.directory + "/first.ndjson"
            let first = try spawn(
                "/usr/bin/env", ["curl", "-sN", "--unix-socket", daemon.socket, "http://localhost/v1/subscribe"],
                outputFile: output)
            var heard = false
            for _ in 0..<100 where !heard {
                sleepMilliseconds(50)
                heard = readFile(output).contains("heartbeat")
            }
            #expect(heard, "the first subscription answers")
            let refused = try daemon.call("/v1/subscribe")
            try daemon.expectProblem(refused, 503, "too_many_subscriptions")
            kill(first, SIGKILL)  // the client goes away: its slot is released
            var status: Int32 = 0
            waitpid(first, &status, 0)
            var admitted = false
            for _ in 0..<100 where !admitted {
                sleepMilliseconds(50)
                let headers = try runProcess(
                    "/usr/bin/env",
                    [
                        "curl", "-s", "-m", "1", "-D", "-", "-o", "/dev/null", "--unix-socket",
                        daemon.socket, "http://localhost/v1/subscribe",
                    ])
                admitted = headers.output.hasPrefix("HTTP/1.1 200")
            }
            #expect(admitted, "a new subscription is admitted once the first has gone")
        }
    }

    /// The curl examples of the README and of docs/api.md, run against a live daemon, so that
    /// they cannot go stale.
    @Test func theDocumentedCurlExamplesWork() throws {
        let pages = ["README.md", "docs/api.md"].map(readFile)
        let examples = pages.flatMap { $0.split(separator: "\n") }.filter { $0.hasPrefix("curl --unix-socket data/fascicolod.sock") }
        try #require(examples.count >= 15, "the README and docs/api.md should show curl examples")
        try withDaemon(socketInDataDirectory: true) { daemon in
            for example in examples {
                let command =
                    example.replacingOccurrences(of: "data/fascicolod.sock", with: daemon.socket) + " -sf -o /dev/null -w '%{http_code}'"
                let result = try runProcess("/bin/sh", ["-c", command])
                #expect(result.status == 0 && result.output.hasPrefix("2"), "\(example) → \(result.output)")
            }
        }
    }
}

/// A daemon on a temporary data directory and socket, stopped (SIGKILL) at the end.
final class RunningDaemon {
    let directory: String
    let socket: String
    let configPath: String
    private(set) var pid: pid_t = 0

    init(directory: String, configPath: String, socket: String) throws {
        self.directory = directory
        self.configPath = configPath
        self.socket = socket
        try start()
    }

    func start() throws {
        let binary = productsDirectory() + "/fascicolod"
        try #require(access(binary, X_OK) == 0, "build fascicolod first (tools/test does)")
        let log = directory + "/daemon-\(Int.random(in: 0...1_000_000)).log"
        pid = try spawn(binary, ["--config", configPath], outputFile: log)
        for _ in 0..<500 where access(socket, F_OK) != 0 || !readFile(log).contains("listening") {
            sleepMilliseconds(10)
        }
        try #require(readFile(log).contains("listening"), "the daemon did not start: \(readFile(log))")
    }

    func restart() throws { try start() }

    /// Sends `signal` and waits; returns the exit status (or 128 + signal).
    @discardableResult
    func kill(_ signal: Int32) -> Int32 {
        guard pid > 0 else { return -1 }
        Glibc.kill(pid, signal)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    func call(
        _ path: String, method: String = "GET", body: String? = nil, contentType: String = "application/json",
        as uid: UInt32? = nil, headers: [String] = [], maxSeconds: Int = 30
    ) throws -> (status: Int, body: String) {
        var arguments = ["curl", "-s", "--max-time", "\(maxSeconds)", "--unix-socket", socket, "-X", method, "-w", "\n%{http_code}"]
        for header in headers { arguments += ["-H", header] }
        if let body { arguments += ["-H", "content-type: \(contentType)", "--data-binary", body] }
        arguments.append("http://localhost" + path)
        if let uid { arguments = ["setpriv", "--reuid=\(uid)", "--regid=0", "--clear-groups"] + arguments }
        let result = try runProcess("/usr/bin/env", arguments)
        let status = Int(result.output.split(separator: "\n").last ?? "") ?? 0
        let text = result.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().joined(separator: "\n")
        return (status, text)
    }

    func append(_ stream: String, _ body: String, as uid: UInt32? = nil) throws -> (status: Int, body: String) {
        try call("/v1/streams/\(stream)/events", method: "POST", body: body, as: uid)
    }

    func json(_ path: String, as uid: UInt32? = nil, headers: [String] = []) throws -> [String: Any] {
        let result = try call(path, as: uid, headers: headers)
        try #require(result.status == 200, "\(path) → \(result.status) \(result.body)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any])
    }

    func expectProblem(
        _ result: (status: Int, body: String), _ status: Int, _ code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(result.status == status, "\(result.body)", sourceLocation: sourceLocation)
        let problem = try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any]
        #expect(problem?["code"] as? String == code, "\(result.body)", sourceLocation: sourceLocation)
        #expect(problem?["status"] as? Int == status, sourceLocation: sourceLocation)
    }
}

func withDaemonResult<T>(_ body: (RunningDaemon) throws -> T) throws -> T {
    var result: T?
    try withDaemon { result = try body($0) }
    return result!
}

/// Runs `body` with a fresh daemon: payloads up to 1 KiB, checkpoints every 50 ms, the socket in
/// a directory other uids can reach (the data directory is 0700).
func withDaemon(
    access: String = "", limits: String = "", extra: String = "[subscriptions]\nheartbeat_milliseconds = 300",
    socketInDataDirectory: Bool = false, _ body: (RunningDaemon) throws -> Void
) throws {
    try withTemporaryDirectory { directory in
        chmod(directory, 0o755)
        let socket = socketInDataDirectory ? directory + "/data/fascicolod.sock" : directory + "/api.sock"
        let config = directory + "/fascicolod.toml"
        try writeFile(
            config,
            """
            [storage]
            data_directory = "\(directory)/data"
            [socket]
            path = "\(socketInDataDirectory ? "" : socket)"
            [access]
            admin = "uid:0"
            \(access)
            [ledger]
            checkpoint_every_milliseconds = 50
            [limits]
            payload_bytes_max = 1024
            request_bytes_max = 16384
            \(limits)
            [domain]
            reference_directory = "\(packageDirectory())/Config/reference"
            \(extra)
            """)
        let daemon = try RunningDaemon(directory: directory, configPath: config, socket: socket)
        defer { daemon.kill(SIGKILL) }
        try body(daemon)
    }
}
