public import NIOCore
import Synchronization
package import PraxisLoops

/// What the connections of one event loop share: the flusher (one flush pass per loop pass)
/// and the repeating timers (one scheduled task per interval). Confined to the loop; found
/// once per connection through ``of(_:)``.
package final class LoopLocal: @unchecked Sendable {
    let flusher = LoopFlusher()
    package let timers = LoopTimers()

    private struct Entry {
        weak var loop: (any EventLoop)?
        let local: LoopLocal
    }

    private static let registry = Mutex<[ObjectIdentifier: Entry]>([:])

    /// The shared state of `loop` (looked up under a lock: once per connection, not per message).
    package static func of(_ loop: any EventLoop) -> LoopLocal {
        registry.withLock { entries in
            let key = ObjectIdentifier(loop)
            if let entry = entries[key], entry.loop === loop { return entry.local }
            entries = entries.filter { $0.value.loop != nil }  // loops that ended (tests' embedded loops)
            let local = LoopLocal()
            entries[key] = Entry(loop: loop, local: local)
            return local
        }
    }
}
