public import PraxisHTTP
public import PraxisWebSocket
public import PraxisRealtime
public import Logging
public import PraxisAssessment
public import PraxisStore

/// Everything `praxis serve` can be told. Every field has a documented default.
public struct ServerConfiguration: Sendable {
    /// Address to bind. Default `127.0.0.1`.
    public var host: String
    /// Port to bind; 0 picks a free port (logged, and readable from the running app). Default 8080.
    public var port: Int
    /// The SQLite file. Default `./praxis.sqlite`.
    public var databasePath: String
    /// A PostgreSQL database to run on instead of the SQLite file (`--db postgres://…`);
    /// nil (default): SQLite at ``databasePath``. The SQLite-only settings (WAL,
    /// checkpoints, `synchronous`) do not apply to it; the change log's do.
    public var postgres: PostgresLocation?
    /// Load the demo data into an empty database. Default off.
    public var demo: Bool
    /// fsync the WAL at every commit (SQLite `synchronous=FULL`, default) rather than only at
    /// checkpoints (`NORMAL`: commits survive a process crash, not a power cut).
    public var synchronousFull: Bool = true
    /// Seconds between WAL checkpoints run beside the writer; nil: the writer checkpoints
    /// inside its commits (SQLite's default). Default 0.5.
    public var checkpointInterval: Double? = StoreConfiguration.Defaults.checkpointInterval
    /// WAL bytes past which a background checkpoint is RESTART; nil: passive only. Default 32 MiB.
    public var walRestartBytes: Int? = StoreConfiguration.Defaults.walRestartBytes
    /// WAL bytes past which the writer checkpoints (RESTART) after a commit; nil: never. Default 128 MiB.
    public var walMaxBytes: Int? = StoreConfiguration.Defaults.walMaxBytes
    /// SQLite `journal_size_limit` (the WAL file is cut back to it when the WAL starts over);
    /// -1: never. Default 64 MiB.
    public var journalSizeLimitBytes: Int = StoreConfiguration.Defaults.journalSizeLimitBytes
    /// Seconds a RESTART checkpoint waits for readers while it holds the writer. Default 0.1.
    public var checkpointReaderWait: Double = StoreConfiguration.Defaults.checkpointReaderWait
    /// Most changes the change log keeps for resume. Default 100,000.
    public var changeLogMaxEntries: Int = StoreConfiguration.Defaults.changeLogMaxEntries
    /// Most bytes of stored records the change log keeps. Default 64 MiB.
    public var changeLogMaxBytes: Int = StoreConfiguration.Defaults.changeLogMaxBytes
    /// Most data-API writes one SQLite transaction holds (group commit). Default 256.
    public var dataWriteMaxBatch: Int = StoreConfiguration.Defaults.dataWriteMaxBatch
    /// SQLite: most prepared statements of the data API's per-request SQL each connection
    /// keeps (least recently used dropped first); 0: none. Default 64.
    public var statementCacheSize: Int = StoreConfiguration.Defaults.statementCacheSize
    /// PostgreSQL: most connections of the server's pool. Default 8.
    public var postgresPoolSize: Int = StoreConfiguration.Defaults.postgresPoolSize
    /// The JWT signing secret; nil (default) uses the one kept in the database.
    public var jwtSecret: String?
    /// HTTP limits (body size, CORS).
    public var http: HTTPServerConfiguration
    /// Auth and data API behaviour (token lifetime, rate limits, row limit, scrypt cost).
    public var api: APIConfiguration
    /// WebSocket limits and timers.
    public var webSocket: WebSocketConfiguration
    /// Realtime channel behaviour (heartbeat timeout, limits).
    public var realtime: RealtimeConfiguration
    /// Practice rooms: grace period, no-show sweep, replay and turn limits.
    public var rooms: RoomConfiguration = .init()
    /// An OpenAI-compatible model endpoint for assessments; nil (default) uses the
    /// built-in heuristic assessor only.
    public var chatAssessor: ChatAssessorConfiguration?
    /// Serve the transport conformance endpoints `/ws/echo` and `/ws/broadcast`. Default off.
    public var echo: Bool
    /// Event-loop threads; 0 (default) means one per core.
    public var eventLoopThreads: Int
    public var logLevel: Logger.Level

    /// Where the store is: ``postgres`` when set, else the SQLite file at ``databasePath``.
    public var database: DatabaseLocation {
        postgres.map(DatabaseLocation.postgres) ?? .sqlite(path: databasePath)
    }

    public init(
        host: String = "127.0.0.1", port: Int = 8080, databasePath: String = "./praxis.sqlite",
        demo: Bool = false, jwtSecret: String? = nil, http: HTTPServerConfiguration = .init(),
        api: APIConfiguration = .init(), webSocket: WebSocketConfiguration = .init(), realtime: RealtimeConfiguration = .init(), echo: Bool = false, eventLoopThreads: Int = 0, logLevel: Logger.Level = .info
    ) {
        self.host = host
        self.port = port
        self.databasePath = databasePath
        self.demo = demo
        self.jwtSecret = jwtSecret
        self.http = http
        self.api = api
        self.webSocket = webSocket
        self.realtime = realtime
        self.echo = echo
        self.eventLoopThreads = eventLoopThreads
        self.logLevel = logLevel
    }
}
