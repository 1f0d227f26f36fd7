import Foundation
package import Logging
package import PostgresNIO
package import PraxisDomain

/// What the realtime feed reads on PostgreSQL (``RealtimeStore``), as SQLite's
/// `Store+Changes`, `Store+Relations` and `Store+Broadcasts` do.
extension PostgresDatabase: RealtimeStore {
    package func setChangeListener(_ listener: ChangeListener?) {
        let box = listener.map(ChangeListenerBox.init)
        changeLog.listener.withLock { $0 = box }
    }

    package func changes(after offset: Int64, limit: Int) async throws -> (changes: [ChangeRecord], oldestRetained: Int64?, latest: Int64) {
        try await readSnapshot { connection, logger in
            let bounds = try await Self.collect(connection.query(
                "SELECT min(\"offset\")::text, coalesce(max(\"offset\"), 0)::text FROM realtime_changes", logger: logger
            ))
            let oldest = (bounds.first?.first ?? nil).flatMap { Int64($0) }
            let latest = (bounds.first?.last ?? nil).flatMap { Int64($0) } ?? 0
            let rows = try await Self.collect(connection.query(
                """
                SELECT "offset"::text, table_name, type, record::text, old_record::text, \(unescaped: Self.timestampText("commit_timestamp")),
                    old_record_changes_only::text, record_refs, ref_key
                FROM realtime_changes WHERE "offset" > \(offset) ORDER BY realtime_changes."offset" LIMIT \(Int64(limit))
                """,
                logger: logger
            ))
            var changes: [ChangeRecord] = []
            for row in rows {
                guard row.count == 9, let offset = row[0].flatMap({ Int64($0) }), let table = row[1],
                    let kind = row[2].flatMap(ChangeRecord.Kind.init(rawValue:))
                else { continue }
                // A record with references takes those values from its row, read in this same snapshot.
                var referredRow: PraxisDomain.Row?
                if row[7] != nil, let key = row[8], let schema = Catalog.table(table) {
                    referredRow = try await Self.storedRow(schema, key: .text(key), on: connection, logger: logger)
                }
                let record = StoredRow.resolved(StoredRow.decode(row[3]), references: row[7], from: referredRow)
                let old = StoredRow.decode(row[4])
                changes.append(ChangeRecord(
                    offset: offset, table: table, kind: kind, record: record,
                    oldRecord: row[6] == "true" ? StoredRow.restore(changed: old, record: record) : old, commitTimestamp: row[5] ?? ""
                ))
            }
            return (changes, oldest, latest)
        }
    }

