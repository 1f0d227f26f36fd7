import Foundation
import GRDB
public import PraxisDomain
public import PraxisProtocol

/// Who asks, from where: what every data API call carries.
public struct DataContext: Sendable {
    public var caller: Caller
    /// The client's IP, written to audit logs.
    public var ipAddress: String
    /// The client asked for exactly one row back (`vnd.pgrst.object`): a write touching
    /// more or fewer rows is rolled back.
    public var expectsSingleRow: Bool

    public init(caller: Caller, ipAddress: String, expectsSingleRow: Bool = false) {
        self.caller = caller
        self.ipAddress = ipAddress
        self.expectsSingleRow = expectsSingleRow
    }

    /// Refuses (inside the write's transaction, so it rolls back) a result of the wrong size.
    func checkShape(_ result: DataResult) throws -> DataResult {
        guard expectsSingleRow, result.rows.count != 1 else { return result }
        throw DataError(
            .notAcceptable, code: "PGRST116", message: "JSON object requested, multiple (or no) rows returned",
            details: "The result contains \(result.rows.count) rows; nothing was changed"
        )
    }
}

/// The result of a read.
public struct DataResult: Sendable {
    public var rows: [PraxisDomain.Row]
    /// The columns to present, in order.
    public var columns: [ColumnSchema]
    /// The total matching rows, when an exact count was asked.
    public var total: Int?
}

/// A write to a table (insert or upsert).
public struct InsertRequest: Sendable {
    public var rows: [[String: JSONValue]]
    public var query: PostgrestQuery
    public var preferences: Preferences

    public init(rows: [[String: JSONValue]], query: PostgrestQuery, preferences: Preferences) {
        self.rows = rows
        self.query = query
        self.preferences = preferences
    }
}

/// The PostgREST-compatible data operations, with the access rules applied to every query.
extension Store {
    /// Rows of `table` matching `query` that the caller may see.
    public func select(_ table: TableSchema, query: PostgrestQuery, countExact: Bool, context: DataContext) async throws(DataError) -> DataResult {
        let plan = try ReadPlan(table: table, query: query, caller: context.caller)
        return try await run {
            try await self.pool.read { db in
                var builder = SQLBuilder()
                let whereSQL = try plan.whereClause(&builder)
                let rows = try Self.fetch(db, self.statements, table: table, whereSQL: whereSQL, builder: builder, plan: plan)
                var total: Int?
                if countExact {
                    total = try self.statements.fetchInt(
                        db, sql: "SELECT count(*) FROM \(SQLBuilder.quote(table.name)) WHERE \(whereSQL)",
                        arguments: builder.statementArguments
                    )
                }
                return DataResult(rows: rows, columns: plan.outputColumns, total: total)
            }
        }
    }

    /// Inserts (or upserts) rows; returns the stored rows the caller may see.
    ///
    /// The order of checks is the order PostgreSQL applies: the table privilege first (a
    /// refused writer learns nothing of stored rows), then the conflict target (a unique
    /// key whose columns the caller may read, as a filter must), then per row: a conflicting
    /// row the caller can see is skipped (`ignore-duplicates`) or merged into under the merge
    /// rule (``AccessPolicy/mergeable``); any other row goes through the insert rule.
    public func insert(_ table: TableSchema, _ request: InsertRequest, context: DataContext) async throws(DataError) -> DataResult {
        try Self.checkWritable(table)
        let caller = context.caller
        guard AccessPolicy.mayInsert(into: table.name, by: caller) else {
            throw DataError.forbidden(AccessDenied.rowLevelSecurity(table.name).message)
        }
        let plan = try ReadPlan(table: table, query: PostgrestQuery(select: request.query.select), caller: caller)
        let prepared = try request.rows.map { body throws(DataError) in
            try Self.prepareInsert(table, body: body, columns: request.query.columns, missingDefault: request.preferences.missingDefault, caller: caller)
        }
        let conflictKey = try ConflictTarget(table: table, columns: request.query.onConflict, caller: caller)
        return try await run {
            try await self.dataWrites.write { db in
                let changes = ChangeCollector()
                var keys: [Value] = []
                for var row in prepared {
                    if let resolution = request.preferences.resolution,
                        let existing = try conflictKey.visibleRow(db, self.statements, matching: row, caller: caller)
                    {
                        if resolution == .ignoreDuplicates { continue }
                        guard try conflictKey.mayMerge(db, self.statements, into: existing, proposed: row, caller: caller) else {
                            throw DataError.forbidden(AccessDenied.upsertTarget(table.name).message)
                        }
                        var patch = row
                        for column in table.columns where column.serverManaged { patch[column.name] = nil }
                        patch[table.primaryKey] = nil
                        if let key = try Self.applyUpdate(db, self.statements, table: table, old: existing, patch: patch, context: context, changes: changes) {
                            keys.append(key)
                        }
                        continue
                    }
                    for (column, value) in AccessPolicy.callerDefaults(table.name, for: caller) where row[column] == nil {
                        row[column] = value
                    }
                    Self.fillServerDefaults(table, row: &row)
                    do throws(AccessDenied) {
                        try AccessPolicy.checkInsert(table.name, row: row, by: caller)
                    } catch {
                        throw DataError.forbidden(error.message)
                    }
                    let names = row.keys.sorted()
                    var builder = SQLBuilder()
                    let placeholders = names.map { builder.bind(row[$0]!) }
                    try self.statements.execute(
                        db, sql: "INSERT INTO \(SQLBuilder.quote(table.name)) (\(names.map(SQLBuilder.quote).joined(separator: ", "))) VALUES (\(placeholders.joined(separator: ", ")))",
                        arguments: builder.statementArguments
                    )
                    let key = row[table.primaryKey] ?? .null
                    keys.append(key)
                    try changes.capture(db, table: table.name, kind: .insert, record: try Self.storedRow(db, table: table, key: key), oldRecord: nil)
                    try Self.audit(db, table: table, action: "insert", key: key, details: row, context: context)
                }
                let result = try context.checkShape(DataResult(rows: try Self.fetchByKeys(db, self.statements, table: table, keys: keys, plan: plan), columns: plan.outputColumns, total: nil))
                self.publishAfterCommit(db, changes)
                return result
            }
        }
    }

