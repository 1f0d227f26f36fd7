import NIOHTTP1
import PraxisDomain

/// Set-up steps the benchmarks share.
enum BenchSetup {
    /// Signs a user up (`key` as the apikey); returns its id and access token.
    static func signUp(_ http: BenchHTTPConnection, key: String, email: String, password: String) async throws -> (id: String, token: String) {
        let answer = try await http.request(
            method: .POST, uri: "/auth/v1/signup", headers: [("apikey", key)],
            body: #"{"email":"\#(email)","password":"\#(password)","data":{"full_name":"Bench User"}}"#
        )
        guard answer.status == 200, let object = try? JSONValue.parse(answer.bodyText),
            let token = object["access_token"]?.stringValue, let id = object.value(atPath: "user.id")?.stringValue
        else { throw BenchError(description: "sign-up failed: \(answer.summary)") }
        return (id, token)
    }
}
