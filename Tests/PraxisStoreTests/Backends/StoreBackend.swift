import Foundation
import PraxisStore
import Testing

/// The store backends a parameterized suite runs on: SQLite always, PostgreSQL when its
/// binaries are there (always in CI, where missing binaries fail the run: ``TestPostgres``).
enum StoreBackend: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static var available: [StoreBackend] { TestPostgres.enabled ? allCases : [.sqlite] }

    var testDescription: String { rawValue }

    /// What the suites reach the store through: the protocols of the store boundary.
    typealias Boundary = AuthStore & SettingsStore & DataStore & RealtimeStore

    /// A fresh, migrated database of this backend, closed (and removed) after `body`; its
    /// change log keeps at most `changeLogMaxEntries` changes.
    func withStore<T>(
        changeLogMaxEntries: Int = StoreConfiguration.Defaults.changeLogMaxEntries, _ body: (any Boundary) async throws -> T
    ) async throws -> T {
        switch self {
        case .sqlite:
            let temporary = try TemporaryDatabase()
            let store = try Store.open(StoreConfiguration(path: temporary.path, changeLogMaxEntries: changeLogMaxEntries))
            defer { try? store.close() }
            return try await body(store)
        case .postgres:
            let cluster = try await TestPostgres.shared()
            return try await ClusterGate.shared.exclusively {
                let location = try cluster.freshDatabase()
                let database = PostgresDatabase(location, changeLogMaxEntries: changeLogMaxEntries)
                do {
                    try await database.migrate()
                    let result = try await body(database)
                    await database.close()
                    return result
                } catch {
                    await database.close()
                    throw error
                }
            }
        }
    }
}
