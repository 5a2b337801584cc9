import Glibc

/// Starts a detached OS thread — not a task: work that blocks (in fsync, on LMDB's write lock)
/// must not occupy Swift's cooperative pool, which has only as many threads as cores.
public func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(
        &thread, nil,
        { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
    precondition(status == 0, "cannot start a thread: \(status)")
    pthread_detach(thread)
}

/// Hands a value that is not `Sendable` to another thread, for the cases the compiler cannot
/// check: the sender stops using it (a handover), or the threads touch disjoint parts of it (the
/// slices of a buffer). Use it only with a comment saying which.
public struct UnsafeTransfer<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
