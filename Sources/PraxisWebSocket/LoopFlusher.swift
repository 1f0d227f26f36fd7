import NIOCore

/// The flushes of one event loop's connections, done together: a connection written outside
/// a read asks once, and one task per loop pass flushes every connection that asked (not one
/// task per connection). Writes queued on the loop before that task runs leave in the same
/// flush, so a burst of fan-outs costs each connection one system call.
///
/// Confined to its loop (`enqueue` and the task run there); one per loop (``LoopLocal``).
final class LoopFlusher: @unchecked Sendable {
    private var pending: [WebSocketHandler] = []
    private var running: [WebSocketHandler] = []

    /// Queues `handler` for the next flush pass of `loop` (the loop this flusher belongs to).
    func enqueue(_ handler: WebSocketHandler, on loop: any EventLoop) {
        pending.append(handler)
        if pending.count == 1 { loop.execute { self.run() } }
    }

    private func run() {
        // Flushing can write (a close on error): what it queues goes to the next pass.
        swap(&pending, &running)
        for handler in running { handler.flushQueued() }
        running.removeAll(keepingCapacity: true)
    }
}
