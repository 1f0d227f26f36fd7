import Foundation
import GRDB
public import PraxisDomain

/// What a refresh-token exchange found.
public enum RefreshOutcome: Sendable, Equatable {
    /// The token was current: it is now spent and `newHash` replaces it.
    case rotated(user: UserRecord, sessionID: String)
    /// The token was already used (or its session ended): the session is ended too. Carries
    /// the session's user.
    case reused(userID: String?)
    /// No such token.
    case unknown
}

/// Accounts, sessions and refresh tokens for the auth API. Secrets arrive hashed.
extension Store {
    /// The user with this email (compared case-insensitively).
    public func user(email: String) async throws -> UserRecord? {
        try await pool.read { db in
            try GRDB.Row.fetchOne(db, sql: "SELECT * FROM users WHERE email = ? COLLATE NOCASE", arguments: [email]).map(UserRecord.init)
        }
    }

    public func user(id: String) async throws -> UserRecord? {
        try await pool.read { db in
            try GRDB.Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(UserRecord.init)
        }
    }

    /// The user and whether their login session is still open (for access-token checks). A
    /// token without a session (`sessionID` nil) has no open session.
    public func user(id: String, sessionID: String?) async throws -> (UserRecord, sessionOpen: Bool)? {
        try await pool.read { db in
            guard let user = try GRDB.Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(UserRecord.init) else {
                return nil
            }
            guard let sessionID else { return (user, false) }
            let ended = try GRDB.Row.fetchOne(db, sql: "SELECT ended_at FROM auth_sessions WHERE id = ? AND user_id = ?", arguments: [sessionID, id])
            guard let ended else { return (user, false) }
            return (user, (ended["ended_at"] as String?) == nil)
        }
    }

