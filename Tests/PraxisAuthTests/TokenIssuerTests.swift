import Crypto
import Foundation
import Testing

@testable import PraxisAuth

@Suite("TokenIssuer")
struct TokenIssuerTests {
    @Test func apiKeysCarryTheirRoles() async throws {
        let issuer = try await TokenIssuer(secret: "secret-one-that-is-long-enough-for-hs256")
        let keys = try await issuer.apiKeys()
        #expect(try await issuer.verify(keys.anon).role == "anon")
        #expect(try await issuer.verify(keys.serviceRole).role == "service_role")
    }

    @Test func anotherSecretIsRefused() async throws {
        let keys = try try await TokenIssuer(secret: "secret-one-that-is-long-enough-for-hs256").apiKeys()
        let other = try await TokenIssuer(secret: "secret-two-that-is-long-enough-for-hs256")
        await #expect(throws: TokenError.invalid) { try await other.verify(keys.anon) }
        await #expect(throws: TokenError.invalid) { try await other.verify("not.a.jwt") }
    }

    @Test func synchronousVerificationAgreesWithTheAsyncOne() async throws {
        let issuer = try await TokenIssuer(secret: "secret-one-that-is-long-enough-for-hs256")
        let keys = try await issuer.apiKeys()
        #expect(try issuer.verifyNow(keys.serviceRole).role == "service_role")
        let other = try await TokenIssuer(secret: "secret-two-that-is-long-enough-for-hs256")
        #expect(throws: TokenError.invalid) { try other.verifyNow(keys.anon) }
        #expect(throws: TokenError.invalid) { try issuer.verifyNow("a.b") }
        let past = Date().addingTimeInterval(-7200)
        let expired = try await issuer.sign(TokenClaims(role: "authenticated", sub: "u", issuedAt: past, expiresAt: past.addingTimeInterval(60)))
        #expect(throws: TokenError.expired) { try issuer.verifyNow(expired) }
    }

    /// A token verified once is remembered, but its expiry is still checked at every use,
    /// and another issuer (another secret) never sees it.
    @Test func aRememberedTokenStillExpires() async throws {
        let issuer = try await TokenIssuer(secret: "secret-one-that-is-long-enough-for-hs256", verifiedTokenLimit: 2)
        let now = Date()
        let token = try await issuer.sign(TokenClaims(role: "authenticated", sub: "u", sessionID: "s", issuedAt: now, expiresAt: now.addingTimeInterval(60)))
        #expect(try issuer.verifyNow(token, now: now).sub == "u")
        #expect(try issuer.verifyNow(token, now: now.addingTimeInterval(30)).sub == "u")
        #expect(throws: TokenError.expired) { try issuer.verifyNow(token, now: now.addingTimeInterval(61)) }
        let other = try await TokenIssuer(secret: "secret-two-that-is-long-enough-for-hs256")
        #expect(throws: TokenError.invalid) { try other.verifyNow(token, now: now) }
        // Past the limit the memory starts over; every token still verifies.
        let keys = try await issuer.apiKeys()
        for key in [keys.anon, keys.serviceRole, token, keys.anon] { _ = try issuer.verifyNow(key, now: now) }
        #expect(throws: TokenError.invalid) { try issuer.verifyNow(String(token.dropLast(2)) + "AA", now: now) }
    }

    /// A token signed like ours, with this header and these claims.
    static func forge(header: String, claims: String, secret: String) -> String {
        func b64(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let signing = b64(Data(header.utf8)) + "." + b64(Data(claims.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signing.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return signing + "." + b64(Data(mac))
    }

    /// One verifier for HTTP (`verify`) and realtime (`verifyNow`): the header must say exactly
    /// HS256, and a user token must carry its session.
    @Test func theHeaderAndTheSessionAreChecked() async throws {
        let secret = "secret-one-that-is-long-enough-for-hs256"
        let issuer = try await TokenIssuer(secret: secret)
        let exp = Int(Date().timeIntervalSince1970) + 600
        let user = #"{"iss":"praxis","role":"authenticated","sub":"u1","aud":"authenticated","session_id":"s1","iat":1,"exp":\#(exp)}"#
        let honest = Self.forge(header: #"{"alg":"HS256","typ":"JWT"}"#, claims: user, secret: secret)
        #expect(try issuer.verifyNow(honest).session_id == "s1")
        #expect(try await issuer.verify(honest).sub == "u1")
        for header in [#"{"alg":"HS512","typ":"JWT"}"#, #"{"alg":"none"}"#, #"{"alg":"hs256"}"#, #"{"typ":"JWT"}"#, #"{"alg":"HS256","typ":"JWS"}"#] {
            let token = Self.forge(header: header, claims: user, secret: secret)
            #expect(throws: TokenError.invalid, "\(header)") { try issuer.verifyNow(token) }
            await #expect(throws: TokenError.invalid, "\(header)") { try await issuer.verify(token) }
        }
        let claimsRefused = [
            #"{"iss":"praxis","role":"authenticated","sub":"u1","iat":1,"exp":\#(exp)}"#,  // no session
            #"{"iss":"praxis","role":"authenticated","sub":"u1","session_id":"","iat":1,"exp":\#(exp)}"#,
            #"{"iss":"praxis","role":"authenticated","session_id":"s1","iat":1,"exp":\#(exp)}"#,  // no subject
            #"{"iss":"other","role":"authenticated","sub":"u1","session_id":"s1","iat":1,"exp":\#(exp)}"#,
            #"{"iss":"praxis","role":"supabase_admin","iat":1,"exp":\#(exp)}"#,
            #"{"iss":"praxis","role":"anon","sub":"u1","iat":1,"exp":\#(exp)}"#,  // a key is nobody's
        ]
        for claims in claimsRefused {
            let token = Self.forge(header: #"{"alg":"HS256","typ":"JWT"}"#, claims: claims, secret: secret)
            #expect(throws: TokenError.invalid, "\(claims)") { try issuer.verifyNow(token) }
            await #expect(throws: TokenError.invalid, "\(claims)") { try await issuer.verify(token) }
        }
    }

    @Test func shortSecretsAreRefused() async {
        await #expect(throws: TokenError.secretTooShort) { try await TokenIssuer(secret: "short") }
    }

    @Test func expiredTokensAreRefusedAsExpired() async throws {
        let issuer = try await TokenIssuer(secret: "secret-one-that-is-long-enough-for-hs256")
        let past = Date().addingTimeInterval(-7200)
        let token = try await issuer.sign(
            TokenClaims(role: "authenticated", sub: "u", aud: "authenticated", issuedAt: past, expiresAt: past.addingTimeInterval(3600))
        )
        await #expect(throws: TokenError.expired) { try await issuer.verify(token) }
    }
}
