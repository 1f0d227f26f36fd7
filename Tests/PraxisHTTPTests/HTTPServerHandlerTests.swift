import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

@testable import PraxisHTTP

/// `HTTPServerHandler` alone on a testing channel, fed parsed request parts: what reaches the
/// responder, and what goes back (headers it adds, HEAD, 413, preflight, CORS, closing).
@Suite("HTTP server handler")
struct HTTPServerHandlerTests {
    /// Records the requests it gets and answers with `response`.
    final class Recorder: HTTPResponder {
        let requests = Mutex<[HTTPRequest]>([])
        let response: @Sendable (HTTPRequest) -> HTTPResponse

        init(_ response: @escaping @Sendable (HTTPRequest) -> HTTPResponse = { _ in .json(.ok, bytes: Array(#"{"ok":true}"#.utf8)) }) {
            self.response = response
        }

        func respond(to request: HTTPRequest) async -> HTTPResponse {
            requests.withLock { $0.append(request) }
            return response(request)
        }

        var count: Int { requests.withLock { $0.count } }
    }

    struct Answer {
        var head: HTTPResponseHead
        var body: String
    }

    static func channel(_ responder: Recorder, configuration: HTTPServerConfiguration = HTTPServerConfiguration(maxBodyBytes: 16)) async throws
        -> NIOAsyncTestingChannel
    {
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(HTTPServerHandler(responder: responder, configuration: configuration))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: 4000))
        return channel
    }

