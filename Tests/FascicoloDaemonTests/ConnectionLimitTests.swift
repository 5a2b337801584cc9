import FascicoloTesting
import Foundation
import Glibc
import Testing

/// No local lock-out: connections are limited per uid, for peers with no role and in all (with
/// slots only admins may take), idle connections are closed, a request that trickles in is cut
/// off, and the connection limit fits in the descriptor limit. The real daemon, driven by peers
/// of other uids (`setpriv`) running a small raw-socket client.
@Suite(.serialized) struct ConnectionLimitTests {
    @Test(.enabled(if: getuid() == 0, "needs root to act as other uids with setpriv"))
    func peersBeyondTheirAllowanceAreRefusedWhileAnAdminStillConnects() throws {
        let limits = """
            [subscriptions]
            heartbeat_milliseconds = 300
            [connections]
            max = 8
            admin_reserved = 2
            per_uid_max = 3
            no_role_per_uid_max = 1
            no_role_max = 2
            idle_timeout_milliseconds = 60_000
            refusal_log_interval_milliseconds = 600_000
            """
        try withDaemon(access: #"writer = "uid:2001"\#nauditor = "uid:2002""#, extra: limits) { daemon in
            let peers = PeerClient(daemon)
            defer { peers.stopAll() }
            // A writer holds its three; two more are refused at once, with the problem document.
            let writer = try peers.hold(5, as: 2001)
            #expect(writer.open == 3 && writer.refused == 2 && writer.failed == 0, "\(writer)")
            #expect(writer.statusLines == ["HTTP/1.1 503 Service Unavailable"], "\(writer)")
            // Peers with no role: one connection each, two in all.
            let stranger = try peers.hold(3, as: 2003)
            #expect(stranger.open == 1 && stranger.refused == 2, "\(stranger)")
            let another = try peers.hold(2, as: 2004)
            #expect(another.open == 1 && another.refused == 1, "\(another)")
            // Five are open; of the eight, two are the admins': an auditor gets the sixth only.
            let auditor = try peers.hold(3, as: 2002)
            #expect(auditor.open == 1 && auditor.refused == 2, "\(auditor)")
            try daemon.expectProblem(daemon.call("/v1/health/live", as: 2001), 503, "too_many_connections")

            // Root, the admin, still connects: the reserve is its.
            #expect(try daemon.call("/v1/health/live") == (200, #"{"status":"live"}"#))
            sleepMilliseconds(300)  // that connection's slot is released
            // Once the admins hold the reserve too, even root is refused...
            let admin = try peers.hold(2, as: 0)
            #expect(admin.open == 2 && admin.refused == 0, "\(admin)")
            let full = try daemon.call("/v1/health/live")
            try daemon.expectProblem(full, 503, "too_many_connections")
            // ...until a connection closes: its slot is free at once.
            peers.stop(admin)
            #expect(try eventually { try daemon.call("/v1/health/live").status == 200 })
            peers.stop(writer)
            #expect(try eventually { try daemon.call("/v1/health/live", as: 2001).status == 200 }, "the writer's slots are free again")

            let metrics = try daemon.call("/metrics").body
            func refused(_ reason: String) -> Int? {
                let prefix = "fascicolo_connections_refused_total{reason=\"\(reason)\"} "
                return metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) }
            }
            #expect(refused("per_uid") == 2 && refused("no_role") == 3, "\(metrics)")
            #expect((refused("total") ?? 0) >= 4, "\(metrics)")
            // One log line for all of these (the interval is 10 minutes here), naming no peer.
            let refusals = daemonLog(daemon).split(separator: "\n").filter { $0.contains("connections refused") }
            #expect(refusals.count == 1, "\(refusals)")
            for line in refusals {
                #expect(!["2001", "2002", "2003", "2004", "uid:", "pid="].contains { line.contains($0) }, "\(line)")
            }
        }
    }

    @Test func idleConnectionsAreClosedTrickledRequestsCutOffAndSubscriptionsLive() throws {
        let limits = """
            [subscriptions]
            heartbeat_milliseconds = 300
            [connections]
            idle_timeout_milliseconds = 2_500
            request_read_timeout_milliseconds = 1_200
            """
        try withDaemon(extra: limits) { daemon in
            let peers = PeerClient(daemon)
            // Idle from the start, and idle after a request: closed after the idle timeout.
            for mode in ["connect", "request"] {
                let idle = try peers.run(["idle", daemon.socket, mode])
                let seconds = idle["seconds"] as? Double ?? 0
                #expect(idle["closed"] as? Bool == true && (2.3...4.5).contains(seconds), "\(mode): \(idle)")
            }
            // A body trickled a byte every 0.3 s (the idle timeout never fires), and a head
            // trickled the same way: each is answered 408 within the read timeout and closed.
            for part in ["body", "head"] {
                let trickle = try peers.run(["trickle", daemon.socket, part, "0.3"])
                let seconds = trickle["seconds"] as? Double ?? 0
                #expect(trickle["closed"] as? Bool == true && (1.1...3.0).contains(seconds), "\(part): \(trickle)")
                #expect(trickle["status"] as? String == "HTTP/1.1 408 Request Timeout", "\(part): \(trickle)")
                let problem = try parseObject(trickle["body"] as? String ?? "")
                #expect(problem["code"] as? String == "request_timeout" && problem["status"] as? Int == 408, "\(problem)")
            }
            // A request pipelined behind a subscription, trickling: its time runs only once the
            // connection is free to read it, so no 408 is ever written into the stream.
            let pipelined = try peers.run(["pipelined", daemon.socket, "GET /v1/subscribe HTTP/1.1\r\nHost: localhost\r\n\r\n", "3"])
            #expect(pipelined["closed"] as? Bool == false, "\(pipelined)")
            #expect(
                pipelined["statuses"] as? [String] == ["HTTP/1.1 200 OK"] && (pipelined["heartbeats"] as? Int ?? 0) >= 5, "\(pipelined)")
            #expect(try daemon.call("/metrics").body.contains("fascicolo_request_read_timeouts_total 2"))

            // A subscription is a request in progress, never idle: it outlives the idle timeout.
            let output = daemon.directory + "/subscription.ndjson"
            let subscriber = try spawn(
                "/usr/bin/env", ["curl", "-sN", "--unix-socket", daemon.socket, "http://localhost/v1/subscribe"],
                outputFile: output)
            sleepMilliseconds(6_000)
            var status: Int32 = 0
            #expect(waitpid(subscriber, &status, WNOHANG) == 0, "the subscription is still open: \(readFile(output))")
            #expect(try daemon.append("s", #"{"events":[{"type":"X","data":1}]}"#).status == 201)
            #expect(eventually { readFile(output).contains(#""position":0"#) }, "and still delivers: \(readFile(output))")
            let heartbeats = readFile(output).split(separator: "\n").filter { $0.contains("heartbeat") }.count
            #expect(heartbeats >= 10, "\(readFile(output))")
            kill(subscriber, SIGKILL)
            waitpid(subscriber, &status, 0)
        }
    }

    /// A peer that asks for a long answer and stops reading it holds a subscription slot, a
    /// connection and the answer's buffers: once the socket has refused its writes for
    /// `response_write_timeout_milliseconds`, the connection is closed and the slot freed.
    @Test func aPeerThatStopsReadingIsCutOff() throws {
        let limits = """
            [subscriptions]
            concurrent_max = 1
            [connections]
            response_write_timeout_milliseconds = 1_500
            """
        try withDaemon(extra: limits) { daemon in
            // Enough entries to fill the socket's buffers and the daemon's outbound one many times over.
            let payload = String(repeating: "x", count: 200)
            let events = (0..<10).map { _ in #"{"type":"X","data":"\#(payload)"}"# }.joined(separator: ",")
            for batch in 0..<300 {
                let reply = try daemon.append("s-\(batch)", #"{"events":[\#(events)]}"#)
                #expect(reply.status == 201, "\(reply.body)")
            }
            let peers = PeerClient(daemon)
            let stalled = try peers.run(["stall", daemon.socket, "4"])
            #expect(stalled["second"] as? String == "HTTP/1.1 200 OK", "the stalled subscription's slot is free again: \(stalled)")
            #expect(stalled["closed"] as? Bool == true, "\(stalled)")
            #expect(try daemon.call("/metrics").body.contains("fascicolo_response_write_timeouts_total 1"))
        }
    }

    /// The soft descriptor limit is raised to the hard one at start; a connection limit that
    /// does not fit in it with room to spare is lowered, and one that leaves nothing beyond the
    /// admins' reserve stops the start.
    @Test func theConnectionLimitFitsTheDescriptorLimit() throws {
        let binary = productsDirectory() + "/fascicolod"
        try #require(access(binary, X_OK) == 0, "build fascicolod first (tools/test does)")
        try #require(access("/usr/bin/prlimit", X_OK) == 0, "prlimit (util-linux)")
        try withTemporaryDirectory { directory in
            let log = directory + "/daemon.log"
            let pid = try spawn(
                "/usr/bin/prlimit",
                [
                    "--nofile=200:300", binary, "--data-dir", directory + "/data",
                    "--socket", directory + "/api.sock",
                ], outputFile: log)
            defer {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            #expect(eventually { readFile(log).contains("listening") }, "\(readFile(log))")
            let text = readFile(log)
            #expect(text.contains("descriptor limit (RLIMIT_NOFILE) hard=300 soft=300 softAtStart=200"), "\(text)")
            #expect(
                text.contains("connections.max lowered to fit the descriptor limit configured=1024 descriptors=300 effective=172"),
                "\(text)")

            let tooLow = try runProcess(
                "/usr/bin/prlimit",
                [
                    "--nofile=140:140", binary, "--data-dir", directory + "/other",
                    "--socket", directory + "/other.sock",
                ])
            #expect(
                tooLow.status == 1 && tooLow.output.contains("connections.max = 1024")
                    && tooLow.output.contains("leaves room for 12 connections"), "\(tooLow.output)")
        }
    }
}

