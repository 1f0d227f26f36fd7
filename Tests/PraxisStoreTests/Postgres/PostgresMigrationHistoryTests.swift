@testable import PraxisStore
import Testing

/// The PostgreSQL history mirrors SQLite's step by step (no cluster needed).
@Suite struct PostgresMigrationHistoryTests {
    @Test func postgresStepsAreSQLitesStepsInOrder() {
        let sqlite = Migrations.migrator.migrations
        let postgres = PostgresMigrations.all.map(\.name)
        #expect(PostgresMigrations.all.map(\.version) == Array(1...postgres.count))
        // A step SQLite gained since (v8 …) without its PostgreSQL twin yet is the only
        // allowed difference: PostgreSQL's history is a prefix of SQLite's.
        #expect(Array(sqlite.prefix(postgres.count)) == postgres, "SQLite: \(sqlite)")
        #expect(postgres.count >= 7)
    }
}
