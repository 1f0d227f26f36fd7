/// A write the access rules refuse, with the reason (Postgres code 42501; or, when
/// `inUse`, 55006: the row is busy now and the same write may pass later, HTTP 409).
public struct AccessDenied: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// The row is in use (a room with a round being played): a conflict, not a permission.
    public let inUse: Bool

    public init(_ message: String) {
        self.message = message
        self.inUse = false
    }

    private init(message: String, inUse: Bool) {
        self.message = message
        self.inUse = inUse
    }

    /// Refused because the row is in use right now (409).
    public static func inUse(_ message: String) -> AccessDenied {
        AccessDenied(message: message, inUse: true)
    }

    /// The row-level-security wording PostgREST clients know.
    public static func rowLevelSecurity(_ table: String) -> AccessDenied {
        AccessDenied("new row violates row-level security policy for table \"\(table)\"")
    }

    /// An upsert found a conflicting row the caller may not see or update.
    public static func upsertTarget(_ table: String) -> AccessDenied {
        AccessDenied("new row violates row-level security policy (USING expression) for table \"\(table)\"")
    }

    public var description: String { message }
}