/// Runs `body` until it is true, for up to 5 s.
func eventually(_ body: () throws -> Bool) rethrows -> Bool {
    for _ in 0..<100 {
        if try body() { return true }
        sleepMilliseconds(50)
    }
    return false
}

/// The daemon's log so far (its files in the test directory).
func daemonLog(_ daemon: RunningDaemon) -> String {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: daemon.directory) else { return "" }
    return names.filter { $0.hasPrefix("daemon-") && $0.hasSuffix(".log") }.sorted().map { readFile(daemon.directory + "/" + $0) }
        .joined()
}

/// Peers on the daemon's socket, as other uids: a raw-socket client (Python, standard library
/// only) run under `setpriv`, so that the daemon sees their credentials.
final class PeerClient {
    struct Held: CustomStringConvertible {
        let pid: pid_t
        let open: Int
        let refused: Int
        let failed: Int
        let statusLines: [String]
        var description: String { "open \(open), refused \(refused), failed \(failed), \(statusLines)" }
    }

    private let daemon: RunningDaemon
    private let script: String
    private var holders: [pid_t] = []

    init(_ daemon: RunningDaemon) {
        self.daemon = daemon
        script = daemon.directory + "/peer.py"
        try? writeFile(script, Self.source)
        chmod(script, 0o644)
    }

