public import NIOCore
public import NIOHTTP1
public import NIOWebSocket
import Foundation

/// The WebSocket endpoints of the server (path → application), the upgrade checks, and
/// the limits on connections. Produces the NIO upgrader for the HTTP pipeline, and the
/// HTTP error for an upgrade that is refused.
public final class WebSocketEndpoints: Sendable {
    public let configuration: WebSocketConfiguration
    public let limiter: ConnectionLimiter
    private let routes: [String: any WebSocketApplication]

    public init(configuration: WebSocketConfiguration, routes: [String: any WebSocketApplication]) {
        self.configuration = configuration
        self.routes = routes
        self.limiter = ConnectionLimiter(maxTotal: configuration.maxConnections, maxPerIP: configuration.maxConnectionsPerIP)
    }

    /// The paths served.
    public var paths: [String] { Array(routes.keys) }

    /// Why an upgrade is refused: an HTTP status, a message and extra headers.
    public struct Rejection: Sendable, Equatable {
        public var status: HTTPResponseStatus
        public var message: String
        public var headers: HTTPHeaders

        public init(status: HTTPResponseStatus, message: String, headers: HTTPHeaders = [:]) {
            self.status = status
            self.message = message
            self.headers = headers
        }

        public static func == (lhs: Rejection, rhs: Rejection) -> Bool {
            lhs.status == rhs.status && lhs.message == rhs.message
        }
    }

    /// The checks of RFC 6455 §4.2.1 and our limits, in order. nil means acceptable.
    public func rejection(method: HTTPMethod, uri: String, headers: HTTPHeaders, remoteIP: String) -> Rejection? {
        func reject(_ status: HTTPResponseStatus, _ message: String, _ extra: HTTPHeaders = [:]) -> Rejection {
            Rejection(status: status, message: message, headers: extra)
        }
        guard let application = routes[Self.path(of: uri)] else { return reject(.notFound, "no WebSocket endpoint at \(Self.path(of: uri))") }
        guard method == .GET else { return reject(.badRequest, "a WebSocket upgrade is a GET request") }
        guard HeaderText.containsToken(headers["upgrade"], "websocket"), HeaderText.containsToken(headers["connection"], "upgrade")
        else {
            return reject(.badRequest, "expected a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade)")
        }
        let versions = headers["sec-websocket-version"]
        guard versions.count == 1, HeaderText.trimmed(versions[0]) == "13" else {
            return reject(.upgradeRequired, "unsupported WebSocket version; this server speaks 13", ["Sec-WebSocket-Version": "13"])
        }
        let keys = headers["sec-websocket-key"]
        guard keys.count == 1, let key = Data(base64Encoded: String(HeaderText.trimmed(keys[0]))), key.count == 16 else {
            return reject(.badRequest, "Sec-WebSocket-Key must be the base64 of 16 bytes")
        }
        if !configuration.allowedOrigins.isEmpty, let origin = headers.first(name: "origin"),
            !configuration.allowedOrigins.contains(origin)
        {
            return reject(.forbidden, "origin \(origin) is not allowed")
        }
        if let refused = application.rejection(for: HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)) {
            return refused
        }
        guard limiter.wouldAccept(ip: remoteIP) else {
            return reject(.serviceUnavailable, "too many WebSocket connections; try again later", ["Retry-After": "5"])
        }
        return nil
    }

    /// The upgrader to install in the HTTP pipeline.
    public func makeUpgrader() -> any HTTPServerProtocolUpgrader & Sendable {
        WebSocketUpgrader(endpoints: self)
    }

    /// Accepts or refuses an upgrade; on acceptance returns the extra response headers.
    /// `remoteIP`: the peer's address when the caller has it (else read from `channel`).
    func shouldUpgrade(channel: any Channel, head: HTTPRequestHead, remoteIP: String? = nil) -> HTTPHeaders? {
        let ip = remoteIP ?? channel.remoteAddress?.ipAddress ?? "unknown"
        guard rejection(method: head.method, uri: head.uri, headers: head.headers, remoteIP: ip) == nil,
            limiter.reserve(ip: ip)
        else { return nil }
        let limiter = self.limiter
        channel.closeFuture.whenComplete { _ in limiter.release(ip: ip) }
        var headers = HTTPHeaders()
        if let deflate = negotiatedDeflate(head) {
            headers.add(name: "Sec-WebSocket-Extensions", value: deflate.responseHeader)
        }
        return headers
    }

    private func negotiatedDeflate(_ head: HTTPRequestHead) -> PerMessageDeflate? {
        guard configuration.compression else { return nil }
        return PerMessageDeflate.negotiate(offers: head.headers["sec-websocket-extensions"])
    }

    /// After the 101: our handler, which reads the bytes itself (`FrameDecoder`, streaming,
    /// so a frame is checked as it arrives). Frames are written as ready-made bytes (encode
    /// once), so there is no frame encoder. `remoteIP`: as for `shouldUpgrade`.
    package func installHandler(channel: any Channel, head: HTTPRequestHead, remoteIP: String? = nil) throws {
        guard let application = routes[Self.path(of: head.uri)] else { throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget }
        let sync = channel.pipeline.syncOperations
        let connection = WebSocketConnection(
            eventLoop: channel.eventLoop, deflate: negotiatedDeflate(head),
            remoteIP: remoteIP ?? channel.remoteAddress?.ipAddress ?? "unknown"
        )
        try channel.syncOptions?.setOption(
            ChannelOptions.writeBufferWaterMark,
            value: ChannelOptions.Types.WriteBufferWaterMark(low: max(configuration.maxPendingBytes / 2, 1), high: max(configuration.maxPendingBytes, 2))
        )
        try sync.addHandler(
            WebSocketHandler(configuration: configuration, application: application, request: HTTPRequestHeadBox(head: head), connection: connection)
        )
    }

    static func path(of uri: String) -> String {
        String(HeaderText.path(of: uri))
    }
}
