public import PraxisStore
public import PraxisAuth
import PraxisHTTP
import PraxisWebSocket
import PraxisRealtime
import PraxisAssessment
import PraxisWeb
import NIOCore
import NIOPosix
public import Logging
import Metrics
public import Prometheus
import Foundation

/// A running Praxis server: the store, the token issuer and the HTTP listener.
///
/// `start` opens the database (migrating it), loads demo data when asked, binds and
/// serves; `shutdown` stops gracefully. `PraxisService` runs it under
/// swift-service-lifecycle for the command line.
public final class PraxisApplication: Sendable {
    public let configuration: ServerConfiguration
    /// The opened database (SQLite or PostgreSQL), seen through the store boundary.
    package let store: OpenedStore
    public let tokens: TokenIssuer
    /// The API keys of this database (anon, service_role).
    public let apiKeys: APIKeys
    /// The metrics registry `/metrics` renders.
    public let metrics: PrometheusCollectorRegistry
    /// What the demo loader did, when `--demo` was given.
    public let demo: DemoSummary?
    private let server: HTTPServer
    /// Our own group when a thread count was configured; nil on the shared singleton.
    private let ownedGroup: MultiThreadedEventLoopGroup?
    /// The loops everything runs on (ours, or the shared singleton).
    private var group: any EventLoopGroup { ownedGroup ?? MultiThreadedEventLoopGroup.singleton }
    private let realtime: RealtimeApplication
    private let logger: Logger

    /// The bound port.
    public var port: Int { server.localPort }

    private init(
        configuration: ServerConfiguration, store: OpenedStore, tokens: TokenIssuer, apiKeys: APIKeys,
        metrics: PrometheusCollectorRegistry, demo: DemoSummary?, server: HTTPServer,
        ownedGroup: MultiThreadedEventLoopGroup?, realtime: RealtimeApplication, logger: Logger
    ) {
        self.realtime = realtime
        self.configuration = configuration
        self.store = store
        self.tokens = tokens
        self.apiKeys = apiKeys
        self.metrics = metrics
        self.demo = demo
        self.server = server
        self.ownedGroup = ownedGroup
        self.logger = logger
    }

    /// Opens the store and starts serving.
    public static func start(
        _ configuration: ServerConfiguration,
        logger: Logger = Logger(label: "praxis"),
        metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) async throws -> PraxisApplication {
        let store = try await Self.openStore(configuration)
        let secret: String
        let epoch: String
        let lastBroadcastID: Int64
        do {
            secret = try await store.settings.signingSecret(provided: configuration.jwtSecret)
            epoch = try await store.feedEpoch()
            lastBroadcastID = try await store.lastBroadcastID()
        } catch {
            await store.close()
            throw error
        }
        let tokens = try await TokenIssuer(secret: secret)
        let apiKeys = try await tokens.apiKeys()
        let hasher = PasswordHasher(logN: configuration.api.passwordHashLogN)

        var demo: DemoSummary?
        if configuration.demo {
            let summary = try await store.loadDemoData(hashPassword: { try hasher.hash($0) })
            demo = summary
            if summary.loaded {
                logger.info("demo data loaded", metadata: ["cases": "\(summary.caseCount)", "rooms": "\(summary.roomCount)"])
            } else {
                logger.info("demo data skipped: the database already has data")
            }
        }

        let factory = PrometheusMetricsFactory(registry: metrics)
        let ownedGroup = configuration.eventLoopThreads > 0
            ? MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopThreads) : nil
        let group: any EventLoopGroup = ownedGroup ?? MultiThreadedEventLoopGroup.singleton
        let assessor: any Assessor = configuration.chatAssessor.map { ChatAssessor(configuration: $0) } ?? HeuristicRoundAssessor()
        let realtime = RealtimeApplication(
            database: store, lastBroadcastID: lastBroadcastID, tokens: tokens, epoch: epoch, configuration: configuration.realtime, rooms: configuration.rooms,
            assessor: assessor, group: group, logger: logger
        )
        var webSocketRoutes: [String: any WebSocketApplication] = [
            "/realtime/v1/websocket": realtime,
            "/socket/websocket": realtime,
        ]
        if configuration.echo {
            webSocketRoutes["/ws/echo"] = EchoApplication()
            webSocketRoutes["/ws/broadcast"] = BroadcastApplication()
        }
        let webSockets = WebSocketEndpoints(configuration: configuration.webSocket, routes: webSocketRoutes)
        let web = try await Self.offLoop { try WebApp.embedded() }
        let router = Routes.make(
            store: store, tokens: tokens, api: configuration.api, webSockets: webSockets, metrics: metrics,
            web: web, anonKey: apiKeys.anon, realtime: realtime, logger: logger
        )
        let responder = InstrumentedResponder(inner: router, factory: factory)
        let server: HTTPServer
        do {
            server = try await HTTPServer.start(
                host: configuration.host, port: configuration.port, group: group,
                configuration: configuration.http, responder: responder, logger: logger,
                upgraders: [webSockets.makeUpgrader()], fastUpgrader: WebSocketFastUpgrader(endpoints: webSockets)
            )
        } catch {
            realtime.stop()
            try? await ownedGroup?.shutdownGracefully()
            throw ServerError.cannotBind(host: configuration.host, port: configuration.port, reason: "\(error)")
        }
        logger.info(
            "praxis listening",
            metadata: ["host": "\(configuration.host)", "port": "\(server.localPort)", "db": "\(store.location)"]
        )
        return PraxisApplication(
            configuration: configuration, store: store, tokens: tokens, apiKeys: apiKeys, metrics: metrics,
            demo: demo, server: server, ownedGroup: ownedGroup, realtime: realtime, logger: logger
        )
    }

    /// Stops in order: stop accepting and close every connection (in-flight requests finish,
    /// WebSockets get 1001 "going away"); stop the room sweep and the change feed; let the room
    /// journal write what the closing connections left and the loops run its completions; then
    /// stop the event loops (our own group only) and close the store. Nothing is scheduled on a
    /// loop after its group stopped.
    public func shutdown() async {
        logger.info("praxis shutting down")
        await server.shutdown()
        realtime.stop()
        await realtime.drain(group: group)
        try? await ownedGroup?.shutdownGracefully()
        await store.close()
        logger.info("praxis stopped")
    }

    /// Opens the database `configuration` names: the SQLite file, or PostgreSQL (migrated).
    private static func openStore(_ configuration: ServerConfiguration) async throws -> OpenedStore {
        let store = StoreConfiguration(
            path: configuration.databasePath, synchronousFull: configuration.synchronousFull, checkpointInterval: configuration.checkpointInterval,
            walRestartBytes: configuration.walRestartBytes, walMaxBytes: configuration.walMaxBytes,
            journalSizeLimitBytes: configuration.journalSizeLimitBytes, checkpointReaderWait: configuration.checkpointReaderWait,
            changeLogMaxEntries: configuration.changeLogMaxEntries, changeLogMaxBytes: configuration.changeLogMaxBytes,
            dataWriteMaxBatch: configuration.dataWriteMaxBatch, statementCacheSize: configuration.statementCacheSize,
            postgresPoolSize: configuration.postgresPoolSize
        )
        return try await OpenedStore.open(configuration.database, sqlite: store)
    }

    /// Runs blocking work on a thread of its own (never an event loop).
    static func offLoop<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
