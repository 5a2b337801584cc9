import FascicoloConcurrency
import Synchronization

/// What a primary knows of its followers: each one's name and the size of the log it reported
/// holding durably (the `from` of its last `GET /v1/replication/log`: it asks from the first
/// position it does not hold, after committing everything before it). Synchronous replication
/// waits here for enough of them to reach an append's end.
public final class FollowerReports: Sendable {
    public struct Follower: Sendable, Equatable {
        public let name: String
        /// The entries it holds durably.
        public let position: UInt64
        /// When it last reported (monotonic nanoseconds).
        public let reportedAtNanoseconds: UInt64
    }

    /// Followers remembered at once; reports of further names are not kept.
    public static let followersMax = 16

    private let followers = Mutex<[String: Follower]>([:])
    private let monotonic = MonotonicClock.system
    /// Notified at each report that moves a follower forward.
    let changed = ChangeSignal()

    init() {}

    /// Whether `name` can name a follower: 1 to 64 of `A-Z a-z 0-9 . _ -` (it is shown in the
    /// status and the metrics' labels).
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...64).contains(bytes.count)
            && bytes.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2E
                    || byte == 0x5F || byte == 0x2D
            }
    }

    /// Records that `name` holds `position` entries durably. A report behind an earlier one (a
    /// follower restored from an older copy) replaces it: it is what that follower holds now.
    public func report(follower name: String, position: UInt64) {
        let now = monotonic.nanoseconds()
        let moved = followers.withLock { followers -> Bool in
            guard followers[name] != nil || followers.count < Self.followersMax else { return false }
            let before = followers[name]?.position
            followers[name] = Follower(name: name, position: position, reportedAtNanoseconds: now)
            return before.map { position > $0 } ?? true
        }
        if moved { changed.notify() }
    }

    /// The followers that reported, by name.
    public var all: [Follower] { followers.withLock { $0.values.sorted { $0.name < $1.name } } }

    /// How many followers hold at least `size` entries.
    public func count(holding size: UInt64) -> Int {
        followers.withLock { $0.values.reduce(0) { $0 + ($1.position >= size ? 1 : 0) } }
    }

    /// Returns true once `count` followers hold at least `size` entries, false when `timeout`
    /// passes (or the task is cancelled) first.
    func wait(forCount count: Int, holding size: UInt64, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            let seen = changed.generation
            if self.count(holding: size) >= count { return true }
            let left = deadline - ContinuousClock.now
            guard left > .zero, !Task.isCancelled else { return false }
            await changed.wait(after: seen, timeout: left)
        }
    }
}