    package func snapshot(tables: [TableSchema], caller: Caller, limit: Int) async throws
        -> (rows: [(table: TableSchema, row: PraxisDomain.Row)], offset: Int64, truncated: Bool)
    {
        let found = try await readSnapshot { connection, logger in
            let offset = try await Self.changeOffset(on: connection, logger: logger)
            var rows: [SnapshotRow] = []
            var truncated = false
            for table in tables {
                var sql = PostgresSQL(table)
                let condition = sql.condition(AccessPolicy.readable(table.name, by: caller))
                let found = try await Self.dataRows(
                    "SELECT \(PostgresSQL.selectList(table)) FROM \(PostgresSQL.quote(table.name)) WHERE \(condition) LIMIT \(limit + 1)",
                    sql.binds, table: table, on: connection, logger: logger
                )
                truncated = truncated || found.count > limit
                rows += found.prefix(limit).map { SnapshotRow(table: table.name, row: $0) }
            }
            return (rows, offset, truncated)
        }
        let byName = Dictionary(tables.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return (found.0.compactMap { row in byName[row.table].map { ($0, row.row) } }, found.1, found.2)
    }

    package func relatedRows(_ keys: RelationKeys) async throws -> RowRelations {
        if keys.isEmpty { return .none }
        return try await readSnapshot { connection, logger in
            var relations = RowRelations()
            for ids in Self.uuidChunks(keys.rooms) {
                let rows = try await Self.collect(connection.query(
                    Self.query("SELECT id::text, host_id::text, guest_id::text FROM practice_rooms WHERE id IN (\(Self.uuidPlaceholders(ids.count)))", ids),
                    logger: logger
                ))
                for row in rows {
                    guard let id = row[0], let host = row[1] else { continue }
                    relations.rooms[id] = RowRelations.Participants(host: host, guest: row[2])
                }
            }
            for ids in Self.uuidChunks(keys.rounds) {
                let rows = try await Self.collect(connection.query(
                    Self.query("SELECT id::text, candidate_id::text FROM practice_rounds WHERE id IN (\(Self.uuidPlaceholders(ids.count)))", ids),
                    logger: logger
                ))
                for row in rows {
                    if let id = row[0], let candidate = row[1] { relations.roundCandidates[id] = candidate }
                }
            }
            return relations
        }
    }

    package func appendBroadcasts(_ records: [BroadcastRecord], retention: Int) async throws {
        guard let last = records.map(\.id).max() else { return }
        let logger = self.logger
        try await transaction { connection in
            for record in records {
                try await Self.run(
                    """
                    INSERT INTO realtime_broadcasts (id, topic, payload, sent_at) VALUES (\(record.id), \(record.topic), \(record.payload), \(record.sentAt))
                    ON CONFLICT (id) DO NOTHING
                    """,
                    on: connection, logger: logger
                )
            }
            try await Self.run("DELETE FROM realtime_broadcasts WHERE id <= \(last - Int64(retention))", on: connection, logger: logger)
        }
    }

    package func broadcasts(topic: String, since: Int64, upTo: Int64, limit: Int) async throws -> [BroadcastRecord] {
        let rows = try await readSnapshot { connection, logger in
            try await Self.collect(connection.query(
                """
                SELECT id::text, topic, payload, sent_at::text FROM realtime_broadcasts
                WHERE topic = \(topic) AND id <= \(upTo) AND sent_at >= \(since) ORDER BY realtime_broadcasts.id DESC LIMIT \(Int64(limit))
                """,
                logger: logger
            ))
        }
        return rows.reversed().compactMap { row in
            guard let id = row[0].flatMap({ Int64($0) }), let topic = row[1], let payload = row[2], let sentAt = row[3].flatMap({ Int64($0) })
            else { return nil }
            return BroadcastRecord(id: id, topic: topic, payload: payload, sentAt: sentAt)
        }
    }

    /// The highest logged broadcast id (0 when none): the hub continues after it.
    package func lastBroadcastID() async throws -> Int64 {
        let rows = try await ownerTextRows("SELECT coalesce(max(id), 0)::text FROM realtime_broadcasts")
        return (rows.first?.first ?? nil).flatMap { Int64($0) } ?? 0
    }

    /// The feed's epoch, as SQLite's `Store.feedEpoch()`: a random id of this database's
    /// change log, kept in `praxis_settings` (the first server to start writes it).
    package func feedEpoch() async throws -> String {
        let candidate = UUID().uuidString.lowercased()
        let rows = try await ownerTextRows(
            """
            WITH added AS (INSERT INTO praxis_settings (key, value) VALUES ('feed_epoch', $1) ON CONFLICT (key) DO NOTHING RETURNING value)
            SELECT value FROM added UNION ALL SELECT value FROM praxis_settings WHERE key = 'feed_epoch'
            """,
            [candidate]
        )
        guard let epoch = rows.first?.first ?? nil else { throw StoreError.database("the feed epoch was not kept") }
        return epoch
    }
}

/// A snapshot row by table name (the schema joined back after the read).
private struct SnapshotRow: Sendable {
    var table: String
    var row: PraxisDomain.Row
}

extension PostgresDatabase {
    /// Runs `body` in a read-only REPEATABLE READ transaction: every statement sees the same
    /// committed state (the rows and the offset they are consistent with).
    func readSnapshot<Result: Sendable>(_ body: (PostgresConnection, Logger) async throws -> Result) async throws -> Result {
        let logger = self.logger
        do {
            return try await client.withConnection { connection in
                try await Self.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", on: connection, logger: logger)
                do {
                    let result = try await body(connection, logger)
                    try await Self.run("COMMIT", on: connection, logger: logger)
                    return result
                } catch {
                    try? await Self.run("ROLLBACK", on: connection, logger: logger)
                    throw error
                }
            }
        } catch {
            throw PostgresError.wrap(error)
        }
    }

    /// Ids per `IN (…)` list; ids that are not UUIDs name no row and are left out.
    static func uuidChunks(_ ids: Set<String>) -> [[String?]] {
        let sorted = ids.filter { UUID(uuidString: $0) != nil }.sorted()
        return stride(from: 0, to: sorted.count, by: 500).map { Array(sorted[$0..<min($0 + 500, sorted.count)]) }
    }

    static func uuidPlaceholders(_ count: Int) -> String {
        (1...max(1, count)).map { "$\($0)::uuid" }.joined(separator: ", ")
    }
}
