package import PraxisDomain
import Synchronization

/// The changes one PostgreSQL write transaction makes to published tables
/// (``ChangeRecord/publishedTables``), held until the transaction logs them: the
/// PostgreSQL counterpart of SQLite's `ChangeCollector`.
///
/// Get one from ``PostgresDatabase/writeWithChanges(_:)`` and call
/// ``capture(_:kind:record:oldRecord:)`` after each write of a published table, with the
/// rows in the shape the data API reads them (``PostgresDatabase/storedRow(_:key:on:logger:)``).
/// The changes reach `realtime_changes` just before the transaction commits, with offsets
/// in commit order, and the change listener after it has committed.
package final class PostgresChangeCapture: Sendable {
    private let captured = Mutex<[Captured]>([])

    struct Captured: Sendable {
        var table: String
        var kind: ChangeRecord.Kind
        var record: PraxisDomain.Row?
        var oldRecord: PraxisDomain.Row?
    }

    init() {}

    /// Notes a change of `table` (ignored unless the table is published): `record` is the
    /// row after the change (INSERT, UPDATE), `oldRecord` the row before it (UPDATE, DELETE),
    /// both as ``PostgresDatabase/storedRow(_:key:on:logger:)`` reads them.
    package func capture(_ table: String, kind: ChangeRecord.Kind, record: PraxisDomain.Row?, oldRecord: PraxisDomain.Row?) {
        guard ChangeRecord.publishedTables.contains(table) else { return }
        captured.withLock { $0.append(Captured(table: table, kind: kind, record: record, oldRecord: oldRecord)) }
    }

    /// The changes noted so far, in order.
    var changes: [Captured] { captured.withLock { $0 } }
}
