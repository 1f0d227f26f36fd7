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

    public var description: String { message }
}
