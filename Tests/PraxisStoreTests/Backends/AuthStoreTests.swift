import Foundation
import PraxisDomain
import PraxisStore
import Testing

/// The auth and settings half of the store boundary, on every backend: one suite, run once
/// per ``StoreBackend``.
@Suite("Store boundary: auth and settings")
struct AuthStoreTests {
    /// Signs up `email` with refresh token `refresh` and verification token `verify`.
    static func signUp(_ store: any StoreBackend.Boundary, _ email: String, refresh: String = "r-\(UUID())", verify: String = "v-\(UUID())",
        expiry: String = Timestamp.format(Date().addingTimeInterval(3600))
    ) async throws -> (UserRecord, sessionID: String)? {
        try await store.createUser(
            email: email, hashedPassword: "hash", fullName: "Ann Lee", profession: "FY1", metadata: .object(["full_name": .string("Ann Lee")]),
            refreshTokenHash: refresh, verificationTokenHash: verify, verificationExpiry: expiry
        )
    }

    static func isTimestamp(_ text: String?) -> Bool {
        guard let text else { return false }
        return text.count == 27 && text.hasSuffix("Z") && Timestamp.parse(text) != nil
    }

    @Test(arguments: StoreBackend.available)
    func jwtSecretIsGeneratedOnceAndKept(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let first = try await store.signingSecret(provided: nil)
            #expect(Data(base64Encoded: first)?.count == 32)
            #expect(try await store.signingSecret(provided: nil) == first)
            #expect(try await store.signingSecret(provided: "") == first)
            #expect(try await store.signingSecret(provided: "given") == "given")
        }
    }

    @Test(arguments: StoreBackend.available)
    func signUpKeepsTheAccountAndRefusesTheEmailInAnyCase(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let made = try await Self.signUp(store, "Ann@Example.org")
            let (user, sessionID) = try #require(made)
            #expect(UUID(uuidString: user.id) != nil && user.id == user.id.lowercased())
            #expect(UUID(uuidString: sessionID) != nil && sessionID == sessionID.lowercased())
            #expect(user.email == "Ann@Example.org" && user.fullName == "Ann Lee" && user.profession == "FY1")
            #expect(user.role == "user" && user.status == "active" && !user.isEmailVerified && !user.isAdmin)
            #expect(user.metadata == .object(["full_name": .string("Ann Lee")]))
            #expect(Self.isTimestamp(user.createdAt) && Self.isTimestamp(user.updatedAt) && Self.isTimestamp(user.lastLoginAt))
            #expect(user.emailConfirmedAt == nil)
            #expect(try await Self.signUp(store, "ann@EXAMPLE.org") == nil)
            #expect(try await store.user(email: "ANN@example.ORG")?.id == user.id)
            #expect(try await store.user(id: user.id) == user)
            #expect(try await store.user(id: "not-a-uuid") == nil)
            #expect(try await store.user(id: UUID().uuidString.lowercased()) == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aSessionIsOpenUntilItsLogout(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let (user, first) = try #require(try await Self.signUp(store, "bo@example.org"))
            #expect(try await store.user(id: user.id, sessionID: first)?.sessionOpen == true)
            #expect(try await store.user(id: user.id, sessionID: nil)?.sessionOpen == false)
            #expect(try await store.user(id: user.id, sessionID: UUID().uuidString.lowercased())?.sessionOpen == false)
            let (signedIn, second) = try await store.signIn(userID: user.id, refreshTokenHash: "second")
            #expect(second != first && signedIn.id == user.id)
            try await store.endSessions(userID: user.id, sessionID: first, scope: "local")
            #expect(try await store.user(id: user.id, sessionID: first)?.sessionOpen == false)
            #expect(try await store.user(id: user.id, sessionID: second)?.sessionOpen == true)
        }
    }

    @Test(arguments: StoreBackend.available)
    func logoutScopesOthersAndGlobal(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let (user, first) = try #require(try await Self.signUp(store, "cy@example.org"))
            let (_, second) = try await store.signIn(userID: user.id, refreshTokenHash: "second")
            let (_, third) = try await store.signIn(userID: user.id, refreshTokenHash: "third")
            let (other, theirs) = try #require(try await Self.signUp(store, "di@example.org"))
            try await store.endSessions(userID: user.id, sessionID: first, scope: "others")
            #expect(try await store.user(id: user.id, sessionID: first)?.sessionOpen == true)
            #expect(try await store.user(id: user.id, sessionID: second)?.sessionOpen == false)
            #expect(try await store.user(id: user.id, sessionID: third)?.sessionOpen == false)
            #expect(try await store.rotateRefreshToken(oldHash: "second", newHash: "second-next") == .reused(userID: user.id))
            try await store.endSessions(userID: user.id, sessionID: first, scope: "global")
            #expect(try await store.user(id: user.id, sessionID: first)?.sessionOpen == false)
            #expect(try await store.user(id: other.id, sessionID: theirs)?.sessionOpen == true)
        }
    }

    @Test(arguments: StoreBackend.available)
    func refreshTokensRotateAndASecondUseEndsTheSession(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let (user, sessionID) = try #require(try await Self.signUp(store, "ed@example.org", refresh: "one"))
            #expect(try await store.rotateRefreshToken(oldHash: "nothing", newHash: "x") == .unknown)
            guard case .rotated(let rotated, let rotatedSession) = try await store.rotateRefreshToken(oldHash: "one", newHash: "two") else {
                Issue.record("the current token did not rotate")
                return
            }
            #expect(rotated.id == user.id && rotatedSession == sessionID)
            #expect(try await store.rotateRefreshToken(oldHash: "two", newHash: "three") == .rotated(user: rotated, sessionID: sessionID))
            // "one" again: a stolen copy. The session ends; its newest token is dead too.
            #expect(try await store.rotateRefreshToken(oldHash: "one", newHash: "four") == .reused(userID: user.id))
            #expect(try await store.user(id: user.id, sessionID: sessionID)?.sessionOpen == false)
            #expect(try await store.rotateRefreshToken(oldHash: "three", newHash: "five") == .reused(userID: user.id))
        }
    }

    @Test(arguments: StoreBackend.available)
    func oneTokenSpentTwiceAtOnceIsOneRotationAndOneReuse(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let (user, _) = try #require(try await Self.signUp(store, "fa@example.org", refresh: "shared"))
            let outcomes = try await withThrowingTaskGroup(of: RefreshOutcome.self) { group in
                for index in 0..<2 {
                    group.addTask { try await store.rotateRefreshToken(oldHash: "shared", newHash: "next-\(index)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let rotations = outcomes.filter { if case .rotated = $0 { true } else { false } }
            #expect(rotations.count == 1)
            #expect(outcomes.contains(.reused(userID: user.id)))
        }
    }

    @Test(arguments: StoreBackend.available)
    func updateUserChangesEmailPasswordAndMetadata(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let (user, _) = try #require(try await Self.signUp(store, "gu@example.org", verify: "gu-verify"))
            _ = try #require(try await Self.signUp(store, "taken@example.org"))
            #expect(try await store.consumeVerification(tokenHash: "gu-verify")?.isEmailVerified == true)
            #expect(try await store.updateUser(id: user.id, email: "TAKEN@example.org", hashedPassword: nil, metadata: nil) == nil)
            let metadata = JSONValue.object(["full_name": .string("Gus Ward"), "profession": .string("Nurse")])
            let changed = try #require(try await store.updateUser(id: user.id, email: "gus@example.org", hashedPassword: "new-hash", metadata: metadata))
            #expect(changed.email == "gus@example.org" && changed.hashedPassword == "new-hash")
            #expect(!changed.isEmailVerified && changed.emailConfirmedAt == nil)
            #expect(changed.metadata == metadata && changed.fullName == "Gus Ward" && changed.profession == "Nurse")
            #expect(try await store.user(email: "gu@example.org") == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aVerificationTokenWorksOnceAndNotAfterItsExpiry(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let (user, _) = try #require(try await Self.signUp(store, "hal@example.org", verify: "hal-1"))
            #expect(try await store.consumeVerification(tokenHash: "unknown") == nil)
            let verified = try #require(try await store.consumeVerification(tokenHash: "hal-1"))
            #expect(verified.id == user.id && verified.isEmailVerified && Self.isTimestamp(verified.emailConfirmedAt))
            #expect(try await store.consumeVerification(tokenHash: "hal-1") == nil)
            try await store.addVerification(userID: user.id, tokenHash: "hal-old", expiry: Timestamp.format(Date().addingTimeInterval(-60)))
            #expect(try await store.consumeVerification(tokenHash: "hal-old") == nil)
            try await store.addVerification(userID: user.id, tokenHash: "hal-2", expiry: Timestamp.format(Date().addingTimeInterval(60)))
            #expect(try await store.consumeVerification(tokenHash: "hal-2")?.id == user.id)
        }
    }
}