    /// Opens `count` connections as `uid` and keeps those the daemon admitted open until
    /// `stop`; returns how many were admitted and how many refused (503, closed at once).
    func hold(_ count: Int, as uid: UInt32) throws -> Held {
        let output = daemon.directory + "/hold-\(uid)-\(holders.count).out"
        let pid = try spawn(
            "/usr/bin/env",
            [
                "setpriv", "--reuid=\(uid)", "--regid=0", "--clear-groups", "/usr/bin/env", "python3",
                script, "hold", daemon.socket, "\(count)",
            ], outputFile: output)
        holders.append(pid)
        var line: Substring?
        for _ in 0..<200 where line == nil {
            sleepMilliseconds(50)
            line = readFile(output).split(separator: "\n").first
        }
        let report = try parseObject(String(line ?? ""))
        return Held(
            pid: pid, open: report["open"] as? Int ?? -1, refused: report["refused"] as? Int ?? -1,
            failed: report["failed"] as? Int ?? -1, statusLines: report["statusLines"] as? [String] ?? [])
    }

    /// Closes the held connections (the client is killed; the kernel closes its sockets).
    func stop(_ held: Held) {
        kill(held.pid, SIGKILL)
        var status: Int32 = 0
        waitpid(held.pid, &status, 0)
        holders.removeAll { $0 == held.pid }
    }

