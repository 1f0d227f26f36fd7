import GRDB
import PraxisDomain
import PraxisProtocol

/// The unique key an upsert resolves conflicts on (`on_conflict=`, or the primary key),
/// checked as PostgreSQL and PostgREST check it.
struct ConflictTarget {
    let table: TableSchema
    let columns: [String]

    /// - Throws: `42703` for a column the table lacks, `42501` for a column the caller may
    ///   not read (a conflict target would otherwise answer questions about hidden values,
    ///   as a filter would), `42P10` for columns that are not exactly one unique key.
    init(table: TableSchema, columns requested: [String]?, caller: Caller) throws(DataError) {
        self.table = table
        guard let requested else {
            columns = [table.primaryKey]
            return
        }
        let readable = AccessPolicy.readableColumns(table, by: caller)
        for column in requested {
            guard table.column(column) != nil else { throw .undefinedColumn(column, table: table.name) }
            guard readable.contains(column) else {
                throw .forbidden("permission denied for column \(column) of table \(table.name)")
            }
        }
        guard let key = table.uniqueKey(matching: requested) else {
            throw DataError(
                .badRequest, code: "42P10",
                message: "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                hint: "on_conflict names one unique key of \(table.name): "
                    + table.uniqueKeys.map { $0.joined(separator: ",") }.joined(separator: " or ")
            )
        }
        columns = key
    }

    /// The stored row whose key equals the proposed row's, if the caller may see it.
    ///
    /// A row the caller may not see is treated as absent, exactly as a filter treats it: the
    /// write then goes down the insert path and meets the unique constraint as a plain
    /// insert would, so an upsert never tells more about hidden rows than an insert does.
    func visibleRow(_ db: Database, _ statements: StatementCaches, matching row: PraxisDomain.Row, caller: Caller) throws -> PraxisDomain.Row? {
        var builder = SQLBuilder()
        let visible = builder.condition(AccessPolicy.readable(table.name, by: caller, roomLink: link(in: row)))
        guard let key = keyCondition(&builder, row) else { return nil }
        let sql = "SELECT * FROM \(SQLBuilder.quote(table.name)) WHERE \(visible) AND \(key) LIMIT 1"
        return try statements.fetchOne(db, sql: sql, arguments: builder.statementArguments)?.domainRow
    }

    /// Whether the caller may merge into `existing`, a row they can see
    /// (``AccessPolicy/mergeable``, rendered to SQL so relational rules hold as for reads).
    func mayMerge(_ db: Database, _ statements: StatementCaches, into existing: PraxisDomain.Row, proposed: PraxisDomain.Row, caller: Caller) throws -> Bool {
        var builder = SQLBuilder()
        let allowed = builder.condition(AccessPolicy.mergeable(table.name, by: caller, roomLink: link(in: proposed)))
        let key = builder.bind(existing[table.primaryKey] ?? .null)
        let sql = "SELECT 1 FROM \(SQLBuilder.quote(table.name)) WHERE \(allowed) AND \(SQLBuilder.quote(table.primaryKey)) = \(key)"
        return try statements.fetchInt(db, sql: sql, arguments: builder.statementArguments) != nil
    }

    /// A conflict on the room's link reaches a private room as a `room_url=eq.` filter does.
    func link(in row: PraxisDomain.Row) -> String? {
        columns == ["room_url"] ? row["room_url"]?.text : nil
    }

    /// `a = ? AND b = ?` over the key's columns, or nil when the row leaves one of them
    /// null (a null never conflicts).
    private func keyCondition(_ builder: inout SQLBuilder, _ row: PraxisDomain.Row) -> String? {
        var conditions: [String] = []
        for column in columns {
            guard let value = row[column], !value.isNull else { return nil }
            conditions.append("\(SQLBuilder.quote(column)) = \(builder.bind(value))")
        }
        return conditions.joined(separator: " AND ")
    }
}
