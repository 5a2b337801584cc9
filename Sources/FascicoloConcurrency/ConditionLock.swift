import Glibc

/// A mutex with a condition variable, for threads that must sleep until another one changes
/// what the lock guards, or until a deadline (the writer's queue, the projection runners).
/// Swift's `Mutex` has no condition wait.
public final class ConditionLock: @unchecked Sendable {
    // @unchecked: every access to the pthread objects goes through the mutex itself.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Deadlines are on the monotonic clock (`MonotonicClock.system`): a wall clock set back
        // must not stretch a wait.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (the lock held by the caller) until signalled. Wake-ups can be spurious: the caller
    /// checks its condition in a loop.
    public func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Waits (the lock held by the caller) until signalled or until `deadline`, in nanoseconds
    /// of `MonotonicClock.system`; nil waits without a deadline.
    public func wait(untilMonotonicNanoseconds deadline: UInt64?) {
        guard let deadline else { return wait() }
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        pthread_cond_timedwait(condition, mutex, &time)
    }

    /// Waits (the lock held by the caller) until signalled or for at most `milliseconds`.
    public func wait(milliseconds: Int) {
        wait(untilMonotonicNanoseconds: MonotonicClock.system.nanoseconds() + UInt64(max(0, milliseconds)) * 1_000_000)
    }

    /// Wakes every thread waiting on this lock (call it with the lock held, after the change).
    public func broadcast() { pthread_cond_broadcast(condition) }
}
