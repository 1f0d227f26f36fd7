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
        return try pool.write { db in
            if let existing = try String.fetchOne(
                db, sql: "SELECT value FROM praxis_settings WHERE key = ?", arguments: [Self.jwtSecretKey]
            ) {
                return existing
            }
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let secret = Data(bytes).base64EncodedString()
            try db.execute(
                sql: "INSERT INTO praxis_settings (key, value) VALUES (?, ?)",
                arguments: [Self.jwtSecretKey, secret]
            )
            return secret
        }
    }
}
