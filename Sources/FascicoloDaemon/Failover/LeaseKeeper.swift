import FascicoloConcurrency
import FascicoloLedger
import Glibc
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Holds this node's lease on the leader key in etcd, and opens the ledger's write gate only
/// while it is sure to hold it.
///
/// **Why the gate closes before etcd can give the lease away.** etcd expires a lease TTL seconds
/// after the *last time it processed a renewal* (a grant counts as one), measured on the etcd
/// leader's clock; only then are the keys attached to it deleted, and only then can another node
/// create the leader key. Every renewal this node sends reaches etcd after it was sent, so
/// `sent + TTL` — with `sent` read *before* the request leaves — is never later than the moment
/// etcd can expire the lease (etcd extends a lease when its own leader changes; it never
/// shortens one). The gate is given the deadline `sent + TTL − safety margin` and refuses every
/// append past it, checked again by the writer just before it commits a batch. The margin
/// covers what the argument leaves out: a commit that passed the gate just before the deadline
/// and is still being synced, and the drift between this machine's clock and etcd's over one TTL
/// (clock *rates*, a few parts per million; the wall-clock time of either never enters). The
/// clock is CLOCK_BOOTTIME (`MonotonicClock.includingSuspend`): never set back, and counting
/// the time the machine was suspended, so a primary that wakes from a pause finds its deadline
/// gone rather than the pause uncounted.
///
/// Renewals go every TTL/4; a failed one is retried at the next tick, and etcd unreachable for
/// longer than TTL − margin fences the primary by the deadline alone, no answer needed. A
/// renewal that finds the lease gone (etcd expired it) or the key held under another lease
/// fences at once. A node that lost the lease does not campaign again in this process: its log
/// may lack what the new primary appended, so it must rejoin as a follower (`Candidacy`).
///
/// Campaigning: while the key is absent and `Candidacy.mayCampaign` says yes, grant a lease and
/// create the key with it in one transaction (which also records this node as the log's last
/// leader under `<key>/last`); the winner calls `takeOver` (a follower stops following), then
/// opens the gate. At graceful shutdown the gate closes, the margin passes (a commit in flight
/// ends), and the lease is revoked, so that a standby takes over at once.
public final class LeaseKeeper: Service, Sendable {
    /// What this node may do, decided by the daemon's mode (primary or follower).
    public struct Candidacy: Sendable {
        /// Whether to campaign now (a follower: only when fully caught up).
        public var mayCampaign: @Sendable () async -> Bool
        /// Called once the lease is won, before the gate opens; a throw gives the lease up.
        public var takeOver: @Sendable () async throws -> Void
        /// Called once when this node loses the lease, or finds at start that another node
        /// led the log after it did: it must rejoin as a follower.
        public var deposed: @Sendable (LeaderRecord?) async -> Void
        /// A primary (not following): it campaigns only if no other node led the log since it
        /// last did, as its log may lack what that node appended. A caught-up follower has
        /// everything the leader it follows appended, so it needs no such check.
        public var checksLastLeader: Bool

        public init(
            mayCampaign: @escaping @Sendable () async -> Bool, takeOver: @escaping @Sendable () async throws -> Void,
            deposed: @escaping @Sendable (LeaderRecord?) async -> Void, checksLastLeader: Bool = true
        ) {
            self.mayCampaign = mayCampaign
            self.takeOver = takeOver
            self.deposed = deposed
            self.checksLastLeader = checksLastLeader
        }
    }

    /// What the keeper knows now (health, metrics, the 503 answers).
    public struct Status: Sendable, Equatable {
        /// This node holds the lease and its gate is open until `openUntil`.
        public var holds = false
        /// The holder of the leader key, as last read (this node while it holds it).
        public var holder: LeaderRecord?
        /// When the gate closes, on `MonotonicClock.includingSuspend` (0: not held).
        public var openUntil: UInt64 = 0
        /// When this node last won the lease and opened its gate, on the same clock.
        public var openedAt: UInt64 = 0
        /// This node lost the lease (or another led after it): it will not campaign again.
        public var deposed = false
    }

    let settings: FailoverSettings
    let etcd: EtcdClient
    let gate: WriteAuthority
    let candidacy: Candidacy
    let clock: MonotonicClock
    let logger: Logger
    /// A file whose presence says this node has held the lease of this log (in its data
    /// directory); nil: not kept (tests of the lease alone).
    let ledMarker: String?
    private let state = Mutex(State())

    private struct State {
        var status = Status()
        var lease: Int64 = 0
        /// When the last renewal (or the winning grant) was sent: the next goes TTL/4 later.
        var lastAttempt: UInt64 = 0
        /// A call to etcd failed, and none succeeded since: logged once per streak.
        var failing = false
        /// The gate closed on its deadline in this streak of failures (logged once).
        var fencedByDeadline = false

        /// Sets `failing`; returns what it was.
        mutating func setFailing(_ value: Bool) -> Bool {
            defer { failing = value }
            return failing
        }
    }

