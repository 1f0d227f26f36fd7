/// The server's own settings kept in the database (`praxis_settings`).
package protocol SettingsStore: Sendable {
    /// The secret that signs this server's JWTs: `provided` when given (and not empty),
    /// otherwise the one kept in the database, generated (32 random bytes, base64) on first
    /// use. Keeping it in the database means a restart keeps every issued token valid; two
    /// servers starting at once on one database agree on one secret.
    func signingSecret(provided: String?) async throws -> String
}
