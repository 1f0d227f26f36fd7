import PraxisStore
import Testing

/// Every test that needs PostgreSQL, on the run's one private cluster (`TestPostgres`).
/// Serialized: the roles are cluster-wide, and migrations of two databases at the very
/// same moment would race on them (one database's migrators do not: the advisory lock).
@Suite(.serialized, .enabled(if: TestPostgres.enabled, TestPostgres.skipReason))
struct PostgresTests {
    /// A fresh database, its pool, and the pool closed after `body`, also when it throws.
    static func withDatabase<T>(migrated: Bool = true, _ body: (PostgresDatabase, PostgresLocation) async throws -> T) async throws -> T {
        let cluster = try await TestPostgres.shared()
        return try await ClusterGate.shared.exclusively {
            let location = try cluster.freshDatabase()
            let database = PostgresDatabase(location)
            do {
                if migrated { try await database.migrate() }
                let result = try await body(database, location)
                await database.close()
                return result
            } catch {
                await database.close()
                throw error
            }
        }
    }
}