    /// Updates the rows matching `query` that the caller may update; returns them.
    public func update(_ table: TableSchema, query: PostgrestQuery, patch body: [String: JSONValue], context: DataContext) async throws(DataError) -> DataResult {
        try Self.checkWritable(table)
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
        return try await run {
            try await self.dataWrites.write { db in
                let changes = ChangeCollector()
                var builder = SQLBuilder()
                let whereSQL = try plan.whereClause(&builder, extra: AccessPolicy.updatable(table.name, by: caller))
                let rows = try Self.fetch(db, self.statements, table: table, whereSQL: whereSQL, builder: builder, plan: nil)
                var keys: [Value] = []
                for old in rows {
                    if let key = try Self.applyUpdate(db, self.statements, table: table, old: old, patch: patch, context: context, changes: changes) {
                        keys.append(key)
                    }
                }
                let result = try context.checkShape(DataResult(rows: try Self.fetchByKeys(db, self.statements, table: table, keys: keys, plan: plan), columns: plan.outputColumns, total: nil))
                self.publishAfterCommit(db, changes)
                return result
            }
        }
    }

    /// Deletes (or, for soft-deleted tables, archives) the rows matching `query` that the
    /// caller may delete; returns them as they were.
    public func delete(_ table: TableSchema, query: PostgrestQuery, context: DataContext) async throws(DataError) -> DataResult {
        try Self.checkWritable(table)
        let caller = context.caller
        let plan = try ReadPlan(table: table, query: query, caller: caller)
        if let status = AccessPolicy.softDeleteStatus[table.name] {
            return try await run {
                try await self.dataWrites.write { db in
                    var builder = SQLBuilder()
                    let whereSQL = try plan.whereClause(&builder, extra: AccessPolicy.archivable(table.name, by: caller))
                    let rows = try Self.fetch(db, self.statements, table: table, whereSQL: whereSQL, builder: builder, plan: nil)
                    var keys: [Value] = []
                    for old in rows {
                        var setter = SQLBuilder()
                        let sql = "UPDATE \(SQLBuilder.quote(table.name)) SET status = \(setter.bind(.text(status))), updated_at = \(setter.bind(.text(Timestamp.now()))) WHERE \(SQLBuilder.quote(table.primaryKey)) = \(setter.bind(old[table.primaryKey] ?? .null))"
                        try self.statements.execute(db, sql: sql, arguments: setter.statementArguments)
                        keys.append(old[table.primaryKey] ?? .null)
                        try Self.audit(db, table: table, action: "archive", key: old[table.primaryKey] ?? .null, details: ["status": .text(status)], context: context)
                    }
                    return try context.checkShape(DataResult(rows: try Self.fetchByKeys(db, self.statements, table: table, keys: keys, plan: plan), columns: plan.outputColumns, total: nil))
                }
            }
        }
        return try await run {
            try await self.dataWrites.write { db in
                let changes = ChangeCollector()
                var builder = SQLBuilder()
                let whereSQL = try plan.whereClause(&builder, extra: AccessPolicy.deletable(table.name, by: caller))
                let rows = try Self.fetch(db, self.statements, table: table, whereSQL: whereSQL, builder: builder, plan: nil)
                for old in rows {
                    let facts = table.name == "practice_rooms" ? try Self.roomFacts(db, roomID: old["id"] ?? .null) : RoomFacts()
                    do throws(AccessDenied) {
                        try AccessPolicy.checkDelete(table.name, old: old, room: facts, by: caller)
                    } catch {
                        throw Self.refused(error)
                    }
                    var deleter = SQLBuilder()
                    try self.statements.execute(
                        db, sql: "DELETE FROM \(SQLBuilder.quote(table.name)) WHERE \(SQLBuilder.quote(table.primaryKey)) = \(deleter.bind(old[table.primaryKey] ?? .null))",
                        arguments: deleter.statementArguments
                    )
                    try changes.capture(db, table: table.name, kind: .delete, record: nil, oldRecord: old)
                }
                let result = try context.checkShape(DataResult(rows: rows, columns: plan.outputColumns, total: nil))
                self.publishAfterCommit(db, changes)
                return result
            }
        }
    }

