/// A write the access rules refuse, with the reason (Postgres code 42501).
public struct AccessDenied: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
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
