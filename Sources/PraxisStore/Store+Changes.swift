import Foundation
import GRDB
public import PraxisDomain
import Synchronization

/// Collects the changes one write transaction makes to published tables.
final class ChangeCollector {
    private(set) var records: [ChangeRecord] = []
    /// Bytes each record and old record take in the log, beside `records`.
    private(set) var sizes: [Int] = []

    func capture(_ db: Database, table: String, kind: ChangeRecord.Kind, record: PraxisDomain.Row?, oldRecord: PraxisDomain.Row?) throws {
        guard ChangeRecord.publishedTables.contains(table) else { return }
        let now = Timestamp.now()
        if let (key, row) = StoredRow.needsMaterializing(kind, record: record, oldRecord: oldRecord, table: table) {
            try Self.materialize(db, table: table, key: key, from: row)
        }
        let (stored, references, referenceKey) = StoredRow.encodeReferring(record, table: table)
        let (storedOld, changesOnly) = StoredRow.encodeOld(oldRecord, kind: kind, record: record)
        try db.cachedStatement(
            sql: """
                INSERT INTO realtime_changes (table_name, type, record, old_record, old_record_changes_only, commit_timestamp, record_refs, ref_key)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [table, kind.rawValue, stored, storedOld, changesOnly, now, references, referenceKey])
        sizes.append((stored?.utf8.count ?? 0) + (storedOld?.utf8.count ?? 0))
        records.append(
            ChangeRecord(offset: db.lastInsertedRowID, table: table, kind: kind, record: record, oldRecord: oldRecord, commitTimestamp: now)
        )
    }

    /// Puts the referred values back into the logged entries that refer to row `key` of
    /// `table`, from `row` (the row before the change that is about to alter them).
    static func materialize(_ db: Database, table: String, key: String, from row: PraxisDomain.Row) throws {
        let entries = try GRDB.Row.fetchAll(
            db.cachedStatement(sql: "SELECT \"offset\", record, record_refs FROM realtime_changes WHERE table_name = ? AND ref_key = ?"),
            arguments: [table, key]
        )
        for entry in entries {
            guard let references = entry["record_refs"] as String? else { continue }
            let text = StoredRow.materialized(entry["record"], references: references, from: row)
            try db.cachedStatement(sql: "UPDATE realtime_changes SET record = ?, record_refs = NULL, ref_key = NULL WHERE \"offset\" = ?")
                .execute(arguments: [text, entry["offset"] as Int64])
        }
    }
}

/// Where committed changes go (the realtime hub), called in commit order, after commit.
public typealias ChangeListener = @Sendable ([ChangeRecord]) -> Void

/// Holds the listener by reference, so reading it under the lock copies a pointer only.
final class ChangeListenerBox: Sendable {
    let listener: ChangeListener

    init(_ listener: @escaping ChangeListener) {
        self.listener = listener
    }
}

/// The change log: capture within write transactions, publish after commit, read back for resume.
extension Store {
    /// Sets who hears committed changes. Called on the database's writer queue, in commit order.
    public func setChangeListener(_ listener: ChangeListener?) {
        let box = listener.map(ChangeListenerBox.init)
        changeListener.withLock { $0 = box }
    }

    /// Registers `collector`'s changes to be published once the current transaction commits.
    func publishAfterCommit(_ db: Database, _ collector: ChangeCollector) {
        let records = collector.records
        guard !records.isEmpty else { return }
        trimChangeLog(db, collector)
        let box = changeListener.withLock { $0 }
        guard let listener = box?.listener else { return }
        db.afterNextTransaction { _ in listener(records) }
    }

    /// Runs `work` in a write transaction whose published-table changes are logged and,
    /// after commit, handed to the change listener. For the room engine and the data API.
    func writeWithChanges<T: Sendable>(_ work: @escaping @Sendable (Database, ChangeRecorder) throws -> T) async throws -> T {
        try await pool.write { db in
            let collector = ChangeCollector()
            let result = try work(db, ChangeRecorder(collector: collector))
            self.publishAfterCommit(db, collector)
            return result
        }
    }

    /// The feed's epoch: a random id of this database's change log, kept in the database.
    /// A client that resumes with another epoch gets a snapshot instead.
    public func feedEpoch() throws -> String {
        try pool.write { db in
            if let epoch = try String.fetchOne(db, sql: "SELECT value FROM praxis_settings WHERE key = 'feed_epoch'") {
                return epoch
            }
            let epoch = UUID().uuidString.lowercased()
            try db.execute(sql: "INSERT INTO praxis_settings (key, value) VALUES ('feed_epoch', ?)", arguments: [epoch])
            return epoch
        }
    }

    /// The logged changes after `offset` (at most `limit`), and the oldest offset still
    /// retained (nil when the log is empty).
    public func changes(after offset: Int64, limit: Int) async throws -> (changes: [ChangeRecord], oldestRetained: Int64?, latest: Int64) {
        try await pool.read { db in
            let oldest = try Int64.fetchOne(db, sql: "SELECT min(\"offset\") FROM realtime_changes")
            let latest = try Int64.fetchOne(db, sql: "SELECT max(\"offset\") FROM realtime_changes") ?? 0
            let rows = try GRDB.Row.fetchAll(
                db, sql: "SELECT * FROM realtime_changes WHERE \"offset\" > ? ORDER BY \"offset\" LIMIT ?", arguments: [offset, limit]
            )
            let changes = try rows.compactMap { row -> ChangeRecord? in
                guard let kind = ChangeRecord.Kind(rawValue: row["type"]) else { return nil }
                let table: String = row["table_name"]
                let references: String? = row["record_refs"]
                // A record with references takes those values from its row, read in this same transaction.
                var referredRow: PraxisDomain.Row?
                if references != nil, let key: String = row["ref_key"], let schema = Catalog.table(table) {
                    referredRow = try Self.storedRow(db, table: schema, key: .text(key))
                }
                let record = StoredRow.resolved(StoredRow.decode(row["record"]), references: references, from: referredRow)
                let old = StoredRow.decode(row["old_record"])
                return ChangeRecord(
                    offset: row["offset"], table: table, kind: kind, record: record,
                    oldRecord: row["old_record_changes_only"] == true ? StoredRow.restore(changed: old, record: record) : old,
                    commitTimestamp: row["commit_timestamp"]
                )
            }
            return (changes, oldest, latest)
        }
    }

    /// Rows of `tables` the caller may see (at most `limit` per table), read in one
    /// transaction together with the feed offset they are consistent with.
    public func snapshot(tables: [TableSchema], caller: Caller, limit: Int) async throws -> (rows: [(table: TableSchema, row: PraxisDomain.Row)], offset: Int64, truncated: Bool) {
        try await pool.read { db in
            let offset = try Int64.fetchOne(db, sql: "SELECT coalesce(max(\"offset\"), 0) FROM realtime_changes") ?? 0
            var rows: [(table: TableSchema, row: PraxisDomain.Row)] = []
            var truncated = false
            for table in tables {
                var builder = SQLBuilder()
                let condition = builder.condition(AccessPolicy.readable(table.name, by: caller))
                let found = try GRDB.Row.fetchAll(
                    db,
                    sql: "SELECT \(table.columnNames.map(SQLBuilder.quote).joined(separator: ", ")) FROM \(SQLBuilder.quote(table.name)) WHERE \(condition) LIMIT \(limit + 1)",
                    arguments: builder.statementArguments
                ).map(\.domainRow)
                truncated = truncated || found.count > limit
                rows += found.prefix(limit).map { (table, $0) }
            }
            return (rows, offset, truncated)
        }
    }

    /// Keeps the log within `configuration.changeLogMaxEntries` changes and
    /// `changeLogMaxBytes` bytes (``ChangeLogRetention``): deletes the oldest, in the same
    /// write transaction as the changes just logged.
    func trimChangeLog(_ db: Database, _ collector: ChangeCollector) {
        let (maxEntries, maxBytes) = (configuration.changeLogMaxEntries, configuration.changeLogMaxBytes)
        let through = changeLogRetention.withLock { retention -> Int64? in
            var through: Int64?
            if retention == nil {
                // The first logged write of this process: what the log holds (this write's changes included).
                var loaded = ChangeLogRetention(maxEntries: maxEntries, maxBytes: maxBytes)
                let rows = (try? GRDB.Row.fetchAll(
                    db, sql: "SELECT \"offset\", coalesce(length(CAST(record AS BLOB)), 0) + coalesce(length(CAST(old_record AS BLOB)), 0) AS bytes FROM realtime_changes ORDER BY \"offset\""
                )) ?? []
                for row in rows { through = loaded.logged(offset: row["offset"], bytes: row["bytes"]) ?? through }
                retention = loaded
            } else {
                for (record, bytes) in zip(collector.records, collector.sizes) {
                    through = retention!.logged(offset: record.offset, bytes: bytes) ?? through
                }
            }
            return through
        }
        // A write rolled back after this: the ledger counted changes that were not kept.
        db.afterNextTransaction(onCommit: { _ in }, onRollback: { [self] _ in self.changeLogRetention.withLock { $0 = nil } })
        guard let through else { return }
        try? db.execute(sql: "DELETE FROM realtime_changes WHERE \"offset\" <= ?", arguments: [through])
    }

    /// Most rows per table in a join's snapshot (beyond it the reply says `snapshot_truncated`).
    public static let snapshotRowLimit = 10_000
}

/// Records changes of published tables inside a `writeWithChanges` transaction.
struct ChangeRecorder {
    let collector: ChangeCollector

    func record(_ db: Database, table: String, kind: ChangeRecord.Kind, record: PraxisDomain.Row?, oldRecord: PraxisDomain.Row?) throws {
        try collector.capture(db, table: table, kind: kind, record: record, oldRecord: oldRecord)
    }
}
