import PraxisDomain

/// A PostgREST request's query string, parsed: which columns, which rows, in what order.
///
/// Parsing is pure and strict: anything it does not understand is an error that names
/// the part (PostgREST's `PGRST100`), never silently ignored.
public struct PostgrestQuery: Sendable, Equatable {
    /// One `column=op.value` condition.
    public struct Filter: Sendable, Equatable {
        public enum Operator: String, Sendable, CaseIterable {
            case eq, neq, gt, gte, lt, lte, like, ilike, `is`, `in`
        }

        public var column: String
        public var op: Operator
        /// `not.` before the operator.
        public var negated: Bool
        /// The operand: one value, or the list of `in.(…)`.
        public var values: [String]

        public init(column: String, op: Operator, negated: Bool = false, values: [String]) {
            self.column = column
            self.op = op
            self.negated = negated
            self.values = values
        }
    }

    /// One `order=` term.
    public struct Order: Sendable, Equatable {
        public var column: String
        public var ascending: Bool
        /// nil: the database default (nulls last ascending, first descending).
        public var nullsFirst: Bool?

        public init(column: String, ascending: Bool = true, nullsFirst: Bool? = nil) {
            self.column = column
            self.ascending = ascending
            self.nullsFirst = nullsFirst
        }
    }

    /// Selected columns (`*` may appear among them and stands for every readable column);
    /// nil means `*` alone.
    public var select: [String]?
    public var filters: [Filter] = []
    public var order: [Order] = []
    public var limit: Int?
    public var offset: Int?
    /// `columns=` of a bulk insert: the keys to take from each row.
    public var columns: [String]?
    /// `on_conflict=` of an upsert.
    public var onConflict: [String]?

    public init(select: [String]? = nil, filters: [Filter] = [], order: [Order] = [], limit: Int? = nil, offset: Int? = nil) {
        self.select = select
        self.filters = filters
        self.order = order
        self.limit = limit
        self.offset = offset
    }

    /// Parses decoded query items (`name`, `value`) in order, within `limits`.
    public static func parse(_ items: [(name: String, value: String)], limits: Limits = Limits()) throws(PostgrestQueryError) -> PostgrestQuery {
        var query = PostgrestQuery()
        for (name, value) in items {
            guard StoredText.isStorable(name), StoredText.isStorable(value) else {
                throw .invalid("the query string: \(StoredText.refusal)")
            }
            switch name {
            case "select":
                query.select = try parseSelect(value)
            case "order":
                query.order = try parseOrder(value)
            case "limit":
                guard let limit = Int(value), limit >= 0 else { throw .invalid("limit must be a non-negative integer, got '\(value)'") }
                query.limit = limit
            case "offset":
                guard let offset = Int(value), offset >= 0 else { throw .invalid("offset must be a non-negative integer, got '\(value)'") }
                query.offset = offset
            case "columns":
                query.columns = try parseColumnList(value, parameter: "columns")
            case "on_conflict":
                query.onConflict = try parseColumnList(value, parameter: "on_conflict")
            case "or", "and", "not.or", "not.and":
                throw .unsupported("logical filter '\(name)' is not supported; combine filters with '&'")
            default:
                guard isIdentifier(name) else { throw .invalid("'\(name)' is not a column name") }
                query.filters.append(try parseFilter(column: name, value))
            }
        }
        try limits.check(query)
        return query
    }

    static func parseSelect(_ text: String) throws(PostgrestQueryError) -> [String]? {
        let trimmed = text.trimmingSpaces()
        if trimmed.isEmpty || trimmed == "*" { return nil }
        var columns: [String] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            var column = String(part).trimmingSpaces()
            if column.hasPrefix("\""), column.hasSuffix("\""), column.count >= 2 {
                column = String(column.dropFirst().dropLast())
            }
            if column == "*" {
                columns.append(column)
                continue
            }
            if column.contains("(") || column.contains(":") || column.contains("->") {
                throw .unsupported("embedding, renaming and JSON paths in select are not supported: '\(column)'")
            }
            guard isIdentifier(column) else { throw .invalid("'\(column)' in select is not a column name") }
            columns.append(column)
        }
        return columns
    }

    static func parseColumnList(_ text: String, parameter: String) throws(PostgrestQueryError) -> [String] {
        var columns: [String] = []
        for part in text.split(separator: ",") {
            var column = String(part).trimmingSpaces()
            if column.hasPrefix("\""), column.hasSuffix("\""), column.count >= 2 {
                column = String(column.dropFirst().dropLast())
            }
            guard isIdentifier(column) else { throw .invalid("'\(column)' in \(parameter) is not a column name") }
            columns.append(column)
        }
        return columns
    }

    static func parseOrder(_ text: String) throws(PostgrestQueryError) -> [Order] {
        var terms: [Order] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: ".").map { String($0).trimmingSpaces() }
            guard let column = pieces.first, isIdentifier(column) else { throw .invalid("'\(part)' in order is not a column") }
            var order = Order(column: column)
            for modifier in pieces.dropFirst() {
                switch modifier {
                case "asc": order.ascending = true
                case "desc": order.ascending = false
                case "nullsfirst": order.nullsFirst = true
                case "nullslast": order.nullsFirst = false
                default: throw .invalid("unknown order modifier '\(modifier)' in '\(part)'")
                }
            }
            terms.append(order)
        }
        return terms
    }

    static func parseFilter(column: String, _ text: String) throws(PostgrestQueryError) -> Filter {
        var rest = Substring(text)
        var negated = false
        if rest.hasPrefix("not.") {
            negated = true
            rest = rest.dropFirst(4)
        }
        guard let dot = rest.firstIndex(of: "."),
            let op = Filter.Operator(rawValue: String(rest[..<dot]))
        else {
            throw .invalid("failed to parse filter (\(text)) on '\(column)': unknown operator")
        }
        let operand = String(rest[rest.index(after: dot)...])
        switch op {
        case .in:
            return Filter(column: column, op: op, negated: negated, values: try parseList(operand))
        case .is:
            guard ["null", "true", "false", "unknown"].contains(operand.lowercased()) else {
                throw .invalid("failed to parse filter (\(text)): is takes null, true, false or unknown")
            }
            return Filter(column: column, op: op, negated: negated, values: [operand.lowercased()])
        default:
            return Filter(column: column, op: op, negated: negated, values: [operand])
        }
    }

    /// `(a,b,"c,d")` → `["a", "b", "c,d"]`.
    static func parseList(_ text: String) throws(PostgrestQueryError) -> [String] {
        guard text.hasPrefix("("), text.hasSuffix(")"), text.count >= 2 else {
            throw .invalid("failed to parse list (\(text)): expected (a,b,...)")
        }
        let inner = text.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var values: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        var wasQuoted = false
        for character in inner {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\", quoted {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
                wasQuoted = true
            } else if character == ",", !quoted {
                values.append(wasQuoted ? current : current.trimmingSpaces())
                current = ""
                wasQuoted = false
            } else {
                current.append(character)
            }
        }
        guard !quoted else { throw .invalid("failed to parse list (\(text)): unterminated quote") }
        values.append(wasQuoted ? current : current.trimmingSpaces())
        return values
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
            && text.count <= 63
    }
}

/// Why a query string could not be parsed (PostgREST `PGRST100`).
public struct PostgrestQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// True when the syntax is valid PostgREST that Praxis does not implement.
    public let isUnsupported: Bool

    static func invalid(_ message: String) -> PostgrestQueryError { .init(message: message, isUnsupported: false) }
    static func unsupported(_ message: String) -> PostgrestQueryError { .init(message: message, isUnsupported: true) }

    public var description: String { message }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    package func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
