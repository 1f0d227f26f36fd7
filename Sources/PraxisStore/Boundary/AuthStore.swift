package import PraxisDomain

/// Accounts, sessions and refresh tokens, as the auth API (GoTrue's subset) and the request
/// authenticator need them. Secrets arrive hashed; ids are lower-case UUID text, timestamps
/// ``Timestamp`` text, on every backend.
///
/// Implemented by SQLite's ``Store`` and by ``PostgresDatabase``. Errors are
/// ``StoreError``s without backend wording (callers log them and answer 500).
package protocol AuthStore: Sendable {
    /// The user with this email (compared case-insensitively).
    func user(email: String) async throws -> UserRecord?

    /// The user with this id (nil for an id that is not a stored user's).
    func user(id: String) async throws -> UserRecord?

    /// The user and whether their login session is still open (for access-token checks). A
    /// token without a session (`sessionID` nil) has no open session.
    func user(id: String, sessionID: String?) async throws -> (UserRecord, sessionOpen: Bool)?

    /// Creates an account, its email verification and its first session. Returns nil when
    /// the email is taken (in any letter case).
    func createUser(
        email: String, hashedPassword: String, fullName: String?, profession: String?, metadata: JSONValue,
        refreshTokenHash: String, verificationTokenHash: String, verificationExpiry: String
    ) async throws -> (UserRecord, sessionID: String)?

    /// Records a successful sign-in and opens a session.
    func signIn(userID: String, refreshTokenHash: String) async throws -> (UserRecord, sessionID: String)

    /// Spends a refresh token and issues its successor. A token used twice ends its session
    /// (whoever holds a copy of it is locked out along with the owner).
    func rotateRefreshToken(oldHash: String, newHash: String) async throws -> RefreshOutcome

    /// Ends sessions: the given one (`local`), all of the user's (`global`), or all but the
    /// given one (`others`).
    func endSessions(userID: String, sessionID: String?, scope: String) async throws

    /// Changes a user's email, password hash or metadata (each when given). Returns nil when
    /// the new email is another user's.
    func updateUser(id: String, email: String?, hashedPassword: String?, metadata: JSONValue?) async throws -> UserRecord?

    /// Consumes an email verification token and marks the email verified. Returns the user,
    /// or nil when the token is unknown, used or expired.
    func consumeVerification(tokenHash: String) async throws -> UserRecord?

    /// Stores a fresh verification token for a user (after an email change or a resend).
    func addVerification(userID: String, tokenHash: String, expiry: String) async throws
}
