import Crypto
import Foundation
import NIOHTTP1
package import PraxisAuth
import PraxisDomain
import PraxisProtocol
package import PraxisStore
package import Logging

/// A GoTrue-compatible subset under `/auth/v1`: sign up, sign in with a password,
/// refresh (with rotation), the current user, sign out, email verification.
///
/// Passwords are hashed with scrypt on NIO's blocking pool. Failed sign-ins are
/// rate-limited per email and per client IP.
package struct AuthAPI: Sendable {
    let store: any AuthStore
    let tokens: TokenIssuer
    let configuration: APIConfiguration
    let hasher: PasswordHasher
    let authenticator: RequestAuthenticator
    let failuresByEmail: RateLimiter
    let failuresByIP: RateLimiter
    let logger: Logger

    package init(store: any AuthStore, tokens: TokenIssuer, configuration: APIConfiguration, logger: Logger) {
        self.store = store
        self.tokens = tokens
        self.configuration = configuration
        self.hasher = PasswordHasher(logN: configuration.passwordHashLogN)
        self.authenticator = RequestAuthenticator(tokens: tokens, store: store)
        self.failuresByEmail = RateLimiter(limit: configuration.maxFailedLoginsPerEmail)
        self.failuresByIP = RateLimiter(limit: configuration.maxFailedLoginsPerIP)
        self.logger = logger
    }

    /// Adds the auth routes.
    package func register(in router: inout Router) {
        router.add(nil, "/auth/v1/") { request in await self.respond(to: request) }
    }

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        let route = String(request.path.dropFirst("/auth/v1".count))
        do {
            if route == "/health" || route == "/settings" {
                return health(route)
            }
            // Every call carries a valid API key, as behind Supabase's gateway.
            let apiKeyIdentity = try await apiKeyIdentity(request)
            switch (request.method, route) {
            case (.POST, "/signup"): return try await signUp(request)
            case (.POST, "/token"): return try await token(request)
            case (.GET, "/user"): return try await currentUser(request)
            case (.PUT, "/user"): return try await updateUser(request)
            case (.POST, "/logout"): return try await logout(request)
            case (.POST, "/verify"): return try await verify(request)
            default:
                _ = apiKeyIdentity
                throw AuthError(.notFound, "not_found", "no auth endpoint \(request.method) \(route)")
            }
        } catch let error as AuthError {
            return error.response
        } catch {
            logger.error("auth request failed", metadata: ["error": "\(error)"])
            return AuthError(.internalServerError, "unexpected_failure", "the request could not be completed").response
        }
    }

    // MARK: Endpoints

    private func signUp(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try Self.jsonObject(request)
        let email = try Self.email(body["email"])
        let password = try password(body["password"])
        var metadata: [String: JSONValue] = [:]
        if case .object(let data) = body["data"] ?? .null { metadata = data }
        guard StoredText.isStorable(.object(metadata)) else {
            throw AuthError(.badRequest, "validation_failed", "data: \(StoredText.refusal)")
        }
        let fullName = metadata["full_name"].flatMap { if case .string(let text) = $0 { text } else { nil } }
        let profession = metadata["profession"].flatMap { if case .string(let text) = $0 { text } else { nil } }
        let hasher = self.hasher
        let hash = try await offload { try hasher.hash(password) }
        let refresh = Self.randomToken()
        let verification = Self.randomToken()
        let expiry = Timestamp.format(Date().addingTimeInterval(24 * 3600))
        guard let (user, sessionID) = try await store.createUser(
            email: email, hashedPassword: hash, fullName: fullName.map { String($0.prefix(255)) },
            profession: profession.map { String($0.prefix(50)) }, metadata: .object(metadata),
            refreshTokenHash: Self.digest(refresh), verificationTokenHash: Self.digest(verification), verificationExpiry: expiry
        ) else {
            throw AuthError(.unprocessableEntity, "user_already_exists", "User already registered")
        }
        // No mail server: the verification token is logged for the operator to pass on.
        logger.notice("email verification token issued", metadata: ["user_id": "\(user.id)", "email": "\(user.email)", "token": "\(verification)"])
        return try await session(user: user, sessionID: sessionID, refreshToken: refresh)
    }

    private func token(_ request: HTTPRequest) async throws -> HTTPResponse {
        switch request.query("grant_type") {
        case "password": return try await passwordGrant(request)
        case "refresh_token": return try await refreshGrant(request)
        default: throw AuthError(.badRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
        }
    }

    private func passwordGrant(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try Self.jsonObject(request)
        let email = try Self.email(body["email"])
        guard case .string(let password) = body["password"] ?? .null, !password.isEmpty else {
            throw AuthError(.badRequest, "validation_failed", "password is required")
        }
        let emailKey = email.lowercased()
        let ipKey = request.remoteIP ?? "unknown"
        if let wait = failuresByEmail.retryAfter(emailKey) ?? failuresByIP.retryAfter(ipKey) {
            throw AuthError(.tooManyRequests, "over_request_rate_limit", "Too many failed sign-in attempts; try again in \(wait) seconds", retryAfter: wait)
        }
        let user = try await store.user(email: email)
        let hasher = self.hasher
        // Hash even for unknown emails, so timing does not reveal which accounts exist.
        let stored = user?.hashedPassword ?? "$scrypt$ln=\(hasher.logN),r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        let matches = try await offload { hasher.verify(password, against: stored) }
        guard let user, matches, user.isActive else {
            failuresByEmail.record(emailKey)
            failuresByIP.record(ipKey)
            throw AuthError(.badRequest, "invalid_credentials", "Invalid login credentials")
        }
        failuresByEmail.reset(emailKey)
        let refresh = Self.randomToken()
        let (signedIn, sessionID) = try await store.signIn(userID: user.id, refreshTokenHash: Self.digest(refresh))
        return try await session(user: signedIn, sessionID: sessionID, refreshToken: refresh)
    }

    private func refreshGrant(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try Self.jsonObject(request)
        guard case .string(let old) = body["refresh_token"] ?? .null, !old.isEmpty else {
            throw AuthError(.badRequest, "validation_failed", "refresh_token is required")
        }
        let next = Self.randomToken()
        switch try await store.rotateRefreshToken(oldHash: Self.digest(old), newHash: Self.digest(next)) {
        case .rotated(let user, let sessionID):
            return try await session(user: user, sessionID: sessionID, refreshToken: next)
        case .reused(let userID):
            // The session is ended: its open channels close now, not when their tokens expire.
            if let userID { tokens.sessionEvents.sessionsEnded(userID: userID) }
            throw AuthError(.badRequest, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
        case .unknown:
            throw AuthError(.badRequest, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
        }
    }

    private func currentUser(_ request: HTTPRequest) async throws -> HTTPResponse {
        let (user, _) = try await signedInUser(request)
        return .jsonObject(.ok, Self.userObject(user))
    }

    private func updateUser(_ request: HTTPRequest) async throws -> HTTPResponse {
        let (user, _) = try await signedInUser(request)
        let body = try Self.jsonObject(request)
        var email: String?
        if let value = body["email"], value != .null {
            let requested = try Self.email(value)
            if requested.lowercased() != user.email.lowercased() { email = requested }
        }
        var hash: String?
        if let value = body["password"], value != .null {
            let password = try password(value)
            let hasher = self.hasher
            hash = try await offload { try hasher.hash(password) }
        }
        var metadata: JSONValue?
        if case .object(let data) = body["data"] ?? .null {
            guard StoredText.isStorable(.object(data)) else {
                throw AuthError(.badRequest, "validation_failed", "data: \(StoredText.refusal)")
            }
            var merged: [String: JSONValue] = [:]
            if case .object(let existing) = user.metadata { merged = existing }
            for (key, value) in data { merged[key] = value }
            metadata = .object(merged)
        }
        guard let updated = try await store.updateUser(id: user.id, email: email, hashedPassword: hash, metadata: metadata) else {
            throw AuthError(.unprocessableEntity, "email_exists", "A user with this email address has already been registered")
        }
        if email != nil {
            let verification = Self.randomToken()
            try await store.addVerification(userID: user.id, tokenHash: Self.digest(verification), expiry: Timestamp.format(Date().addingTimeInterval(24 * 3600)))
            logger.notice("email verification token issued", metadata: ["user_id": "\(user.id)", "email": "\(updated.email)", "token": "\(verification)"])
        }
        return .jsonObject(.ok, Self.userObject(updated))
    }

    private func logout(_ request: HTTPRequest) async throws -> HTTPResponse {
        let (user, sessionID) = try await signedInUser(request)
        let scope = request.query("scope") ?? "local"
        guard ["local", "global", "others"].contains(scope) else {
            throw AuthError(.badRequest, "validation_failed", "scope must be local, global or others")
        }
        try await store.endSessions(userID: user.id, sessionID: sessionID, scope: scope)
        tokens.sessionEvents.sessionsEnded(userID: user.id)
        return .empty(.noContent)
    }

    private func verify(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try Self.jsonObject(request)
        let token: String
        if case .string(let text) = body["token"] ?? .null, !text.isEmpty {
            token = text
        } else if case .string(let text) = body["token_hash"] ?? .null, !text.isEmpty {
            token = text
        } else {
            throw AuthError(.badRequest, "validation_failed", "token is required")
        }
        guard let user = try await store.consumeVerification(tokenHash: Self.digest(token)) else {
            throw AuthError(.forbidden, "otp_expired", "Token has expired or is invalid")
        }
        let refresh = Self.randomToken()
        let (signedIn, sessionID) = try await store.signIn(userID: user.id, refreshTokenHash: Self.digest(refresh))
        return try await session(user: signedIn, sessionID: sessionID, refreshToken: refresh)
    }

    private func health(_ route: String) -> HTTPResponse {
        if route == "/health" {
            return .jsonObject(.ok, ["name": "praxis-auth", "description": "GoTrue-compatible subset", "version": "1"])
        }
        return .jsonObject(.ok, [
            "external": ["email": true, "phone": false], "disable_signup": false, "mailer_autoconfirm": true,
            "phone_autoconfirm": false, "sms_provider": "",
        ] as [String: Any])
    }

    // MARK: Pieces

    private func apiKeyIdentity(_ request: HTTPRequest) async throws -> RequestAuthenticator.Identity {
        do {
            return try await authenticator.authenticate(request)
        } catch {
            throw AuthError(.unauthorized, "no_authorization", error.message)
        }
    }

    /// The user a bearer user token belongs to (401/403 otherwise).
    private func signedInUser(_ request: HTTPRequest) async throws -> (UserRecord, String?) {
        let identity = try await apiKeyIdentity(request)
        guard let user = identity.user else {
            throw AuthError(.unauthorized, "no_authorization", "This endpoint requires a Bearer token of a signed-in user")
        }
        return (user, identity.sessionID)
    }

    private func session(user: UserRecord, sessionID: String, refreshToken: String) async throws -> HTTPResponse {
        let now = Date()
        let expiry = now.addingTimeInterval(TimeInterval(configuration.accessTokenLifetime))
        let access = try await tokens.sign(
            TokenClaims(role: "authenticated", sub: user.id, aud: "authenticated", email: user.email, sessionID: sessionID, issuedAt: now, expiresAt: expiry)
        )
        return .jsonObject(.ok, [
            "access_token": access,
            "token_type": "bearer",
            "expires_in": configuration.accessTokenLifetime,
            "expires_at": Int(expiry.timeIntervalSince1970),
            "refresh_token": refreshToken,
            "user": Self.userObject(user),
        ] as [String: Any])
    }

    /// A user as GoTrue presents one.
    static func userObject(_ user: UserRecord) -> [String: Any] {
        var metadata: Any = [String: Any]()
        if let data = try? JSONEncoder().encode(user.metadata), let object = try? JSONSerialization.jsonObject(with: data) {
            metadata = object
        }
        let null = NSNull()
        return [
            "id": user.id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": user.email,
            "phone": "",
            "email_confirmed_at": user.emailConfirmedAt ?? null,
            "confirmed_at": user.emailConfirmedAt ?? null,
            "last_sign_in_at": user.lastLoginAt ?? null,
            "app_metadata": ["provider": "email", "providers": ["email"], "praxis_role": user.role, "profession": user.profession ?? null] as [String: Any],
            "user_metadata": metadata,
            "identities": [Any](),
            "created_at": user.createdAt,
            "updated_at": user.updatedAt,
            "is_anonymous": false,
        ]
    }

    private static func jsonObject(_ request: HTTPRequest) throws -> [String: JSONValue] {
        let bytes = request.bodyBytes
        guard !bytes.isEmpty else { return [:] }
        guard StrictJSON.isValid(bytes), case .object(let object) = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else {
            throw AuthError(.badRequest, "bad_json", "the request body must be a JSON object")
        }
        return object
    }

    private static func email(_ value: JSONValue?) throws -> String {
        guard case .string(let raw) = value ?? .null else {
            throw AuthError(.badRequest, "validation_failed", "email is required")
        }
        let email = raw.trimmingCharacters(in: .whitespaces)
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.count <= 255, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !email.contains(where: { $0.isWhitespace }),
            StoredText.isStorable(email)
        else {
            throw AuthError(.badRequest, "validation_failed", "Unable to validate email address: invalid format")
        }
        return email
    }

    private func password(_ value: JSONValue?) throws -> String {
        guard case .string(let password) = value ?? .null else {
            throw AuthError(.badRequest, "validation_failed", "password is required")
        }
        guard password.count >= configuration.minimumPasswordLength else {
            throw AuthError(
                .unprocessableEntity, "weak_password", "Password should be at least \(configuration.minimumPasswordLength) characters.",
                weakPasswordReasons: ["length"]
            )
        }
        guard password.utf8.count <= 1024 else {
            throw AuthError(.badRequest, "validation_failed", "password is longer than 1024 bytes")
        }
        return password
    }

    /// 32 random bytes, base64url without padding.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Tokens are stored as SHA-256 digests: a stolen database does not hold usable tokens.
    static func digest(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// An auth API error, shaped as GoTrue's: `{code, error_code, msg}`.
struct AuthError: Error {
    var status: HTTPResponseStatus
    var errorCode: String
    var message: String
    var retryAfter: Int?
    var weakPasswordReasons: [String]?

    init(_ status: HTTPResponseStatus, _ errorCode: String, _ message: String, retryAfter: Int? = nil, weakPasswordReasons: [String]? = nil) {
        self.status = status
        self.errorCode = errorCode
        self.message = message
        self.retryAfter = retryAfter
        self.weakPasswordReasons = weakPasswordReasons
    }

    var response: HTTPResponse {
        var body: [String: Any] = ["code": Int(status.code), "error_code": errorCode, "msg": message]
        if let weakPasswordReasons { body["weak_password"] = ["reasons": weakPasswordReasons] }
        var headers = HTTPHeaders()
        if let retryAfter { headers.add(name: "Retry-After", value: String(retryAfter)) }
        return .jsonObject(status, body, headers: headers)
    }
}
