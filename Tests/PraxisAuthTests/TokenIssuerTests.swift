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
