import Synchronization

/// Lets tasks wait, without polling, for something another thread changes (a commit, a
/// projection's progress, the disk's health). The changer calls `notify()`; a waiter reads
/// `generation` before it checks its condition and passes it to `wait`, so a change that
/// lands between its check and its wait wakes it at once instead of being missed.
///
///     while true {
///         let seen = signal.generation
///         if conditionHolds() { return }
///         await signal.wait(after: seen)
///     }
public final class ChangeSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextTicket: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Changes notified so far.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Records a change and wakes every waiter (they resume after the lock is released).
    public func notify() {
        let woken = state.withLock { state in
            state.generation &+= 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns once a change after `generation` has been notified, or the task is cancelled.
    public func wait(after generation: UInt64) async {
        let ticket = state.withLock { state in
            state.nextTicket &+= 1
            return state.nextTicket
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[ticket] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: ticket) }?.resume()
        }
    }

    /// Returns once a change after `generation` has been notified, `timeout` has passed, or the
    /// task is cancelled — whichever comes first.
    public func wait(after generation: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait(after: generation) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}
