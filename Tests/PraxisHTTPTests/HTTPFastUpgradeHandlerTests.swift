import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import PraxisLoops
import Testing

@testable import PraxisHTTP

/// `HTTPFastUpgradeHandler` in front of the HTTP pipeline, on a testing channel whose clock
/// moves only when told: the upgrades it takes, and every other request reaching the HTTP
/// pipeline with its bytes intact, answered byte for byte as without the fast path.
@Suite("The fast upgrade path in front of the HTTP pipeline", .timeLimit(.minutes(1)))
struct HTTPFastUpgradeHandlerTests {
    /// Answers with the request it got (method, target, headers, body), hex-encoded in JSON.
    struct Echo: HTTPResponder {
        func respond(to request: HTTPRequest) async -> HTTPResponse {
            var text = "\(request.method) \(request.uri)"
            for (name, value) in request.headers { text += "|\(name)=\(value)" }
            if let body = request.body { text += "|body=" + String(buffer: body) }
            let hex = text.utf8.map { String($0, radix: 16) }.joined(separator: ".")
            return .json(.ok, bytes: Array("{\"r\":\"\(hex)\"}".utf8))
        }
    }

    /// Takes upgrades of `GET /fast`; installs a handler that keeps the bytes it reads.
    final class Upgrader: HTTPFastUpgrader {
        static let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\n\r\n"
        let heads = Mutex<[HTTPRequestHead]>([])
        let upgrades = Mutex(0)
        let installed = Mutex(0)
        let bytes = Mutex<[UInt8]>([])

        func upgradeResponse(head: HTTPRequestHead, channel: any Channel, remoteIP: String) -> ByteBuffer? {
            guard head.uri == "/fast" else { return nil }
            heads.withLock { $0.append(head) }
            return ByteBuffer(string: Self.response)
        }

        func install(head: HTTPRequestHead, channel: any Channel, remoteIP: String) throws {
            installed.withLock { $0 += 1 }
            try channel.pipeline.syncOperations.addHandler(Collector(upgrader: self))
        }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let upgrader: Upgrader