    /// Creates an account and its first session. Returns nil when the email is taken
    /// (in any letter case).
    public func createUser(
        email: String, hashedPassword: String, fullName: String?, profession: String?, metadata: JSONValue,
        refreshTokenHash: String, verificationTokenHash: String, verificationExpiry: String
    ) async throws -> (UserRecord, sessionID: String)? {
        try await pool.write { db in
            if try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ? COLLATE NOCASE", arguments: [email]) != nil {
                return nil
            }
            let id = UUID().uuidString.lowercased()
            let now = Timestamp.now()
            try db.execute(
                sql: """
                    INSERT INTO users (id, email, hashed_password, full_name, role, profession, user_metadata, last_login_at, created_at, updated_at)
                    VALUES (?, ?, ?, ?, 'user', ?, ?, ?, ?, ?)
                    """,
                arguments: [id, email, hashedPassword, fullName, profession, metadata.jsonString, now, now, now]
            )
            try db.execute(
                sql: "INSERT INTO auth_email_verifications (token_hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
                arguments: [verificationTokenHash, id, verificationExpiry, now]
            )
            let sessionID = try Self.openSession(db, userID: id, refreshTokenHash: refreshTokenHash)
            let user = try GRDB.Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(UserRecord.init)!
            return (user, sessionID)
        }
    }

    /// Records a successful sign-in and opens a session.
    public func signIn(userID: String, refreshTokenHash: String) async throws -> (UserRecord, sessionID: String) {
        try await pool.write { db in
            try db.execute(sql: "UPDATE users SET last_login_at = ? WHERE id = ?", arguments: [Timestamp.now(), userID])
            let sessionID = try Self.openSession(db, userID: userID, refreshTokenHash: refreshTokenHash)
            let user = try GRDB.Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [userID]).map(UserRecord.init)!
            return (user, sessionID)
        }
    }

    private static func openSession(_ db: Database, userID: String, refreshTokenHash: String) throws -> String {
        let sessionID = UUID().uuidString.lowercased()
        let now = Timestamp.now()
        try db.execute(sql: "INSERT INTO auth_sessions (id, user_id, created_at) VALUES (?, ?, ?)", arguments: [sessionID, userID, now])
        try db.execute(
            sql: "INSERT INTO auth_refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)",
            arguments: [refreshTokenHash, sessionID, now]
        )
        return sessionID
    }

    /// Spends a refresh token and issues its successor. A token used twice ends its
    /// session (whoever holds a copy of it is locked out along with the owner).
    public func rotateRefreshToken(oldHash: String, newHash: String) async throws -> RefreshOutcome {
        try await pool.write { db in
            guard let token = try GRDB.Row.fetchOne(
                db,
                sql: """
                    SELECT t.session_id, t.revoked, s.user_id, s.ended_at FROM auth_refresh_tokens t
                    JOIN auth_sessions s ON s.id = t.session_id WHERE t.token_hash = ?
                    """,
                arguments: [oldHash]
            ) else { return .unknown }
            let sessionID: String = token["session_id"]
            let revoked: Bool = token["revoked"]
            let ended: String? = token["ended_at"]
            if revoked || ended != nil {
                try Self.endSession(db, sessionID: sessionID)
                return .reused(userID: token["user_id"])
            }
            let userID: String = token["user_id"]
            guard let user = try GRDB.Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [userID]).map(UserRecord.init),
                user.isActive
            else { return .unknown }
            try db.execute(sql: "UPDATE auth_refresh_tokens SET revoked = 1 WHERE token_hash = ?", arguments: [oldHash])
            try db.execute(
                sql: "INSERT INTO auth_refresh_tokens (token_hash, session_id, parent_hash, created_at) VALUES (?, ?, ?, ?)",
                arguments: [newHash, sessionID, oldHash, Timestamp.now()]
            )
            return .rotated(user: user, sessionID: sessionID)
        }
    }

    /// Ends sessions: the given one, all of the user's, or all but the given one.
    public func endSessions(userID: String, sessionID: String?, scope: String) async throws {
        try await pool.write { db in
            switch scope {
            case "global":
                for id in try String.fetchAll(db, sql: "SELECT id FROM auth_sessions WHERE user_id = ? AND ended_at IS NULL", arguments: [userID]) {
                    try Self.endSession(db, sessionID: id)
                }
            case "others":
                for id in try String.fetchAll(db, sql: "SELECT id FROM auth_sessions WHERE user_id = ? AND ended_at IS NULL AND id IS NOT ?", arguments: [userID, sessionID]) {
                    try Self.endSession(db, sessionID: id)
                }
            default:
                if let sessionID { try Self.endSession(db, sessionID: sessionID) }
            }
        }
    }

    private static func endSession(_ db: Database, sessionID: String) throws {
        try db.execute(sql: "UPDATE auth_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL", arguments: [Timestamp.now(), sessionID])
        try db.execute(sql: "UPDATE auth_refresh_tokens SET revoked = 1 WHERE session_id = ?", arguments: [sessionID])
    }

    /// Changes a user's password hash, email or metadata (each when given).
    public func updateUser(id: String, email: String?, hashedPassword: String?, metadata: JSONValue?) async throws -> UserRecord? {
        try await pool.write { db in
            if let email {
                if try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ? COLLATE NOCASE AND id <> ?", arguments: [email, id]) != nil {
                    return nil
                }
                try db.execute(sql: "UPDATE users SET email = ?, is_email_verified = 0, email_confirmed_at = NULL WHERE id = ?", arguments: [email, id])
            }
            if let hashedPassword {
                try db.execute(sql: "UPDATE users SET hashed_password = ? WHERE id = ?", arguments: [hashedPassword, id])
            }
            if let metadata {
                try db.execute(sql: "UPDATE users SET user_metadata = ? WHERE id = ?", arguments: [metadata.jsonString, id])
                // The seed's columns follow the metadata the client keeps there.
                if case .object(let fields) = metadata {
                    if case .string(let name) = fields["full_name"] ?? .null {
                        try db.execute(sql: "UPDATE users SET full_name = ? WHERE id = ?", arguments: [String(name.prefix(255)), id])
                    }
                    if case .string(let profession) = fields["profession"] ?? .null {
                        try db.execute(sql: "UPDATE users SET profession = ? WHERE id = ?", arguments: [String(profession.prefix(50)), id])
                    }
                }
            }
            return try GRDB.Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(UserRecord.init)
        }
    }

    /// Consumes an email verification token; marks the email verified. Returns the user,
    /// or nil when the token is unknown, used or expired.
    public func consumeVerification(tokenHash: String) async throws -> UserRecord? {
        try await pool.write { db in
            let now = Timestamp.now()
            guard let row = try GRDB.Row.fetchOne(
                db, sql: "SELECT user_id FROM auth_email_verifications WHERE token_hash = ? AND consumed_at IS NULL AND expires_at > ?",
                arguments: [tokenHash, now]
            ) else { return nil }
            let userID: String = row["user_id"]
            try db.execute(sql: "UPDATE auth_email_verifications SET consumed_at = ? WHERE token_hash = ?", arguments: [now, tokenHash])
            try db.execute(sql: "UPDATE users SET is_email_verified = 1, email_confirmed_at = ? WHERE id = ?", arguments: [now, userID])
            return try GRDB.Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [userID]).map(UserRecord.init)
        }
    }

    /// Stores a fresh verification token for a user (after an email change or a resend).
    public func addVerification(userID: String, tokenHash: String, expiry: String) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO auth_email_verifications (token_hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
                arguments: [tokenHash, userID, expiry, Timestamp.now()]
            )
        }
    }
}
