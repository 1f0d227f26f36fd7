public import NIOCore
import NIOPosix
public import NIOHTTP1
import NIOExtras
public import Logging
import PraxisLoops
import Synchronization

/// The HTTP/1.1 listener: binds, serves, and shuts down gracefully (stops accepting,
/// lets in-flight requests finish, then closes idle connections).
///
/// Descriptors are guarded at three points: every accepted connection passes the
/// `ConnectionGate` (`--max-connections`, `--http-max-connections-per-ip`; refused ones get
/// 503 and are closed at once); every HTTP connection runs under `HTTPTimeoutHandler`
/// (header, body and keep-alive deadlines); and should `accept` fail anyway for want of
/// descriptors (EMFILE, ENFILE), `AcceptPauseHandler` takes the listener out of the poll set
/// for a moment instead of failing `accept` in a busy loop.
public final class HTTPServer: Sendable {
    private let serverChannel: any Channel
    /// Dropped by `shutdown` while the loops still run: its deinit completes a promise on a
    /// loop, which after the group stopped printed "ERROR: Cannot schedule tasks on an
    /// EventLoop that has already shut down" at exit.
    private let quiesce: Mutex<ServerQuiescingHelper?>
    private let gate: ConnectionGate
    /// The port actually bound (useful when asked for port 0).
    public let localPort: Int

    /// How long accepting pauses after `accept` failed for want of descriptors or memory.
    static let acceptPause = TimeAmount.milliseconds(200)

    private init(serverChannel: any Channel, quiesce: ServerQuiescingHelper, gate: ConnectionGate) {
        self.serverChannel = serverChannel
        self.quiesce = Mutex(quiesce)
        self.gate = gate
        self.localPort = serverChannel.localAddress?.port ?? 0
    }

    /// Binds `host:port` and starts serving `responder`. `upgraders` switch protocols from the
    /// HTTP pipeline; `fastUpgrader`, when given, takes a connection's plain first request head
    /// before that pipeline is built (`HTTPFastUpgradeHandler`) and must answer as `upgraders` do.
    public static func start(
        host: String, port: Int, group: any EventLoopGroup,
        configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger,
        upgraders: [any HTTPServerProtocolUpgrader & Sendable] = [], fastUpgrader: (any HTTPFastUpgrader)? = nil
    ) async throws -> HTTPServer {
        let quiesce = ServerQuiescingHelper(group: group)
        let log = ThrottledLogger(logger: logger)
        let receiveAllocator = configuration.receiveAllocator
        let gate = ConnectionGate(maxTotal: configuration.effectiveMaxConnections, maxPerIP: configuration.maxConnectionsPerIP)
        let httpPipeline = Self.httpPipeline(configuration: configuration, responder: responder, log: log, upgraders: upgraders)
        let loopTimers = LoopTimers.perLoop(of: group)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(AcceptPauseHandler(pause: Self.acceptPause, log: log))
                    try sync.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            // No child channel options: the bootstrap applies those through a chain of futures,
            // a tenth of the user-space CPU of a connect-and-close; TCP_NODELAY comes from the
            // listener (NIO sets it there; Linux copies it to each accepted socket), the read
            // settings are set below, synchronously, for admitted connections only.
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ip = channel.remoteAddress?.ipAddress ?? "unknown"
                    let admission = gate.admit(ip: ip)
                    guard admission == .admitted else {
                        log.log(
                            .warning, key: "refused-\(admission)",
                            admission == .overTotal
                                ? "connection refused: --max-connections (\(gate.openConnections) open) reached"
                                : "connection refused: --http-max-connections-per-ip (\(configuration.maxConnectionsPerIP)) reached for \(ip)",
                            metadata: ["peer": "\(ip)"]
                        )
                        try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler(admission: admission))
                        return
                    }
                    let options = channel.syncOptions
                    try options?.setOption(.maxMessagesPerRead, value: 16)
                    try options?.setOption(.recvAllocator, value: receiveAllocator)
                    let ticket = NIOLoopBound(ConnectionTicket(gate: gate, ip: ip), eventLoop: channel.eventLoop)
                    channel.closeFuture.whenComplete { _ in ticket.value.release() }
                    let upgraded: @Sendable () -> Void = { ticket.value.markUpgraded() }
                    let sync = channel.pipeline.syncOperations
                    if let fastUpgrader {
                        try sync.addHandler(
                            HTTPFastUpgradeHandler(
                                upgrader: fastUpgrader, remoteIP: ip, headerTimeout: configuration.headerTimeout,
                                timers: loopTimers.of(channel.eventLoop), log: log, httpPipeline: httpPipeline, upgraded: upgraded
                            ),
                            name: HTTPFastUpgradeHandler.name
                        )
                    } else {
                        try httpPipeline(sync, nil, upgraded)
                    }
                }
            }
            .bind(host: host, port: port)
            .get()
        return HTTPServer(serverChannel: channel, quiesce: quiesce, gate: gate)
    }

    /// `configure` with the server's settings, for each connection.
    static func httpPipeline(
        configuration: HTTPServerConfiguration, responder: any HTTPResponder, log: ThrottledLogger?,
        upgraders: [any HTTPServerProtocolUpgrader & Sendable]
    ) -> HTTPFastUpgradeHandler.HTTPPipeline {
        { sync, firstHeadDeadline, upgraded in
            try configure(
                pipeline: sync, configuration: configuration, responder: responder, log: log, upgraders: upgraders, upgraded: upgraded,
                firstHeadDeadline: firstHeadDeadline
            )
        }
    }

    /// The handlers of one HTTP connection (also used by the handler tests):
    /// timeouts first (raw bytes), then NIO's codec, pipelining and upgrade, then ours.
    /// `firstHeadDeadline`: when the first head is due, if not `headerTimeout` from now.
    static func configure(
        pipeline sync: ChannelPipeline.SynchronousOperations, configuration: HTTPServerConfiguration, responder: any HTTPResponder,
        log: ThrottledLogger?, upgraders: [any HTTPServerProtocolUpgrader & Sendable] = [], upgraded: @escaping @Sendable () -> Void = {},
        firstHeadDeadline: NIODeadline? = nil
    ) throws {
        try sync.addHandler(
            HTTPTimeoutHandler(configuration: configuration, log: log, firstHeadDeadline: firstHeadDeadline), name: HTTPTimeoutHandler.name
        )
        if upgraders.isEmpty {
            try sync.configureHTTPServerPipeline(withErrorHandling: false)
        } else {
            // After an upgrade the HTTP handlers leave the pipeline; WebSocket keeps its own time.
            try sync.configureHTTPServerPipeline(
                withServerUpgrade: (upgraders: upgraders, completionHandler: { context in
                    let pipeline = context.pipeline.syncOperations
                    pipeline.removeHandler(name: HTTPServerHandler.name, promise: nil)
                    pipeline.removeHandler(name: HTTPTimeoutHandler.name, promise: nil)
                    upgraded()
                }),
                withErrorHandling: false
            )
        }
        try sync.addHandler(HTTPServerHandler(responder: responder, configuration: configuration, log: log), name: HTTPServerHandler.name)
    }

    /// Open client connections now (HTTP and WebSocket).
    public var openConnections: Int { gate.openConnections }

    /// Stops accepting, finishes in-flight requests, closes every connection.
    public func shutdown() async {
        guard let quiesce = quiesce.withLock({ $0.take() }) else { return }
        let promise = serverChannel.eventLoop.makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: promise)
        try? await promise.futureResult.get()
    }
}
