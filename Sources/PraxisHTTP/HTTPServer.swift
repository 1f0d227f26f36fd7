public import NIOCore
import NIOPosix
public import NIOHTTP1
import NIOExtras
public import Logging

/// The HTTP/1.1 listener: binds, serves, and shuts down gracefully (stops accepting,
/// lets in-flight requests finish, then closes idle connections).
public final class HTTPServer: Sendable {
    private let serverChannel: any Channel
    private let quiesce: ServerQuiescingHelper
    /// The port actually bound (useful when asked for port 0).
    public let localPort: Int

    private init(serverChannel: any Channel, quiesce: ServerQuiescingHelper) {
        self.serverChannel = serverChannel
        self.quiesce = quiesce
        self.localPort = serverChannel.localAddress?.port ?? 0
    }

    /// Binds `host:port` and starts serving `responder`.
    public static func start(
        host: String, port: Int, group: any EventLoopGroup,
        configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger,
        upgraders: [any HTTPServerProtocolUpgrader & Sendable] = []
    ) async throws -> HTTPServer {
        let quiesce = ServerQuiescingHelper(group: group)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if upgraders.isEmpty {
                        try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    } else {
                        // After an upgrade the HTTP handler leaves the pipeline.
                        try sync.configureHTTPServerPipeline(
                            withServerUpgrade: (upgraders: upgraders, completionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(name: HTTPServerHandler.name, promise: nil)
                            }),
                            withErrorHandling: true
                        )
                    }
                    try sync.addHandler(HTTPServerHandler(responder: responder, configuration: configuration), name: HTTPServerHandler.name)
                }
            }
            .bind(host: host, port: port)
            .get()
        return HTTPServer(serverChannel: channel, quiesce: quiesce)
    }

    /// Stops accepting, finishes in-flight requests, closes every connection.
    public func shutdown() async {
        let promise = serverChannel.eventLoop.makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: promise)
        try? await promise.futureResult.get()
    }
}
