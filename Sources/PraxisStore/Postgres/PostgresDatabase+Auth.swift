import Foundation
import Logging
import PostgresNIO
package import PraxisDomain

/// Accounts, sessions and refresh tokens on PostgreSQL, as SQLite's `Store+Auth` keeps
/// them. Run as the connecting user (the auth tables have no API grants, like GoTrue's own
/// schema), each call in one transaction. The token row is locked (`FOR UPDATE`) while a
/// refresh token is spent, so two exchanges of one token at once are one rotation and one
/// detected reuse, as SQLite's single writer makes them.
extension PostgresDatabase: AuthStore {
    /// The `users` columns in ``UserRecord/init(text:)``'s order, as text (timestamps as
    /// ``Timestamp`` text).
    static let userColumns = [
        "id::text", "email", "hashed_password", "full_name", "role", "profession", "is_email_verified::text",
        timestampText("email_confirmed_at"), timestampText("last_login_at"), "status", "user_metadata::text",
        timestampText("created_at"), timestampText("updated_at"),
    ].joined(separator: ", ")

    /// A `timestamptz` column as ``Timestamp`` text (UTC, microseconds, `Z`).
    static func timestampText(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    package func user(email: String) async throws -> UserRecord? {
        try await auth { connection, logger in
            try await Self.user(
                "SELECT \(unescaped: Self.userColumns) FROM users WHERE lower(email) = lower(\(email))", on: connection, logger: logger
            )
        }
    }

    package func user(id: String) async throws -> UserRecord? {
        guard Self.isUUID(id) else { return nil }
        return try await auth { connection, logger in try await Self.user(id: id, on: connection, logger: logger) }
    }

    package func user(id: String, sessionID: String?) async throws -> (UserRecord, sessionOpen: Bool)? {
        guard Self.isUUID(id) else { return nil }
        return try await auth { connection, logger in
            guard let user = try await Self.user(id: id, on: connection, logger: logger) else { return nil }
            guard let sessionID, Self.isUUID(sessionID) else { return (user, false) }
            let rows = try await Self.rows(
                "SELECT (ended_at IS NULL)::text FROM auth_sessions WHERE id = \(sessionID)::uuid AND user_id = \(id)::uuid",
                on: connection, logger: logger
            )
            return (user, rows.first?.first == "true")
        }
    }

    package func createUser(
        email: String, hashedPassword: String, fullName: String?, profession: String?, metadata: JSONValue,
        refreshTokenHash: String, verificationTokenHash: String, verificationExpiry: String
    ) async throws -> (UserRecord, sessionID: String)? {
        try await auth { connection, logger in
            // The unique index on lower(email) decides, also against a sign-up at the same moment.
            let inserted = try await Self.rows(
                """
                INSERT INTO users (email, hashed_password, full_name, role, profession, user_metadata, last_login_at)
                VALUES (\(email), \(hashedPassword), \(fullName), 'user', \(profession), \(metadata.jsonString)::jsonb, now())
                ON CONFLICT ((lower(email))) DO NOTHING RETURNING id::text
                """,
                on: connection, logger: logger
            )
            guard let id = inserted.first?.first ?? nil else { return nil }
            try await Self.rows(
                """
                INSERT INTO auth_email_verifications (token_hash, user_id, expires_at)
                VALUES (\(verificationTokenHash), \(id)::uuid, \(verificationExpiry)::timestamptz)
                """,
                on: connection, logger: logger
            )
            let sessionID = try await Self.openSession(userID: id, refreshTokenHash: refreshTokenHash, on: connection, logger: logger)
            guard let user = try await Self.user(id: id, on: connection, logger: logger) else { throw Self.missingUser(id) }
            return (user, sessionID)
        }
    }

    package func signIn(userID: String, refreshTokenHash: String) async throws -> (UserRecord, sessionID: String) {
        guard Self.isUUID(userID) else { throw Self.missingUser(userID) }
        return try await auth { connection, logger in
            try await Self.rows("UPDATE users SET last_login_at = now() WHERE id = \(userID)::uuid", on: connection, logger: logger)
            let sessionID = try await Self.openSession(userID: userID, refreshTokenHash: refreshTokenHash, on: connection, logger: logger)
            guard let user = try await Self.user(id: userID, on: connection, logger: logger) else { throw Self.missingUser(userID) }
            return (user, sessionID)
        }
    }

    package func rotateRefreshToken(oldHash: String, newHash: String) async throws -> RefreshOutcome {
        try await auth { connection, logger in
            let found = try await Self.rows(
                """
                SELECT t.session_id::text, t.revoked::text, s.user_id::text, (s.ended_at IS NOT NULL)::text
                FROM auth_refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id
                WHERE t.token_hash = \(oldHash) FOR UPDATE
                """,
                on: connection, logger: logger
            )
            guard let token = found.first, let sessionID = token[0], let userID = token[2] else { return .unknown }
            if token[1] == "true" || token[3] == "true" {
                try await Self.endSession(sessionID, on: connection, logger: logger)
                return .reused(userID: userID)
            }
            guard let user = try await Self.user(id: userID, on: connection, logger: logger), user.isActive else { return .unknown }
            try await Self.rows("UPDATE auth_refresh_tokens SET revoked = true WHERE token_hash = \(oldHash)", on: connection, logger: logger)
            try await Self.rows(
                "INSERT INTO auth_refresh_tokens (token_hash, session_id, parent_hash) VALUES (\(newHash), \(sessionID)::uuid, \(oldHash))",
                on: connection, logger: logger
            )
            return .rotated(user: user, sessionID: sessionID)
        }
    }

    package func endSessions(userID: String, sessionID: String?, scope: String) async throws {
        guard Self.isUUID(userID) else { return }
        let session = sessionID.flatMap { Self.isUUID($0) ? $0 : nil }
        try await auth { connection, logger in
            let ids: [String]
            switch scope {
            case "global":
                ids = try await Self.rows(
                    "SELECT id::text FROM auth_sessions WHERE user_id = \(userID)::uuid AND ended_at IS NULL", on: connection, logger: logger
                ).compactMap { $0.first ?? nil }
            case "others":
                ids = try await Self.rows(
                    """
                    SELECT id::text FROM auth_sessions
                    WHERE user_id = \(userID)::uuid AND ended_at IS NULL AND id IS DISTINCT FROM \(session)::uuid
                    """,
                    on: connection, logger: logger
                ).compactMap { $0.first ?? nil }
            default:
                ids = session.map { [$0] } ?? []
            }
            for id in ids { try await Self.endSession(id, on: connection, logger: logger) }
        }
    }

    package func updateUser(id: String, email: String?, hashedPassword: String?, metadata: JSONValue?) async throws -> UserRecord? {
        guard Self.isUUID(id) else { return nil }
        return try await auth { connection, logger in
            if let email {
                let taken = try await Self.rows(
                    "SELECT 1 FROM users WHERE lower(email) = lower(\(email)) AND id <> \(id)::uuid", on: connection, logger: logger
                )
                if !taken.isEmpty { return nil }
                try await Self.rows(
                    "UPDATE users SET email = \(email), is_email_verified = false, email_confirmed_at = NULL WHERE id = \(id)::uuid",
                    on: connection, logger: logger
                )
            }
            if let hashedPassword {
                try await Self.rows("UPDATE users SET hashed_password = \(hashedPassword) WHERE id = \(id)::uuid", on: connection, logger: logger)
            }
            if let metadata {
                try await Self.rows("UPDATE users SET user_metadata = \(metadata.jsonString)::jsonb WHERE id = \(id)::uuid", on: connection, logger: logger)
                // The seed's columns follow the metadata the client keeps there.
                if case .object(let fields) = metadata {
                    if case .string(let name) = fields["full_name"] ?? .null {
                        try await Self.rows("UPDATE users SET full_name = \(String(name.prefix(255))) WHERE id = \(id)::uuid", on: connection, logger: logger)
                    }
                    if case .string(let profession) = fields["profession"] ?? .null {
                        try await Self.rows(
                            "UPDATE users SET profession = \(String(profession.prefix(50))) WHERE id = \(id)::uuid", on: connection, logger: logger
                        )
                    }
                }
            }
            return try await Self.user(id: id, on: connection, logger: logger)
        }
    }

    package func consumeVerification(tokenHash: String) async throws -> UserRecord? {
        try await auth { connection, logger in
            let spent = try await Self.rows(
                """
                UPDATE auth_email_verifications SET consumed_at = now()
                WHERE token_hash = \(tokenHash) AND consumed_at IS NULL AND expires_at > now() RETURNING user_id::text
                """,
                on: connection, logger: logger
            )
            guard let userID = spent.first?.first ?? nil else { return nil }
            try await Self.rows(
                "UPDATE users SET is_email_verified = true, email_confirmed_at = now() WHERE id = \(userID)::uuid", on: connection, logger: logger
            )
            return try await Self.user(id: userID, on: connection, logger: logger)
        }
    }

    package func addVerification(userID: String, tokenHash: String, expiry: String) async throws {
        guard Self.isUUID(userID) else { throw Self.missingUser(userID) }
        try await auth { connection, logger in
            try await Self.rows(
                "INSERT INTO auth_email_verifications (token_hash, user_id, expires_at) VALUES (\(tokenHash), \(userID)::uuid, \(expiry)::timestamptz)",
                on: connection, logger: logger
            )
        }
    }
}

extension PostgresDatabase {
    /// Runs `body` in a transaction as the connecting user; a failure becomes a
    /// ``StoreError`` (logged by the caller, never shown to a client).
    @discardableResult
    func auth<Result: Sendable>(_ body: (PostgresConnection, Logger) async throws -> Result) async throws(StoreError) -> Result {
        let logger = self.logger
        do {
            return try await transaction { connection in try await body(connection, logger) }
        } catch {
            throw StoreError.database(error.description)
        }
    }

