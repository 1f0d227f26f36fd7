public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A small WebSocket client on NIO, for the load tool and tests: TCP connect, the HTTP/1.1
/// upgrade (NIO's client upgrader checks `Sec-WebSocket-Accept`), then masked frames out
/// and NIO's frame decoder in. Server pings are answered with pongs. No TLS, no
/// extensions (permessage-deflate is never offered).
public enum WebSocketClient {
    /// Opens a connection to `ws://host:port/path`.
    ///
    /// - Parameters:
    ///   - group: the event loop group (or one event loop) the connection lives on.
    ///   - timeout: bound on the TCP connect and, separately, on the upgrade.
    ///   - maxFrameSize: largest frame, and message, accepted from the server.
    ///   - onMessage: called on the connection's event loop with each complete text or
    ///     binary message (NIO's frame aggregator reassembles fragments).
    /// - Throws: `WebSocketClientError`, or NIO's error when the TCP connect fails.
    public static func connect(
        host: String, port: Int, path: String, group: any EventLoopGroup,
        timeout: TimeAmount = .seconds(10), maxFrameSize: Int = 1 << 24,
        onMessage: @escaping @Sendable (WebSocketClientMessage) -> Void = { _ in }
    ) async throws -> WebSocketClientConnection {
        let headers = HTTPHeaders([("Host", WebSocketURL.authority(host: host, port: port)), ("Content-Length", "0")])
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path.isEmpty ? "/" : path, headers: headers)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        let upgraded = try await bootstrap.connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try Self.configure(channel: channel, head: head, timeout: timeout, maxFrameSize: maxFrameSize, onMessage: onMessage)
            }
        }
        return try await upgraded.get()
    }

    /// The handlers after the upgrade: NIO's frame aggregator (whole messages of at most
    /// `maxFrameSize` bytes), then `handler`.
    static func addHandlers(_ handler: WebSocketClientHandler, maxFrameSize: Int, to pipeline: ChannelPipeline.SynchronousOperations) throws {
        let aggregator = NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: .max, maxAccumulatedFrameSize: maxFrameSize)
        try pipeline.addHandlers(aggregator, handler)
    }

    /// Installs the HTTP client and the upgrader; the returned future is the upgrade's.
    private static func configure(
        channel: any Channel, head: HTTPRequestHead, timeout: TimeAmount, maxFrameSize: Int,
        onMessage: @escaping @Sendable (WebSocketClientMessage) -> Void
    ) throws -> EventLoopFuture<WebSocketClientConnection> {
        let upgrader = NIOTypedWebSocketClientUpgrader<WebSocketClientConnection>(maxFrameSize: maxFrameSize) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                let handler = WebSocketClientHandler(onMessage: onMessage, closed: channel.eventLoop.makePromise())
                try addHandlers(handler, maxFrameSize: maxFrameSize, to: channel.pipeline.syncOperations)
                return WebSocketClientConnection(channel: channel, handler: handler)
            }
        }
        let upgrade = NIOTypedHTTPClientUpgradeConfiguration<WebSocketClientConnection>(
            upgradeRequestHead: head, upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeFailedFuture(WebSocketClientError.upgradeRefused) }
        )
        let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: upgrade)
        )
        // The upgrade gets its own deadline; on any failure the channel is closed.
        let result = channel.eventLoop.makePromise(of: WebSocketClientConnection.self)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            result.fail(WebSocketClientError.upgradeTimedOut)
            channel.close(promise: nil)
        }
        upgraded.whenComplete { outcome in
            deadline.cancel()
            if case .failure = outcome { channel.close(promise: nil) }
            result.completeWith(outcome)
        }
        return result.futureResult
    }
}

/// Why a connection could not be opened.
public enum WebSocketClientError: Error, Equatable, CustomStringConvertible {
    /// The server answered the upgrade with something other than a valid 101.
    case upgradeRefused
    /// No 101 within the timeout.
    case upgradeTimedOut

    public var description: String {
        switch self {
        case .upgradeRefused: "the server refused the WebSocket upgrade"
        case .upgradeTimedOut: "the WebSocket upgrade timed out"
        }
    }
}

/// One complete message from the server.
public struct WebSocketClientMessage {
    public var data: ByteBuffer
    public var isText: Bool
}

/// How a connection ended.
public struct WebSocketCloseResult: Sendable, Equatable {
    /// The code in the server's close frame, if it sent one with a code.
    public var code: UInt16?
    /// Both close frames were exchanged before the TCP connection ended.
    public var clean: Bool
    /// This side sent the first close frame (`close()`), rather than the server.
    public var initiatedLocally: Bool
}
