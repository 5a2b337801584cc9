import FascicoloConcurrency
import Glibc
import Synchronization
import Testing

@Suite struct ConcurrencyHelperTests {
    @Test func aPromiseHandsAThreadsResultOrErrorToTheWaiter() throws {
        #expect(try Promise.onNewThread { 6 * 7 }.wait() == 42)
        struct Failure: Error {}
        #expect(throws: Failure.self) { try Promise<Int>.onNewThread { throw Failure() }.wait() }
    }

    @Test func aChangeSignalWakesAWaiterWithoutPolling() async {
        let signal = ChangeSignal()
        let seen = signal.generation
        async let woken: Void = signal.wait(after: seen)
        startThread { signal.notify() }
        await woken
        #expect(signal.generation == seen + 1)
    }

    @Test func aChangeNotifiedBeforeTheWaitIsNotMissed() async {
        let signal = ChangeSignal()
        let seen = signal.generation
        signal.notify()
        await signal.wait(after: seen)  // returns at once: the change came after `seen`
    }

    @Test func aChangeSignalWaitEndsAtItsTimeoutAndOnCancellation() async {
        let signal = ChangeSignal()
        let start = MonotonicClock.system.nanoseconds()
        await signal.wait(after: signal.generation, timeout: .milliseconds(30))
        #expect(MonotonicClock.system.nanoseconds() - start >= 30_000_000)
        let task = Task { await signal.wait(after: signal.generation) }
        task.cancel()
        await task.value
    }

    @Test func aConditionLockWakesTheWaiterOnBroadcast() {
        let lock = ConditionLock()
        let ready = Mutex(false)
        startThread {
            lock.withLock {
                ready.withLock { $0 = true }
                lock.broadcast()
            }
        }
        lock.withLock {
            while !ready.withLock({ $0 }) { lock.wait() }
        }
    }

    @Test func aFixedWallClockAnswersItsInstantInEveryUnit() {
        let clock = WallClock.fixed(millisecondsSinceEpoch: 1_795_456_376_123)
        #expect(clock.timestamp == "2026-11-23T17:52:56.123Z")
        #expect(clock.secondsSinceEpoch == 1_795_456_376)
        #expect(clock.daysSinceEpoch == 20_780)
        #expect(WallClock.fixed(millisecondsSinceEpoch: -1).daysSinceEpoch == -1)
    }

    @Test func theSystemClocksMove() {
        #expect(abs(WallClock.system.secondsSinceEpoch - Int64(time(nil))) <= 1)
        let first = MonotonicClock.system.nanoseconds()
        #expect(MonotonicClock.system.nanoseconds() >= first)
    }
}
