import Glibc

/// The time of day, as the product reads it: the entries' `recordedAt`, checkpoint timestamps,
/// "today" for dates and reviews, timestamps in control records and events. Injected (default
/// `.system`) so that tests can fix it: `WallClock.fixed(millisecondsSinceEpoch: …)`.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Int64

    /// A clock that answers `millisecondsSinceEpoch()` (UTC, Unix epoch).
    public init(millisecondsSinceEpoch: @escaping @Sendable () -> Int64) {
        self.read = millisecondsSinceEpoch
    }

    /// The system's real-time clock.
    public static let system = WallClock {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// A clock that always answers the same instant.
    public static func fixed(millisecondsSinceEpoch: Int64) -> WallClock {
        WallClock { millisecondsSinceEpoch }
    }

    public var millisecondsSinceEpoch: Int64 { read() }
    public var secondsSinceEpoch: Int64 { Self.floorDivide(read(), 1_000) }
    /// Days since 1970-01-01, in UTC (the day the domain calls "today").
    public var daysSinceEpoch: Int { Int(Self.floorDivide(read(), 86_400_000)) }
    /// The current instant as the API writes it (see `Timestamp`).
    public var timestamp: String { Timestamp.iso8601(milliseconds: read()) }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }
}

/// Elapsed time: deadlines, intervals, durations measured. Never goes back, not even when the
/// wall clock is set back; `ConditionLock` deadlines are on `MonotonicClock.system`.
public struct MonotonicClock: Sendable {
    private let read: @Sendable () -> UInt64

    public init(nanoseconds: @escaping @Sendable () -> UInt64) {
        self.read = nanoseconds
    }

    /// CLOCK_MONOTONIC.
    public static let system = MonotonicClock {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// CLOCK_BOOTTIME: as CLOCK_MONOTONIC, but it also counts the time the machine was
    /// suspended. For deadlines that another machine's clock ends (a lease in etcd): a suspended
    /// primary must find its lease gone when it wakes, not the time it slept uncounted.
    public static let includingSuspend = MonotonicClock {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Nanoseconds since an arbitrary start (the same for the whole process).
    public func nanoseconds() -> UInt64 { read() }
}
