import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import PraxisWebSocket

/// The 101 of the HTTP server's fast path against the one NIO's upgrade path writes for the
/// same request, and the reservation it makes.
@Suite("The WebSocket upgrade of the fast path")
struct WebSocketEndpointsFastUpgradeTests {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="

    func endpoints(compression: Bool = true, allowedOrigins: [String] = []) -> WebSocketEndpoints {
        var configuration = WebSocketConfiguration(compression: compression)
        configuration.allowedOrigins = allowedOrigins
        return WebSocketEndpoints(configuration: configuration, routes: ["/ws/echo": EchoApplication()])
    }

    func connectedChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4000)).wait()
        return channel
    }

    /// What NIO's HTTP pipeline with our upgrader writes for `request`.
    func nioAnswer(_ endpoints: WebSocketEndpoints, _ headers: [(String, String)]) throws -> String {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [endpoints.makeUpgrader()], completionHandler: { _ in }), withErrorHandling: false
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4000)).wait()
        let request = "GET /ws/echo HTTP/1.1\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
        try channel.writeInbound(ByteBuffer(string: request))
        channel.embeddedEventLoop.run()
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = data else { throw Unexpected() }
            text += String(buffer: buffer)
        }
        _ = try? channel.finish()
        return text
    }

    struct Unexpected: Error {}

    func fastAnswer(_ endpoints: WebSocketEndpoints, _ headers: [(String, String)]) throws -> String? {
        let channel = try connectedChannel()
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws/echo", headers: HTTPHeaders(headers))
        defer { _ = try? channel.finish() }
        return endpoints.fastUpgradeResponse(head: head, channel: channel).map { String(buffer: $0) }
    }

    static let plain = [
        ("Host", "127.0.0.1:4000"), ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]

    @Test("the same 101 bytes as NIO's upgrade path", arguments: [
        [],
        [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")],
        [("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_max_window_bits=10")],
        [("Sec-WebSocket-Extensions", "x-unknown"), ("Origin", "http://example.test")],
    ])
    func sameBytes(extra: [(String, String)]) throws {
        for compression in [true, false] {
            let endpoints = endpoints(compression: compression)
            let expected = try nioAnswer(endpoints, Self.plain + extra)
            #expect(expected.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
            #expect(try fastAnswer(endpoints, Self.plain + extra) == expected)
        }
        let answer = try fastAnswer(endpoints(), Self.plain)
        #expect(answer == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    }

    @Test("an accepted upgrade holds its place in the limiter until the channel closes")
    func reservation() throws {
        let endpoints = endpoints()
        let channel = try connectedChannel()
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws/echo", headers: HTTPHeaders(Self.plain))
        #expect(endpoints.fastUpgradeResponse(head: head, channel: channel) != nil)
        #expect(endpoints.limiter.openConnections == 1)
        try endpoints.installHandler(channel: channel, head: head)
        _ = try channel.finish()
        #expect(endpoints.limiter.openConnections == 0)
    }

    @Test("a refused upgrade gets nil and reserves nothing", arguments: [
        ("/ws/echo", [("Sec-WebSocket-Key", "short")]),
        ("/ws/echo", [("Sec-WebSocket-Version", "8")]),
        ("/ws/echo", [("Origin", "http://elsewhere.test")]),
        ("/nowhere", []),
    ])
    func refused(uri: String, replacing: [(String, String)]) throws {
        let endpoints = endpoints(allowedOrigins: ["http://example.test"])
        var headers = HTTPHeaders(Self.plain)
        for (name, value) in replacing { headers.replaceOrAdd(name: name, value: value) }
        let channel = try connectedChannel()
        defer { _ = try? channel.finish() }
        #expect(endpoints.fastUpgradeResponse(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers), channel: channel) == nil)
        #expect(endpoints.limiter.openConnections == 0)
    }
}