    // MARK: - Pieces

    /// Runs a database operation, turning database failures into PostgREST errors.
    private func run<T>(_ operation: () async throws -> T) async throws(DataError) -> T {
        do {
            return try await operation()
        } catch let error as DataError {
            throw error
        } catch let error as DatabaseError {
            throw Self.dataError(from: error)
        } catch {
            throw DataError(.internalError, code: "XX000", message: "\(error)")
        }
    }

    static func dataError(from error: DatabaseError) -> DataError {
        let message = error.message ?? "\(error.resultCode)"
        switch error.extendedResultCode {
        case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
            return DataError(.conflict, code: "23505", message: "duplicate key value violates unique constraint", details: message)
        case .SQLITE_CONSTRAINT_FOREIGNKEY:
            return DataError(
                .conflict, code: "23503", message: "the change violates a foreign key constraint",
                details: "a referenced row does not exist, or the row is still referenced"
            )
        case .SQLITE_CONSTRAINT_CHECK:
            return DataError(.badRequest, code: "23514", message: "new row violates check constraint", details: message)
        case .SQLITE_CONSTRAINT_NOTNULL:
            return DataError(.badRequest, code: "23502", message: "null value violates not-null constraint", details: message)
        case .SQLITE_CONSTRAINT_TRIGGER where message.contains("FOREIGN KEY"):
            // ON DELETE RESTRICT fires as a trigger in SQLite.
            return DataError(
                .conflict, code: "23503", message: "the row is still referenced by another row",
                details: "delete or change the referencing rows first"
            )
        case .SQLITE_CONSTRAINT_TRIGGER:
            return DataError(.badRequest, code: "P0001", message: message)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return DataError(.internalError, code: "55P03", message: "the database is busy; try again")
        default:
            return DataError(.internalError, code: "XX000", message: message)
        }
    }

    /// A refusal of the access rules: 403 (42501), or 409 (55006, object in use) when the
    /// row is busy now (a room whose round is being played).
    static func refused(_ denied: AccessDenied) -> DataError {
        if denied.inUse {
            return DataError(.conflict, code: "55006", message: denied.message, hint: "try again once the round has ended")
        }
        return .forbidden(denied.message)
    }

    static func checkWritable(_ table: TableSchema) throws(DataError) {
        if table.isView {
            throw DataError(.methodNotAllowed, code: "55000", message: "\(table.name) is a read-only view")
        }
    }

    /// Turns one JSON body row into stored values, checking names, types and who may set what.
    static func prepareInsert(
        _ table: TableSchema, body: [String: JSONValue], columns: [String]?, missingDefault: Bool, caller: Caller
    ) throws(DataError) -> PraxisDomain.Row {
        var row: PraxisDomain.Row = [:]
        var input = body
        if let columns {
            for name in body.keys where !columns.contains(name) { input[name] = nil }
            if !missingDefault {
                for name in columns where input[name] == nil { input[name] = .null }
            }
        }
        for (name, json) in input {
            guard let column = table.column(name) else { throw .unknownColumn(name, table: table.name) }
            if column.serverManaged, !caller.isService {
                if json == .null, columns != nil { continue }  // A bulk insert's filler null: take the default.
                throw .forbidden("column \(name) of \(table.name) is managed by the server")
            }
            if json == .null, !column.nullable, columns != nil, !missingDefault {
                // PostgREST semantics: an absent key in a bulk insert becomes null.
                throw .notNull(name, table: table.name)
            }
            row[name] = try ColumnValues.fromJSON(json, column: column, table: table.name)
        }
        return row
    }

