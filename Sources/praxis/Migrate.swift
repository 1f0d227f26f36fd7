import ArgumentParser
import PraxisStore

/// `praxis migrate`: apply pending migrations, on SQLite or PostgreSQL.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema (idempotent).")

    @Option(help: "SQLite database file, or postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require] (env PRAXIS_DB). Default ./praxis.sqlite.")
    var db: String?

    @Option(help: "Read the PostgreSQL password from this file (else env PRAXIS_DB_PASSWORD).")
    var dbPasswordFile: String?

    @Option(help: "PostgreSQL: seconds to wait for the server and the migration lock before giving up. Default 30.")
    var connectTimeout: Int?

    func run() async throws {
        switch try DatabaseOption.resolve(db, passwordFile: dbPasswordFile) {
        case .sqlite(let path):
            do {
                let store = try Store.open(StoreConfiguration(path: path))
                let applied = try store.appliedMigrations()
                print("\(path): \(applied.count) migrations applied (latest: \(applied.last ?? "none"))")
            } catch {
                throw CommandFailure(message: "\(error)")
            }
        case .postgres(let location):
            let database = PostgresDatabase(location)
            do {
                let applied = try await database.migrate(within: .seconds(connectTimeout ?? 30))
                let all = try await database.appliedMigrations()
                print("\(location.redacted): \(all.count) migrations applied, \(applied.count) now (latest: \(all.last ?? "none"))")
                await database.close()
            } catch {
                await database.close()
                throw CommandFailure(message: "\(error)")
            }
        }
    }
}
