public import Foundation
import JWTKit
import Crypto

/// Signs and verifies the server's HS256 JWTs with the database's secret.
public final class TokenIssuer: Sendable {
    private let keys: JWTKeyCollection

    /// Shortest accepted secret, in bytes (HS256 wants a key at least as long as its hash).
    public static let minimumSecretBytes = 32

    /// - Parameter secret: the HMAC secret (kept in the database unless given by flag),
    ///   at least ``minimumSecretBytes`` bytes.
    public init(secret: String) async throws(TokenError) {
        guard secret.utf8.count >= Self.minimumSecretBytes else { throw .secretTooShort }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
    }

    /// The API keys clients send as `apikey`: `anon` for visitors, `service_role` for
    /// trusted back ends (bypasses the access rules). Valid for ten years.
    public func apiKeys(now: Date = Date()) async throws -> APIKeys {
        let expiry = now.addingTimeInterval(10 * 365 * 24 * 3600)
        let anon = try await keys.sign(TokenClaims(role: "anon", issuedAt: now, expiresAt: expiry))
        let service = try await keys.sign(TokenClaims(role: "service_role", issuedAt: now, expiresAt: expiry))
        return APIKeys(anon: anon, serviceRole: service)
    }

    /// Signs `claims`.
    public func sign(_ claims: TokenClaims) async throws -> String {
        try await keys.sign(claims)
    }

    /// The claims of `token` when its signature is ours and it has not expired.
    public func verify(_ token: String) async throws(TokenError) -> TokenClaims {
        do {
            return try await keys.verify(token, as: TokenClaims.self)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw .expired
        } catch {
            throw .invalid
        }
    }
}

/// The pair of API keys a deployment hands to its clients.
public struct APIKeys: Sendable, Codable, Equatable {
    public var anon: String
    public var serviceRole: String

    enum CodingKeys: String, CodingKey {
        case anon
        case serviceRole = "service_role"
    }
}

/// Why a token was refused.
public struct TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code { case invalid, expired, secretTooShort }
    private let code: Code

    /// Signature, format or claims are wrong.
    public static let invalid = TokenError(code: .invalid)
    /// The token was ours but has expired.
    public static let expired = TokenError(code: .expired)
    /// The signing secret is shorter than ``TokenIssuer/minimumSecretBytes``.
    public static let secretTooShort = TokenError(code: .secretTooShort)

    public var description: String {
        switch code {
        case .invalid: "invalid JWT: unable to parse or verify signature"
        case .expired: "JWT expired"
        case .secretTooShort: "the JWT secret must be at least \(TokenIssuer.minimumSecretBytes) bytes"
        }
    }
}
