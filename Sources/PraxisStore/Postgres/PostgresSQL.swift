import PraxisDomain
import PraxisProtocol

/// Builds PostgreSQL statement text and its binds for the data API, as ``SQLBuilder`` does
/// for SQLite: names only from the catalog (checked before they get here), every value a
/// `$n` parameter sent as text and cast to its column's type (`$1::uuid`, `$2::boolean`, …),
/// so one text bind reaches every column type.
struct PostgresSQL {
    let table: TableSchema
    private(set) var binds: [String?] = []

    init(_ table: TableSchema) {
        self.table = table
    }

    static func quote(_ identifier: String) -> String { SQLBuilder.quote(identifier) }

    /// A parameter holding `value`, cast to `type`.
    mutating func bind(_ value: Value, as type: ColumnType?) -> String {
        binds.append(Self.text(value))
        return "$\(binds.count)\(Self.cast(type))"
    }

    /// A parameter for a value of this table's column `name`.
    mutating func bind(_ value: Value, column name: String) -> String {
        bind(value, as: table.column(name)?.type)
    }

    static func cast(_ type: ColumnType?) -> String {
        switch type {
        case .uuid: "::uuid"
        case .text, .none: "::text"
        case .integer: "::bigint"
        case .float: "::double precision"
        case .boolean: "::boolean"
        case .timestamp: "::timestamptz"
        case .date: "::date"
        case .json: "::jsonb"
        }
    }

    /// A stored value as the text PostgreSQL parses (booleans are 0/1, which `::boolean` takes).
    static func text(_ value: Value) -> String? {
        switch value {
        case .null: nil
        case .integer(let number): String(number)
        case .real(let number): "\(number)"
        case .text(let text): text
        }
    }

    /// The table's catalog columns, each read as text in the shape SQLite's store keeps it
    /// (booleans 0/1, timestamps as ``Timestamp`` text).
    static func selectList(_ table: TableSchema) -> String {
        table.columns.map { column in
            let name = quote(column.name)
            switch column.type {
            case .boolean: return "\(name)::int::text"
            case .timestamp: return PostgresDatabase.timestampText(name)
            default: return "\(name)::text"
            }
        }.joined(separator: ", ")
    }

    /// A row read with ``selectList(_:)`` as domain values.
    static func row(_ cells: [String?], table: TableSchema) -> PraxisDomain.Row {
        var row: PraxisDomain.Row = [:]
        for (column, cell) in zip(table.columns, cells) {
            guard let cell else {
                row[column.name] = .null
                continue
            }
            switch column.type {
            case .integer, .boolean: row[column.name] = Int64(cell).map(Value.integer) ?? .text(cell)
            case .float: row[column.name] = Double(cell).map(Value.real) ?? .text(cell)
            default: row[column.name] = .text(cell)
            }
        }
        return row
    }

    /// A row predicate as a SQL condition.
    mutating func condition(_ predicate: RowPredicate) -> String {
        switch predicate {
        case .always: return "true"
        case .never: return "false"
        case .equals(let column, let value): return "\(Self.quote(column)) = \(bind(value, column: column))"
        case .isNull(let column): return "\(Self.quote(column)) IS NULL"
        case .isFalse(let column):
            return table.column(column)?.type == .boolean ? "\(Self.quote(column)) IS FALSE" : "\(Self.quote(column)) = 0"
        case .and(let parts):
            return parts.isEmpty ? "true" : "(" + parts.map { condition($0) }.joined(separator: " AND ") + ")"
        case .or(let parts):
            return parts.isEmpty ? "false" : "(" + parts.map { condition($0) }.joined(separator: " OR ") + ")"
        case .roomParticipant(let column, let userID):
            let host = bind(.text(userID), as: .uuid)
            let guest = bind(.text(userID), as: .uuid)
            return "\(Self.quote(column)) IN (SELECT id FROM practice_rooms WHERE host_id = \(host) OR guest_id = \(guest))"
        case .roundCandidate(let column, let userID):
            return "\(Self.quote(column)) IN (SELECT id FROM practice_rounds WHERE candidate_id = \(bind(.text(userID), as: .uuid)))"
        }
    }

    /// A PostgREST filter on `column` as a SQL condition.
    mutating func condition(_ filter: PostgrestQuery.Filter, column: ColumnSchema) throws(DataError) -> String {
        let name = Self.quote(column.name)
        let sql: String
        switch filter.op {
        case .eq, .neq, .gt, .gte, .lt, .lte:
            let value = try ColumnValues.fromText(filter.values[0], column: column)
            let op = ["eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="][filter.op.rawValue]!
            sql = "\(name) \(op) \(bind(value, as: column.type))"
        case .like:
            sql = "\(name)::text LIKE \(bind(.text(Self.likePattern(filter.values[0])), as: .text))"
        case .ilike:
            sql = "\(name)::text ILIKE \(bind(.text(Self.likePattern(filter.values[0])), as: .text))"
        case .is:
            switch filter.values[0] {
            case "null", "unknown": sql = "\(name) IS NULL"
            case "true": sql = column.type == .boolean ? "\(name) IS TRUE" : "\(name) = \(bind(.integer(1), as: column.type))"
            default: sql = column.type == .boolean ? "\(name) IS FALSE" : "\(name) = \(bind(.integer(0), as: column.type))"
            }
        case .in:
            if filter.values.isEmpty {
                sql = "false"
            } else {
                var placeholders: [String] = []
                for text in filter.values {
                    placeholders.append(bind(try ColumnValues.fromText(text, column: column), as: column.type))
                }
                sql = "\(name) IN (\(placeholders.joined(separator: ", ")))"
            }
        }
        return filter.negated ? "NOT (\(sql))" : sql
    }

    /// PostgREST LIKE pattern (`*` for `%`) → PostgreSQL LIKE pattern.
    static func likePattern(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "*", with: "%")
    }
}

extension ReadPlan {
    /// `visibility AND extra AND filters…` for PostgreSQL, binding values into `sql`.
    func whereClause(_ sql: inout PostgresSQL, extra: RowPredicate = .always) throws(DataError) -> String {
        var parts = [sql.condition(visibility.and(extra))]
        for (filter, column) in zip(query.filters, filterColumns) {
            parts.append(try sql.condition(filter, column: column))
        }
        return parts.joined(separator: " AND ")
    }

    /// ORDER BY, LIMIT and OFFSET as PostgreSQL writes them (nulls last ascending, first
    /// descending, as PostgREST's defaults).
    var postgresOrderAndLimit: String {
        var sql = ""
        if !query.order.isEmpty {
            sql += " ORDER BY " + query.order.map { term in
                let nullsFirst = term.nullsFirst ?? !term.ascending
                return "\(SQLBuilder.quote(term.column)) \(term.ascending ? "ASC" : "DESC") NULLS \(nullsFirst ? "FIRST" : "LAST")"
            }.joined(separator: ", ")
        }
        if let limit = query.limit { sql += " LIMIT \(limit)" }
        if let offset = query.offset { sql += " OFFSET \(offset)" }
        return sql
    }

    /// The private room a `room_url=eq.` filter names (PostgreSQL's `praxis.room_link()`).
    var roomLink: String? {
        query.filters.first { $0.column == "room_url" && $0.op == .eq && !$0.negated }?.values.first
    }
}
