/// Limits and timers of the WebSocket transport. Every field has a documented default
/// and a `praxis serve` flag (see protocol/websocket.md).
public struct WebSocketConfiguration: Sendable {
    /// Largest message, after reassembly and inflation; larger closes with 1009. Default 16 MiB.
    public var maxMessageBytes: Int
    /// Most open WebSocket connections; upgrades past it get HTTP 503. Default 100,000.
    public var maxConnections: Int
    /// Most open WebSocket connections from one IP address; past it, 503. Default 20,000.
    public var maxConnectionsPerIP: Int
    /// Most messages (data and control) a connection may send per second, averaged over a
    /// one-second burst; more closes with 1008. Default 100.
    public var maxMessagesPerSecond: Int
    /// Browser origins allowed to connect; empty (default) allows any. Others get 403.
    public var allowedOrigins: [String]
    /// How often the server pings an idle connection, in seconds. Default 25.
    public var pingInterval: Double
    /// A connection that sends nothing (not even a pong) for this long is closed with 1001. Default 75 s.
    public var idleTimeout: Double
    /// How long to wait for the peer's close frame after sending ours. Default 5 s.
    public var closeTimeout: Double
    /// Outbound bytes a connection may have queued before it counts as a slow consumer
    /// (NIO's high water mark). Default 1 MiB.
    public var maxPendingBytes: Int
    /// A slow consumer whose queue stays over `maxPendingBytes` this long, or grows past
    /// twice it, is disconnected (close 1008, then TCP close). Default 10 s.
    public var slowConsumerTimeout: Double
    /// Offer permessage-deflate when the client asks for it. Default on.
    public var compression: Bool

    public init(
        maxMessageBytes: Int = 16 << 20, maxConnections: Int = 100_000, maxConnectionsPerIP: Int = 20_000,
        maxMessagesPerSecond: Int = 100, allowedOrigins: [String] = [], pingInterval: Double = 25, idleTimeout: Double = 75,
        closeTimeout: Double = 5, maxPendingBytes: Int = 1 << 20, slowConsumerTimeout: Double = 10, compression: Bool = true
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.maxMessagesPerSecond = maxMessagesPerSecond
        self.allowedOrigins = allowedOrigins
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
        self.closeTimeout = closeTimeout
        self.maxPendingBytes = maxPendingBytes
        self.slowConsumerTimeout = slowConsumerTimeout
        self.compression = compression
    }
}
