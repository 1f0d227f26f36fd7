public import Foundation
import JWTKit
import Crypto
import Synchronization

/// Signs and verifies the server's HS256 JWTs with the database's secret.
public final class TokenIssuer: Sendable {
    private let keys: JWTKeyCollection
    private let hmacKey: SymmetricKey
    /// Where the auth side says that sessions ended; token holders (realtime channels) listen.
    public let sessionEvents = SessionEvents()
    /// Tokens that passed every check but expiry, with their claims: a token's signature,
    /// header and claims are checked once (HMAC, base64, JSON), then only its expiry
    /// (the secret cannot change under an issuer). Emptied when it reaches
    /// `verifiedTokenLimit` entries.
    private let verified = Mutex<[String: TokenClaims]>([:])
    /// Most tokens `verified` keeps (a token is a few hundred bytes). Default 1024.
    public let verifiedTokenLimit: Int

    /// Shortest accepted secret, in bytes (HS256 wants a key at least as long as its hash).
    public static let minimumSecretBytes = 32

    /// - Parameter secret: the HMAC secret (kept in the database unless given by flag),
    ///   at least ``minimumSecretBytes`` bytes.
    /// - Parameter verifiedTokenLimit: most verified tokens remembered (0: none).
    public init(secret: String, verifiedTokenLimit: Int = 1024) async throws(TokenError) {
        self.verifiedTokenLimit = max(0, verifiedTokenLimit)
        guard secret.utf8.count >= Self.minimumSecretBytes else { throw .secretTooShort }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
        self.hmacKey = SymmetricKey(data: Data(secret.utf8))
    }

    /// The API keys clients send as `apikey`: `anon` for visitors, `service_role` for
    /// trusted back ends (bypasses the access rules). Valid for ten years.
    public func apiKeys(now: Date = Date()) async throws -> APIKeys {
        let expiry = now.addingTimeInterval(10 * 365 * 24 * 3600)
        let anon = try await keys.sign(TokenClaims(role: "anon", issuedAt: now, expiresAt: expiry))
        let service = try await keys.sign(TokenClaims(role: "service_role", issuedAt: now, expiresAt: expiry))
        return APIKeys(anon: anon, serviceRole: service)
    }

    /// The one token verifier, for HTTP and realtime alike (synchronous: no actor hop, so
    /// hot paths on an event loop may call it).
    ///
    /// A token passes only when its header says exactly `alg: HS256` (and `typ`, when given,
    /// is `JWT`), its HMAC-SHA256 signature is ours, its claims decode (`iss` = `praxis`,
    /// `role`, `iat`, `exp`), it has not expired, and its role is one Praxis issues:
    /// `anon` and `service_role` (the API keys) or `authenticated`, which must carry a
    /// `sub` and the `session_id` of its login session (whether that session is still open
    /// is the store's to say).
    public func verifyNow(_ token: String, now: Date = Date()) throws(TokenError) -> TokenClaims {
        if let claims = verified.withLock({ $0[token] }) {
            guard now.timeIntervalSince1970 < TimeInterval(claims.exp) else { throw .expired }
            return claims
        }
        let claims = try verifyUncached(token, now: now)
        if verifiedTokenLimit > 0 {
            verified.withLock { tokens in
                if tokens.count >= verifiedTokenLimit { tokens.removeAll(keepingCapacity: true) }
                tokens[token] = claims
            }
        }
        return claims
    }

    /// Every check of ``verifyNow(_:now:)``, without the remembered tokens.
    func verifyUncached(_ token: String, now: Date) throws(TokenError) -> TokenClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerData = Self.base64URLDecode(parts[0]),
            let header = try? JSONDecoder().decode([String: String].self, from: headerData), header["alg"] == "HS256",
            header["typ"] == nil || header["typ"] == "JWT",
            let signature = Self.base64URLDecode(parts[2]),
            HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data((parts[0] + "." + parts[1]).utf8), using: hmacKey),
            let payload = Self.base64URLDecode(parts[1]),
            let claims = try? JSONDecoder().decode(TokenClaims.self, from: payload)
        else { throw .invalid }
        guard now.timeIntervalSince1970 < TimeInterval(claims.exp) else { throw .expired }
        guard claims.iss == "praxis" else { throw .invalid }
        switch claims.role {
        case "anon", "service_role":
            guard claims.sub == nil else { throw .invalid }
        case "authenticated":
            guard let sub = claims.sub, !sub.isEmpty, let session = claims.session_id, !session.isEmpty else { throw .invalid }
        default:
            throw .invalid
        }
        return claims
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64)
    }

    /// Signs `claims`.
    public func sign(_ claims: TokenClaims) async throws -> String {
        try await keys.sign(claims)
    }

    /// The claims of `token` under the rules of ``verifyNow(_:now:)`` (the same verifier).
    public func verify(_ token: String) async throws(TokenError) -> TokenClaims {
        try verifyNow(token)
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
