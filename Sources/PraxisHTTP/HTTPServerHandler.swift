import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Collects one request (head and body, bounded), hands it to the responder as a task
/// off the event loop, and writes the response back on the loop.
///
/// `HTTPServerPipelineHandler` in front of it serialises pipelined requests, so one
/// request is in flight per connection. Tells `HTTPTimeoutHandler` where requests and
/// responses begin and end (`HTTPRequestProgress`), answers requests the codec cannot parse
/// (400, or 431 for an oversized head) and closes the connection after every answer that
/// says `Connection: close`.
final class HTTPServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer?)
        /// The body is over the limit: 413 was sent; the rest is dropped and the connection closes.
        case discarding
        case responding
    }

    static let name = "praxis-http"

    private let responder: any HTTPResponder
    private let configuration: HTTPServerConfiguration
    private let log: ThrottledLogger?
    private var state = State.idle

    init(responder: any HTTPResponder, configuration: HTTPServerConfiguration, log: ThrottledLogger? = nil) {
        self.responder = responder
        self.configuration = configuration
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            context.triggerUserOutboundEvent(HTTPRequestProgress.headReceived, promise: nil)
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > configuration.maxBodyBytes {
                state = .discarding
                write(context: context, response: Self.tooLarge(configuration.maxBodyBytes), head: head, keepAlive: false)
                return
            }
            state = .receiving(head, nil)
        case .body(var chunk):
            switch state {
            case .receiving(let head, var body):
                let size = (body?.readableBytes ?? 0) + chunk.readableBytes
                if size > configuration.maxBodyBytes {
                    state = .discarding
                    write(context: context, response: Self.tooLarge(configuration.maxBodyBytes), head: head, keepAlive: false)
                    return
                }
                if body == nil {
                    body = chunk
                } else {
                    body!.writeBuffer(&chunk)
                }
                state = .receiving(head, body)
            default:
                break
            }
        case .end:
            guard case .receiving(let head, let body) = state else {
                return
            }
            context.triggerUserOutboundEvent(HTTPRequestProgress.requestEnded, promise: nil)
            state = .responding
            let request = HTTPRequest(
                method: head.method, uri: head.uri, headers: head.headers, body: body,
                remoteIP: context.channel.remoteAddress?.ipAddress
            )
            let keepAlive = head.isKeepAlive
            if head.method == .OPTIONS {
                write(context: context, response: Self.preflight(request), head: head, keepAlive: keepAlive)
                return
            }
            let responder = self.responder
            context.eventLoop.makeFutureWithTask {
                await responder.respond(to: request)
            }.assumeIsolated().whenSuccess { response in
                self.write(context: context, response: response, head: head, keepAlive: keepAlive)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A refused WebSocket upgrade arrives here as an error, then as a plain request,
        // which the router answers (400, 403, 426, 503). Nothing to do for the error itself.
        if error is NIOWebSocketUpgradeError { return }
        if let parseError = error as? HTTPParserError {
            respondToUnparsableRequest(context: context, error: parseError)
            return
        }
        context.fireErrorCaught(error)
    }

    /// The codec gave up on the bytes: answer once (unless an answer was already sent) and close.
    /// NIO's own error handler is not installed: it answers without a body and leaves the
    /// socket open.
    private func respondToUnparsableRequest(context: ChannelHandlerContext, error: HTTPParserError) {
        // A request cut short by the close itself (EOF, shutdown) is reported as a parse error
        // while the channel goes inactive: nobody is left to answer.
        guard context.channel.isActive else { return }
        switch state {
        case .discarding, .responding:
            context.close(promise: nil)
            return
        case .idle, .receiving:
            break
        }
        let response: HTTPResponse
        if case .headerOverflow = error {
            response = APIError(.requestHeaderFieldsTooLarge, code: "PGRST431", message: "the request head is too large").response
        } else {
            response = APIError(.badRequest, code: "PGRST400", message: "the request is not valid HTTP/1.1 (\(error))").response
        }
        log?.log(.notice, key: "http-parse-error", "unparsable HTTP request answered \(response.status.code)", metadata: [
            "peer": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")", "error": "\(error)",
        ])
        state = .discarding
        write(context: context, response: response, head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), keepAlive: false)
    }

    private func write(context: ChannelHandlerContext, response: HTTPResponse, head: HTTPRequestHead, keepAlive: Bool) {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if let origin = head.headers.first(name: "origin") {
            headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: allowedOrigin(origin) ?? "null")
            headers.replaceOrAdd(name: "Access-Control-Expose-Headers", value: "Content-Range, Content-Location, X-Client-Info")
            headers.replaceOrAdd(name: "Vary", value: "Origin")
        }
        let closeAfter = !keepAlive || headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        if closeAfter {
            headers.replaceOrAdd(name: "Connection", value: "close")
        }
        let responseHead = HTTPResponseHead(version: head.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD, response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let done = context.writeAndFlushPromise()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if case .discarding = state {
            // Leave the state as is: the rest of the oversized body is dropped until close.
        } else {
            state = .idle
        }
        context.triggerUserOutboundEvent(HTTPRequestProgress.responseEnded, promise: nil)
        if closeAfter {
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func allowedOrigin(_ origin: String) -> String? {
        if configuration.corsAllowedOrigins.contains("*") { return "*" }
        return configuration.corsAllowedOrigins.contains(origin) ? origin : nil
    }

    private static func tooLarge(_ limit: Int) -> HTTPResponse {
        APIError(.payloadTooLarge, code: "PGRST413", message: "request body is larger than the limit of \(limit) bytes").response
    }

    private static func preflight(_ request: HTTPRequest) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Access-Control-Allow-Methods", value: "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD")
        headers.add(
            name: "Access-Control-Allow-Headers",
            value: request.headers.first(name: "access-control-request-headers")
                ?? "authorization, apikey, content-type, prefer, accept, x-client-info, range, accept-profile, content-profile"
        )
        headers.add(name: "Access-Control-Max-Age", value: "86400")
        return .empty(.noContent, headers: headers)
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
