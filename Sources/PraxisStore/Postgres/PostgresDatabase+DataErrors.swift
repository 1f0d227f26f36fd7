import PostgresNIO
import PraxisProtocol

extension PostgresDatabase {
    /// A failure of a data API transaction in PostgREST's shape, as SQLite's
    /// `Store.dataError(from:)` gives it: the same statuses and codes, Praxis' own wording
    /// (PostgreSQL's messages name its constraints and types; only the triggers' own
    /// sentences, which Praxis wrote, are passed on).
    static func dataError(from error: any Error) -> DataError {
        if let error = error as? DataError { return error }
        if let error = error as? PostgresTransactionError,
            let cause = error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError
        {
            return dataError(from: cause)
        }
        let failure = PostgresError.wrap(error)
        switch failure.sqlState {
        case "23505":
            return DataError(.conflict, code: "23505", message: "duplicate key value violates unique constraint")
        case "23503":
            return DataError(
                .conflict, code: "23503", message: "the change violates a foreign key constraint",
                details: "a referenced row does not exist, or the row is still referenced"
            )
        case "23514":
            return DataError(.badRequest, code: "23514", message: "new row violates check constraint")
        case "23502":
            return DataError(.badRequest, code: "23502", message: "null value violates not-null constraint")
        case "42501":
            return DataError.forbidden("the database's row-level security refused the change")
        case "P0001":
            return DataError(.badRequest, code: "P0001", message: failure.message)
        case "22P02", "22007", "22008", "22003", "42804":
            return DataError(.badRequest, code: "22P02", message: "a value does not fit its column's type")
        case "40001", "40P01", "55P03":
            return DataError(.internalError, code: "55P03", message: "the database is busy; try again")
        case nil:
            return DataError(.internalError, code: "XX000", message: "the database cannot be reached")
        default:
            return DataError(.internalError, code: "XX000", message: "database error \(failure.sqlState ?? "")")
        }
    }
}
