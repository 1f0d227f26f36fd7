import Synchronization

/// The ticket a write transaction took in ``PostgresChangeLog``'s publishing order, if it
/// logged changes, and the records it logged (published once it has committed).
final class ChangeTicket: Sendable {
    private let value = Mutex<UInt64?>(nil)
    private let records = Mutex<[ChangeRecord]>([])

    var ticket: UInt64? { value.withLock { $0 } }
    var logged: [ChangeRecord] { records.withLock { $0 } }

    func take(_ ticket: UInt64) {
        value.withLock { $0 = ticket }
    }

    func logged(_ logged: [ChangeRecord]) {
        records.withLock { $0 = logged }
    }
}
