import PraxisDomain

/// A data API error in PostgREST's terms: a Postgres or PostgREST code, a message, and
/// the kind of failure (which the HTTP layer maps to a status).
public struct DataError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// 400
        case badRequest
        /// 401 (no or bad credentials)
        case unauthorized
        /// 403 (the rules refuse it)
        case forbidden
        /// 404
        case notFound
        /// 405
        case methodNotAllowed
        /// 406 (single object asked, not exactly one row)
        case notAcceptable
        /// 409 (unique or foreign-key conflict)
        case conflict
        /// 500
        case internalError
    }

    public var kind: Kind
    public var code: String
    public var message: String
    public var details: String?
    public var hint: String?

    public init(_ kind: Kind, code: String, message: String, details: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
    }

    public var description: String { "\(code): \(message)" }

    public static func unknownColumn(_ column: String, table: String) -> DataError {
        DataError(.badRequest, code: "PGRST204", message: "Could not find the '\(column)' column of '\(table)' in the schema cache")
    }

    public static func undefinedColumn(_ column: String, table: String) -> DataError {
        DataError(.badRequest, code: "42703", message: "column \(table).\(column) does not exist")
    }

    public static func invalidText(_ type: String, _ value: String) -> DataError {
        DataError(.badRequest, code: "22P02", message: "invalid input syntax for type \(type): \"\(value.prefix(200))\"")
    }

    public static func invalidDatetime(_ value: String) -> DataError {
        DataError(.badRequest, code: "22007", message: "invalid input syntax for type timestamp with time zone: \"\(value.prefix(200))\"")
    }

    public static func notNull(_ column: String, table: String) -> DataError {
        DataError(.badRequest, code: "23502", message: "null value in column \"\(column)\" of relation \"\(table)\" violates not-null constraint")
    }

    /// Text holding U+0000, refused as PostgreSQL refuses it (see ``StoredText``).
    public static let nulCharacter = DataError(
        .badRequest, code: "22P05", message: "unsupported Unicode escape sequence",
        details: "\\u0000 cannot be converted to text.", hint: StoredText.refusal
    )

    public static func invalidBody(_ message: String) -> DataError {
        DataError(.badRequest, code: "PGRST102", message: message)
    }

    public static func forbidden(_ message: String) -> DataError {
        DataError(.forbidden, code: "42501", message: message)
    }
}
