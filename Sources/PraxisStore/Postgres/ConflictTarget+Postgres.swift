import Logging
import PostgresNIO
import PraxisDomain

/// The upsert's conflict checks on PostgreSQL, as ``ConflictTarget``'s SQLite ones.
extension ConflictTarget {
    /// The stored row whose key equals the proposed row's, if the caller may see it (Praxis'
    /// visibility rule in the statement; the caller's role and policies around it).
    func visibleRow(
        matching row: PraxisDomain.Row, caller: Caller, on connection: PostgresConnection, logger: Logger
    ) async throws -> PraxisDomain.Row? {
        var sql = PostgresSQL(table)
        let visible = sql.condition(AccessPolicy.readable(table.name, by: caller, roomLink: link(in: row)))
        guard let key = keyCondition(&sql, row) else { return nil }
        return try await PostgresDatabase.dataRows(
            "SELECT \(PostgresSQL.selectList(table)) FROM \(PostgresSQL.quote(table.name)) WHERE \(visible) AND \(key) LIMIT 1",
            sql.binds, table: table, on: connection, logger: logger
        ).first
    }

    /// Whether the caller may merge into `existing` (``AccessPolicy/mergeable``).
    func mayMerge(
        into existing: PraxisDomain.Row, proposed: PraxisDomain.Row, caller: Caller, on connection: PostgresConnection, logger: Logger
    ) async throws -> Bool {
        var sql = PostgresSQL(table)
        let allowed = sql.condition(AccessPolicy.mergeable(table.name, by: caller, roomLink: link(in: proposed)))
        let key = sql.bind(existing[table.primaryKey] ?? .null, column: table.primaryKey)
        let found = try await PostgresDatabase.collect(connection.query(
            PostgresDatabase.query(
                "SELECT 1::text FROM \(PostgresSQL.quote(table.name)) WHERE \(allowed) AND \(PostgresSQL.quote(table.primaryKey)) = \(key)", sql.binds
            ),
            logger: logger
        ))
        return !found.isEmpty
    }

    /// `a = $1 AND b = $2` over the key's columns, or nil when the row leaves one of them
    /// null (a null never conflicts).
    private func keyCondition(_ sql: inout PostgresSQL, _ row: PraxisDomain.Row) -> String? {
        var conditions: [String] = []
        for column in columns {
            guard let value = row[column], !value.isNull else { return nil }
            conditions.append("\(PostgresSQL.quote(column)) = \(sql.bind(value, column: column))")
        }
        return conditions.joined(separator: " AND ")
    }
}
