import GRDB

/// Why the store could not do what was asked.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: Equatable {
        case notADatabase
        case cannotOpen
        case migrationFailed
        case demoDataInvalid
        case database
    }

    private let code: Code
    /// A sentence saying what went wrong, for logs and the command line.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The file exists but is not a SQLite database; it was left untouched.
    public static func notADatabase(path: String) -> StoreError {
        StoreError(.notADatabase, "\(path) is not a SQLite database; refusing to open it (the file was left untouched)")
    }

    /// SQLite could not open or create the file.
    public static func cannotOpen(path: String, reason: String) -> StoreError {
        StoreError(.cannotOpen, "cannot open database \(path): \(reason)")
    }

    /// A migration failed; nothing of it was applied.
    public static func migrationFailed(_ reason: String) -> StoreError {
        StoreError(.migrationFailed, "migration failed: \(reason)")
    }

    /// The bundled demo data could not be read.
    public static func demoDataInvalid(_ reason: String) -> StoreError {
        StoreError(.demoDataInvalid, "demo data is invalid: \(reason)")
    }

    /// A database operation failed (a constraint, I/O, a full disk).
    public static func database(_ reason: String) -> StoreError {
        StoreError(.database, "database error: \(reason)")
    }

    /// Any error as a store error.
    static func wrap(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError { return .database(error.message ?? "\(error.resultCode)") }
        return .database("\(error)")
    }

    public var description: String { message }

    public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }
}
