import PostgresNIO

/// A PostgreSQL failure with the server's SQLSTATE and message (postgres-nio's own
/// description hides both), or a connection failure.
package struct PostgresError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The SQLSTATE, e.g. `23505` (unique violation), `42501` (RLS / privilege); nil when
    /// the server never answered.
    package let sqlState: String?
    package let message: String

    package var description: String {
        sqlState.map { "PostgreSQL error \($0): \(message)" } ?? "PostgreSQL: \(message)"
    }

    init(sqlState: String?, message: String) {
        self.sqlState = sqlState
        self.message = message
    }

    /// Wraps whatever a postgres-nio call threw.
    static func wrap(_ error: any Error) -> PostgresError {
        if let error = error as? PostgresError { return error }
        if let error = error as? PostgresTransactionError {
            // The statement's own failure first; then the transaction's.
            if let cause = error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError { return wrap(cause) }
        }
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                return PostgresError(sqlState: info[.sqlState], message: info[.message] ?? "\(error.code)")
            }
            let cause = error.underlying.map { ": \($0)" } ?? ""
            return PostgresError(sqlState: nil, message: "\(error.code)\(cause)")
        }
        return PostgresError(sqlState: nil, message: String(describing: error))
    }
}