    /// Ids and timestamps the server sets on a new row.
    static func fillServerDefaults(_ table: TableSchema, row: inout PraxisDomain.Row) {
        if table.primaryKey == "id", table.column("id")?.type == .uuid, (row["id"] ?? .null).isNull {
            row["id"] = .text(UUID().uuidString.lowercased())
        }
        let now = Value.text(Timestamp.now())
        for name in ["created_at", "updated_at", "timestamp"] where table.column(name) != nil && row[name] == nil {
            row[name] = now
        }
    }

    /// Applies `patch` to `old` when the rules allow; returns the row's key, or nil when
    /// nothing changed.
    private static func applyUpdate(
        _ db: Database, _ statements: StatementCaches, table: TableSchema, old: PraxisDomain.Row, patch: PraxisDomain.Row, context: DataContext, changes: ChangeCollector
    ) throws -> Value? {
        var new = old
        for (name, value) in patch { new[name] = value }
        let changed = Set(patch.keys.filter { (old[$0] ?? .null) != patch[$0]! })
        let facts = table.name == "practice_rooms" ? try Self.roomFacts(db, roomID: old["id"] ?? .null) : RoomFacts()
        do throws(AccessDenied) {
            try AccessPolicy.checkUpdate(table.name, old: old, new: new, changed: changed, room: facts, by: context.caller)
        } catch {
            throw Self.refused(error)
        }
        let key = old[table.primaryKey] ?? .null
        guard !changed.isEmpty else { return key }
        var builder = SQLBuilder()
        var assignments = changed.sorted().map { "\(SQLBuilder.quote($0)) = \(builder.bind(new[$0]!))" }
        if table.column("updated_at") != nil, !changed.contains("updated_at") {
            assignments.append("updated_at = \(builder.bind(.text(Timestamp.now())))")
        }
        try statements.execute(
            db, sql: "UPDATE \(SQLBuilder.quote(table.name)) SET \(assignments.joined(separator: ", ")) WHERE \(SQLBuilder.quote(table.primaryKey)) = \(builder.bind(key))",
            arguments: builder.statementArguments
        )
        try changes.capture(db, table: table.name, kind: .update, record: try storedRow(db, table: table, key: key), oldRecord: old)
        try audit(db, table: table, action: "update", key: key, details: patch.filter { changed.contains($0.key) }, context: context)
        return key
    }

    /// The row as stored now (with defaults and trigger-set values), all catalog columns.
    static func storedRow(_ db: Database, table: TableSchema, key: Value) throws -> PraxisDomain.Row? {
        var builder = SQLBuilder()
        let sql = "SELECT \(table.columnNames.map(SQLBuilder.quote).joined(separator: ", ")) FROM \(SQLBuilder.quote(table.name)) WHERE \(SQLBuilder.quote(table.primaryKey)) = \(builder.bind(key))"
        // One text per table: prepared once per connection (GRDB's statement cache).
        return try GRDB.Row.fetchOne(db.cachedStatement(sql: sql), arguments: builder.statementArguments)?.domainRow
    }

    /// Admins' writes are recorded in audit_logs, in the same transaction.
    private static func audit(_ db: Database, table: TableSchema, action: String, key: Value, details: PraxisDomain.Row, context: DataContext) throws {
        guard context.caller.isAdmin, let admin = context.caller.userID, ["case_briefs", "users"].contains(table.name) else { return }
        var object: [String: JSONValue] = ["table": .string(table.name)]
        var changes: [String: JSONValue] = [:]
        for (name, value) in details where !AccessPolicy.briefColumns.contains(name) {
            switch value {
            case .null: changes[name] = .null
            case .integer(let number): changes[name] = .number(Double(number))
            case .real(let number): changes[name] = .number(number)
            case .text(let text): changes[name] = .string(String(text.prefix(200)))
            }
        }
        object["columns"] = .array(details.keys.sorted().map { JSONValue.string($0) })
        object["values"] = .object(changes)
        let target: DatabaseValue = key.text.flatMap { UUID(uuidString: $0) } != nil ? key.databaseValue : .null
        try db.cachedStatement(
            sql: "INSERT INTO audit_logs (id, admin_id, action, target_entity_id, details, ip_address, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ).execute(
            arguments: [
                UUID().uuidString.lowercased(), admin, "\(table.name).\(action)", target,
                JSONValue.object(object).jsonString, String(context.ipAddress.prefix(50)), Timestamp.now(),
            ]
        )
    }

