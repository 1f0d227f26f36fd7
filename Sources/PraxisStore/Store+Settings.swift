import Foundation
import GRDB

extension Store {
    static let jwtSecretKey = "jwt_secret"

    /// The secret that signs this server's JWTs: `provided` when given, otherwise the one
    /// kept in the database, generated (32 random bytes, base64) on first use.
    ///
    /// Keeping it in the database means a restart keeps every issued token valid.
    public func jwtSecret(provided: String? = nil) throws -> String {
        if let provided, !provided.isEmpty { return provided }
        return try pool.write { db in try Self.keptSecret(db) }
    }

    /// ``jwtSecret(provided:)`` off the caller's thread (GRDB's writer queue).
    package func signingSecret(provided: String?) async throws -> String {
        if let provided, !provided.isEmpty { return provided }
        return try await pool.write { db in try Self.keptSecret(db) }
    }

    /// The kept secret, generated and stored on first use (in the writer's transaction).
    private static func keptSecret(_ db: Database) throws -> String {
        if let existing = try String.fetchOne(
            db, sql: "SELECT value FROM praxis_settings WHERE key = ?", arguments: [Self.jwtSecretKey]
        ) {
            return existing
        }
        let secret = newSecret()
        try db.execute(
            sql: "INSERT INTO praxis_settings (key, value) VALUES (?, ?)",
            arguments: [Self.jwtSecretKey, secret]
        )
        return secret
    }

    /// 32 random bytes, base64: a fresh JWT secret.
    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
    }
}
