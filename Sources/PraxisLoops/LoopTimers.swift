public import NIOCore

/// What a ``LoopTimers`` entry calls when it is due.
package protocol LoopTimerTarget: AnyObject {
    /// Runs on the loop when due; returns false to stop repeating (the connection ended).
    func timerFired() -> Bool
}

/// Per-connection checks (liveness pings, heartbeat timeouts, the HTTP header timeout) of one event loop with
/// one scheduled task per interval, not one per connection: entries of the same interval fall
/// due in the order they were added, so each interval is a FIFO whose head is the next due.
///
/// An entry costs a ring-buffer slot and a small ``LoopTimer`` handle, against a `Scheduled`
/// task, its promise and its closure per connection. A cancelled handle lets its target go at
/// once; the handle itself is dropped when it next falls due. Confined to its loop.
package final class LoopTimers: @unchecked Sendable {
    private struct Queue {
        let interval: TimeAmount
        var entries = CircularBuffer<(due: NIODeadline, timer: LoopTimer)>()
        var armed = false
    }

    private var queues: [Int64: Queue] = [:]

    /// An empty set, for one event loop.
    package init() {}

    /// Calls `target.timerFired()` every `interval` on `loop` (this timer set's loop) until it
    /// returns false or the returned handle is cancelled.
    @discardableResult
    package func add(_ target: any LoopTimerTarget, every interval: TimeAmount, on loop: any EventLoop) -> LoopTimer {
        let key = interval.nanoseconds
        let timer = LoopTimer(target)
        queues[key, default: Queue(interval: interval)].entries.append((loop.now + interval, timer))
        arm(key, on: loop)
        return timer
    }

    /// How many entries are kept (for tests).
    package var count: Int { queues.values.reduce(0) { $0 + $1.entries.count } }

    private func arm(_ key: Int64, on loop: any EventLoop) {
        guard let queue = queues[key], !queue.armed, let head = queue.entries.first else { return }
        queues[key]!.armed = true
        let delay = max(.zero, head.due - loop.now)
        loop.assumeIsolated().scheduleTask(in: delay) { self.fire(key, on: loop) }
    }

    private func fire(_ key: Int64, on loop: any EventLoop) {
        guard let interval = queues[key]?.interval else { return }
        queues[key]!.armed = false
        let now = loop.now
        while let head = queues[key]?.entries.first, head.due <= now {
            queues[key]!.entries.removeFirst()
            guard let target = head.timer.target else { continue }
            if target.timerFired() {
                queues[key]!.entries.append((now + interval, head.timer))
            } else {
                head.timer.cancel()
            }
        }
        if queues[key]?.entries.isEmpty == true {
            queues[key] = nil
        } else {
            arm(key, on: loop)
        }
    }
}

/// A repeating check's handle: `cancel()` (on the loop) stops it and releases its target.
package final class LoopTimer {
    fileprivate private(set) var target: (any LoopTimerTarget)?

    fileprivate init(_ target: any LoopTimerTarget) {
        self.target = target
    }

    package func cancel() {
        target = nil
    }
}