    static func head(_ method: HTTPMethod, _ uri: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:]) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: version, method: method, uri: uri, headers: headers))
    }

    /// Waits for one whole response (head, body parts, end).
    static func answer(_ channel: NIOAsyncTestingChannel) async throws -> Answer {
        guard case .head(let head) = try await channel.waitForOutboundWrite(as: HTTPServerResponsePart.self) else {
            throw Unexpected()
        }
        var body = ""
        while true {
            switch try await channel.waitForOutboundWrite(as: HTTPServerResponsePart.self) {
            case .body(.byteBuffer(let buffer)): body += String(buffer: buffer)
            case .end: return Answer(head: head, body: body)
            default: throw Unexpected()
            }
        }
    }

    struct Unexpected: Error {}

    @Test func theResponderGetsTheWholeRequestAndTheAnswerGetsALength() async throws {
        let responder = Recorder()
        let channel = try await Self.channel(responder)
        try await channel.writeInbound(Self.head(.POST, "/rest/v1/rooms?select=id&x=a%20b", headers: ["Content-Length": "11"]))
        try await channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "hello ")))
        try await channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "world")))
        try await channel.writeInbound(HTTPServerRequestPart.end(nil))
        let answer = try await Self.answer(channel)
        #expect(answer.head.status == .ok)
        #expect(answer.head.headers["Content-Length"] == ["11"])
        #expect(answer.head.headers["Connection"].isEmpty, "keep-alive: the connection stays open")
        #expect(answer.body == #"{"ok":true}"#)
        let request = try #require(responder.requests.withLock { $0.first })
        #expect(request.method == .POST && request.path == "/rest/v1/rooms" && request.query("x") == "a b")
        #expect(request.bodyBytes == Array("hello world".utf8))
        #expect(request.remoteIP == "192.0.2.7")
        #expect(channel.isActive)

        // The next request on the same connection.
        try await channel.writeInbound(Self.head(.GET, "/health"))
        try await channel.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(try await Self.answer(channel).head.status == .ok)
        #expect(responder.count == 2)
        #expect(responder.requests.withLock { $0[1].body } == nil)
        _ = try? await channel.finish()
    }

    @Test func headGetsTheHeadersButNoBody() async throws {
        let channel = try await Self.channel(Recorder())
        try await channel.writeInbound(Self.head(.HEAD, "/health"))
        try await channel.writeInbound(HTTPServerRequestPart.end(nil))
        let answer = try await Self.answer(channel)
        #expect(answer.head.status == .ok && answer.head.headers["Content-Length"] == ["11"])
        #expect(answer.body.isEmpty)
        _ = try? await channel.finish()
    }

    /// Too large by its declared length, or by what arrives: 413 with a JSON body, the
    /// responder never runs, and the connection closes.
    @Test(arguments: [true, false])
    func anOversizedBodyGets413AndTheConnectionCloses(declared: Bool) async throws {
        let responder = Recorder()
        let channel = try await Self.channel(responder)
        try await channel.writeInbound(Self.head(.POST, "/rest/v1/rooms", headers: declared ? ["Content-Length": "17"] : ["Transfer-Encoding": "chunked"]))
        if !declared {
            try await channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "0123456789")))
            try await channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "0123456")))
        }
        let answer = try await Self.answer(channel)
        #expect(answer.head.status == .payloadTooLarge)
        #expect(answer.head.headers["Connection"] == ["close"])
        #expect(answer.body.contains(#""code":"PGRST413""#) && answer.body.contains("limit of 16 bytes"), "\(answer.body)")
        // The rest of the body is dropped: no second answer, no responder call.
        // (The channel may be closed already: then the write is refused, which is as good.)
        _ = try? await channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "more")))
        _ = try? await channel.writeInbound(HTTPServerRequestPart.end(nil))
        try await channel.closeFuture.get()
        #expect(responder.count == 0)
        #expect(try await channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
    }

    @Test func aPreflightIsAnsweredWithoutTheResponder() async throws {
        let responder = Recorder()
        let channel = try await Self.channel(responder)
        try await channel.writeInbound(Self.head(.OPTIONS, "/rest/v1/rooms", headers: [
            "Origin": "https://app.example", "Access-Control-Request-Headers": "authorization, x-custom",
        ]))
        try await channel.writeInbound(HTTPServerRequestPart.end(nil))
        let answer = try await Self.answer(channel)
        #expect(answer.head.status == .noContent)
        #expect(answer.head.headers["Access-Control-Allow-Headers"] == ["authorization, x-custom"])
        #expect(answer.head.headers["Access-Control-Allow-Methods"].first?.contains("PATCH") == true)
        #expect(answer.head.headers["Access-Control-Max-Age"] == ["86400"])
        #expect(answer.head.headers["Access-Control-Allow-Origin"] == ["*"])
        #expect(responder.count == 0)
        _ = try? await channel.finish()
    }

    /// A listed origin is echoed; another gets `null` (the browser then refuses the answer).
    @Test(arguments: [("https://app.example", "https://app.example"), ("https://evil.example", "null")])
    func corsEchoesOnlyAnAllowedOrigin(origin: String, allowed: String) async throws {
        let channel = try await Self.channel(Recorder(), configuration: HTTPServerConfiguration(corsAllowedOrigins: ["https://app.example"]))
        try await channel.writeInbound(Self.head(.GET, "/health", headers: ["Origin": origin]))
        try await channel.writeInbound(HTTPServerRequestPart.end(nil))
        let answer = try await Self.answer(channel)
        #expect(answer.head.headers["Access-Control-Allow-Origin"] == [allowed])
        #expect(answer.head.headers["Vary"] == ["Origin"])
        _ = try? await channel.finish()
    }

    /// HTTP/1.0 without keep-alive, or a responder that says `Connection: close`: the
    /// answer says so and the connection closes after it.
    @Test(arguments: [false, true])
    func theConnectionClosesAfterAnAnswerThatSaysSo(responderCloses: Bool) async throws {
        let responder = Recorder { _ in
            var response = HTTPResponse.json(.ok, bytes: Array("{}".utf8))
            if responderCloses { response.headers.add(name: "Connection", value: "close") }
            return response
        }
        let channel = try await Self.channel(responder)
        try await channel.writeInbound(Self.head(.GET, "/health", version: responderCloses ? .http1_1 : .http1_0))
        try await channel.writeInbound(HTTPServerRequestPart.end(nil))
        let answer = try await Self.answer(channel)
        #expect(answer.head.headers["Connection"] == ["close"])
        #expect(answer.head.version == (responderCloses ? .http1_1 : .http1_0))
        try await channel.closeFuture.get()
    }
}
