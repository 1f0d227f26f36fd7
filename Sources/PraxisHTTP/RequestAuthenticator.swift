package import PraxisAuth
package import PraxisDomain
import PraxisProtocol
package import PraxisStore

/// Who a request is from: the `apikey` (required) and the `Authorization: Bearer` token
/// (optional; the API key's role otherwise).
package struct RequestAuthenticator: Sendable {
    let tokens: TokenIssuer
    let store: any AuthStore

    package init(tokens: TokenIssuer, store: any AuthStore) {
        self.tokens = tokens
        self.store = store
    }

    /// The verified identity behind a request.
    package struct Identity: Sendable {
        package var caller: Caller
        /// The signed-in user, for user tokens.
        package var user: UserRecord?
        package var sessionID: String?
    }

    /// Why a request was not authenticated (always 401).
    package struct Failure: Error {
        package var code: String
        package var message: String
        package var hint: String?
    }

    package func authenticate(_ request: HTTPRequest) async throws(Failure) -> Identity {
        guard let apiKey = request.headers.first(name: "apikey") ?? request.query("apikey") else {
            throw Failure(code: "PGRST301", message: "No API key found in request", hint: "No `apikey` request header or url param was found.")
        }
        let keyClaims: TokenClaims
        do {
            keyClaims = try await tokens.verify(apiKey)
        } catch {
            throw Failure(code: "PGRST301", message: "Invalid API key", hint: "Double check the `apikey` header: use the anon or service_role key.")
        }
        guard keyClaims.role == "anon" || keyClaims.role == "service_role" || keyClaims.role == "authenticated" else {
            throw Failure(code: "PGRST301", message: "Invalid API key")
        }
        var token = apiKey
        if let authorization = request.headers.first(name: "authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw Failure(code: "PGRST301", message: "Authorization header must be 'Bearer <token>'")
            }
            token = String(parts[1]).trimmingSpaces()
        }
        return try await identity(forToken: token)
    }

    /// The identity a bearer token stands for.
    package func identity(forToken token: String) async throws(Failure) -> Identity {
        let claims: TokenClaims
        do {
            claims = try await tokens.verify(token)
        } catch {
            throw Failure(code: "PGRST301", message: error == .expired ? "JWT expired" : "invalid JWT: signature or format is wrong")
        }
        switch claims.role {
        case "anon":
            return Identity(caller: .anonymous)
        case "service_role":
            return Identity(caller: .service)
        case "authenticated":
            guard let subject = claims.sub else { throw Failure(code: "PGRST301", message: "JWT has no subject") }
            let found: (UserRecord, sessionOpen: Bool)?
            do {
                found = try await store.user(id: subject, sessionID: claims.session_id)
            } catch {
                throw Failure(code: "PGRST301", message: "cannot check the JWT's user right now")
            }
            guard let (user, open) = found, user.isActive else {
                throw Failure(code: "PGRST301", message: "the JWT's user does not exist or is disabled")
            }
            guard open else { throw Failure(code: "PGRST301", message: "the JWT's session has ended (signed out)") }
            return Identity(caller: .user(id: user.id, isAdmin: user.isAdmin), user: user, sessionID: claims.session_id)
        default:
            throw Failure(code: "PGRST301", message: "JWT role '\(claims.role)' is not known")
        }
    }
}
