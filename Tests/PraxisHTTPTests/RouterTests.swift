import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import PraxisHTTP

/// `Router`: exact and prefix routes, method checks (405 with `Allow`), HEAD as GET, 404.
@Suite("HTTP router")
struct RouterTests {
    /// A handler that answers with its own name, so a test sees which route ran.
    static func named(_ name: String) -> Router.Handler {
        { _ in .json(.ok, bytes: Array(#"{"route":"\#(name)"}"#.utf8)) }
    }

    static let router: Router = {
        var router = Router()
        router.add([.GET], "/", handler: named("root"))
        router.add([.GET], "/health", handler: named("health"))
        router.add([.POST], "/health", handler: named("health-post"))
        router.add(nil, "/rest/v1/", handler: named("rest"))
        router.add([.GET, .PUT], "/auth/v1/user", handler: named("user"))
        router.add([.DELETE], "/auth/v1/", handler: named("auth-prefix"))
        return router
    }()

    static func respond(_ method: HTTPMethod, _ uri: String) async -> HTTPResponse {
        await router.respond(to: HTTPRequest(method: method, uri: uri, headers: [:]))
    }

    /// The body's string fields (null ones left out).
    static func json(_ response: HTTPResponse) throws -> [String: String] {
        try JSONDecoder().decode([String: String?].self, from: Data(response.body.readableBytesView)).compactMapValues { $0 }
    }

    @Test func exactRoutesMatchOnlyTheirPathAndTheQueryIsIgnored() async throws {
        #expect(try Self.json(await Self.respond(.GET, "/health"))["route"] == "health")
        #expect(try Self.json(await Self.respond(.GET, "/health?verbose=1"))["route"] == "health")
        #expect(try Self.json(await Self.respond(.POST, "/health"))["route"] == "health-post")
        #expect(try Self.json(await Self.respond(.GET, "/"))["route"] == "root")
        for path in ["/healthz", "/health/", "/nothing", "//"] {
            let response = await Self.respond(.GET, path)
            #expect(response.status == .notFound, "\(path)")
            let body = try Self.json(response)
            #expect(body["code"] == "PGRST404" && body["message"] == "no route for \(path)", "\(path)")
        }
    }

    /// A prefix route (ending in `/`) takes everything below it, with any method when it
    /// names none; `/` itself is exact, not a prefix of everything.
    @Test func prefixRoutesTakeEverythingBelowThem() async throws {
        for method in [HTTPMethod.GET, .POST, .PATCH, .DELETE] {
            #expect(try Self.json(await Self.respond(method, "/rest/v1/profiles?select=*"))["route"] == "rest")
        }
        #expect(try Self.json(await Self.respond(.GET, "/rest/v1/"))["route"] == "rest")
        #expect(await Self.respond(.GET, "/rest/v1").status == .notFound)
        #expect(await Self.respond(.GET, "/rest/v2/profiles").status == .notFound)
        // The path is percent-decoded before matching.
        #expect(try Self.json(await Self.respond(.GET, "/rest/v1/%70rofiles"))["route"] == "rest")
    }

    @Test func theFirstRouteWhoseMethodMatchesWins() async throws {
        #expect(try Self.json(await Self.respond(.GET, "/auth/v1/user"))["route"] == "user")
        #expect(try Self.json(await Self.respond(.DELETE, "/auth/v1/user"))["route"] == "auth-prefix")
        #expect(try Self.json(await Self.respond(.DELETE, "/auth/v1/logout"))["route"] == "auth-prefix")
    }

    @Test func aWrongMethodGets405WithTheAllowedOnes() async throws {
        let response = await Self.respond(.PATCH, "/auth/v1/user")
        #expect(response.status == .methodNotAllowed)
        #expect(try Self.json(response)["code"] == "PGRST405")
        #expect(try Self.json(response)["message"] == "PATCH is not allowed on /auth/v1/user")
        // Every route on the path contributes; GET brings HEAD.
        #expect(response.headers["Allow"] == ["GET, PUT, DELETE, HEAD"])
        let post = await Self.respond(.PUT, "/health")
        #expect(post.status == .methodNotAllowed)
        #expect(post.headers["Allow"] == ["GET, POST, HEAD"])
        let noGet = await Self.respond(.GET, "/auth/v1/logout")
        #expect(noGet.headers["Allow"] == ["DELETE"])
    }

    @Test func headIsAnsweredByTheGetRoute() async throws {
        #expect(try Self.json(await Self.respond(.HEAD, "/health"))["route"] == "health")
        #expect(try Self.json(await Self.respond(.HEAD, "/"))["route"] == "root")
    }
}
