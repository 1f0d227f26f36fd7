import ArgumentParser
import PraxisStore

/// `praxis migrate`: apply pending migrations.
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema (idempotent).")

    @Option(help: "SQLite database file (env PRAXIS_DB). Default ./praxis.sqlite.")
    var db: String?

    func run() throws {
        let path = try Environment.resolve(db, "PRAXIS_DB", default: "./praxis.sqlite") { $0 }
        do {
            let store = try Store.open(StoreConfiguration(path: path))
            let applied = try store.appliedMigrations()
            print("\(path): \(applied.count) migrations applied (latest: \(applied.last ?? "none"))")
        } catch {
            throw CommandFailure(message: "\(error)")
        }
    }
}
