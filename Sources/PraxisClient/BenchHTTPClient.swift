import NIOCore
import NIOHTTP1
import NIOPosix
import PraxisDomain

/// One answer of `BenchHTTPConnection`.
struct BenchHTTPResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer

    var bodyText: String { String(buffer: body) }

    /// The body as JSON: null when it is empty, the text itself when it is not JSON.
    var json: JSONValue {
        let text = bodyText
        return text.isEmpty ? .null : (try? JSONValue.parse(text)) ?? .string(text)
    }

    /// A short description for error reports: `HTTP 409: {"code":"23505",…}`.
    var summary: String { "HTTP \(status): " + bodyText.clipped(300) }
}

/// A keep-alive HTTP/1.1 client connection for the benchmarks' data-API writer: requests
/// may be pipelined (the server answers them in order), so each one's answer is matched
/// to it by position. Plain HTTP only; bodies are JSON.
final class BenchHTTPConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<BenchHTTPResponseHandler>
    private let hostHeader: String

    private init(channel: any Channel, handler: BenchHTTPResponseHandler, hostHeader: String) {
        self.channel = channel
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.hostHeader = hostHeader
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    /// Opens a connection to `host:port` on `eventLoop`.
    static func connect(host: String, port: Int, eventLoop: any EventLoop, timeout: TimeAmount = .seconds(10)) async throws -> BenchHTTPConnection {
        let hostHeader = WebSocketURL.authority(host: host, port: port)
        let channel = try await ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    // Whole answers (bodies up to 16 MiB), then matched to their requests.
                    try channel.pipeline.syncOperations.addHandlers(NIOHTTPClientResponseAggregator(maxContentLength: 1 << 24), BenchHTTPResponseHandler())
                }
            }
            .connect(host: host, port: port).get()
        return try await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: BenchHTTPResponseHandler.self)
            return BenchHTTPConnection(channel: channel, handler: handler, hostHeader: hostHeader)
        }.get()
    }

    /// Requests written and not yet answered. On the event loop only.
    var inFlight: Int { handler.value.pendingCount }

    /// Writes one request (flushed when `flush`) and returns its answer's future. On the
    /// event loop only.
    func write(
        method: HTTPMethod, uri: String, headers extra: [(String, String)], body: ByteBuffer?, flush: Bool = true
    ) -> EventLoopFuture<BenchHTTPResponse> {
        let promise = channel.eventLoop.makePromise(of: BenchHTTPResponse.self)
        guard handler.value.enqueue(promise) else { return promise.futureResult }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: hostHeader)
        for (name, value) in extra { headers.add(name: name, value: value) }
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        } else if method == .POST || method == .PATCH || method == .PUT {
            headers.add(name: "Content-Length", value: "0")
        }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        if flush {
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        } else {
            channel.write(HTTPClientRequestPart.end(nil), promise: nil)
        }
        return promise.futureResult
    }

    /// Whether the connection is still open. On the event loop only.
    var isOpen: Bool { handler.value.isOpen }

    /// From any thread: one request, flushed, with its answer. Without an answer within
    /// `timeout` the connection is closed and the request fails.
    func request(
        method: HTTPMethod, uri: String, headers: [(String, String)], body: String?, timeout: TimeAmount = .seconds(30)
    ) async throws -> BenchHTTPResponse {
        let channel = self.channel
        return try await channel.eventLoop.flatSubmit {
            let answer = self.write(method: method, uri: uri, headers: headers, body: body.map { channel.allocator.buffer(string: $0) })
            let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            answer.whenComplete { _ in deadline.cancel() }
            return answer
        }.get()
    }

    func flush() { channel.flush() }

    func close() async {
        try? await channel.close()
    }
}

/// Matches answers to pipelined requests in order; fails the waiting ones when the
/// connection ends.
final class BenchHTTPResponseHandler: ChannelInboundHandler {
    typealias InboundIn = NIOHTTPClientResponseFull

    /// Why a request got no answer: the connection ended before it came (a request's
    /// timeout closes it too).
    static let closed = BenchError(description: "the HTTP connection closed before the answer (or no answer in time)")
    private var pending = CircularBuffer<EventLoopPromise<BenchHTTPResponse>>()
    private(set) var isOpen = true

    var pendingCount: Int { pending.count }

    /// Queues the promise of a request about to be written; false (and the promise
    /// failed) when the connection has ended.
    func enqueue(_ promise: EventLoopPromise<BenchHTTPResponse>) -> Bool {
        guard isOpen else {
            promise.fail(Self.closed)
            return false
        }
        pending.append(promise)
        return true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let (head, body) = (unwrapInboundIn(data).head, unwrapInboundIn(data).body)
        // 1xx answers are not final; the server sends none for these requests.
        guard head.status.code >= 200, !pending.isEmpty else { return }
        pending.removeFirst().succeed(BenchHTTPResponse(status: Int(head.status.code), headers: head.headers, body: body ?? ByteBuffer()))
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        while !pending.isEmpty { pending.removeFirst().fail(Self.closed) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
