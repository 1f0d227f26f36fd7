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

    @Option(help: "SQLite database file, or a postgres:// URL as 'praxis migrate' takes it (env PRAXIS_DB). Default ./praxis.sqlite.")
    var db: String?

    @Option(help: "Read the PostgreSQL password from this file (else env PRAXIS_DB_PASSWORD).")
    var dbPasswordFile: String?

    @Option(help: "JWT signing secret, when the server was given one (env PRAXIS_JWT_SECRET).")
    var jwtSecret: String?

    func run() async throws {
        let location = try DatabaseOption.resolve(db, passwordFile: dbPasswordFile)
        let keys: APIKeys
        do {
            let provided = jwtSecret ?? Environment.value("PRAXIS_JWT_SECRET")
            let secret = try await DatabaseOption.withSettings(location) { try await $0.signingSecret(provided: provided) }
            keys = try await TokenIssuer(secret: secret).apiKeys()
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure(message: "\(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(keys), as: UTF8.self))
    }
}
