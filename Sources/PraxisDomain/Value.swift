/// A stored value, as SQLite holds it.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var isNull: Bool { self == .null }

    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// SQLite booleans are integers 0/1.
    public var bool: Bool? { integer.map { $0 != 0 } }

    public var description: String {
        switch self {
        case .null: "null"
        case .integer(let value): String(value)
        case .real(let value): String(value)
        case .text(let value): value
        }
    }
}

/// A row by column name.
public typealias Row = [String: Value]
