package import Logging
package import PostgresNIO
package import PraxisDomain

/// The change log on PostgreSQL, as SQLite's `Store+Changes`: changes of published tables
/// captured inside a write transaction, logged in `realtime_changes` in the same
/// transaction with offsets in commit order, the log trimmed to its retention, and the
/// records handed to the change listener after COMMIT, in commit order.
extension PostgresDatabase {
    /// Runs `body` in one write transaction whose published-table changes are logged.
    ///
    /// How to use it: write through `connection` (as the owner, or under a caller's role
    /// after ``become(_:roomLink:on:logger:)``) and, after each write of a published table,
    /// call `changes.capture(table, kind:, record:, oldRecord:)` with the rows read by
    /// ``storedRow(_:key:on:logger:)`` (the row after the change for INSERT/UPDATE, before
    /// it for UPDATE/DELETE). When `body` returns, the changes are inserted into
    /// `realtime_changes` (as the owner, under the advisory lock ``PostgresChangeLog/lockKey``,
    /// so offsets commit in offset order), the log is trimmed, and the transaction commits;
    /// only then does the change listener hear them, in commit order. If `body` or the
    /// commit throws, everything is rolled back and nothing is published. A transaction that
    /// captured nothing takes no lock.
    package func writeWithChanges<Result: Sendable>(
        _ body: (PostgresConnection, PostgresChangeCapture) async throws -> Result
    ) async throws -> Result {
        let capture = PostgresChangeCapture()
        let ticket = ChangeTicket()
        let logger = self.logger
        do {
            let result = try await client.withTransaction(logger: logger) { connection in
                let result = try await body(connection, capture)
                try await self.logChanges(capture, ticket: ticket, on: connection)
                return result
            }
            if let number = ticket.ticket { changeLog.finish(number, records: ticket.logged) }
            return result
        } catch {
            if let number = ticket.ticket {
                changeLog.retention.withLock { $0 = nil }
                changeLog.finish(number, records: [])
            }
            throw error
        }
    }

    /// Inserts the captured changes, last thing before COMMIT, and trims the log.
    private func logChanges(_ capture: PostgresChangeCapture, ticket: ChangeTicket, on connection: PostgresConnection) async throws {
        let changes = capture.changes
        guard !changes.isEmpty else { return }
        try await Self.run("RESET ROLE", on: connection, logger: logger)
        try await Self.run("SELECT pg_advisory_xact_lock(\(PostgresChangeLog.lockKey))", on: connection, logger: logger)
        ticket.take(changeLog.ticket())
        let now = Timestamp.now()
        var logged: [ChangeRecord] = []
        var sizes: [Int] = []
        for change in changes {
            if let (key, row) = StoredRow.needsMaterializing(change.kind, record: change.record, oldRecord: change.oldRecord, table: change.table) {
                try await materialize(table: change.table, key: key, from: row, on: connection)
            }
            let (stored, references, referenceKey) = StoredRow.encodeReferring(change.record, table: change.table)
            let (storedOld, changesOnly) = StoredRow.encodeOld(change.oldRecord, kind: change.kind, record: change.record)
            let rows = try await Self.collect(connection.query(
                Self.query(
                    """
                    INSERT INTO realtime_changes (table_name, type, record, old_record, old_record_changes_only, commit_timestamp, record_refs, ref_key)
                    VALUES ($1, $2, $3::jsonb, $4::jsonb, $5::boolean, $6::timestamptz, $7, $8) RETURNING "offset"::text
                    """,
                    [change.table, change.kind.rawValue, stored, storedOld, changesOnly ? "true" : "false", now, references, referenceKey]
                ),
                logger: logger
            ))
            guard let offset = (rows.first?.first ?? nil).flatMap({ Int64($0) }) else {
                throw PostgresError(sqlState: nil, message: "realtime_changes gave no offset")
            }
            sizes.append((stored?.utf8.count ?? 0) + (storedOld?.utf8.count ?? 0))
            logged.append(
                ChangeRecord(offset: offset, table: change.table, kind: change.kind, record: change.record, oldRecord: change.oldRecord, commitTimestamp: now)
            )
        }
        ticket.logged(logged)
        try await trimChangeLog(logged: zip(logged.map(\.offset), sizes).map { ($0, $1) }, on: connection)
    }