    /// Runs a statement and returns its rows, every column as text.
    @discardableResult
    static func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [[String?]] {
        try await collect(connection.query(query, logger: logger))
    }

    static func user(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> UserRecord? {
        try await rows(query, on: connection, logger: logger).first.flatMap(UserRecord.init(text:))
    }

    static func user(id: String, on connection: PostgresConnection, logger: Logger) async throws -> UserRecord? {
        try await user("SELECT \(unescaped: userColumns) FROM users WHERE id = \(id)::uuid", on: connection, logger: logger)
    }

    static func openSession(userID: String, refreshTokenHash: String, on connection: PostgresConnection, logger: Logger) async throws -> String {
        let opened = try await rows("INSERT INTO auth_sessions (user_id) VALUES (\(userID)::uuid) RETURNING id::text", on: connection, logger: logger)
        guard let sessionID = opened.first?.first ?? nil else { throw StoreError.database("a new session returned no id") }
        try await rows(
            "INSERT INTO auth_refresh_tokens (token_hash, session_id) VALUES (\(refreshTokenHash), \(sessionID)::uuid)", on: connection, logger: logger
        )
        return sessionID
    }

    static func endSession(_ sessionID: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await rows("UPDATE auth_sessions SET ended_at = now() WHERE id = \(sessionID)::uuid AND ended_at IS NULL", on: connection, logger: logger)
        try await rows("UPDATE auth_refresh_tokens SET revoked = true WHERE session_id = \(sessionID)::uuid", on: connection, logger: logger)
    }

    /// Whether `text` is a UUID (a user or session id); anything else names no row.
    static func isUUID(_ text: String) -> Bool { UUID(uuidString: text) != nil }

    static func missingUser(_ id: String) -> StoreError { .database("no user \(id)") }
}
