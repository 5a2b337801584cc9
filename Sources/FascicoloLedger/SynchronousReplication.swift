import FascicoloConcurrency
import Logging
import Synchronization

/// Synchronous replication (`[replication] synchronous_followers`): an append is acknowledged
/// only once `followers` followers report holding it durably (`FollowerReports`), so losing the
/// primary's disk loses nothing acknowledged. When fewer report within `timeoutMilliseconds`,
/// the append that waited answers 503 `replicas_unavailable` (its entries are stored: a retry with
/// its idempotency key is answered from them, never stored twice) and then, by `whenUnavailable`:
/// `refuse` closes the write gate until enough followers hold everything (`.replicasUnavailable`),
/// `degrade` acknowledges without waiting until they do (asynchronous replication meanwhile).
public struct SynchronousReplication: Sendable, Equatable {
    public enum WhenUnavailable: String, Sendable, CaseIterable {
        case refuse
        case degrade
    }

    /// K: followers that must hold an append before it is acknowledged; 0 turns it off.
    public var followers = 0
    public var timeoutMilliseconds = 2_000
    public var whenUnavailable = WhenUnavailable.refuse

    public init() {}
}

/// Where synchronous replication stands on a primary (status, metrics).
public struct SynchronousReplicationState: Sendable, Equatable {
    public var required: Int
    /// Followers holding everything the log holds.
    public var inSync: Int
    /// Appends acknowledged without their followers (`degrade`) or refused (`refuse`) since the
    /// followers fell short.
    public var degraded: Bool
    /// Appends whose wait for followers timed out, since start.
    public var timeouts: UInt64
}

/// The primary's side of synchronous replication: waits for the followers after each append,
/// and closes (or degrades) and reopens when they fall short and catch up.
final class SynchronousReplicas: Sendable {
    let settings: SynchronousReplication
    private let reports: FollowerReports
    private let authority: WriteAuthority
    private let logger: Logger
    private struct State {
        var degraded = false
        var timeouts: UInt64 = 0
        var watching = false
    }
    private let state = Mutex(State())

    init(settings: SynchronousReplication, reports: FollowerReports, authority: WriteAuthority, logger: Logger) {
        self.settings = settings
        self.reports = reports
        self.authority = authority
        self.logger = logger
    }

    var isOn: Bool { settings.followers > 0 }

    /// Returns once `settings.followers` followers hold `end` entries; throws
    /// `LedgerError.notWritable(.replicasUnavailable)` if they do not within the timeout (refuse),
    /// or returns at once while degraded.
    func awaitFollowers(
        holding end: UInt64, size: @escaping @Sendable () -> UInt64, closed: @escaping @Sendable () -> Bool
    ) async throws {
        guard isOn else { return }
        if state.withLock({ $0.degraded }) {
            guard settings.whenUnavailable == .degrade else { throw LedgerError.notWritable(.replicasUnavailable) }
            return
        }
        let held = await reports.wait(
            forCount: settings.followers, holding: end, timeout: .milliseconds(Int64(settings.timeoutMilliseconds)))
        if held { return }
        let first = state.withLock { state -> Bool in
            state.timeouts += 1
            defer { state.degraded = true }
            return !state.degraded
        }
        if first {
            logger.error(
                "synchronous followers did not answer in time",
                metadata: [
                    "required": "\(settings.followers)", "holding": "\(reports.count(holding: end))",
                    "mode": "\(settings.whenUnavailable.rawValue)",
                ])
            if settings.whenUnavailable == .refuse { _ = authority.replace(nil, with: .replicasUnavailable) }
            watch(size: size, closed: closed)
        }
        if settings.whenUnavailable == .refuse { throw LedgerError.notWritable(.replicasUnavailable) }
    }

    /// Whether an append already stored up to `end` may be answered now (a retry answered from
    /// its idempotency record): throws as `awaitFollowers` would, without waiting.
    func checkFollowers(holding end: UInt64) throws {
        guard isOn, settings.whenUnavailable == .refuse || !state.withLock({ $0.degraded }) else { return }
        guard reports.count(holding: end) >= settings.followers else { throw LedgerError.notWritable(.replicasUnavailable) }
    }

    /// Until enough followers hold everything stored: then the gate reopens (if it was this that
    /// closed it) and appends wait for their followers again.
    private func watch(size: @escaping @Sendable () -> UInt64, closed: @escaping @Sendable () -> Bool) {
        guard
            state.withLock({ state in
                defer { state.watching = true }
                return !state.watching
            })
        else { return }
        Task.detached { [self] in
            while !Task.isCancelled {
                if closed() { return }
                if await reports.wait(forCount: settings.followers, holding: size(), timeout: .seconds(1)) { break }
            }
            state.withLock { state in
                state.degraded = false
                state.watching = false
            }
            _ = authority.replace(.replicasUnavailable, with: nil)
            logger.notice("synchronous followers hold every entry again", metadata: ["required": "\(settings.followers)"])
        }
    }

    func current(size: UInt64) -> SynchronousReplicationState {
        let (degraded, timeouts) = state.withLock { ($0.degraded, $0.timeouts) }
        return SynchronousReplicationState(
            required: settings.followers, inSync: reports.count(holding: size), degraded: degraded, timeouts: timeouts)
    }
}
