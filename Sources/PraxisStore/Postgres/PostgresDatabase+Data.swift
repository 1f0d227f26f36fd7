import Foundation
import Logging
import PostgresNIO
package import PraxisDomain
package import PraxisProtocol

/// The data API on PostgreSQL: the same checks as SQLite's `Store+Data` (Praxis' own
/// ``AccessPolicy`` in every statement), each request in one transaction under the caller's
/// role and claims (``withCaller(_:roomLink:_:)``), so the database's row-level security is
/// a second, independent guard. Writes log their published-table changes in the same
/// transaction (``dataWriting(_:roomLink:_:)``), published after commit.
extension PostgresDatabase: DataStore {
    package func select(_ table: TableSchema, query: PostgrestQuery, countExact: Bool, context: DataContext) async throws(DataError) -> DataResult {
        let plan = try ReadPlan(table: table, query: query, caller: context.caller)
        // Nothing the caller may read: no rows, as SQLite's `WHERE false` answers (the API
        // role may have no grant on the table at all, which PostgreSQL would refuse).
        if case .never = plan.visibility { return DataResult(rows: [], columns: plan.outputColumns, total: countExact ? 0 : nil) }
        return try await data(context.caller, roomLink: plan.roomLink) { connection, logger in
            var sql = PostgresSQL(table)
            let whereSQL = try plan.whereClause(&sql)
            let rows = try await Self.dataRows(
                "SELECT \(PostgresSQL.selectList(table)) FROM \(PostgresSQL.quote(table.name)) WHERE \(whereSQL)\(plan.postgresOrderAndLimit)",
                sql.binds, table: table, on: connection, logger: logger
            )
            var total: Int?
            if countExact {
                let counted = try await Self.collect(connection.query(
                    Self.query("SELECT count(*)::text FROM \(PostgresSQL.quote(table.name)) WHERE \(whereSQL)", sql.binds), logger: logger
                ))
                total = (counted.first?.first ?? nil).flatMap { Int($0) }
            }
            return DataResult(rows: rows, columns: plan.outputColumns, total: total)
        }
    }

    /// Inserts (or upserts) rows in the order of checks SQLite's store applies (see
    /// `Store.insert`): the table privilege, the conflict target, then per row a visible
    /// conflicting row skipped or merged into, any other row through the insert rule.
    package func insert(_ table: TableSchema, _ request: InsertRequest, context: DataContext) async throws(DataError) -> DataResult {
        try Store.checkWritable(table)
        let caller = context.caller
        guard AccessPolicy.mayInsert(into: table.name, by: caller) else {
            throw DataError.forbidden(AccessDenied.rowLevelSecurity(table.name).message)
        }
        let plan = try ReadPlan(table: table, query: PostgrestQuery(select: request.query.select), caller: caller)
        let prepared = try request.rows.map { body throws(DataError) in
            try Store.prepareInsert(table, body: body, columns: request.query.columns, missingDefault: request.preferences.missingDefault, caller: caller)
        }
        let conflictKey = try ConflictTarget(table: table, columns: request.query.onConflict, caller: caller)
        let link = prepared.lazy.compactMap { conflictKey.link(in: $0) }.first
        // Two upserts of one new key at once both find no row; the one that commits second hits
        // the unique index. Run it once more: it then merges into the committed row, as the
        // second upsert does on SQLite, whose writes are serial.
        do {
            return try await insertOnce(table, request, prepared: prepared, conflictKey: conflictKey, plan: plan, link: link, context: context)
        } catch where request.preferences.resolution != nil && error.code == "23505" {
            return try await insertOnce(table, request, prepared: prepared, conflictKey: conflictKey, plan: plan, link: link, context: context)
        }
    }

    private func insertOnce(
        _ table: TableSchema, _ request: InsertRequest, prepared: [PraxisDomain.Row], conflictKey: ConflictTarget, plan: ReadPlan,
        link: String?, context: DataContext
    ) async throws(DataError) -> DataResult {
        let caller = context.caller
        return try await dataWriting(caller, roomLink: link) { connection, logger, changes in
            var keys: [Value] = []
            for var row in prepared {
                if let resolution = request.preferences.resolution,
                    let existing = try await conflictKey.visibleRow(matching: row, caller: caller, on: connection, logger: logger)
                {
                    if resolution == .ignoreDuplicates { continue }
                    guard try await conflictKey.mayMerge(into: existing, proposed: row, caller: caller, on: connection, logger: logger) else {
                        throw DataError.forbidden(AccessDenied.upsertTarget(table.name).message)
                    }
                    var patch = row
                    for column in table.columns where column.serverManaged { patch[column.name] = nil }
                    patch[table.primaryKey] = nil
                    if let key = try await Self.applyUpdate(table, old: existing, patch: patch, context: context, changes: changes, on: connection, logger: logger) {
                        keys.append(key)
                    }
                    continue
                }
                for (column, value) in AccessPolicy.callerDefaults(table.name, for: caller) where row[column] == nil {
                    row[column] = value
                }
                Store.fillServerDefaults(table, row: &row)
                do throws(AccessDenied) {
                    try AccessPolicy.checkInsert(table.name, row: row, by: caller)
                } catch {
                    throw DataError.forbidden(error.message)
                }
                let names = row.keys.sorted()
                var sql = PostgresSQL(table)
                let values = names.map { sql.bind(row[$0]!, column: $0) }
                try await Self.run(
                    Self.query(
                        "INSERT INTO \(PostgresSQL.quote(table.name)) (\(names.map(PostgresSQL.quote).joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))",
                        sql.binds
                    ),
                    on: connection, logger: logger
                )
                let key = row[table.primaryKey] ?? .null
                keys.append(key)
                try await Self.capture(table, kind: .insert, key: key, old: nil, caller: caller, into: changes, on: connection, logger: logger)
                try await Self.audit(table, action: "insert", key: key, details: row, context: context, on: connection, logger: logger)
            }
            let rows = try await Self.rows(table, keys: keys, plan: plan, on: connection, logger: logger)
            return try context.checkShape(DataResult(rows: rows, columns: plan.outputColumns, total: nil))
        }
    }