    func stopAll() {
        for pid in holders {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        holders = []
    }

    /// Runs one of the client's timed modes (`idle`, `trickle`) as this uid and returns its report.
    func run(_ arguments: [String]) throws -> [String: Any] {
        let result = try runProcess("/usr/bin/env", ["python3", script] + arguments)
        return try parseObject(String(result.output.split(separator: "\n").last ?? ""))
    }

    static let source = #"""
        import json, select, socket, sys, time

        def connect(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s

        def read_until_closed(s, limit):
            data, end = b"", time.monotonic() + limit
            while time.monotonic() < end:
                r, _, _ = select.select([s], [], [], max(0, end - time.monotonic()))
                if not r: break
                try: chunk = s.recv(65536)
                except ConnectionResetError: return data, True
                if not chunk: return data, True
                data += chunk
            return data, False

        def report(obj):
            print(json.dumps(obj), flush=True)

        mode, path = sys.argv[1], sys.argv[2]
        if mode == "hold":
            # Opens COUNT connections, then sees which the daemon answered at once (503, closed).
            count, sockets, refused, failed, codes = int(sys.argv[3]), [], 0, 0, set()
            for _ in range(count):
                try: sockets.append(connect(path))
                except OSError: failed += 1
            answered, end = {}, time.monotonic() + 1.5
            while time.monotonic() < end:
                waiting = [s for s in sockets if s not in answered]
                if not waiting: break
                r, _, _ = select.select(waiting, [], [], max(0, end - time.monotonic()))
                for s in r:
                    data, _ = read_until_closed(s, 1)
                    answered[s] = data.decode("utf-8", "replace")
            held = [s for s in sockets if s not in answered]
            for s, text in answered.items():
                if text.startswith("HTTP/1.1 503") and '"code":"too_many_connections"' in text:
                    refused += 1
                    codes.add(text.split("\r\n", 1)[0])
                else:
                    failed += 1
                s.close()
            report({"open": len(held), "refused": refused, "failed": failed, "statusLines": sorted(codes)})
            while True: time.sleep(3600)
        elif mode == "idle":
            # A connection left idle from the start, or after one request: when does the daemon close it?
            s = connect(path)
            start = time.monotonic()
            if sys.argv[3] == "request":
                s.sendall(b"GET /v1/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
                answer = b""
                while b'"live"}' not in answer:
                    chunk = s.recv(65536)
                    if not chunk: break
                    answer += chunk
                start = time.monotonic()
            _, closed = read_until_closed(s, 60)
            report({"closed": closed, "seconds": round(time.monotonic() - start, 3)})
        elif mode == "trickle":
            # A head sent byte by byte, or a whole head and a body that trickles: when is it cut off, and how?
            what, interval = sys.argv[3], float(sys.argv[4])
            s = connect(path)
            start = time.monotonic()
            head = b"POST /v1/streams/s/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            pieces = [head[i:i+1] for i in range(len(head))] if what == "head" else [head] + [b" "] * 1000
            data, closed = b"", False
            for piece in pieces:
                try: s.sendall(piece)
                except OSError: break
                chunk, closed = read_until_closed(s, interval)
                data += chunk
                if closed or chunk: break
            if not closed:
                more, closed = read_until_closed(s, 60)
                data += more
            text = data.decode("utf-8", "replace")
            report({"closed": closed, "seconds": round(time.monotonic() - start, 3), "status": text.split("\r\n", 1)[0],
                    "body": text.split("\r\n\r\n", 1)[-1] if "\r\n\r\n" in text else ""})
        elif mode == "pipelined":
            # A request answered at length, and behind it in the same write the start of another, which
            # then trickles (a byte every 0.2 s) for SECONDS: what comes back, and is the connection closed?
            s = connect(path)
            start = time.monotonic()
            s.sendall(sys.argv[3].encode() + b"GET /v1/health/live HTTP/1.1\r\nX-Slow: ")
            data, closed = b"", False
            while not closed and time.monotonic() - start < float(sys.argv[4]):
                chunk, closed = read_until_closed(s, 0.2)
                data += chunk
                if not closed:
                    try: s.sendall(b"x")
                    except OSError: break
            text = data.decode("utf-8", "replace")
            statuses = [line for line in text.split("\r\n") if line.startswith("HTTP/1.1 ")]
            report({"closed": closed, "seconds": round(time.monotonic() - start, 3), "statuses": statuses,
                    "heartbeats": text.count('"heartbeat":true')})
        elif mode == "stall":
            # A subscriber that asks for the whole log and never reads, for SECONDS: is a second
            # subscription admitted then, and was the first connection closed by the daemon?
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(path)
            s.sendall(b"GET /v1/subscribe?from=0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            time.sleep(float(sys.argv[3]))
            second = connect(path)
            second.sendall(b"GET /v1/subscribe HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer, _ = read_until_closed(second, 1)
            _, closed = read_until_closed(s, 5)
            report({"closed": closed, "second": answer.decode("utf-8", "replace").split("\r\n", 1)[0]})
        """#
}
