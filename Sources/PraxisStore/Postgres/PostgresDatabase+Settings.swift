import PostgresNIO

/// The JWT secret in `praxis_settings`, as SQLite keeps it.
extension PostgresDatabase: SettingsStore {
    package func signingSecret(provided: String?) async throws -> String {
        if let provided, !provided.isEmpty { return provided }
        let candidate = Store.newSecret()
        let key = Store.jwtSecretKey
        return try await auth { connection, logger in
            // Two servers starting at once: one insert wins, both read the winner.
            try await Self.rows(
                "INSERT INTO praxis_settings (key, value) VALUES (\(key), \(candidate)) ON CONFLICT (key) DO NOTHING", on: connection, logger: logger
            )
            let kept = try await Self.rows("SELECT value FROM praxis_settings WHERE key = \(key)", on: connection, logger: logger)
            guard let secret = kept.first?.first ?? nil else { throw StoreError.database("the JWT secret was not kept") }
            return secret
        }
    }
}
