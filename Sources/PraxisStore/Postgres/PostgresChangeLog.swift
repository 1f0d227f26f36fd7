import Synchronization

/// The change log's state in one process: who hears committed changes, how much of the log
/// is kept (``ChangeLogRetention``), and the order committed transactions are published in.
///
/// Offsets are drawn under a transaction-scoped advisory lock held until COMMIT, so the
/// order transactions take a ticket in (right after the lock) is their commit order. Each
/// transaction finishes its ticket after COMMIT (or with nothing after a rollback); the
/// listener hears the finished ones strictly in ticket order.
final class PostgresChangeLog: Sendable {
    /// The advisory lock key every logging transaction takes before drawing offsets.
    static let lockKey: Int64 = 0x7072_6178_6973_6368 // "praxisch"

    let maxEntries: Int
    let maxBytes: Int
    let listener = Mutex<ChangeListenerBox?>(nil)
    /// What the log keeps (loaded at the first logged write; nil again after a rollback).
    let retention = Mutex<ChangeLogRetention?>(nil)
    private let order = Mutex<Order>(Order())

    private struct Order {
        var next: UInt64 = 0
        var head: UInt64 = 0
        var finished: [UInt64: [ChangeRecord]] = [:]
    }

    init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }

    /// A place in the publishing order; take it while holding the advisory lock.
    func ticket() -> UInt64 {
        order.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
    }

    /// The ticket's transaction is over: its committed `records` (none after a rollback)
    /// are published once every earlier ticket is finished.
    func finish(_ ticket: UInt64, records: [ChangeRecord]) {
        order.withLock { state in
            state.finished[ticket] = records
            while let records = state.finished.removeValue(forKey: state.head) {
                state.head += 1
                guard !records.isEmpty, let box = listener.withLock({ $0 }) else { continue }
                box.listener(records)
            }
        }
    }
}
