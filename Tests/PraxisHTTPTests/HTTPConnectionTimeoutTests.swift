import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import PraxisHTTP

/// The whole per-connection HTTP pipeline (timeouts, NIO's codec, our handler) on a testing
/// channel whose clock only moves when told.
@Suite("HTTP connection timeouts and closing")
struct HTTPConnectionTimeoutTests {
    struct OK: HTTPResponder {
        func respond(to request: HTTPRequest) async -> HTTPResponse {
            .json(.ok, bytes: Array(#"{"status":"ok"}"#.utf8))
        }
    }

    static let configuration = HTTPServerConfiguration(
        maxBodyBytes: 64, headerTimeout: .seconds(10), bodyTimeout: .seconds(30), idleTimeout: .seconds(60)
    )

    func makeChannel(_ configuration: HTTPServerConfiguration = Self.configuration) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.executeInContext {
            try HTTPServer.configure(pipeline: channel.pipeline.syncOperations, configuration: configuration, responder: OK(), log: nil)
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9))
        return channel
    }

    func send(_ channel: NIOAsyncTestingChannel, _ text: String) async throws {
        try await channel.writeInbound(ByteBuffer(string: text))
    }

    /// Everything written so far, as text.
    func output(_ channel: NIOAsyncTestingChannel) async throws -> String {
        var text = ""
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    /// Waits for a complete response (the async responder answers off the loop).
    func response(_ channel: NIOAsyncTestingChannel) async throws -> String {
        var text = String(buffer: try await channel.waitForOutboundWrite(as: ByteBuffer.self))
        while !text.contains("\r\n\r\n") || !(text.hasSuffix("}")) {
            text += String(buffer: try await channel.waitForOutboundWrite(as: ByteBuffer.self))
        }
        return text
    }

    func advance(_ channel: NIOAsyncTestingChannel, seconds: Double) async {
        await channel.testingEventLoop.advanceTime(by: .milliseconds(Int64(seconds * 1000)))
    }

    @Test("half a request head: 408 with a JSON body after the header timeout, then closed")
    func headerTimeout() async throws {
        let channel = try await makeChannel()
        try await send(channel, "GET /health HTTP/1.1\r\nHost: x\r\n")
        await advance(channel, seconds: 9.9)
        #expect(channel.isActive)
        #expect(try await output(channel).isEmpty)
        await advance(channel, seconds: 0.2)
        let text = try await output(channel)
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.contains(#""code":"PGRST408""#))
        try await channel.closeFuture.get()
        #expect(!channel.isActive)
    }

    @Test("a connection that sends nothing is closed after the header timeout, without an answer")
    func silentConnection() async throws {
        let channel = try await makeChannel()
        await advance(channel, seconds: 10.1)
        try await channel.closeFuture.get()
        #expect(try await output(channel).isEmpty)
    }

    @Test("half a body: the header timeout no longer applies; 408 after the body timeout")
    func bodyTimeout() async throws {
        let channel = try await makeChannel()
        try await send(channel, "POST /rest/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nabc")
        await advance(channel, seconds: 29.9)
        #expect(channel.isActive)
        #expect(try await output(channel).isEmpty)
        await advance(channel, seconds: 0.2)
        let text = try await output(channel)
        #expect(text.hasPrefix("HTTP/1.1 408 "))
        #expect(text.contains("body"))
        try await channel.closeFuture.get()
    }

    @Test("keep-alive: open until the idle timeout after a response, then closed quietly")
    func idleTimeout() async throws {
        let channel = try await makeChannel()
        try await send(channel, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = try await response(channel)
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(!answer.contains("Connection: close"))
        // The server's work took no client time: the header timeout does not apply now.
        await advance(channel, seconds: 59.9)
        #expect(channel.isActive)
        await advance(channel, seconds: 0.2)
        try await channel.closeFuture.get()
        #expect(try await output(channel).isEmpty)
    }

    @Test("keep-alive: the next request's first bytes start its header timeout")
    func nextRequestHeaderTimeout() async throws {
        let channel = try await makeChannel()
        try await send(channel, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try await response(channel)
        await advance(channel, seconds: 30)
        try await send(channel, "GET /health HT")
        await advance(channel, seconds: 9.9)
        #expect(channel.isActive)
        await advance(channel, seconds: 0.2)
        #expect(try await output(channel).hasPrefix("HTTP/1.1 408 "))
        try await channel.closeFuture.get()
    }

    @Test("bytes that are not HTTP: 400 with a JSON body, and the socket is closed at once")
    func parseErrorCloses() async throws {
        let channel = try await makeChannel()
        try await send(channel, "NOT HTTP AT ALL\r\n\r\n")
        let text = try await output(channel)
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.contains(#""code":"PGRST400""#))
        try await channel.closeFuture.get()
    }

    @Test("an oversized head: 431, closed")
    func headerTooLarge() async throws {
        let channel = try await makeChannel()
        try await send(channel, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n")
        let text = try await output(channel)
        #expect(text.hasPrefix("HTTP/1.1 431 "))
        #expect(text.contains(#""code":"PGRST431""#))
        try await channel.closeFuture.get()
    }

    @Test("a body over the limit: 413, closed without waiting for the rest")
    func tooLargeCloses() async throws {
        let channel = try await makeChannel()
        try await send(channel, "POST /rest/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        let text = try await output(channel)
        #expect(text.hasPrefix("HTTP/1.1 413 "))
        #expect(text.contains("Connection: close\r\n"))
        try await channel.closeFuture.get()
    }

    @Test("Connection: close from the client: closed right after the response")
    func clientAsksClose() async throws {
        let channel = try await makeChannel()
        try await send(channel, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answer = try await response(channel)
        #expect(answer.contains("Connection: close\r\n"))
        try await channel.closeFuture.get()
    }

    @Test("pipelined requests are each answered and the connection stays open")
    func pipelined() async throws {
        let channel = try await makeChannel()
        try await send(channel, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try await response(channel)
        _ = try await response(channel)
        #expect(channel.isActive)
        await advance(channel, seconds: 59.9)
        #expect(channel.isActive)
    }
}
