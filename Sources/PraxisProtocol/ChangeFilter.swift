public import PraxisDomain

/// A realtime `postgres_changes` filter, `column=op.value` (eq, neq, lt, lte, gt, gte, in),
/// checked against the table and evaluated in memory against changed rows.
public struct ChangeFilter: Sendable, Equatable {
    public let column: String
    public let op: PostgrestQuery.Filter.Operator
    public let values: [Value]

    /// Parses `filter` for `table`; errors say what is wrong.
    public init(_ filter: String, table: TableSchema) throws(DataError) {
        guard let eq = filter.firstIndex(of: "=") else {
            throw DataError(.badRequest, code: "PGRST100", message: "filter '\(filter)' is not column=op.value")
        }
        let name = String(filter[..<eq])
        guard let column = table.column(name) else { throw .undefinedColumn(name, table: table.name) }
        let parsed: PostgrestQuery.Filter
        do {
            parsed = try PostgrestQuery.parseFilter(column: name, String(filter[filter.index(after: eq)...]))
        } catch {
            throw DataError(.badRequest, code: "PGRST100", message: error.message)
        }
        guard !parsed.negated, [.eq, .neq, .lt, .lte, .gt, .gte, .in].contains(parsed.op) else {
            throw DataError(.badRequest, code: "PGRST100", message: "realtime filters take eq, neq, lt, lte, gt, gte or in")
        }
        var values: [Value] = []
        for text in parsed.values { values.append(try ColumnValues.fromText(text, column: column)) }
        self.column = name
        self.op = parsed.op
        self.values = values
    }

    /// Whether `row` passes the filter (Postgres semantics: null never matches).
    public func matches(_ row: Row) -> Bool {
        let value = row[column] ?? .null
        if value.isNull { return false }
        switch op {
        case .eq: return value == values[0]
        case .neq: return value != values[0]
        case .lt: return Self.compare(value, values[0]).map { $0 < 0 } ?? false
        case .lte: return Self.compare(value, values[0]).map { $0 <= 0 } ?? false
        case .gt: return Self.compare(value, values[0]).map { $0 > 0 } ?? false
        case .gte: return Self.compare(value, values[0]).map { $0 >= 0 } ?? false
        case .in: return values.contains(value)
        default: return false
        }
    }

    static func compare(_ a: Value, _ b: Value) -> Int? {
        switch (a, b) {
        case (.integer(let x), .integer(let y)): x < y ? -1 : (x == y ? 0 : 1)
        case (.real(let x), .real(let y)): x < y ? -1 : (x == y ? 0 : 1)
        case (.integer(let x), .real(let y)): Double(x) < y ? -1 : (Double(x) == y ? 0 : 1)
        case (.real(let x), .integer(let y)): x < Double(y) ? -1 : (x == Double(y) ? 0 : 1)
        case (.text(let x), .text(let y)): x < y ? -1 : (x == y ? 0 : 1)
        default: nil
        }
    }
}
