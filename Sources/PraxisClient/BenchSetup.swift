import NIOCore
import NIOHTTP1
import PraxisDomain

/// Set-up steps the benchmarks share.
enum BenchSetup {
    /// A keep-alive connection to the server's HTTP API on `eventLoop`; `what` names the
    /// server in the error ("the data API").
    static func connect(_ configuration: BenchConfiguration, eventLoop: any EventLoop, what: String) async throws -> BenchHTTPConnection {
        let (host, port) = (configuration.target.host, configuration.target.port)
        do {
            return try await BenchHTTPConnection.connect(host: host, port: port, eventLoop: eventLoop)
        } catch {
            throw BenchError(description: "cannot reach \(what) at \(host):\(port): \(error)")
        }
    }

    /// The headers of a request made with the service key.
    static func serviceHeaders(_ key: String) -> [(String, String)] {
        [("apikey", key), ("Authorization", "Bearer \(key)"), ("Prefer", "return=minimal")]
    }

    /// Creates a `profiles` row for each of `users` (last name `lastName`) with the service
    /// key; `what` names them in the error ("the host's profile").
    static func createProfiles(_ http: BenchHTTPConnection, serviceKey: String, users: [String], lastName: String, what: String) async throws {
        let rows = users.map { #"{"user_id":"\#($0)","first_name":"Bench","last_name":"\#(lastName)","training_level":"Benchmark"}"# }
        let body = rows.count == 1 ? rows[0] : "[" + rows.joined(separator: ",") + "]"
        let answer = try await http.request(method: .POST, uri: "/rest/v1/profiles", headers: serviceHeaders(serviceKey), body: body)
        guard answer.status == 201 else { throw BenchError(description: "creating \(what) failed: \(answer.summary)") }
    }

    /// Signs a user up (`key` as the apikey); returns its id and access token.
    static func signUp(_ http: BenchHTTPConnection, key: String, email: String, password: String) async throws -> (id: String, token: String) {
        let answer = try await http.request(
            method: .POST, uri: "/auth/v1/signup", headers: [("apikey", key)],
            body: #"{"email":"\#(email)","password":"\#(password)","data":{"full_name":"Bench User"}}"#
        )
        guard answer.status == 200, let token = answer.json["access_token"]?.stringValue, let id = answer.json.value(atPath: "user.id")?.stringValue
        else { throw BenchError(description: "sign-up failed: \(answer.summary)") }
        return (id, token)
    }
}
