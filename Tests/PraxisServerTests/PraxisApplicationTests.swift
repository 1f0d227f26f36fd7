import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import PraxisServer

/// The whole server in-process on 127.0.0.1, port 0, with a real SQLite file, spoken to over
/// a real socket.
@Suite("PraxisApplication")
struct PraxisApplicationTests {
    /// Sends one raw HTTP/1.1 request (with `Connection: close`) and returns the whole
    /// response; a server that does not close within 10 s fails the test instead of hanging it.
    static func exchange(port: Int, _ request: String) async throws -> String {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await rawExchange(port: port, request) }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return nil
            }
            guard let first = try await group.next(), let response = first else {
                group.cancelAll()
                Issue.record("no complete response within 10 s")
                return ""
            }
            group.cancelAll()
            return response
        }
    }

    static func rawExchange(port: Int, _ request: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var response = ""
            for try await chunk in inbound {
                response += String(buffer: chunk)
            }
            return response
        }
    }

    static func withServer<T>(_ body: (PraxisApplication) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("praxis-app-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, databasePath: folder.appendingPathComponent("praxis.sqlite").path)
        configuration.api.passwordHashLogN = 10
        let application = try await PraxisApplication.start(configuration)
        do {
            let result = try await body(application)
            await application.shutdown()
            return result
        } catch {
            await application.shutdown()
            throw error
        }
    }

    @Test func servesHealthReadinessAndMetricsOnABoundPort() async throws {
        try await Self.withServer { app in
            #expect(app.port > 0)
            let health = try await Self.exchange(port: app.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(health.hasPrefix("HTTP/1.1 200"))
            #expect(health.hasSuffix(#"{"status":"ok"}"#))
            let ready = try await Self.exchange(port: app.port, "GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(ready.hasPrefix("HTTP/1.1 200") && ready.contains(#""database":"ok""#))
            let metrics = try await Self.exchange(port: app.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(metrics.contains("praxis_http_requests_total{method=\"GET\",status=\"200\"}"))
        }
    }

    @Test func unknownPathsAndMethodsGetJSONErrors() async throws {
        try await Self.withServer { app in
            let missing = try await Self.exchange(port: app.port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(missing.hasPrefix("HTTP/1.1 404") && missing.contains(#""code":"PGRST404""#))
            let method = try await Self.exchange(port: app.port, "DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(method.hasPrefix("HTTP/1.1 405") && method.contains("Allow: GET, HEAD"))
        }
    }

    @Test func oversizedBodiesGet413AndTheServerStaysUp() async throws {
        try await Self.withServer { app in
            // The declared length alone is refused, before any body is read.
            let response = try await Self.exchange(
                port: app.port,
                "POST /rest/v1/profiles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \((1 << 20) + 1)\r\nConnection: close\r\n\r\n"
            )
            #expect(response.hasPrefix("HTTP/1.1 413"))
            let health = try await Self.exchange(port: app.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(health.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func webSocketUpgradeRulesAreEnforcedOnTheRealtimePath() async throws {
        try await Self.withServer { app in
            let key = "dGhlIHNhbXBsZSBub25jZQ=="
            let wrongVersion = try await Self.exchange(
                port: app.port,
                "GET /realtime/v1/websocket?apikey=\(app.apiKeys.anon) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 8\r\n\r\n"
            )
            #expect(wrongVersion.hasPrefix("HTTP/1.1 426") && wrongVersion.contains("Sec-WebSocket-Version: 13"))
            let noKey = try await Self.exchange(
                port: app.port,
                "GET /realtime/v1/websocket?apikey=x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            #expect(noKey.hasPrefix("HTTP/1.1 401"))
        }
    }
}