    /// Puts the referred values back into the logged entries that refer to row `key` of
    /// `table`, from `row` (the row before the change about to alter them), as SQLite's
    /// `ChangeCollector.materialize`.
    private func materialize(table: String, key: String, from row: PraxisDomain.Row, on connection: PostgresConnection) async throws {
        let entries = try await Self.collect(connection.query(
            Self.query(#"SELECT "offset"::text, record::text, record_refs FROM realtime_changes WHERE table_name = $1 AND ref_key = $2"#, [table, key]),
            logger: logger
        ))
        for entry in entries {
            guard entry.count == 3, let offset = entry[0], let references = entry[2] else { continue }
            let text = StoredRow.materialized(entry[1], references: references, from: row)
            try await Self.run(
                Self.query(
                    #"UPDATE realtime_changes SET record = $1::jsonb, record_refs = NULL, ref_key = NULL WHERE "offset" = $2::bigint"#, [text, offset]
                ),
                on: connection, logger: logger
            )
        }
    }

    /// Keeps the log within its retention (``ChangeLogRetention``), as SQLite's
    /// `trimChangeLog`: deletes the oldest changes in the same transaction.
    private func trimChangeLog(logged: [(offset: Int64, bytes: Int)], on connection: PostgresConnection) async throws {
        var through: Int64?
        if changeLog.retention.withLock({ $0 == nil }) {
            // The first logged write of this process: what the log holds (this write's included).
            let rows = try await Self.collect(connection.query(
                """
                SELECT "offset"::text, (coalesce(octet_length(record::text), 0) + coalesce(octet_length(old_record::text), 0))::text
                FROM realtime_changes ORDER BY realtime_changes."offset"
                """,
                logger: logger
            ))
            var loaded = ChangeLogRetention(maxEntries: changeLog.maxEntries, maxBytes: changeLog.maxBytes)
            for row in rows {
                guard let offset = (row.first ?? nil).flatMap({ Int64($0) }) else { continue }
                through = loaded.logged(offset: offset, bytes: (row.last ?? nil).flatMap { Int($0) } ?? 0) ?? through
            }
            changeLog.retention.withLock { $0 = loaded }
        } else {
            through = changeLog.retention.withLock { retention -> Int64? in
                var through: Int64?
                for (offset, bytes) in logged { through = retention?.logged(offset: offset, bytes: bytes) ?? through }
                return through
            }
        }
        guard let through else { return }
        try await Self.run("DELETE FROM realtime_changes WHERE \"offset\" <= \(through)", on: connection, logger: logger)
    }

    /// The row of `table` with primary key `key` as stored now, every catalog column in the
    /// shape SQLite's store keeps it (what ``PostgresChangeCapture/capture(_:kind:record:oldRecord:)``
    /// takes); nil when there is none.
    package static func storedRow(_ table: TableSchema, key: Value, on connection: PostgresConnection, logger: Logger) async throws -> PraxisDomain.Row? {
        var sql = PostgresSQL(table)
        let statement = """
            SELECT \(PostgresSQL.selectList(table)) FROM \(PostgresSQL.quote(table.name)) \
            WHERE \(PostgresSQL.quote(table.primaryKey)) = \(sql.bind(key, column: table.primaryKey))
            """
        return try await dataRows(statement, sql.binds, table: table, on: connection, logger: logger).first
    }

    /// The latest committed change-feed offset this transaction sees (0: none). The log
    /// always keeps its newest change, so trimming never lowers it.
    package static func changeOffset(on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let rows = try await collect(connection.query("SELECT coalesce(max(\"offset\"), 0)::text FROM realtime_changes", logger: logger))
        return (rows.first?.first ?? nil).flatMap { Int64($0) } ?? 0
    }
}
