import Foundation
import Logging
import PostgresNIO
import PraxisDomain
import PraxisProtocol

/// The steps of the data API on PostgreSQL (``PostgresDatabase``'s `DataStore` methods).
extension PostgresDatabase {
    /// Runs `body` in one transaction under the caller's role and claims; any failure becomes
    /// a PostgREST-shaped ``DataError`` (``dataError(from:)``).
    func data<Result: Sendable>(
        _ caller: Caller, roomLink: String?, _ body: (PostgresConnection, Logger) async throws -> Result
    ) async throws(DataError) -> Result {
        let logger = self.logger
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await Self.become(caller, roomLink: roomLink, on: connection, logger: logger)
                return try await body(connection, logger)
            }
        } catch {
            throw Self.dataError(from: error)
        }
    }

    /// ``data(_:roomLink:_:)`` for writes: the published-table changes `body` captures are
    /// logged in the same transaction and published after it commits
    /// (``writeWithChanges(_:)``).
    func dataWriting<Result: Sendable>(
        _ caller: Caller, roomLink: String?, _ body: (PostgresConnection, Logger, PostgresChangeCapture) async throws -> Result
    ) async throws(DataError) -> Result {
        let logger = self.logger
        do {
            return try await writeWithChanges { connection, changes in
                try await Self.become(caller, roomLink: roomLink, on: connection, logger: logger)
                return try await body(connection, logger, changes)
            }
        } catch {
            throw Self.dataError(from: error)
        }
    }

    /// Captures a change of `table`'s row `key` as the owner reads it (the caller's role is
    /// taken again afterwards); nothing for tables that are not published.
    static func capture(
        _ table: TableSchema, kind: ChangeRecord.Kind, key: Value, old: PraxisDomain.Row?, caller: Caller,
        into changes: PostgresChangeCapture, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard ChangeRecord.publishedTables.contains(table.name) else { return }
        try await Self.run("RESET ROLE", on: connection, logger: logger)
        let stored = try await storedRow(table, key: key, on: connection, logger: logger)
        try await Self.run(PostgresQuery(unsafeSQL: "SET LOCAL ROLE \(role(of: caller))"), on: connection, logger: logger)
        changes.capture(table.name, kind: kind, record: stored, oldRecord: old)
    }

    /// Rows of `sql` read with ``PostgresSQL/selectList(_:)``, as domain rows.
    static func dataRows(
        _ sql: String, _ binds: [String?], table: TableSchema, on connection: PostgresConnection, logger: Logger
    ) async throws -> [PraxisDomain.Row] {
        try await Self.collect(connection.query(Self.query(sql, binds), logger: logger)).map { PostgresSQL.row($0, table: table) }
    }

    /// The rows with these keys the caller may see, in the order the keys were written.
    static func rows(
        _ table: TableSchema, keys: [Value], plan: ReadPlan, on connection: PostgresConnection, logger: Logger
    ) async throws -> [PraxisDomain.Row] {
        guard !keys.isEmpty else { return [] }
        var sql = PostgresSQL(table)
        let visible = sql.condition(plan.visibility)
        let placeholders = keys.map { sql.bind($0, column: table.primaryKey) }.joined(separator: ", ")
        let rows = try await Self.dataRows(
            "SELECT \(PostgresSQL.selectList(table)) FROM \(PostgresSQL.quote(table.name)) WHERE \(visible) AND \(PostgresSQL.quote(table.primaryKey)) IN (\(placeholders))",
            sql.binds, table: table, on: connection, logger: logger
        )
        let order = Dictionary(keys.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return rows.sorted { (order[$0[table.primaryKey] ?? .null] ?? 0) < (order[$1[table.primaryKey] ?? .null] ?? 0) }
    }

    /// Applies `patch` to `old` when Praxis' rules allow (the database's policies then
    /// decide again); returns the row's key, also when nothing changed, as SQLite's
    /// `Store.applyUpdate` does.
    static func applyUpdate(
        _ table: TableSchema, old: PraxisDomain.Row, patch: PraxisDomain.Row, context: DataContext, changes: PostgresChangeCapture,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> Value? {
        var new = old
        for (name, value) in patch { new[name] = value }
        let changed = Set(patch.keys.filter { (old[$0] ?? .null) != patch[$0]! })
        let facts = try await Self.roomFacts(table, row: old, on: connection, logger: logger)
        do throws(AccessDenied) {
            try AccessPolicy.checkUpdate(table.name, old: old, new: new, changed: changed, room: facts, by: context.caller)
        } catch {
            throw Store.refused(error)
        }
        let key = old[table.primaryKey] ?? .null
        guard !changed.isEmpty else { return key }
        var sql = PostgresSQL(table)
        // `updated_at` is touched by the table's trigger (and not granted to the API roles).
        let assignments = changed.sorted().map { "\(PostgresSQL.quote($0)) = \(sql.bind(new[$0]!, column: $0))" }
        let statement = """
            UPDATE \(PostgresSQL.quote(table.name)) SET \(assignments.joined(separator: ", ")) \
            WHERE \(PostgresSQL.quote(table.primaryKey)) = \(sql.bind(key, column: table.primaryKey))
            """
        try await Self.run(Self.query(statement, sql.binds), on: connection, logger: logger)
        try await Self.capture(table, kind: .update, key: key, old: old, caller: context.caller, into: changes, on: connection, logger: logger)
        try await Self.audit(table, action: "update", key: key, details: patch.filter { changed.contains($0.key) }, context: context, on: connection, logger: logger)
        return key
    }

    /// Whether a room's round is being played (`praxis.round_live`, which reads the server's
    /// own `room_runtime` as the owner); no facts for other tables.
    static func roomFacts(_ table: TableSchema, row: PraxisDomain.Row, on connection: PostgresConnection, logger: Logger) async throws -> RoomFacts {
        guard table.name == "practice_rooms", case .text(let id) = row["id"] ?? .null else { return RoomFacts() }
        let live = try await Self.collect(connection.query("SELECT praxis.round_live(\(id)::uuid)::text", logger: logger))
        return RoomFacts(roundLive: live.first?.first == "true")
    }

    /// Admins' writes to `case_briefs` and `users` are recorded in `audit_logs`, in the same
    /// transaction, as SQLite's store records them. Written as the connecting user (the API
    /// roles may only read the log), the caller's role taken again afterwards.
    static func audit(
        _ table: TableSchema, action: String, key: Value, details: PraxisDomain.Row, context: DataContext,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard context.caller.isAdmin, let admin = context.caller.userID, ["case_briefs", "users"].contains(table.name) else { return }
        var changes: [String: JSONValue] = [:]
        for (name, value) in details where !AccessPolicy.briefColumns.contains(name) {
            switch value {
            case .null: changes[name] = .null
            case .integer(let number): changes[name] = .number(Double(number))
            case .real(let number): changes[name] = .number(number)
            case .text(let text): changes[name] = .string(String(text.prefix(200)))
            }
        }
        let object = JSONValue.object([
            "table": .string(table.name), "columns": .array(details.keys.sorted().map { JSONValue.string($0) }), "values": .object(changes),
        ])
        let target = key.text.flatMap { UUID(uuidString: $0) } != nil ? key.text : nil
        let name = "\(table.name).\(action)"
        let address = String(context.ipAddress.prefix(50))
        try await Self.run("RESET ROLE", on: connection, logger: logger)
        try await Self.run(
            """
            INSERT INTO audit_logs (admin_id, action, target_entity_id, details, ip_address)
            VALUES (\(admin)::uuid, \(name), \(target)::uuid, \(object.jsonString)::jsonb, \(address))
            """,
            on: connection, logger: logger
        )
        try await Self.run(PostgresQuery(unsafeSQL: "SET LOCAL ROLE \(role(of: context.caller))"), on: connection, logger: logger)
    }
}