        init(upgrader: Upgrader) { self.upgrader = upgrader }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            upgrader.bytes.withLock { $0 += buffer.readableBytesView }
        }
    }

    static let configuration = HTTPServerConfiguration(
        maxBodyBytes: 64, headerTimeout: .seconds(10), bodyTimeout: .seconds(30), idleTimeout: .seconds(60)
    )

    /// The fast handler of a connection, held weakly (to see it released).
    final class WeakHandler: @unchecked Sendable {
        weak var handler: HTTPFastUpgradeHandler?
    }

    /// A connection with the fast path (`upgrader`), or without it (nil: the HTTP pipeline alone).
    func makeChannel(
        _ upgrader: Upgrader?, configuration: HTTPServerConfiguration = Self.configuration, timers: LoopTimers = LoopTimers(),
        added: WeakHandler? = nil
    ) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.executeInContext {
            let httpPipeline = HTTPServer.httpPipeline(configuration: configuration, responder: Echo(), log: nil, upgraders: [])
            let sync = channel.pipeline.syncOperations
            if let upgrader {
                let handler = HTTPFastUpgradeHandler(
                    upgrader: upgrader, remoteIP: "127.0.0.1", headerTimeout: configuration.headerTimeout, timers: timers, log: nil,
                    httpPipeline: httpPipeline, upgraded: { upgrader.upgrades.withLock { $0 += 1 } }
                )
                added?.handler = handler
                try sync.addHandler(handler, name: HTTPFastUpgradeHandler.name)
            } else {
                try httpPipeline(sync, nil, {})
            }
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9))
        return channel
    }

    /// Writes `chunks` as reads; true when a write reported an error (NIO's decoder reports each
    /// read after it gave up on the bytes: `dataReceivedInErrorState`).
    @discardableResult
    func send(_ channel: NIOAsyncTestingChannel, _ chunks: [String]) async -> Bool {
        var failed = false
        for chunk in chunks {
            do { try await channel.writeInbound(ByteBuffer(string: chunk)) } catch { failed = true }
        }
        return failed
    }

    /// Everything written so far, as text.
    func output(_ channel: NIOAsyncTestingChannel) async throws -> String {
        var text = ""
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    /// Waits for `count` complete JSON answers (the responder answers off the loop).
    func answers(_ channel: NIOAsyncTestingChannel, count: Int) async throws -> String {
        var text = ""
        while text.components(separatedBy: "HTTP/1.").count - 1 < count || !text.hasSuffix("}") {
            text += String(buffer: try await channel.waitForOutboundWrite(as: ByteBuffer.self))
        }
        return text
    }

    func advance(_ channel: NIOAsyncTestingChannel, seconds: Double) async {
        await channel.testingEventLoop.advanceTime(by: .milliseconds(Int64(seconds * 1000)))
    }

    /// The pipeline's handlers, as NIO describes them.
    func handlers(_ channel: NIOAsyncTestingChannel) async throws -> String {
        try await channel.testingEventLoop.executeInContext { channel.pipeline.debugDescription }
    }

    static let upgrade = "GET /fast HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

    // MARK: The fast path

    /// Pieces of `text`, `size` bytes each.
    static func pieces(_ text: String, size: Int) -> [String] {
        let bytes = Array(text.utf8)
        return stride(from: 0, to: bytes.count, by: size).map { String(decoding: bytes[$0..<min($0 + size, bytes.count)], as: UTF8.self) }
    }

    @Test("an upgrade head, in one read or in pieces down to single bytes: the 101, then only the new handler", arguments: [1, 5, 1000])
    func upgradeInPieces(size: Int) async throws {
        let upgrader = Upgrader()
        let channel = try await makeChannel(upgrader)
        await send(channel, Self.pieces(Self.upgrade, size: size))
        #expect(try await output(channel) == Upgrader.response)
        let handlers = try await handlers(channel)
        #expect(handlers.contains("Collector"))
        for gone in ["HTTPFastUpgradeHandler", "HTTPTimeoutHandler", "ByteToMessageHandler", "HTTPServerHandler"] {
            #expect(!handlers.contains(gone))
        }
        #expect(upgrader.upgrades.withLock { $0 } == 1)
        #expect(upgrader.installed.withLock { $0 } == 1)
        let head = try #require(upgrader.heads.withLock { $0.first })
        #expect(head.uri == "/fast")
        #expect(head.headers.map { "\($0.name): \($0.value)" } == ["Host: x", "Upgrade: websocket", "Connection: Upgrade"])
        #expect(upgrader.bytes.withLock { $0 }.isEmpty)
        // No header timeout once upgraded.
        await advance(channel, seconds: 60)
        #expect(channel.isActive)
    }

    @Test("frames right behind the head, in its read and after, reach the new handler in order")
    func framesAfterTheHead() async throws {
        let upgrader = Upgrader()
        let channel = try await makeChannel(upgrader)
        let split = Self.upgrade.utf8.count - 10
        let text = Self.upgrade + "frame-one|"
        await send(channel, [String(text.prefix(split)), String(text.dropFirst(split)), "frame-two"])
        #expect(try await output(channel) == Upgrader.response)
        #expect(String(decoding: upgrader.bytes.withLock { $0 }, as: UTF8.self) == "frame-one|frame-two")
    }

    @Test("shutting down before a request came closes the connection")
    func quiesce() async throws {
        let channel = try await makeChannel(Upgrader())
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        try await channel.closeFuture.get()
        #expect(try await output(channel).isEmpty)
    }

    // MARK: Everything else: the HTTP pipeline, as without the fast path

    /// The answers to `chunks` with the fast path and without it.
    func bothWays(_ chunks: [String], answers count: Int) async throws -> (fast: String, reference: String, upgrader: Upgrader) {
        let upgrader = Upgrader()
        let fast = try await makeChannel(upgrader)
        let fastFailed = await send(fast, chunks)
        let fastText = try await answers(fast, count: count)
        #expect(try await !handlers(fast).contains("HTTPFastUpgradeHandler"))
        let reference = try await makeChannel(nil)
        let referenceFailed = await send(reference, chunks)
        #expect(fastFailed == referenceFailed)
        return (fastText, try await answers(reference, count: count), upgrader)
    }

    static let bigHeader = "X-Big: " + String(repeating: "b", count: 9000) + "\r\n"

    @Test("requests that are not a plain upgrade the fast path takes get the HTTP pipeline's answers, byte for byte", arguments: [
        ("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 1, "HTTP/1.1 200 OK"),
        ("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 2, "HTTP/1.1 200 OK"),
        ("POST /fast HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 5\r\n\r\nhello", 1, "HTTP/1.1 200 OK"),
        ("GET /fast HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 2\r\n\r\nhi", 1, "HTTP/1.1 200 OK"),
        ("GET /fast HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1, "HTTP/1.0 200 OK"),
        ("GET /fast HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1, "HTTP/1.1 200 OK"),
        ("GET /fast HTTP/1.1\r\nHost: x\r\nUpgrade: websocket \r\nConnection: Upgrade\r\n\r\n", 1, "HTTP/1.1 200 OK"),
        ("GET /fast HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Folded: a\r\n b\r\n\r\n", 1, "HTTP/1."),
        ("GET /refused HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1, "HTTP/1.1 200 OK"),
        ("big", 1, "HTTP/1.1 200 OK"),
        ("huge", 1, "HTTP/1.1 431 Request Header Fields Too Large"),
        ("\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}", 1, "HTTP/1.1 400 Bad Request"),
        ("GET /fast HTTP/1.1\r\nHost: \u{1}\r\n", 1, "HTTP/1.1 400 Bad Request"),
    ])
    func fallback(request: String, count: Int, status: String) async throws {
        // Past the fast path's 8 KiB, and past NIO's 80 KiB (named here: the arguments are printed).
        let request = switch request {
        case "big": "GET /fast HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(Self.bigHeader)\r\n"
        case "huge": "GET /fast HTTP/1.1\r\n" + String(repeating: Self.bigHeader, count: 10) + "\r\n"
        default: request
        }
        for size in request.utf8.count > 1024 ? [1000, Int.max] : [1, 7, Int.max] {
            let chunks = size == Int.max ? [request] : Self.pieces(request, size: size)
            let (fast, reference, upgrader) = try await bothWays(chunks, answers: count)
            #expect(fast == reference)
            #expect(fast.hasPrefix(status))
            #expect(upgrader.installed.withLock { $0 } == 0)
            #expect(upgrader.upgrades.withLock { $0 } == 0)
        }
    }

    @Test("the request reaches the responder intact: target, headers in order, body")
    func intact() async throws {
        let request = "POST /fast?q=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello"
        let (fast, _, _) = try await bothWays([request], answers: 1)
        let text = "POST /fast?q=1|Host=x|Upgrade=websocket|X-A=1|Content-Length=5|body=hello"
        #expect(fast.hasSuffix("{\"r\":\"" + text.utf8.map { String($0, radix: 16) }.joined(separator: ".") + "\"}"))
    }

    // MARK: The header timeout

    @Test("the header timeout is an entry of the loop's timers: the handler is let go at the upgrade, the entry when it falls due")
    func headerTimeoutOnTheLoopTimers() async throws {
        let timers = LoopTimers()
        let added = WeakHandler()
        let channel = try await makeChannel(Upgrader(), timers: timers, added: added)
        #expect(try await channel.testingEventLoop.executeInContext { timers.count } == 1)
        #expect(added.handler != nil)
        await send(channel, [Self.upgrade])
        #expect(try await output(channel) == Upgrader.response)
        #expect(added.handler == nil, "the cancelled entry no longer holds the handler")
        #expect(try await channel.testingEventLoop.executeInContext { timers.count } == 1, "the entry waits for its due time")
        await advance(channel, seconds: 10.1)
        #expect(try await channel.testingEventLoop.executeInContext { timers.count } == 0)
        #expect(channel.isActive, "a cancelled header timeout never fires")
    }

    @Test("a connection that sends nothing is closed at the header timeout, without an answer")
    func silent() async throws {
        let channel = try await makeChannel(Upgrader())
        await advance(channel, seconds: 9.9)
        #expect(channel.isActive)
        await advance(channel, seconds: 0.2)
        try await channel.closeFuture.get()
        #expect(try await output(channel).isEmpty)
    }

    @Test("half an upgrade head: the same 408 as without the fast path, at the header timeout, then closed")
    func halfAHead() async throws {
        var texts: [String] = []
        for upgrader in [Upgrader(), nil] {
            let channel = try await makeChannel(upgrader)
            await send(channel, [String(Self.upgrade.prefix(30))])
            await advance(channel, seconds: 9.9)
            #expect(try await output(channel).isEmpty)
            await advance(channel, seconds: 0.2)
            try await channel.closeFuture.get()
            texts.append(try await output(channel))
        }
        #expect(texts[0] == texts[1])
        #expect(texts[0].hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(texts[0].contains(#""code":"PGRST408""#))
    }

    @Test("handed on mid-head (past 8 KiB), the header deadline still counts from the accept")
    func deadlineKeptWhenHandedOn() async throws {
        let channel = try await makeChannel(Upgrader())
        await advance(channel, seconds: 6)
        await send(channel, ["GET /fast HTTP/1.1\r\n" + Self.bigHeader])
        #expect(try await handlers(channel).contains("HTTPTimeoutHandler"))
        await advance(channel, seconds: 3.9)
        #expect(try await output(channel).isEmpty)
        await advance(channel, seconds: 0.2)
        try await channel.closeFuture.get()
        #expect(try await output(channel).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
    }
}
