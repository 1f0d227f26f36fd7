public import JWTKit
public import Foundation

/// The claims of every JWT Praxis issues: API keys (`anon`, `service_role`) and users'
/// access tokens (`authenticated`), shaped as Supabase issues them.
public struct TokenClaims: JWTPayload, Sendable, Equatable {
    /// Who issued the token: `praxis`.
    public var iss: String
    /// The Postgres role the token acts as: `anon`, `authenticated` or `service_role`.
    public var role: String
    /// The user's id (access tokens only).
    public var sub: String?
    /// The audience: `authenticated` for access tokens.
    public var aud: String?
    public var email: String?
    /// The login session the access token belongs to.
    public var session_id: String?
    public var is_anonymous: Bool?
    /// Issued at (seconds since 1970).
    public var iat: Int
    /// Expires at (seconds since 1970).
    public var exp: Int

    public init(
        role: String, sub: String? = nil, aud: String? = nil, email: String? = nil,
        sessionID: String? = nil, issuedAt: Date, expiresAt: Date
    ) {
        self.iss = "praxis"
        self.role = role
        self.sub = sub
        self.aud = aud
        self.email = email
        self.session_id = sessionID
        self.is_anonymous = sub == nil ? nil : false
        self.iat = Int(issuedAt.timeIntervalSince1970)
        self.exp = Int(expiresAt.timeIntervalSince1970)
    }

    public var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(exp)) }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        if Date().timeIntervalSince1970 >= TimeInterval(exp) {
            throw JWTError.claimVerificationFailure(failedClaim: ExpirationClaim(value: expiresAt), reason: "expired")
        }
    }
}
