import PostgresNIO

/// `praxis copy`: moves a SQLite store's data into an empty PostgreSQL database of the same
/// schema, then checks every row.
///
/// 1. The source is read in one read transaction (``SQLiteSnapshot``), read-only.
/// 2. The target is migrated (``PostgresDatabase/migrate(within:)``); both must be at the
///    same migration.
/// 3. In one PostgreSQL transaction: every data table of the target is checked empty (else
///    nothing is written and the error names the first table with rows), every table is
///    copied in foreign-key order (``copyOrder``), each value sent as text and cast to its
///    column's type, and the identity sequences are moved past the copied keys.
///    The schema's triggers fire on UPDATE, DELETE and TRUNCATE only, so plain INSERTs
///    keep every copied value (`created_at`, `updated_at`, audit rows) as it was.
/// 4. After the commit every table is read back and compared with the snapshot row by row
///    (``StoreCopier+Verify``).
package struct StoreCopier: Sendable {
    /// Every data table, parents before children. The migration histories
    /// (`grdb_migrations`, `schema_migrations`) are not copied.
    package static let copyOrder = [
        "praxis_settings", "users", "profiles", "subscriptions", "case_briefs", "practice_rooms", "practice_rounds",
        "feedback_reports", "user_progress_snapshots", "audit_logs", "auth_sessions", "auth_refresh_tokens",
        "auth_email_verifications", "realtime_changes", "realtime_broadcasts", "room_events", "room_commands", "room_runtime",
    ]

    /// Binds per INSERT statement (PostgreSQL allows 65535).
    static let bindsPerStatement = 4000

    let database: PostgresDatabase

    package init(target database: PostgresDatabase) {
        self.database = database
    }

    /// Copies the store at `path` into the target and verifies it; the rows per table, in
    /// ``copyOrder``.
    package func copy(from path: String, connectTimeout: Duration = .seconds(30)) async throws -> [(table: String, rows: Int)] {
        let snapshot = try SQLiteSnapshot.read(path: path)
        _ = try await database.migrate(within: connectTimeout)
        let target = try await database.appliedMigrations()
        guard snapshot.migrations == target else {
            throw StoreCopyError(
                "the source is at migration '\(snapshot.migrations.last ?? "none")' and the target at '\(target.last ?? "none")': "
                    + "run 'praxis migrate --db \(path)' with this praxis first"
            )
        }
        var types: [String: [String: String]] = [:]
        for table in snapshot.tables {
            types[table.name] = try await columnTypes(table)
        }
        let columnTypes = types
        let logger = database.logger
        try await writeTransaction { connection in
            for table in snapshot.tables {
                let rows = try await PostgresDatabase.collect(connection.query(
                    PostgresQuery(unsafeSQL: "SELECT 1 FROM \(SQLBuilder.quote(table.name)) LIMIT 1"), logger: logger
                ))
                if !rows.isEmpty {
                    throw StoreCopyError("the target is not empty: table \(table.name) has rows (praxis copy fills an empty database only)")
                }
            }
            for table in snapshot.tables {
                try await Self.insert(table, types: columnTypes[table.name] ?? [:], on: connection, logger: logger)
            }
            try await Self.resetSequences(past: snapshot.sequences, on: connection, logger: logger)
        }
        try await verify(snapshot, types: columnTypes)
        return snapshot.tables.map { ($0.name, $0.rows.count) }
    }

    /// Runs `body` in one transaction of the target; a ``StoreCopyError`` thrown inside
    /// comes out as it is (after the rollback).
    private func writeTransaction(_ body: (PostgresConnection) async throws -> Void) async throws {
        do {
            try await database.client.withTransaction(logger: database.logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let cause = error.closureError as? StoreCopyError { throw cause }
            throw StoreCopyError("the copy was rolled back: \(PostgresError.wrap(error))")
        } catch {
            throw StoreCopyError("the copy was rolled back: \(PostgresError.wrap(error))")
        }
    }

    /// The target's type of each of the table's columns (`information_schema` names); the
    /// two sides must have the same columns.
    private func columnTypes(_ table: SQLiteSnapshot.Table) async throws -> [String: String] {
        let rows = try await database.ownerTextRows(
            "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
            [table.name]
        )
        var types: [String: String] = [:]
        for row in rows {
            if let name = row[0], let type = row[1] { types[name] = type }
        }
        guard Set(types.keys) == Set(table.columns) else {
            let source = table.columns.sorted().joined(separator: ", "), target = types.keys.sorted().joined(separator: ", ")
            throw StoreCopyError("table \(table.name) has other columns in the target (\(target)) than in the source (\(source))")
        }
        return types
    }

    /// INSERTs every row of `table`, many rows a statement, each value a text bind cast to
    /// its column's type (`$1::uuid`, `$2::boolean` from 0/1, `$3::timestamp with time zone`, …).
    private static func insert(
        _ table: SQLiteSnapshot.Table, types: [String: String], on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !table.rows.isEmpty else { return }
        let columns = table.columns.map(SQLBuilder.quote).joined(separator: ", ")
        let casts = table.columns.map { "::" + (types[$0] ?? "text") }
        let perStatement = max(1, bindsPerStatement / max(1, table.columns.count))
        var start = 0
        while start < table.rows.count {
            let batch = table.rows[start..<min(start + perStatement, table.rows.count)]
            var bindings = PostgresBindings(capacity: batch.count * casts.count)
            var tuples: [String] = []
            for row in batch {
                var placeholders: [String] = []
                for (index, value) in row.enumerated() {
                    if let value { bindings.append(value) } else { bindings.appendNull() }
                    placeholders.append("$\(bindings.count)\(casts[index])")
                }
                tuples.append("(" + placeholders.joined(separator: ", ") + ")")
            }
            let sql = "INSERT INTO \(SQLBuilder.quote(table.name)) (\(columns)) VALUES " + tuples.joined(separator: ", ")
            do {
                try await PostgresDatabase.run(PostgresQuery(unsafeSQL: sql, binds: bindings), on: connection, logger: logger)
            } catch {
                throw StoreCopyError("copying \(table.name) failed: \(PostgresError.wrap(error))")
            }
            start += batch.count
        }
    }

    /// Moves every identity or serial sequence of the schema past its column's largest
    /// copied value and past the key SQLite's AUTOINCREMENT last gave (`floors`): new
    /// `realtime_changes` offsets continue where the source's stopped, so a client resuming
    /// from an offset it saw misses nothing.
    private static func resetSequences(past floors: [String: Int64], on connection: PostgresConnection, logger: Logger) async throws {
        let columns = try await PostgresDatabase.collect(connection.query(
            """
            SELECT table_name::text, column_name::text FROM information_schema.columns
            WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')
            """,
            logger: logger
        ))
        for row in columns {
            guard row.count == 2, let table = row[0], let column = row[1] else { continue }
            let quotedTable = SQLBuilder.quote(table), quotedColumn = SQLBuilder.quote(column)
            try await PostgresDatabase.run(
                PostgresQuery(unsafeSQL: """
                    SELECT setval(pg_get_serial_sequence('\(quotedTable)', '\(column)'),
                                  GREATEST(COALESCE((SELECT max(\(quotedColumn)) FROM \(quotedTable)), 0), \(floors[table] ?? 0)) + 1, false)
                    """),
                on: connection, logger: logger
            )
        }
    }
}
