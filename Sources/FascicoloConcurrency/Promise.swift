/// A result produced once, by one thread, and waited for by another: the thread that waits
/// sleeps on a condition variable until the result is there.
public final class Promise<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `result` is guarded by `lock`.
    private let lock = ConditionLock()
    private var result: Result<Value, any Error>?

    public init() {}

    /// Runs `work` on a thread of its own (see `startThread`) and completes with its outcome.
    public static func onNewThread(_ work: @escaping @Sendable () throws -> Value) -> Promise<Value> {
        let promise = Promise<Value>()
        startThread { promise.complete(Result { try work() }) }
        return promise
    }

    /// Sets the result and wakes the waiters. A promise is completed once.
    public func complete(_ outcome: Result<Value, any Error>) {
        lock.withLock {
            precondition(result == nil, "a promise is completed once")
            result = outcome
            lock.broadcast()
        }
    }

    /// Blocks the calling thread until the result is there; returns it or throws its error.
    public func wait() throws -> Value {
        try lock.withLock {
            while result == nil { lock.wait() }
            return result!
        }.get()
    }
}
