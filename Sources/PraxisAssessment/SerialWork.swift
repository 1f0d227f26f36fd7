import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs synchronous, CPU-bound jobs one at a time on a thread of its own, off the Swift
/// concurrency pool, at a lower scheduling priority than the rest of the server.
///
/// The pool has one thread per core. A CPU-bound job run directly in a task keeps a pool
/// thread for its whole length, so a burst of them (every room of a session slot ending its
/// round at once, each assessed for a few milliseconds of CPU) takes every core: the event
/// loops, the writer and every other task (joins' room loads) wait behind it. Through a
/// `SerialWork`, such jobs use at most one core, in submission order, and the caller's task
/// only waits. On Linux the thread also runs `niceness` steps nicer than the process, so
/// while the event loops and the journal's writer have work (the round-end burst itself:
/// its rows committed, its replies sent) the kernel gives them the cores first; the jobs take
/// what is left, and all of it once the burst is over.
package final class SerialWork: Sendable {
    /// The default ``init(label:niceness:)`` niceness: 10 steps below the process.
    package static let defaultNiceness: Int32 = 10

    private let queue: JobQueue

    /// - Parameters:
    ///   - label: the thread's name.
    ///   - niceness: how many steps nicer than the process the thread runs (Linux; capped at
    ///     19, the nicest; 0 keeps the process's priority).
    package init(label: String, niceness: Int32 = SerialWork.defaultNiceness) {
        queue = JobQueue()
        let queue = self.queue
        let thread = Thread {
            #if canImport(Glibc)
            // Linux keeps the nice value per thread: `who` 0 is this thread, which started
            // with its creator's.
            if niceness > 0 {
                let which = __priority_which_t(PRIO_PROCESS.rawValue)
                _ = setpriority(which, 0, min(getpriority(which, 0) + niceness, 19))
            }
            #endif
            queue.runUntilClosed()
        }
        thread.name = label
        thread.start()
    }

    deinit {
        queue.close()
    }

    /// Runs `job` after the jobs submitted before it, and returns its result.
    package func run<T: Sendable>(_ job: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (done: CheckedContinuation<T, Never>) in
            queue.add { done.resume(returning: job()) }
        }
    }
}

/// The jobs waiting for a ``SerialWork`` thread, first in first out, under a condition.
private final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var closed = false

    func add(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
    }

    /// Runs jobs as they come; returns once closed and every job added before has run.
    func runUntilClosed() {
        while let job = next() { job() }
    }

    private func next() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count {
            if closed { return nil }
            jobs.removeAll(keepingCapacity: true)
            head = 0
            condition.wait()
        }
        let job = jobs[head]
        head += 1
        if head >= 256, head * 2 >= jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }
}
