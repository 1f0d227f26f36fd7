import Dispatch

/// Runs synchronous, CPU-bound jobs one at a time on a dispatch queue of its own, off the
/// Swift concurrency pool.
///
/// The pool has one thread per core. A CPU-bound job run directly in a task keeps a pool
/// thread for its whole length, so a burst of them (every room of a session slot ending its
/// round at once, each assessed for ~20 ms of CPU) takes every core: the event loops, the
/// writer and every other task (joins' room loads) wait behind it. Through a `SerialWork`,
/// such jobs use at most one core, in submission order, and the caller's task only waits.
package final class SerialWork: Sendable {
    private let queue: DispatchQueue

    package init(label: String) {
        queue = DispatchQueue(label: label, qos: .utility)
    }

    /// Runs `job` after the jobs submitted before it, and returns its result.
    package func run<T: Sendable>(_ job: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (done: CheckedContinuation<T, Never>) in
            queue.async { done.resume(returning: job()) }
        }
    }
}