    private let held = Gauge(label: "fascicolo_lease_held")
    private let openMilliseconds = Gauge(label: "fascicolo_lease_open_milliseconds")
    private let renewals = Counter(label: "fascicolo_lease_renewals_total")
    private let failures = Counter(label: "fascicolo_lease_failures_total")
    private let losses = Counter(label: "fascicolo_lease_losses_total")

    public init(
        settings: FailoverSettings, etcd: EtcdClient, gate: WriteAuthority, candidacy: Candidacy,
        ledMarker: String?, clock: MonotonicClock = .includingSuspend, logger: Logger
    ) {
        self.ledMarker = ledMarker
        self.settings = settings
        self.etcd = etcd
        self.gate = gate
        self.candidacy = candidacy
        self.clock = clock
        self.logger = logger
        held.record(0)
    }

    public var status: Status { state.withLock { $0.status } }

    var key: [UInt8] { Array(settings.key.utf8) }
    var lastLeaderKey: [UInt8] { Array((settings.key + "/last").utf8) }
    var renewInterval: Duration { .milliseconds(settings.renewIntervalMilliseconds) }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.keep() }
        await stepDown()
    }

    /// Campaigns or renews, every TTL/4, until cancelled.
    func keep() async {
        while !Task.isCancelled {
            let (holds, lastAttempt) = state.withLock { ($0.status.holds, $0.lastAttempt) }
            if holds {
                let next = lastAttempt + UInt64(settings.renewIntervalMilliseconds) * 1_000_000
                let now = clock.nanoseconds()
                if next > now { try? await Task.sleep(for: .nanoseconds(Int64(next - now))) }
                if Task.isCancelled { return }
                await renew()
            } else {
                await campaign()
                if !state.withLock({ $0.status.holds }) { try? await Task.sleep(for: renewInterval) }
            }
            recordMetrics()
        }
    }

    /// One renewal; its send time, read before the request, starts the new deadline.
    func renew() async {
        let sent = clock.nanoseconds()
        let (lease, openUntil) = state.withLock { state in
            state.lastAttempt = sent
            return (state.lease, state.status.openUntil)
        }
        do throws(EtcdError) {
            let ttl = try await etcd.keepAlive(lease)
            // The key must still be ours: deleted by hand, it could be created by another node
            // while this lease lives.
            let current = try await etcd.get(key: key)
            guard let current, current.lease == lease else {
                await lose(
                    holder: current.flatMap { LeaderRecord(bytes: $0.value) },
                    reason: "the leader key is no longer held by this node's lease")
                return
            }
            open(sent: sent, ttlSeconds: ttl)
            renewals.increment()
            let recovered = state.withLock { state in
                state.fencedByDeadline = false
                return state.setFailing(false)
            }
            if recovered { logger.notice("etcd answers again; the lease is renewed") }
        } catch .leaseNotFound {
            await lose(holder: nil, reason: "etcd expired the lease")
        } catch {
            failures.increment()
            let now = clock.nanoseconds()
            let (firstFailure, firstPastDeadline) = state.withLock { state in
                let first = !state.setFailing(true)
                let past = now >= openUntil && !state.fencedByDeadline
                if past { state.fencedByDeadline = true }
                return (first, past)
            }
            // Once per streak each, not at every retry.
            if firstFailure { logger.warning("a lease renewal failed; retrying", metadata: ["error": "\(error)"]) }
            if firstPastDeadline {
                logger.error("the lease could not be renewed in time: appends are fenced until it is", metadata: ["error": "\(error)"])
            }
        }
    }

    /// While the key is absent and this node may, take it.
    func campaign() async {
        do throws(EtcdError) {
            if let current = try await etcd.get(key: key) {
                let holder = LeaderRecord(bytes: current.value)
                noteHolder(holder)
                if let holder, holder.node != settings.nodeName, candidacy.checksLastLeader, everLed() {
                    await depose(holder: holder, reason: "another node (\(holder.node)) leads the log this node led")
                }
                return
            }
            noteHolder(nil)
            guard !state.withLock({ $0.status.deposed }), await candidacy.mayCampaign() else { return }
            if candidacy.checksLastLeader, let last = try await etcd.get(key: lastLeaderKey),
                let leader = LeaderRecord(bytes: last.value),
                leader.node != settings.nodeName, everLed()
            {
                await depose(holder: nil, reason: "another node (\(leader.node)) led this log after this node did")
                return
            }
            let sent = clock.nanoseconds()
            let lease = try await etcd.grantLease(ttlSeconds: Int64(settings.leaseTTLSeconds))
            let created: EtcdClient.Creation
            do {
                created = try await etcd.createIfAbsent(
                    key: key, value: settings.leaderRecord.bytes, lease: lease.id, also: (lastLeaderKey, settings.leaderRecord.bytes))
            } catch {
                // The outcome is unknown (a timeout): if the key was created with this lease,
                // revoking it frees the key now rather than after the TTL.
                try? await etcd.revoke(lease.id)
                throw error
            }
            guard created == .created else {
                try? await etcd.revoke(lease.id)
                if case .exists(let holder) = created { noteHolder(LeaderRecord(bytes: holder.value)) }
                return
            }
            // Durable before the gate opens: a node that forgot, after a crash, that it led could
            // campaign again past another's `<key>/last` and fork the log.
            guard markLed() else {
                logger.error("won the lease but could not record that this node leads; giving it up")
                try? await etcd.revoke(lease.id)
                return
            }
            do {
                try await candidacy.takeOver()
            } catch {
                logger.error("won the lease but could not take over; giving it up", metadata: ["error": "\(error)"])
                try? await etcd.revoke(lease.id)
                return
            }
            state.withLock {
                $0.lease = lease.id
                $0.status.holder = settings.leaderRecord
            }
            open(sent: sent, ttlSeconds: lease.ttlSeconds)
            let opened = clock.nanoseconds()
            state.withLock { $0.status.openedAt = opened }
            logger.notice(
                "this node holds the lease: appends are open",
                metadata: ["node": "\(settings.nodeName)", "ttlSeconds": "\(lease.ttlSeconds)"])
        } catch {
            failures.increment()
            if !state.withLock({ $0.setFailing(true) }) {
                logger.warning("etcd could not be reached to campaign; retrying", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Extends the gate to `sent + TTL − margin`. etcd may grant more than asked; never less
    /// is counted on.
    private func open(sent: UInt64, ttlSeconds: Int64) {
        let ttl = min(ttlSeconds, Int64(settings.leaseTTLSeconds))
        let deadline = sent + UInt64(ttl * 1_000 - Int64(settings.safetyMarginMilliseconds)) * 1_000_000
        state.withLock {
            $0.lastAttempt = max($0.lastAttempt, sent)
            $0.status.holds = true
            $0.status.openUntil = deadline
        }
        gate.holdLease(until: deadline, on: clock)
    }

    private func lose(holder: LeaderRecord?, reason: String) async {
        losses.increment()
        await depose(holder: holder, reason: reason)
    }

    /// Closes the gate for good in this process; the node must rejoin as a follower.
    private func depose(holder: LeaderRecord?, reason: String) async {
        gate.loseLease(holder: holder?.location)
        let first = state.withLock { state in
            defer {
                state.status.holds = false
                state.status.openUntil = 0
                state.status.deposed = true
                state.lease = 0
            }
            return !state.status.deposed
        }
        guard first else { return }
        logger.critical(
            "this node no longer leads the log: appends are fenced; restart it as a follower of the new primary (fascicolod --follow)",
            metadata: ["reason": "\(reason)"])
        await candidacy.deposed(holder)
    }

    private func noteHolder(_ holder: LeaderRecord?) {
        state.withLock { $0.status.holder = holder }
        if let holder, holder.node != settings.nodeName {
            gate.loseLease(holder: holder.location)
        } else if !state.withLock({ $0.status.holds }) {
            gate.loseLease(holder: nil)
        }
    }

    /// At shutdown: close the gate, let a commit in flight end (the margin bounds it), and
    /// revoke the lease so that a standby need not wait for it to expire.
    func stepDown() async {
        let lease = state.withLock { state in
            defer {
                state.status.holds = false
                state.lease = 0
            }
            return state.status.holds ? state.lease : 0
        }
        gate.loseLease(holder: nil)
        held.record(0)
        guard lease != 0 else { return }
        try? await Task.sleep(for: .milliseconds(settings.safetyMarginMilliseconds))
        do {
            try await etcd.revoke(lease)
            logger.notice("the lease is released")
        } catch {
            logger.warning("the lease could not be released; it expires by itself", metadata: ["error": "\(error)"])
        }
    }

    private func recordMetrics() {
        let (holds, openUntil) = state.withLock { ($0.status.holds, $0.status.openUntil) }
        let now = clock.nanoseconds()
        held.record(holds && now < openUntil ? 1 : 0)
        openMilliseconds.record(holds && now < openUntil ? Int64((openUntil - now) / 1_000_000) : 0)
    }

    // MARK: - Whether this node led the log before (a file in the data directory)

    /// The file, in the data directory, that says this node has held the lease of its log.
    public static let ledMarkerName = "failover-led"

    private func everLed() -> Bool {
        guard let ledMarker else { return false }
        return access(ledMarker, F_OK) == 0
    }

    /// Creates the marker and makes it durable (the file, then its directory entry); false when
    /// it cannot be.
    private func markLed() -> Bool {
        guard let ledMarker else { return true }
        let descriptor = Glibc.open(ledMarker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { return false }
        let directory = String(ledMarker[..<(ledMarker.lastIndex(of: "/") ?? ledMarker.startIndex)])
        let directoryDescriptor = Glibc.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { return false }
        defer { close(directoryDescriptor) }
        return fsync(directoryDescriptor) == 0
    }
}
