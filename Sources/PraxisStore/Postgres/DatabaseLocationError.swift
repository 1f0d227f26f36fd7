/// Why a `--db` value is not a database location.
public struct DatabaseLocationError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: Equatable {
        case empty, scheme, user, host, port, database, query, sslMode, password, encoding
    }

    private let code: Code
    /// A sentence saying what is wrong and what is expected.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static let form = "postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]"

    static let empty = DatabaseLocationError(.empty, "--db is empty: give a SQLite file path or \(form)")
    static func unsupportedScheme(_ scheme: String) -> DatabaseLocationError {
        DatabaseLocationError(.scheme, "unsupported database URL scheme '\(scheme)://': use a SQLite file path or \(form)")
    }
    static let missingUser = DatabaseLocationError(.user, "the database URL names no user: \(form)")
    static let missingHost = DatabaseLocationError(.host, "the database URL names no host: \(form)")
    static func badPort(_ port: String) -> DatabaseLocationError {
        DatabaseLocationError(.port, "invalid port '\(port)' in the database URL: a number 1...65535")
    }
    static let missingDatabase = DatabaseLocationError(.database, "the database URL names no database (the path after the host): \(form)")
    static func badDatabase(_ name: String) -> DatabaseLocationError {
        DatabaseLocationError(.database, "invalid database name '\(name)' in the database URL: one path segment")
    }
    static func unknownParameter(_ name: String) -> DatabaseLocationError {
        DatabaseLocationError(.query, "unknown parameter '\(name)' in the database URL: only sslmode is accepted")
    }
    static func badSSLMode(_ mode: String) -> DatabaseLocationError {
        DatabaseLocationError(.sslMode, "invalid sslmode '\(mode)' in the database URL: use disable, prefer or require")
    }
    static let twoPasswords = DatabaseLocationError(
        .password, "the database URL has a password and PRAXIS_DB_PASSWORD or --db-password-file gives another: give one"
    )
    static let passwordForFile = DatabaseLocationError(
        .password, "a database password (PRAXIS_DB_PASSWORD or --db-password-file) was given for a SQLite file"
    )
    static func badEncoding(_ part: String) -> DatabaseLocationError {
        DatabaseLocationError(.encoding, "invalid percent-encoding in the database URL's \(part)")
    }
}
