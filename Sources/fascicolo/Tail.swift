import ArgumentParser
import FascicoloJSON
import Glibc
import UnixSignals

struct Tail: DaemonCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow the global log as entries are appended (roles auditor, admin).",
        discussion: """
            Prints one line per entry as it commits — position, recorded at, stream@version, type, \
            author; never the data — or, with --json, each entry's NDJSON line from the daemon \
            unchanged. Without --from it starts at the current end of the log.

            When the daemon ends the stream (shutting down, or this reader fell too far behind) \
            or the connection drops or goes silent (nothing, not even a heartbeat, for \
            --idle-timeout seconds), it reconnects after a short pause and resumes after the last \
            entry it printed: no entry is printed twice and none is skipped. A notice goes to \
            standard error. --no-reconnect stops instead.

            Exit status: 0 when stopped by SIGINT or SIGTERM (or, with --no-reconnect, when the \
            daemon ended the stream); 1 the daemon refused the request (HTTP 4xx); 2 it could not \
            connect at the start, or (--no-reconnect) the connection was lost.
            """)

    @Option(help: "The first position to print (default: the current end of the log).")
    var from: UInt64?

    @Flag(inversion: .prefixedNo, help: "Reconnect and resume when the stream ends or the connection is lost.")
    var reconnect = true

    @Option(
        help: ArgumentHelp(
            "Seconds without a line, not even a heartbeat (the daemon sends one every 5 s by default), "
                + "after which the connection counts as dead.", valueName: "seconds"))
    var idleTimeout: Double = 15

    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        guard idleTimeout > 0, idleTimeout <= 86_400 else { throw ValidationError("--idle-timeout is a number of seconds above 0") }
    }

    var idleSeconds: Double? { idleTimeout }

    /// Follows until SIGINT or SIGTERM (exit 0), or until it must stop (a thrown exit status).
    func run(client: DaemonClient) async throws {
        let stop = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await follow(client) }
            group.addTask {
                for await _ in stop { return }
            }
            try await group.next()
            group.cancelAll()  // a stop cancels the request or the pause under way
        }
    }

    private func follow(_ client: DaemonClient) async throws {
        let session = DaemonSession(daemon, client: client)

        // Where to start. Without --from: the current end, asked for now so that a reconnect
        // before the first entry (or heartbeat) resumes there and not at a later end.
        var next = from
        if next == nil {
            do {
                let ready = try await client.send(method: "GET", target: "/v1/health/ready", headers: [("Accept", "application/json")])
                if ready.isSuccess { next = (try? JSON.parse(ready.body))?["entries"]?.uint64 }
            } catch {
                if case .interrupted = error { return }
                Terminal.error("error: \(error)")
                throw Exit.couldNotRun
            }
        }

        var follower = Follower(next: next, json: daemon.json)
        var connectedOnce = false
        var lost: (why: String, since: Double)?  // since the last connection was lost, until the next
        var warnedStillDown = false
        var pause = 0.25
        /// Waits before the next attempt; true when a stop was requested meanwhile.
        func pauseBeforeReconnecting(wasConnected: Bool) async throws -> Bool {
            if wasConnected { pause = 0.25 }
            guard reconnect else {
                Terminal.error(
                    "error: \(lost?.why ?? "the stream ended"); resume with: fascicolo tail --from \(follower.next.map(String.init) ?? "0")"
                )
                throw Exit.couldNotRun
            }
            if let down = lost, !warnedStillDown, Self.now() - down.since >= 10 {
                Terminal.error("fascicolo tail: still reconnecting, after \(down.why)")
                warnedStillDown = true
            }
            do { try await Task.sleep(for: .seconds(pause)) } catch { return true }
            pause = min(pause * 2, 2)
            return false
        }
        while true {
            let target = "/v1/subscribe" + (follower.next.map { "?from=\($0)" } ?? "")
            var connected = false
            func connectionUp() {
                connected = true
                connectedOnce = true
                if let down = lost {
                    Terminal.error(
                        "fascicolo tail: reconnected after \(down.why) (\(Terminal.format(Self.now() - down.since, decimals: 1)) s); "
                            + "resuming at position \(follower.next.map(String.init) ?? "the end")")
                    lost = nil
                    warnedStillDown = false
                }
            }
            let response: DaemonClient.Response
            do {
                response = try await client.streamLines(
                    target: target, headers: [("Accept", "application/x-ndjson")],
                    idleSeconds: idleTimeout
                ) { line in
                    if !connected { connectionUp() }
                    return follower.take(line)
                }
            } catch {
                if case .interrupted = error { return }
                if Task.isCancelled { return }
                if !connectedOnce {
                    Terminal.error("error: \(error)")
                    throw Exit.couldNotRun
                }
                if case .malformedResponse = error, connected {
                    lost = lost ?? ("the connection was lost (\(error))", Self.now())
                } else {
                    lost = lost ?? ("\(error)", Self.now())
                }
                if try await pauseBeforeReconnecting(wasConnected: connected) { return }
                continue
            }
            if !response.isSuccess {
                // 4xx (not allowed, a bad request) will not change by retrying; 5xx may.
                if (400..<500).contains(response.status) || !connectedOnce || !reconnect { throw session.refusal(response) }
                lost = lost ?? (DaemonSession.describe(response), Self.now())
            } else {
                if !connected { connectionUp() }  // a stream that ended before its first line
                if let problem = follower.problem {
                    Terminal.error("error: \(problem)")
                    throw Exit.couldNotRun
                }
                if let end = follower.end {
                    follower.end = nil
                    guard reconnect else {
                        Terminal.error(
                            "the daemon ended the stream (\(end)); resume with: fascicolo tail --from \(follower.next.map(String.init) ?? "0")"
                        )
                        return
                    }
                    lost = ("the daemon ended the stream (\(end))", Self.now())
                } else {
                    lost = ("the stream ended", Self.now())
                }
            }
            if try await pauseBeforeReconnecting(wasConnected: connected) { return }
        }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// The lines of `/v1/subscribe`, printed once each and in order.
struct Follower {
    /// The next position to print; nil until known (following from the current end).
    var next: UInt64?
    let json: Bool
    /// Why the daemon ended the stream, from its last line.
    var end: String?
    /// Something that makes going on pointless (entries skipped, a line that is not JSON).
    var problem: String?

    /// Handles one line; false to stop reading this stream.
    mutating func take(_ line: ArraySlice<UInt8>) -> Bool {
        guard !line.isEmpty else { return true }
        guard let value = try? JSON.parse(Array(line)), value.isObject else {
            // Resuming would only meet the same line again.
            problem =
                "the daemon sent a line that is not a JSON object\(next.map { " where position \($0) was due" } ?? ""): "
                + shortened(String(decoding: line, as: UTF8.self), to: 120)
            return false
        }
        if let position = value["position"]?.uint64 {
            if let next {
                if position < next { return true }  // already printed (a resumed stream overlaps)
                if position > next {
                    problem = "the daemon skipped positions \(next)–\(position - 1)"
                    return false
                }
            }
            if json {
                Terminal.out(String(decoding: line, as: UTF8.self))
            } else {
                let stream = value["stream"]?.string ?? "?"
                let version = value["streamVersion"]?.uint64.map(String.init) ?? "?"
                Terminal.out(
                    "\(position)  \(value["recordedAt"]?.string ?? "?")  \(stream)@\(version)  "
                        + "\(value["type"]?.string ?? "?")  \(value["author"]?.string ?? "?")")
            }
            next = position + 1
            return true
        }
        if value["heartbeat"]?.bool == true {
            // Caught up at `size`: following from the end, this is where it is.
            if next == nil { next = value["size"]?.uint64 }
            return true
        }
        if let reason = value["end"]?.string {
            end = reason
            if next == nil { next = value["resumeFrom"]?.uint64 }
            return false
        }
        return true  // something newer than this client: ignore it
    }
}
