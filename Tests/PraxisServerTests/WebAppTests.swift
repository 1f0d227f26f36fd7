import Foundation
import Testing

@testable import PraxisServer

/// The embedded web client as the server serves it: the page on its routes, assets, the
/// configuration, caching and security headers.
@Suite("Web client")
struct WebAppTests {
    static func get(_ port: Int, _ path: String, headers: String = "") async throws -> String {
        try await PraxisApplicationTests.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\(headers)Connection: close\r\n\r\n")
    }

    static func header(_ name: String, in response: String) -> String? {
        let head = response.components(separatedBy: "\r\n\r\n").first ?? ""
        for line in head.components(separatedBy: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    @Test func pageRoutesAnswerTheIndexWithHeaders() async throws {
        try await PraxisApplicationTests.withServer { app in
            var tags: Set<String> = []
            for path in ["/", "/progress", "/account", "/rooms/7f0c0000-0000-4000-8000-000000000000", "/join/r-abc"] {
                let response = try await Self.get(app.port, path)
                #expect(response.hasPrefix("HTTP/1.1 200"), "\(path)")
                #expect(Self.header("Content-Type", in: response) == "text/html; charset=utf-8")
                #expect(Self.header("X-Content-Type-Options", in: response) == "nosniff")
                #expect(Self.header("Cache-Control", in: response) == "no-cache")
                let csp = try #require(Self.header("Content-Security-Policy", in: response))
                #expect(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"))
                #expect(csp.contains("connect-src 'self' ws://127.0.0.1:\(app.port) wss://127.0.0.1:\(app.port)"))
                #expect(response.contains(#"<script type="module" src="/assets/app.js"></script>"#))
                tags.insert(try #require(Self.header("ETag", in: response)))
            }
            #expect(tags.count == 1)
            let tag = try #require(tags.first)
            let cached = try await Self.get(app.port, "/", headers: "If-None-Match: \(tag)\r\n")
            #expect(cached.hasPrefix("HTTP/1.1 304"))
            #expect(cached.hasSuffix("\r\n\r\n"))
            let stale = try await Self.get(app.port, "/", headers: "If-None-Match: \"other\"\r\n")
            #expect(stale.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func assetsHaveTheirContentTypesAndUnknownOnesAre404() async throws {
        try await PraxisApplicationTests.withServer { app in
            let script = try await Self.get(app.port, "/assets/realtime.js")
            #expect(script.hasPrefix("HTTP/1.1 200"))
            #expect(Self.header("Content-Type", in: script) == "text/javascript; charset=utf-8")
            #expect(script.contains("export class Socket"))
            let style = try await Self.get(app.port, "/assets/style.css")
            #expect(Self.header("Content-Type", in: style) == "text/css; charset=utf-8")
            let missing = try await Self.get(app.port, "/assets/../Package.swift")
            #expect(missing.hasPrefix("HTTP/1.1 404"))
            let nope = try await Self.get(app.port, "/assets/nope.js")
            #expect(nope.hasPrefix("HTTP/1.1 404") && nope.contains("PGRST404"))
            // A hostile Host header does not reach the policy.
            let odd = try await PraxisApplicationTests.exchange(
                port: app.port, "GET / HTTP/1.1\r\nHost: x; script-src *\r\nConnection: close\r\n\r\n")
            #expect(Self.header("Content-Security-Policy", in: odd)?.contains("connect-src 'self';") == true)
        }
    }

    @Test func configCarriesTheDatabasesAnonKey() async throws {
        try await PraxisApplicationTests.withServer { app in
            let response = try await Self.get(app.port, "/config.json")
            #expect(response.hasPrefix("HTTP/1.1 200"))
            let body = try #require(response.components(separatedBy: "\r\n\r\n").last)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String])
            #expect(json["anon_key"] == app.apiKeys.anon)
            #expect(json["realtime_path"] == "/realtime/v1/websocket")
            #expect(json["rest_path"] == "/rest/v1" && json["auth_path"] == "/auth/v1")
        }
    }
}
