import GRDB
import PraxisDomain
import PraxisProtocol

/// Builds SQL text and its bound arguments. ColumnSchema names come only from the catalog
/// (checked before they get here); every value is a bound parameter.
struct SQLBuilder {
    private(set) var arguments: [DatabaseValue] = []

    var statementArguments: StatementArguments { StatementArguments(arguments) }

    static func quote(_ identifier: String) -> String { "\"\(identifier)\"" }

    mutating func bind(_ value: Value) -> String {
        arguments.append(value.databaseValue)
        return "?"
    }

    /// A row predicate as a SQL condition.
    mutating func condition(_ predicate: RowPredicate) -> String {
        switch predicate {
        case .always: return "1"
        case .never: return "0"
        case .equals(let column, let value): return "\(Self.quote(column)) = \(bind(value))"
        case .isNull(let column): return "\(Self.quote(column)) IS NULL"
        case .isFalse(let column): return "\(Self.quote(column)) = 0"
        case .and(let parts): return "(" + parts.map { condition($0) }.joined(separator: " AND ") + ")"
        case .or(let parts): return "(" + parts.map { condition($0) }.joined(separator: " OR ") + ")"
        case .roomParticipant(let column, let userID):
            let host = bind(.text(userID))
            let guest = bind(.text(userID))
            return "\(Self.quote(column)) IN (SELECT id FROM practice_rooms WHERE host_id = \(host) OR guest_id = \(guest))"
        case .roundCandidate(let column, let userID):
            return "\(Self.quote(column)) IN (SELECT id FROM practice_rounds WHERE candidate_id = \(bind(.text(userID))))"
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
            sql = "\(name) \(op) \(bind(value))"
        case .like:
            // Postgres LIKE is case-sensitive: use GLOB with the pattern translated.
            sql = "\(name) GLOB \(bind(.text(Self.globPattern(fromLike: filter.values[0]))))"
        case .ilike:
            sql = "\(name) LIKE \(bind(.text(Self.likePattern(filter.values[0])))) ESCAPE '\\'"
        case .is:
            switch filter.values[0] {
            case "null", "unknown": sql = "\(name) IS NULL"
            case "true": sql = "\(name) = 1"
            default: sql = "\(name) = 0"
            }
        case .in:
            if filter.values.isEmpty {
                sql = "0"
            } else {
                var placeholders: [String] = []
                for text in filter.values {
                    placeholders.append(bind(try ColumnValues.fromText(text, column: column)))
                }
                sql = "\(name) IN (\(placeholders.joined(separator: ", ")))"
            }
        }
        return filter.negated ? "NOT (\(sql))" : sql
    }

    /// PostgREST LIKE pattern (`%`, `_`, or `*` for `%`) → GLOB pattern.
    static func globPattern(fromLike pattern: String) -> String {
        var out = ""
        for character in pattern {
            switch character {
            case "%", "*": out.append("*")
            case "_": out.append("?")
            case "[": out.append("[[]")
            case "?": out.append("[?]")
            default: out.append(character)
            }
        }
        return out
    }

    /// PostgREST ILIKE pattern (`*` for `%`) → SQLite LIKE pattern.
    static func likePattern(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "*", with: "%")
    }
}

extension Value {
    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let value): value.databaseValue
        case .real(let value): value.databaseValue
        case .text(let value): value.databaseValue
        }
    }

    init(_ databaseValue: DatabaseValue) {
        switch databaseValue.storage {
        case .null: self = .null
        case .int64(let value): self = .integer(value)
        case .double(let value): self = .real(value)
        case .string(let value): self = .text(value)
        case .blob(let data): self = .text(String(decoding: data, as: UTF8.self))
        }
    }
}

extension GRDB.Row {
    /// The row as domain values by column name.
    var domainRow: PraxisDomain.Row {
        var row: PraxisDomain.Row = [:]
        for (name, value) in self as GRDB.Row {
            row[name] = PraxisDomain.Value(value)
        }
        return row
    }
}