    package func update(_ table: TableSchema, query: PostgrestQuery, patch body: [String: JSONValue], context: DataContext) async throws(DataError) -> DataResult {
        try Store.checkWritable(table)
        let caller = context.caller
        let plan = try ReadPlan(table: table, query: query, caller: caller)
        var converted: PraxisDomain.Row = [:]
        for (name, json) in body {
            guard let column = table.column(name) else { throw .unknownColumn(name, table: table.name) }
            if column.serverManaged, !caller.isService {
                throw .forbidden("column \(name) of \(table.name) is managed by the server")
            }
            converted[name] = try ColumnValues.fromJSON(json, column: column, table: table.name)
        }
        let patch = converted
        return try await dataWriting(caller, roomLink: plan.roomLink) { connection, logger, changes in
            var sql = PostgresSQL(table)
            let whereSQL = try plan.whereClause(&sql, extra: AccessPolicy.updatable(table.name, by: caller))
            let rows = try await Self.dataRows(
                "SELECT \(PostgresSQL.selectList(table)) FROM \(PostgresSQL.quote(table.name)) WHERE \(whereSQL) FOR UPDATE", sql.binds,
                table: table, on: connection, logger: logger
            )
            var keys: [Value] = []
            for old in rows {
                if let key = try await Self.applyUpdate(table, old: old, patch: patch, context: context, changes: changes, on: connection, logger: logger) {
                    keys.append(key)
                }
            }
            let updated = try await Self.rows(table, keys: keys, plan: plan, on: connection, logger: logger)
            return try context.checkShape(DataResult(rows: updated, columns: plan.outputColumns, total: nil))
        }
    }

    package func delete(_ table: TableSchema, query: PostgrestQuery, context: DataContext) async throws(DataError) -> DataResult {
        try Store.checkWritable(table)
        let caller = context.caller
        let plan = try ReadPlan(table: table, query: query, caller: caller)
        if let status = AccessPolicy.softDeleteStatus[table.name] {
            return try await archive(table, status: status, plan: plan, context: context)
        }
        return try await dataWriting(caller, roomLink: plan.roomLink) { connection, logger, changes in
            var sql = PostgresSQL(table)
            let whereSQL = try plan.whereClause(&sql, extra: AccessPolicy.deletable(table.name, by: caller))
            let rows = try await Self.dataRows(
                "SELECT \(PostgresSQL.selectList(table)) FROM \(PostgresSQL.quote(table.name)) WHERE \(whereSQL) FOR UPDATE", sql.binds,
                table: table, on: connection, logger: logger
            )
            for old in rows {
                let facts = try await Self.roomFacts(table, row: old, on: connection, logger: logger)
                do throws(AccessDenied) {
                    try AccessPolicy.checkDelete(table.name, old: old, room: facts, by: caller)
                } catch {
                    throw Store.refused(error)
                }
                var deleter = PostgresSQL(table)
                let key = deleter.bind(old[table.primaryKey] ?? .null, column: table.primaryKey)
                try await Self.run(
                    Self.query("DELETE FROM \(PostgresSQL.quote(table.name)) WHERE \(PostgresSQL.quote(table.primaryKey)) = \(key)", deleter.binds),
                    on: connection, logger: logger
                )
                changes.capture(table.name, kind: .delete, record: nil, oldRecord: old)
            }
            return try context.checkShape(DataResult(rows: rows, columns: plan.outputColumns, total: nil))
        }
    }

    package func isReachable() async -> Bool {
        (try? await ownerTextRows("SELECT 1::text"))?.first?.first == "1"
    }

    /// A soft delete: the rows the caller may archive get `status`.
    private func archive(_ table: TableSchema, status: String, plan: ReadPlan, context: DataContext) async throws(DataError) -> DataResult {
        let caller = context.caller
        return try await dataWriting(caller, roomLink: plan.roomLink) { connection, logger, changes in
            var sql = PostgresSQL(table)
            let whereSQL = try plan.whereClause(&sql, extra: AccessPolicy.archivable(table.name, by: caller))
            let rows = try await Self.dataRows(
                "SELECT \(PostgresSQL.selectList(table)) FROM \(PostgresSQL.quote(table.name)) WHERE \(whereSQL) FOR UPDATE", sql.binds,
                table: table, on: connection, logger: logger
            )
            var keys: [Value] = []
            for old in rows {
                let key = old[table.primaryKey] ?? .null
                var setter = PostgresSQL(table)
                // `updated_at` is touched by the table's trigger.
                let statement = """
                    UPDATE \(PostgresSQL.quote(table.name)) SET status = \(setter.bind(.text(status), as: .text)) \
                    WHERE \(PostgresSQL.quote(table.primaryKey)) = \(setter.bind(key, column: table.primaryKey))
                    """
                try await Self.run(Self.query(statement, setter.binds), on: connection, logger: logger)
                try await Self.capture(table, kind: .update, key: key, old: old, caller: caller, into: changes, on: connection, logger: logger)
                keys.append(key)
                try await Self.audit(table, action: "archive", key: key, details: ["status": .text(status)], context: context, on: connection, logger: logger)
            }
            let archived = try await Self.rows(table, keys: keys, plan: plan, on: connection, logger: logger)
            return try context.checkShape(DataResult(rows: archived, columns: plan.outputColumns, total: nil))
        }
    }
}
