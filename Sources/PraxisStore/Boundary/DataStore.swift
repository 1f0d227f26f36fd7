package import PraxisProtocol
package import PraxisDomain

/// The PostgREST-compatible data operations behind `/rest/v1`, each with Praxis' access
/// policy applied (``AccessPolicy``), and the readiness probe.
///
/// Errors are ``DataError``s in PostgREST's shape (unique violation 409 `23505`, foreign
/// key 409 `23503`, check 400 `23514`, ...), whatever the backend said.
package protocol DataStore: Sendable {
    /// Rows of `table` matching `query` that the caller may see.
    func select(_ table: TableSchema, query: PostgrestQuery, countExact: Bool, context: DataContext) async throws(DataError) -> DataResult

    /// Inserts (or upserts) rows; returns the stored rows the caller may see.
    func insert(_ table: TableSchema, _ request: InsertRequest, context: DataContext) async throws(DataError) -> DataResult

    /// Updates the rows matching `query` that the caller may update; returns them.
    func update(_ table: TableSchema, query: PostgrestQuery, patch: [String: JSONValue], context: DataContext) async throws(DataError) -> DataResult

    /// Deletes (or archives) the rows matching `query` that the caller may delete.
    func delete(_ table: TableSchema, query: PostgrestQuery, context: DataContext) async throws(DataError) -> DataResult

    /// Whether the database answers a trivial query.
    func isReachable() async -> Bool
}