    private static func fetch(
        _ db: Database, _ statements: StatementCaches, table: TableSchema, whereSQL: String, builder: SQLBuilder, plan: ReadPlan?
    ) throws -> [PraxisDomain.Row] {
        var sql = "SELECT \(table.columnNames.map(SQLBuilder.quote).joined(separator: ", ")) FROM \(SQLBuilder.quote(table.name)) WHERE \(whereSQL)"
        if let plan {
            sql += plan.orderAndLimitClause
        }
        return try statements.fetchAll(db, sql: sql, arguments: builder.statementArguments).map(\.domainRow)
    }

    private static func fetchByKeys(_ db: Database, _ statements: StatementCaches, table: TableSchema, keys: [Value], plan: ReadPlan) throws -> [PraxisDomain.Row] {
        guard !keys.isEmpty else { return [] }
        var builder = SQLBuilder()
        let visible = builder.condition(plan.visibility)
        let placeholders = keys.map { builder.bind($0) }.joined(separator: ", ")
        // Arguments were bound visibility first, so the SQL states it first.
        let sql = "SELECT \(table.columnNames.map(SQLBuilder.quote).joined(separator: ", ")) FROM \(SQLBuilder.quote(table.name)) WHERE \(visible) AND \(SQLBuilder.quote(table.primaryKey)) IN (\(placeholders))"
        let rows = try statements.fetchAll(db, sql: sql, arguments: builder.statementArguments).map(\.domainRow)
        // Keep the order in which the rows were written.
        let order = Dictionary(keys.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return rows.sorted { (order[$0[table.primaryKey] ?? .null] ?? 0) < (order[$1[table.primaryKey] ?? .null] ?? 0) }
    }
}

/// A checked read: which columns to show, which rows the caller may see, filters, order, limit.
struct ReadPlan: Sendable {
    let table: TableSchema
    let query: PostgrestQuery
    let outputColumns: [ColumnSchema]
    let visibility: RowPredicate
    let filterColumns: [ColumnSchema]

    init(table: TableSchema, query: PostgrestQuery, caller: Caller) throws(DataError) {
        self.table = table
        self.query = query
        let readable = AccessPolicy.readableColumns(table, by: caller)
        func check(_ name: String) throws(DataError) -> ColumnSchema {
            guard let column = table.column(name) else { throw .undefinedColumn(name, table: table.name) }
            guard readable.contains(name) else { throw .forbidden("permission denied for column \(name) of table \(table.name)") }
            return column
        }
        if let select = query.select {
            var columns: [ColumnSchema] = []
            for name in select {
                if name == "*" {
                    columns += readable.compactMap { table.column($0) }
                } else {
                    columns.append(try check(name))
                }
            }
            var seen: Set<String> = []
            outputColumns = columns.filter { seen.insert($0.name).inserted }
        } else {
            outputColumns = readable.compactMap { table.column($0) }
        }
        var filterColumns: [ColumnSchema] = []
        for filter in query.filters { filterColumns.append(try check(filter.column)) }
        self.filterColumns = filterColumns
        for order in query.order { _ = try check(order.column) }
        let link = query.filters.first { $0.column == "room_url" && $0.op == .eq && !$0.negated }?.values.first
        visibility = AccessPolicy.readable(table.name, by: caller, roomLink: link)
    }

    /// `visibility AND extra AND filters…`, binding values into `builder`.
    func whereClause(_ builder: inout SQLBuilder, extra: RowPredicate = .always) throws(DataError) -> String {
        var parts = [builder.condition(visibility.and(extra))]
        for (filter, column) in zip(query.filters, filterColumns) {
            parts.append(try builder.condition(filter, column: column))
        }
        return parts.joined(separator: " AND ")
    }

    var orderAndLimitClause: String {
        var sql = ""
        if !query.order.isEmpty {
            sql += " ORDER BY " + query.order.map { term in
                // Postgres' defaults: nulls last ascending, first descending.
                let nullsFirst = term.nullsFirst ?? !term.ascending
                return "\(SQLBuilder.quote(term.column)) \(term.ascending ? "ASC" : "DESC") NULLS \(nullsFirst ? "FIRST" : "LAST")"
            }.joined(separator: ", ")
        }
        if let limit = query.limit {
            sql += " LIMIT \(limit)"
        } else if query.offset != nil {
            sql += " LIMIT -1"
        }
        if let offset = query.offset {
            sql += " OFFSET \(offset)"
        }
        return sql
    }
}
