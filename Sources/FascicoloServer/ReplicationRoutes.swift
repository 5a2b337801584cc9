import FascicoloJSON
import FascicoloLedger
import Hummingbird
import NIOCore

/// Log shipping (Formats.md, "Replication"). A follower asks `GET /v1/replication/log?from=P`
/// with P the number of entries it holds durably — which is also its report to the primary, for
/// the status and for synchronous replication — and gets the primary's entries from P on, up to
/// a checkpoint, in frames (`ReplicationFrames`). Replicas and admins only: the answer is the
/// whole log, person data included (a follower is a copy of the log, not a reader of a person:
/// its own reads are recorded where they happen).
extension APIRoutes {
    /// The follower's name, sent with each request (`FollowerReports.isValidName`).
    static let followerHeader = HTTPFields.Element.Name("Fascicolo-Follower")!
    /// The longest a request waits for new entries (`wait`, milliseconds).
    static let replicationWaitMaxMilliseconds = 30_000
    /// Entries per answer, at most (`limit`); an answer reaches the first checkpoint after it when
    /// no checkpoint is within it.
    static let replicationEntriesMax = 10_000

    func registerReplication(on groups: RouteGroups) {
        groups.replicas.get("v1/replication/log") { request, _ in
            let from: UInt64 = try query(request, "from") ?? 0
            let wait: Int = try query(request, "wait") ?? 0
            guard (0...Self.replicationWaitMaxMilliseconds).contains(wait) else {
                throw Self.invalidParameter("wait", "wait is 0 to \(Self.replicationWaitMaxMilliseconds) milliseconds")
            }
            let limit: Int = try query(request, "limit") ?? 1_000
            guard (1...Self.replicationEntriesMax).contains(limit) else {
                throw Self.invalidParameter("limit", "limit is 1 to \(Self.replicationEntriesMax) entries")
            }
            if let name = request.headers[Self.followerHeader] {
                guard FollowerReports.isValidName(name) else {
                    throw Problem.badRequest("Fascicolo-Follower is 1 to 64 of A-Z a-z 0-9 . _ -")
                }
                // A follower ahead of this log (of an older, longer history, or confused) holds
                // nothing of it that synchronous replication may count on: not reported.
                if from <= ledger.size { ledger.followers.report(follower: name, position: from) }
            }
            var size = ledger.size
            // A follower ahead of this log (it was rolled back) is answered at once.
            // In short waits, so that shutdown does not wait for a follower's request to end.
            let deadline = ContinuousClock.now + .milliseconds(wait)
            while from == size && !shutdown.isShuttingDown && ContinuousClock.now < deadline && !Task.isCancelled {
                size = await ledger.waitForEntries(beyond: from, timeout: min(.milliseconds(200), deadline - ContinuousClock.now))
            }
            // A follower stores only what a checkpoint covers: one is signed now for what it
            // would otherwise wait `checkpoint_every_milliseconds` for (at the writer's next
            // commit under load: at most one per commit). If that fails, what is covered is served.
            if from < size && ledger.checkpointSize < size {
                _ = try? await ledger.signCheckpoint()
            }
            let read = try ledger.replicationRead(from: from, entriesMax: limit)
            return Response(
                status: .ok, headers: [.contentType: "application/octet-stream", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: ReplicationFrames.encode(read))))
        }
        groups.everyRole.get("v1/replication/status") { _, _ in
            json(
                status: .ok,
                Render.replicationStatus(
                    follower: replication?.current, followers: ledger.followers.all, synchronous: ledger.synchronousReplication,
                    following: ledger.writeAuthority.refusal?.code == "not_primary", size: ledger.size))
        }
    }
}

extension APIRoutes {
    /// The follower's gauges (`ReplicationMonitor`), or on a primary each follower's position.
    func replicationMetricsText() -> [UInt8] {
        var text = replication?.prometheusText() ?? ""
        let followers = ledger.followers.all
        if !followers.isEmpty {
            let size = ledger.size
            text +=
                "# HELP fascicolo_replication_follower_lag_entries Entries this primary holds that the follower has not reported holding.\n"
            text += "# TYPE fascicolo_replication_follower_lag_entries gauge\n"
            for follower in followers {
                // Names are checked (FollowerReports.isValidName): nothing to escape in a label.
                text +=
                    "fascicolo_replication_follower_lag_entries{follower=\"\(follower.name)\"} \(size > follower.position ? size - follower.position : 0)\n"
            }
        }
        if let synchronous = ledger.synchronousReplication {
            func gauge(_ name: String, _ help: String, _ value: String, type: String = "gauge") {
                text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
            }
            gauge("fascicolo_replication_synchronous_required", "Followers an append waits for (K).", "\(synchronous.required)")
            gauge("fascicolo_replication_synchronous_in_sync", "Followers holding every entry of this log.", "\(synchronous.inSync)")
            gauge(
                "fascicolo_replication_synchronous_degraded",
                "1 while fewer than K followers answer: appends refused (refuse) or acknowledged without them (degrade).",
                synchronous.degraded ? "1" : "0")
            gauge(
                "fascicolo_replication_synchronous_timeouts_total", "Appends whose wait for their followers timed out.",
                "\(synchronous.timeouts)", type: "counter")
        }
        return Array(text.utf8)
    }
}

extension Render {
    /// `GET /v1/replication/status`: this daemon's role in replication, what it follows and how
    /// far behind it is (a follower), and who follows it (a primary).
    static func replicationStatus(
        follower: ReplicationMonitor.Status?, followers: [FollowerReports.Follower], synchronous: SynchronousReplicationState?,
        following: Bool, size: UInt64
    ) -> [UInt8] {
        var json = JSONBytes()
        json.object { json in
            // A follower promoted (its gate opened, or fenced by the lease) is no longer one.
            json.member("role", following ? "follower" : "primary")
            json.member("entries", size)
            if let status = follower {
                json.key("following")
                json.object { json in
                    json.member("source", status.source)
                    json.member("state", status.state.rawValue)
                    json.member("position", status.position)
                    json.member("primarySize", status.primarySize)
                    json.member("lagEntries", status.lagEntries)
                    json.key("lagSeconds")
                    json.raw(Array(String(status.lagSeconds).utf8))
                    json.member("verifiedCheckpointSize", status.verifiedCheckpointSize)
                    json.member("appliedEntries", status.appliedEntries)
                    json.key("refused")
                    if let refusal = status.refusal {
                        json.object { json in
                            json.member("kind", refusal.kind.rawValue)
                            json.key("position")
                            if let position = refusal.position { json.number(position) } else { json.null() }
                            json.member("reason", refusal.reason)
                        }
                    } else {
                        json.null()
                    }
                    json.key("lastError")
                    if let error = status.lastError { json.string(error) } else { json.null() }
                }
            }
            json.key("followers")
            json.array { json in
                for follower in followers {
                    json.object { json in
                        json.member("name", follower.name)
                        json.member("position", follower.position)
                        json.member("lagEntries", size > follower.position ? size - follower.position : 0)
                    }
                }
            }
            if let synchronous {
                json.key("synchronous")
                json.object { json in
                    json.member("required", synchronous.required)
                    json.member("inSync", synchronous.inSync)
                    json.member("degraded", synchronous.degraded)
                    json.member("timeouts", synchronous.timeouts)
                }
            }
        }
        return json.bytes
    }
}
