/// Limits and behaviour of the HTTP/1.1 layer. Every field is a `praxis serve` flag
/// (README "Configuration", protocol/http-api.md §6); the defaults live here.
public struct HTTPServerConfiguration: Sendable {
    /// Largest request body accepted; larger ones get 413. Default 1 MiB.
    public var maxBodyBytes: Int
    /// Origins allowed to call the API from a browser (CORS). `["*"]` (default) allows any.
    public var corsAllowedOrigins: [String]
    /// Time allowed to receive a complete request head: from the accept for a connection's
    /// first request, from its first byte for a later one. Past it: 408 (when part of a request
    /// came) and the connection closes. Default 10 s: a head is one packet for every real client,
    /// and this bounds how long a slow-loris client holds a descriptor.
    public var headerTimeout: Duration
    /// Time allowed to receive the body after the head. Past it: 408 and close. Default 30 s:
    /// a full 1 MiB body at 35 KB/s, far slower than any link our clients use.
    public var bodyTimeout: Duration
    /// How long a keep-alive connection may wait for its next request; then it closes
    /// quietly. Default 60 s (a little under browsers' and above httpx's pools).
    public var idleTimeout: Duration
    /// Most HTTP connections open at once from one client IP (a WebSocket leaves this count
    /// when its upgrade completes; `WebSocketConfiguration.maxConnectionsPerIP` counts it then).
    /// Past it, the new connection gets 503 and is closed. Default 256.
    public var maxConnectionsPerIP: Int
    /// Most client connections (HTTP and WebSocket) open at once; past it, new ones get 503
    /// and are closed, so the process never runs out of descriptors for its database.
    /// nil (default): the open-file limit minus `reservedDescriptors`.
    public var maxConnections: Int?
    /// The size of a connection's first receive buffer, in bytes (rounded down to a power of
    /// two, 64…65536). NIO keeps each connection's last receive buffer for its next read, so an
    /// idle connection holds the largest buffer its reads needed: the buffer doubles (up to
    /// 64 KiB) while reads fill it and is reused as long as it is big enough. Default 512: an
    /// upgrade request or a realtime message fits, and an idle WebSocket keeps 0.5 KiB instead
    /// of NIO's default 2 KiB.
    public var readBufferBytes: Int

    /// The range `readBufferBytes` must lie in.
    public static let readBufferRange = 64...65536

    /// Descriptors kept for everything but client connections (SQLite files, the listener,
    /// event loops, logs) when `maxConnections` is derived from the open-file limit.
    public static let reservedDescriptors = 128

    public init(
        maxBodyBytes: Int = 1 << 20, corsAllowedOrigins: [String] = ["*"], headerTimeout: Duration = .seconds(10),
        bodyTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(60), maxConnectionsPerIP: Int = 256,
        maxConnections: Int? = nil, readBufferBytes: Int = 512
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.corsAllowedOrigins = corsAllowedOrigins
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.maxConnections = maxConnections
        self.readBufferBytes = readBufferBytes
    }

    /// `maxConnections`, or the open-file limit minus `reservedDescriptors` (at least 1).
    public var effectiveMaxConnections: Int {
        if let maxConnections { return maxConnections }
        return max(1, OpenFileLimit.current - Self.reservedDescriptors)
    }
}
