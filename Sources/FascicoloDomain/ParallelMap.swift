import Dispatch
import FascicoloConcurrency

/// Maps the indices of a large request's events on every core, in slices handed to whichever
/// thread is free; a small one stays on the caller's thread (a hand-off costs about as much as
/// a few events).
enum ParallelMap {
    /// Below this many items, one thread.
    static let parallelMinimum = 16
    /// Items per slice.
    static let sliceItems = 8

    static func map<T: Sendable>(_ count: Int, _ transform: @Sendable (Int) -> T) -> [T] {
        guard count >= parallelMinimum else { return (0..<count).map(transform) }
        let slices = (count + sliceItems - 1) / sliceItems
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            // Each slice initializes only its own items.
            let output = UnsafeTransfer(buffer)
            DispatchQueue.concurrentPerform(iterations: slices) { slice in
                for index in (slice * sliceItems)..<min(count, (slice + 1) * sliceItems) {
                    (output.value.baseAddress! + index).initialize(to: transform(index))
                }
            }
            initialized = count
        }
    }
}
