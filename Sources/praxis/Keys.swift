import ArgumentParser
import Foundation
import PraxisAuth
import PraxisStore

/// `praxis keys`: print the API keys of a database.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the API keys (anon, service_role) as one JSON object.",
        discussion: "The keys are JWTs signed with the database's secret; safe to run while the server runs."
    )

    @Option(help: "SQLite database file (env PRAXIS_DB). Default ./praxis.sqlite.")
    var db: String?

    @Option(help: "JWT signing secret, when the server was given one (env PRAXIS_JWT_SECRET).")
    var jwtSecret: String?

    func run() async throws {
        let path = try DatabaseOption.sqlitePath(db, command: "keys")
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure(message: "no database at \(path) (start the server or run 'praxis migrate' first)")
        }
        let keys: APIKeys
        do {
            let store = try Store.open(StoreConfiguration(path: path))
            let secret = try store.jwtSecret(provided: jwtSecret ?? Environment.value("PRAXIS_JWT_SECRET"))
            keys = try await TokenIssuer(secret: secret).apiKeys()
        } catch {
            throw CommandFailure(message: "\(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(keys), as: UTF8.self))
    }
}
