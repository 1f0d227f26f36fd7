import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import PraxisHTTP
import PraxisServer
import PraxisAssessment
import PraxisStore
import ServiceLifecycle

/// `praxis serve`: run the server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server (HTTP API, health, metrics) on one port.",
        discussion: "Every option can also be set by the environment variable named in its help."
    )

    @Option(help: "Address to bind (env PRAXIS_HOST). Default 127.0.0.1.")
    var host: String?

    @Option(help: "Port to bind; 0 picks a free port and logs it (env PRAXIS_PORT). Default 8080.")
    var port: Int?

    @Option(help: "SQLite database file, or postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require] (also postgresql://) to run on PostgreSQL, migrated at start (env PRAXIS_DB). Default ./praxis.sqlite.")
    var db: String?

    @Option(help: "Read the PostgreSQL password from this file when the URL has none (else env PRAXIS_DB_PASSWORD).")
    var dbPasswordFile: String?

    @Flag(help: "Load the demo data (cases, users, rooms) into an empty database (env PRAXIS_DEMO=1).")
    var demo = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env PRAXIS_LOG_LEVEL). Default info.")
    var logLevel: String?

    @Option(help: "JWT signing secret (env PRAXIS_JWT_SECRET). Default: generated once and kept in the database.")
    var jwtSecret: String?

    @Option(help: "Largest accepted request body in bytes; larger gets 413 (env PRAXIS_MAX_BODY_BYTES). Default 1048576.")
    var maxBodyBytes: Int?

    @Option(help: "Seconds to receive a complete request head (from the accept, or from a keep-alive connection's next byte); then 408 and close (env PRAXIS_HTTP_HEADER_TIMEOUT). Default 10.")
    var httpHeaderTimeout: Double?

    @Option(help: "Seconds to receive a request body after its head; then 408 and close (env PRAXIS_HTTP_BODY_TIMEOUT). Default 30.")
    var httpBodyTimeout: Double?

    @Option(help: "Seconds a keep-alive connection may wait for its next request before it is closed (env PRAXIS_HTTP_IDLE_TIMEOUT). Default 60.")
    var httpIdleTimeout: Double?

    @Option(help: "Most HTTP connections per client IP (an upgraded WebSocket counts under --ws-max-connections-per-ip instead); more get 503 (env PRAXIS_HTTP_MAX_CONNECTIONS_PER_IP). Default 256.")
    var httpMaxConnectionsPerIp: Int?

    @Option(help: "Bytes of a connection's first receive buffer, 64...65536 (rounded down to a power of two; it doubles while reads fill it, and an idle connection keeps the largest it needed) (env PRAXIS_READ_BUFFER_BYTES). Default 512.")
    var readBufferBytes: Int?

    @Option(help: "Most client connections, HTTP and WebSocket; more get 503 and are closed at once (env PRAXIS_MAX_CONNECTIONS). Default: the open-file limit minus 128.")
    var maxConnections: Int?

    @Option(help: "Event-loop threads, 0 = one per core (env PRAXIS_THREADS). Default 0.")
    var threads: Int?

    @Flag(help: "Serve the transport conformance endpoints /ws/echo and /ws/broadcast (env PRAXIS_ECHO=1).")
    var echo = false

    @Option(help: "Largest WebSocket message in bytes; larger closes with 1009 (env PRAXIS_WS_MAX_MESSAGE_BYTES). Default 16777216.")
    var wsMaxMessageBytes: Int?

    @Option(help: "Most open WebSocket connections; more get 503 (env PRAXIS_WS_MAX_CONNECTIONS). Default 100000.")
    var wsMaxConnections: Int?

    @Option(help: "Most WebSocket connections per client IP; more get 503 (env PRAXIS_WS_MAX_CONNECTIONS_PER_IP). Default 20000.")
    var wsMaxConnectionsPerIp: Int?

    @Option(help: "Most messages per second per connection; more closes with 1008 (env PRAXIS_WS_MAX_MESSAGES_PER_SECOND). Default 100.")
    var wsMaxMessagesPerSecond: Int?

    @Option(help: "Comma-separated browser origins allowed to open WebSockets; others get 403 (env PRAXIS_WS_ALLOWED_ORIGINS). Default: any.")
    var wsAllowedOrigins: String?

    @Option(help: "Seconds between server pings (env PRAXIS_WS_PING_INTERVAL). Default 25.")
    var wsPingInterval: Double?

    @Option(help: "Seconds of silence before a connection is closed with 1001 (env PRAXIS_WS_IDLE_TIMEOUT). Default 75.")
    var wsIdleTimeout: Double?

    @Option(help: "Seconds to wait for the peer's close frame (env PRAXIS_WS_CLOSE_TIMEOUT). Default 5.")
    var wsCloseTimeout: Double?

    @Option(help: "Outbound bytes queued per connection before it is a slow consumer (env PRAXIS_WS_MAX_PENDING_BYTES). Default 1048576.")
    var wsMaxPendingBytes: Int?

    @Option(help: "Seconds a slow consumer may stay over its queue limit before it is disconnected (env PRAXIS_WS_SLOW_CONSUMER_TIMEOUT). Default 10.")
    var wsSlowConsumerTimeout: Double?

    @Flag(help: "Never negotiate permessage-deflate (env PRAXIS_WS_NO_COMPRESSION=1).")
    var wsNoCompression = false

    @Option(help: "Seconds without any message before a realtime connection is closed (env PRAXIS_REALTIME_HEARTBEAT_TIMEOUT). Default 150.")
    var realtimeHeartbeatTimeout: Double?

    @Option(help: "Channels one realtime connection may join; more get 'ChannelRateLimitReached: Too many channels' (env PRAXIS_REALTIME_MAX_CHANNELS_PER_CONNECTION). Default 100.")
    var realtimeMaxChannelsPerConnection: Int?

    @Option(help: "phx_join messages one realtime connection may send per second; more get 'ClientJoinRateLimitReached: Too many joins per second' (env PRAXIS_REALTIME_MAX_JOINS_PER_SECOND). Default 100.")
    var realtimeMaxJoinsPerSecond: Int?

    @Option(help: "Broadcast pushes one realtime connection may send per second; past it the channel closes with 'Too many messages per second' (env PRAXIS_REALTIME_MAX_MESSAGES_PER_SECOND). Default 100.")
    var realtimeMaxMessagesPerSecond: Int?

    @Option(help: "Presence pushes one realtime connection may send per second; past it the channel closes with 'Too many presence messages per second' (env PRAXIS_REALTIME_MAX_PRESENCE_PER_SECOND). Default 10.")
    var realtimeMaxPresencePerSecond: Int?

    @Option(help: "Largest broadcast payload in bytes, on the socket and the REST API (env PRAXIS_REALTIME_MAX_PAYLOAD_BYTES). Default 3000000.")
    var realtimeMaxPayloadBytes: Int?

    @Option(help: "Broadcast pushes all realtime connections together may send per second; past it the channel closes with 'Too many messages per second' (env PRAXIS_REALTIME_MAX_SERVER_MESSAGES_PER_SECOND). Default 20000.")
    var realtimeMaxServerMessagesPerSecond: Int?

    @Option(help: "Largest record plus old_record of a postgres_changes message in bytes; a larger change keeps only its short values and says 'Error 413: Payload Too Large' in errors (env PRAXIS_REALTIME_MAX_CHANGE_RECORD_BYTES). Default 1048576.")
    var realtimeMaxChangeRecordBytes: Int?

    @Option(help: "Broadcasts the REST API accepts per second, all senders together; more get 429 (env PRAXIS_REALTIME_API_BROADCASTS_PER_SECOND). Default 100.")
    var realtimeApiBroadcastsPerSecond: Int?

    @Option(help: "Private-channel broadcasts kept in the database for broadcast replay, newest first (env PRAXIS_REALTIME_BROADCAST_LOG_SIZE). Default 100000.")
    var realtimeBroadcastLogSize: Int?

    @Option(help: "SQLite durability of each commit: full (fsync the WAL at every commit; survives a power cut) or normal (fsync at checkpoints; survives a process crash) (env PRAXIS_DB_SYNCHRONOUS). Default full.")
    var dbSynchronous: String?

    @Option(help: "Seconds between WAL checkpoints run beside the writer, off its commits; 0 lets the writer checkpoint inside its commits (env PRAXIS_DB_CHECKPOINT_INTERVAL). Default 0.5.")
    var dbCheckpointInterval: Double?

    @Option(help: "WAL size in bytes past which a background checkpoint is RESTART (holds the writer for the frames left, so the WAL starts over); 0: passive checkpoints only (env PRAXIS_DB_WAL_RESTART_BYTES). Default 33554432.")
    var dbWalRestartBytes: Int?

    @Option(help: "WAL size in bytes past which the writer itself checkpoints (RESTART) after a commit, before answering it: the safety net when background checkpoints fall behind; 0: never (env PRAXIS_DB_WAL_MAX_BYTES). Default 134217728.")
    var dbWalMaxBytes: Int?

    @Option(help: "SQLite journal_size_limit: bytes the WAL file is cut back to when it starts over; -1 (written --db-journal-size-limit-bytes=-1): never cut (env PRAXIS_DB_JOURNAL_SIZE_LIMIT_BYTES). Default 67108864.")
    var dbJournalSizeLimitBytes: Int?

    @Option(help: "Seconds a RESTART checkpoint waits, holding the writer, for readers on an older snapshot before it gives up until the next round (env PRAXIS_DB_CHECKPOINT_READER_WAIT). Default 0.1.")
    var dbCheckpointReaderWait: Double?

    @Option(help: "Most changes the change log (the realtime feed's replay for resume) keeps; older offsets get a snapshot (env PRAXIS_DB_CHANGE_LOG_ENTRIES). Default 100000.")
    var dbChangeLogEntries: Int?

    @Option(help: "Most bytes of stored records the change log keeps, whichever limit comes first (env PRAXIS_DB_CHANGE_LOG_BYTES). Default 67108864.")
    var dbChangeLogBytes: Int?

    @Option(help: "Most data-API writes one SQLite transaction holds: concurrent writes are group-committed, each in its own savepoint, one fsync for all; 1: a transaction per write (env PRAXIS_DB_DATA_WRITE_BATCH). Default 256.")
    var dbDataWriteBatch: Int?

    @Option(help: "SQLite: most prepared statements of the data API's per-request SQL (it depends on the columns and filters a request names) each connection keeps, least recently used dropped first; 0: none kept (env PRAXIS_DB_STATEMENT_CACHE_SIZE). Default 64.")
    var dbStatementCacheSize: Int?

    @Option(help: "PostgreSQL: most connections the server's pool opens; requests beyond wait for one (env PRAXIS_DB_POOL_SIZE). Default 8.")
    var dbPoolSize: Int?

    @Option(help: "Seconds a dropped room peer keeps its seat, and after the scheduled time before a no-show (env PRAXIS_ROOM_GRACE). Default 60.")
    var roomGrace: Double?

    @Option(help: "Seconds between no-show sweeps of rooms scheduled in the last 24 hours (env PRAXIS_ROOM_SWEEP_INTERVAL). Default 30.")
    var roomSweepInterval: Double?

    @Option(help: "Most room events a resume replays, from memory or the journal (env PRAXIS_ROOM_REPLAY_LIMIT). Default 1000.")
    var roomReplayLimit: Int?

    @Option(help: "Latest events each loaded room keeps in memory; older ones are read from the journal (env PRAXIS_ROOM_RECENT_EVENTS). Default 64.")
    var roomRecentEvents: Int?

    @Option(help: "Most turns one round accepts (env PRAXIS_ROOM_MAX_TURNS_PER_ROUND). Default 2000.")
    var roomMaxTurnsPerRound: Int?

    @Option(help: "Longest room turn in characters (env PRAXIS_ROOM_MAX_TURN_CHARACTERS). Default 4000.")
    var roomMaxTurnCharacters: Int?

    @Option(help: "Room journal entries waiting for the disk beyond which room commands are refused as busy (env PRAXIS_ROOM_MAX_PENDING_WRITES). Default 20000.")
    var roomMaxPendingWrites: Int?

    @Option(help: "Shortest preparation or role-play a room may set, in seconds (env PRAXIS_ROOM_MIN_PHASE_SECONDS). Default 30.")
    var roomMinPhaseSeconds: Double?

    @Option(help: "OpenAI-compatible chat-completions URL for assessments, e.g. http://127.0.0.1:9000/v1/chat/completions (env PRAXIS_ASSESSOR_URL). Default none: the heuristic assessor.")
    var assessorUrl: String?

    @Option(help: "Model name sent to the assessor endpoint (env PRAXIS_ASSESSOR_MODEL). Required with --assessor-url.")
    var assessorModel: String?

    @Option(help: "Bearer key for the assessor endpoint (env PRAXIS_ASSESSOR_KEY). Default none.")
    var assessorKey: String?

    @Option(help: "Seconds to wait for the assessor endpoint before falling back to the heuristic (env PRAXIS_ASSESSOR_TIMEOUT). Default 20.")
    var assessorTimeout: Double?

    @Option(help: "Access token lifetime in seconds (env PRAXIS_ACCESS_TOKEN_LIFETIME). Default 3600.")
    var accessTokenLifetime: Int?

    @Option(help: "Failed sign-ins per email per minute before 429 (env PRAXIS_MAX_FAILED_LOGINS_PER_EMAIL). Default 10.")
    var maxFailedLoginsPerEmail: Int?

    @Option(help: "Failed sign-ins per client IP per minute before 429 (env PRAXIS_MAX_FAILED_LOGINS_PER_IP). Default 50.")
    var maxFailedLoginsPerIp: Int?

    @Option(help: "Most rows one read returns (env PRAXIS_MAX_ROWS). Default 1000.")
    var maxRows: Int?

    @Option(help: "Most filters in one data API query; more get 400 PGRST100 (env PRAXIS_REST_MAX_FILTERS). Default 100.")
    var restMaxFilters: Int?

    @Option(help: "Most order terms in one data API query; more get 400 PGRST100 (env PRAXIS_REST_MAX_ORDER_TERMS). Default 32.")
    var restMaxOrderTerms: Int?

    @Option(help: "Most filter values in one data API query, every in.(…) value counted; more get 400 PGRST100 (env PRAXIS_REST_MAX_FILTER_VALUES). Default 1000.")
    var restMaxFilterValues: Int?

    @Option(help: "scrypt cost for new password hashes, log2 N in 10...20 (env PRAXIS_PASSWORD_HASH_COST). Default 15.")
    var passwordHashCost: Int?

    func validate() throws {
        if let port, !(0...65535).contains(port) {
            throw ValidationError("invalid value '\(port)' for '--port': must be 0...65535")
        }
        if let maxBodyBytes, maxBodyBytes < 1 {
            throw ValidationError("invalid value '\(maxBodyBytes)' for '--max-body-bytes': must be at least 1")
        }
        if let jwtSecret, jwtSecret.utf8.count < 32 {
            throw ValidationError("invalid value for '--jwt-secret': must be at least 32 bytes")
        }
        for (name, value) in [
            ("--access-token-lifetime", accessTokenLifetime), ("--max-failed-logins-per-email", maxFailedLoginsPerEmail),
            ("--max-failed-logins-per-ip", maxFailedLoginsPerIp), ("--max-rows", maxRows),
            ("--rest-max-filters", restMaxFilters), ("--rest-max-order-terms", restMaxOrderTerms),
            ("--rest-max-filter-values", restMaxFilterValues),
            ("--room-replay-limit", roomReplayLimit), ("--room-max-turn-characters", roomMaxTurnCharacters),
            ("--room-recent-events", roomRecentEvents), ("--room-max-turns-per-round", roomMaxTurnsPerRound),
            ("--room-max-pending-writes", roomMaxPendingWrites), ("--http-max-connections-per-ip", httpMaxConnectionsPerIp),
            ("--max-connections", maxConnections),
        ] {
            if let value, value < 1 { throw ValidationError("invalid value '\(value)' for '\(name)': must be at least 1") }
        }
        for (name, value) in [
            ("--ws-max-message-bytes", wsMaxMessageBytes), ("--ws-max-connections", wsMaxConnections),
            ("--ws-max-connections-per-ip", wsMaxConnectionsPerIp), ("--ws-max-messages-per-second", wsMaxMessagesPerSecond),
            ("--ws-max-pending-bytes", wsMaxPendingBytes),
            ("--realtime-max-channels-per-connection", realtimeMaxChannelsPerConnection),
            ("--realtime-max-joins-per-second", realtimeMaxJoinsPerSecond),
            ("--realtime-max-messages-per-second", realtimeMaxMessagesPerSecond),
            ("--realtime-max-presence-per-second", realtimeMaxPresencePerSecond),
            ("--realtime-max-payload-bytes", realtimeMaxPayloadBytes), ("--realtime-max-change-record-bytes", realtimeMaxChangeRecordBytes),
            ("--realtime-max-server-messages-per-second", realtimeMaxServerMessagesPerSecond),
            ("--realtime-api-broadcasts-per-second", realtimeApiBroadcastsPerSecond),
            ("--realtime-broadcast-log-size", realtimeBroadcastLogSize),
        ] {
            if let value, value < 1 { throw ValidationError("invalid value '\(value)' for '\(name)': must be at least 1") }
        }
        for (name, value) in [
            ("--ws-ping-interval", wsPingInterval), ("--ws-idle-timeout", wsIdleTimeout), ("--ws-close-timeout", wsCloseTimeout),
            ("--ws-slow-consumer-timeout", wsSlowConsumerTimeout), ("--realtime-heartbeat-timeout", realtimeHeartbeatTimeout),
            ("--http-header-timeout", httpHeaderTimeout), ("--http-body-timeout", httpBodyTimeout), ("--http-idle-timeout", httpIdleTimeout),
            ("--room-grace", roomGrace), ("--room-sweep-interval", roomSweepInterval), ("--room-min-phase-seconds", roomMinPhaseSeconds), ("--assessor-timeout", assessorTimeout),
        ] {
            if let value, !(value > 0) { throw ValidationError("invalid value '\(value)' for '\(name)': must be more than 0 seconds") }
        }
        if let readBufferBytes, !HTTPServerConfiguration.readBufferRange.contains(readBufferBytes) {
            throw ValidationError("invalid value '\(readBufferBytes)' for '--read-buffer-bytes': must be 64...65536")
        }
        if let passwordHashCost, !(10...20).contains(passwordHashCost) {
            throw ValidationError("invalid value '\(passwordHashCost)' for '--password-hash-cost': must be 10...20")
        }
        if let threads, threads < 0 {
            throw ValidationError("invalid value '\(threads)' for '--threads': must be 0 or more")
        }
    }

    func resolvedConfiguration() throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.host = try Environment.resolve(host, "PRAXIS_HOST", default: configuration.host) { $0 }
        configuration.port = try Environment.resolve(port, "PRAXIS_PORT", default: configuration.port) {
            Int($0).flatMap { (0...65535).contains($0) ? $0 : nil }
        }
        switch try DatabaseOption.resolve(db, passwordFile: dbPasswordFile) {
        case .sqlite(let path): configuration.databasePath = path
        case .postgres(let location): configuration.postgres = location
        }
        try resolveStore(&configuration)
        configuration.demo = demo || ["1", "true", "yes"].contains(Environment.value("PRAXIS_DEMO")?.lowercased() ?? "")
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("invalid value '\(logLevel)' for '--log-level': use trace, debug, info, notice, warning, error or critical")
        }
        configuration.logLevel = try Environment.resolve(logLevel.flatMap(Logger.Level.init(rawValue:)), "PRAXIS_LOG_LEVEL", default: .info) {
            Logger.Level(rawValue: $0)
        }
        configuration.jwtSecret = jwtSecret ?? Environment.value("PRAXIS_JWT_SECRET")
        configuration.http.maxBodyBytes = try Environment.resolve(
            maxBodyBytes, "PRAXIS_MAX_BODY_BYTES", default: configuration.http.maxBodyBytes
        ) { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        configuration.eventLoopThreads = try Environment.resolve(threads, "PRAXIS_THREADS", default: 0) {
            Int($0).flatMap { $0 >= 0 ? $0 : nil }
        }
        try resolveAPI(&configuration)
        try resolveHTTP(&configuration)
        try resolveWebSocket(&configuration)
        try resolveRealtime(&configuration)
        configuration.echo = echo || ["1", "true", "yes"].contains(Environment.value("PRAXIS_ECHO")?.lowercased() ?? "")
        try resolveRooms(&configuration)
        let seconds: (String) -> Double? = { Double($0).flatMap { $0 > 0 ? $0 : nil } }
        if let url = assessorUrl ?? Environment.value("PRAXIS_ASSESSOR_URL"), !url.isEmpty {
            guard let scheme = URL(string: url)?.scheme, ["http", "https"].contains(scheme) else {
                throw ValidationError("invalid value '\(url)' for '--assessor-url': must be an http or https URL")
            }
            guard let model = assessorModel ?? Environment.value("PRAXIS_ASSESSOR_MODEL"), !model.isEmpty else {
                throw ValidationError("missing '--assessor-model': required with '--assessor-url'")
            }
            let timeout = try Environment.resolve(
                assessorTimeout, "PRAXIS_ASSESSOR_TIMEOUT", default: ChatAssessorConfiguration.defaultTimeout, parse: seconds)
            configuration.chatAssessor = ChatAssessorConfiguration(
                url: url, model: model, apiKey: assessorKey ?? Environment.value("PRAXIS_ASSESSOR_KEY"), timeout: timeout)
        }
        return configuration
    }

    /// The database flags (--db-…, PRAXIS_DB_…).
    private func resolveStore(_ configuration: inout ServerConfiguration) throws {
        if let dbSynchronous, !["full", "normal"].contains(dbSynchronous.lowercased()) {
            throw ValidationError("invalid value '\(dbSynchronous)' for '--db-synchronous': use full or normal")
        }
        if let dbCheckpointInterval, !(dbCheckpointInterval >= 0 && dbCheckpointInterval <= 3600) {
            throw ValidationError("invalid value '\(dbCheckpointInterval)' for '--db-checkpoint-interval': must be 0...3600 seconds")
        }
        let checkpoint = try Environment.resolve(dbCheckpointInterval, "PRAXIS_DB_CHECKPOINT_INTERVAL", default: StoreConfiguration.Defaults.checkpointInterval) {
            Double($0).flatMap { $0 >= 0 && $0 <= 3600 ? $0 : nil }
        }
        configuration.checkpointInterval = checkpoint > 0 ? checkpoint : nil
        for (flag, value) in [("--db-wal-restart-bytes", dbWalRestartBytes), ("--db-wal-max-bytes", dbWalMaxBytes)] {
            if let value, value < 0 { throw ValidationError("invalid value '\(value)' for '\(flag)': must be 0 (off) or more bytes") }
        }
        if let dbJournalSizeLimitBytes, dbJournalSizeLimitBytes < -1 {
            throw ValidationError("invalid value '\(dbJournalSizeLimitBytes)' for '--db-journal-size-limit-bytes': must be -1 (no limit) or more")
        }
        if let dbCheckpointReaderWait, !(dbCheckpointReaderWait >= 0 && dbCheckpointReaderWait <= 60) {
            throw ValidationError("invalid value '\(dbCheckpointReaderWait)' for '--db-checkpoint-reader-wait': must be 0...60 seconds")
        }
        let nonNegative: (String) -> Int? = { Int($0).flatMap { $0 >= 0 ? $0 : nil } }
        let restartBytes = try Environment.resolve(
            dbWalRestartBytes, "PRAXIS_DB_WAL_RESTART_BYTES", default: StoreConfiguration.Defaults.walRestartBytes, parse: nonNegative
        )
        configuration.walRestartBytes = restartBytes > 0 ? restartBytes : nil
        let maxBytes = try Environment.resolve(dbWalMaxBytes, "PRAXIS_DB_WAL_MAX_BYTES", default: StoreConfiguration.Defaults.walMaxBytes, parse: nonNegative)
        configuration.walMaxBytes = maxBytes > 0 ? maxBytes : nil
        configuration.journalSizeLimitBytes = try Environment.resolve(
            dbJournalSizeLimitBytes, "PRAXIS_DB_JOURNAL_SIZE_LIMIT_BYTES", default: StoreConfiguration.Defaults.journalSizeLimitBytes
        ) { Int($0).flatMap { $0 >= -1 ? $0 : nil } }
        configuration.checkpointReaderWait = try Environment.resolve(
            dbCheckpointReaderWait, "PRAXIS_DB_CHECKPOINT_READER_WAIT", default: StoreConfiguration.Defaults.checkpointReaderWait
        ) { Double($0).flatMap { $0 >= 0 && $0 <= 60 ? $0 : nil } }
        configuration.synchronousFull = try Environment.resolve(dbSynchronous?.lowercased(), "PRAXIS_DB_SYNCHRONOUS", default: "full") {
            ["full", "normal"].contains($0.lowercased()) ? $0.lowercased() : nil
        } == "full"
        try resolveChangeLog(&configuration)
    }

    /// The change log's limits (`--db-change-log-entries`, `--db-change-log-bytes`) and the
    /// data API's group commit (`--db-data-write-batch`) and statement cache
    /// (`--db-statement-cache-size`), the PostgreSQL pool (`--db-pool-size`).
    private func resolveChangeLog(_ configuration: inout ServerConfiguration) throws {
        let positive: (String) -> Int? = { Int($0).flatMap { $0 >= 1 ? $0 : nil } }
        let pairs = [("--db-change-log-entries", dbChangeLogEntries), ("--db-change-log-bytes", dbChangeLogBytes), ("--db-data-write-batch", dbDataWriteBatch), ("--db-pool-size", dbPoolSize)]
        for (flag, value) in pairs {
            if let value, value < 1 { throw ValidationError("invalid value '\(value)' for '\(flag)': must be at least 1") }
        }
        configuration.changeLogMaxEntries = try Environment.resolve(
            dbChangeLogEntries, "PRAXIS_DB_CHANGE_LOG_ENTRIES", default: StoreConfiguration.Defaults.changeLogMaxEntries, parse: positive
        )
        configuration.changeLogMaxBytes = try Environment.resolve(
            dbChangeLogBytes, "PRAXIS_DB_CHANGE_LOG_BYTES", default: StoreConfiguration.Defaults.changeLogMaxBytes, parse: positive
        )
        configuration.dataWriteMaxBatch = try Environment.resolve(
            dbDataWriteBatch, "PRAXIS_DB_DATA_WRITE_BATCH", default: StoreConfiguration.Defaults.dataWriteMaxBatch, parse: positive
        )
        if let dbStatementCacheSize, dbStatementCacheSize < 0 {
            throw ValidationError("invalid value '\(dbStatementCacheSize)' for '--db-statement-cache-size': must be at least 0")
        }
        configuration.statementCacheSize = try Environment.resolve(
            dbStatementCacheSize, "PRAXIS_DB_STATEMENT_CACHE_SIZE", default: StoreConfiguration.Defaults.statementCacheSize,
            parse: { Int($0).flatMap { $0 >= 0 ? $0 : nil } }
        )
        configuration.postgresPoolSize = try Environment.resolve(
            dbPoolSize, "PRAXIS_DB_POOL_SIZE", default: StoreConfiguration.Defaults.postgresPoolSize, parse: positive
        )
    }

    /// The API flags: token lifetime, login limits, row and query limits, password hash cost.
    private func resolveAPI(_ configuration: inout ServerConfiguration) throws {
        let positive: (String) -> Int? = { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        configuration.api.accessTokenLifetime = try Environment.resolve(
            accessTokenLifetime, "PRAXIS_ACCESS_TOKEN_LIFETIME", default: configuration.api.accessTokenLifetime, parse: positive)
        configuration.api.maxFailedLoginsPerEmail = try Environment.resolve(
            maxFailedLoginsPerEmail, "PRAXIS_MAX_FAILED_LOGINS_PER_EMAIL", default: configuration.api.maxFailedLoginsPerEmail, parse: positive)
        configuration.api.maxFailedLoginsPerIP = try Environment.resolve(
            maxFailedLoginsPerIp, "PRAXIS_MAX_FAILED_LOGINS_PER_IP", default: configuration.api.maxFailedLoginsPerIP, parse: positive)
        configuration.api.maxRows = try Environment.resolve(maxRows, "PRAXIS_MAX_ROWS", default: configuration.api.maxRows, parse: positive)
        var queryLimits = configuration.api.queryLimits
        queryLimits.maxFilters = try Environment.resolve(
            restMaxFilters, "PRAXIS_REST_MAX_FILTERS", default: queryLimits.maxFilters, parse: positive)
        queryLimits.maxOrderTerms = try Environment.resolve(
            restMaxOrderTerms, "PRAXIS_REST_MAX_ORDER_TERMS", default: queryLimits.maxOrderTerms, parse: positive)
        queryLimits.maxFilterValues = try Environment.resolve(
            restMaxFilterValues, "PRAXIS_REST_MAX_FILTER_VALUES", default: queryLimits.maxFilterValues, parse: positive)
        configuration.api.queryLimits = queryLimits
        configuration.api.passwordHashLogN = try Environment.resolve(
            passwordHashCost, "PRAXIS_PASSWORD_HASH_COST", default: configuration.api.passwordHashLogN
        ) { Int($0).flatMap { (10...20).contains($0) ? $0 : nil } }
    }

    /// The HTTP flags: timeouts and connection limits.
    private func resolveHTTP(_ configuration: inout ServerConfiguration) throws {
        let positive: (String) -> Int? = { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        let seconds: (String) -> Double? = { Double($0).flatMap { $0 > 0 ? $0 : nil } }
        let duration: (Duration) -> Double = { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
        var http = configuration.http
        http.headerTimeout = .seconds(try Environment.resolve(
            httpHeaderTimeout, "PRAXIS_HTTP_HEADER_TIMEOUT", default: duration(http.headerTimeout), parse: seconds))
        http.bodyTimeout = .seconds(try Environment.resolve(
            httpBodyTimeout, "PRAXIS_HTTP_BODY_TIMEOUT", default: duration(http.bodyTimeout), parse: seconds))
        http.idleTimeout = .seconds(try Environment.resolve(
            httpIdleTimeout, "PRAXIS_HTTP_IDLE_TIMEOUT", default: duration(http.idleTimeout), parse: seconds))
        http.maxConnectionsPerIP = try Environment.resolve(
            httpMaxConnectionsPerIp, "PRAXIS_HTTP_MAX_CONNECTIONS_PER_IP", default: http.maxConnectionsPerIP, parse: positive)
        http.maxConnections = try Environment.resolve(
            maxConnections.map { Optional($0) }, "PRAXIS_MAX_CONNECTIONS", default: http.maxConnections
        ) { positive($0).map { Optional($0) } }
        http.readBufferBytes = try Environment.resolve(readBufferBytes, "PRAXIS_READ_BUFFER_BYTES", default: http.readBufferBytes) {
            Int($0).flatMap { HTTPServerConfiguration.readBufferRange.contains($0) ? $0 : nil }
        }
        configuration.http = http
    }

    /// The WebSocket flags (--ws-…).
    private func resolveWebSocket(_ configuration: inout ServerConfiguration) throws {
        let positive: (String) -> Int? = { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        let seconds: (String) -> Double? = { Double($0).flatMap { $0 > 0 ? $0 : nil } }
        let flag: (String) -> Bool = { ["1", "true", "yes"].contains(Environment.value($0)?.lowercased() ?? "") }
        var ws = configuration.webSocket
        ws.maxMessageBytes = try Environment.resolve(wsMaxMessageBytes, "PRAXIS_WS_MAX_MESSAGE_BYTES", default: ws.maxMessageBytes, parse: positive)
        ws.maxConnections = try Environment.resolve(wsMaxConnections, "PRAXIS_WS_MAX_CONNECTIONS", default: ws.maxConnections, parse: positive)
        ws.maxConnectionsPerIP = try Environment.resolve(
            wsMaxConnectionsPerIp, "PRAXIS_WS_MAX_CONNECTIONS_PER_IP", default: ws.maxConnectionsPerIP, parse: positive)
        ws.maxMessagesPerSecond = try Environment.resolve(
            wsMaxMessagesPerSecond, "PRAXIS_WS_MAX_MESSAGES_PER_SECOND", default: ws.maxMessagesPerSecond, parse: positive)
        let origins = wsAllowedOrigins ?? Environment.value("PRAXIS_WS_ALLOWED_ORIGINS") ?? ""
        ws.allowedOrigins = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        ws.pingInterval = try Environment.resolve(wsPingInterval, "PRAXIS_WS_PING_INTERVAL", default: ws.pingInterval, parse: seconds)
        ws.idleTimeout = try Environment.resolve(wsIdleTimeout, "PRAXIS_WS_IDLE_TIMEOUT", default: ws.idleTimeout, parse: seconds)
        ws.closeTimeout = try Environment.resolve(wsCloseTimeout, "PRAXIS_WS_CLOSE_TIMEOUT", default: ws.closeTimeout, parse: seconds)
        ws.maxPendingBytes = try Environment.resolve(wsMaxPendingBytes, "PRAXIS_WS_MAX_PENDING_BYTES", default: ws.maxPendingBytes, parse: positive)
        ws.slowConsumerTimeout = try Environment.resolve(
            wsSlowConsumerTimeout, "PRAXIS_WS_SLOW_CONSUMER_TIMEOUT", default: ws.slowConsumerTimeout, parse: seconds)
        ws.compression = !(wsNoCompression || flag("PRAXIS_WS_NO_COMPRESSION"))
        configuration.webSocket = ws
    }

    /// The realtime flags (--realtime-…).
    private func resolveRealtime(_ configuration: inout ServerConfiguration) throws {
        let positive: (String) -> Int? = { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        let seconds: (String) -> Double? = { Double($0).flatMap { $0 > 0 ? $0 : nil } }
        configuration.realtime.heartbeatTimeout = try Environment.resolve(
            realtimeHeartbeatTimeout, "PRAXIS_REALTIME_HEARTBEAT_TIMEOUT", default: configuration.realtime.heartbeatTimeout, parse: seconds)
        var realtime = configuration.realtime
        realtime.maxChannelsPerConnection = try Environment.resolve(
            realtimeMaxChannelsPerConnection, "PRAXIS_REALTIME_MAX_CHANNELS_PER_CONNECTION", default: realtime.maxChannelsPerConnection, parse: positive)
        realtime.maxJoinsPerSecond = try Environment.resolve(
            realtimeMaxJoinsPerSecond, "PRAXIS_REALTIME_MAX_JOINS_PER_SECOND", default: realtime.maxJoinsPerSecond, parse: positive)
        realtime.maxMessagesPerSecond = try Environment.resolve(
            realtimeMaxMessagesPerSecond, "PRAXIS_REALTIME_MAX_MESSAGES_PER_SECOND", default: realtime.maxMessagesPerSecond, parse: positive)
        realtime.maxPresencePerSecond = try Environment.resolve(
            realtimeMaxPresencePerSecond, "PRAXIS_REALTIME_MAX_PRESENCE_PER_SECOND", default: realtime.maxPresencePerSecond, parse: positive)
        realtime.maxPayloadBytes = try Environment.resolve(
            realtimeMaxPayloadBytes, "PRAXIS_REALTIME_MAX_PAYLOAD_BYTES", default: realtime.maxPayloadBytes, parse: positive)
        realtime.maxServerMessagesPerSecond = try Environment.resolve(
            realtimeMaxServerMessagesPerSecond, "PRAXIS_REALTIME_MAX_SERVER_MESSAGES_PER_SECOND", default: realtime.maxServerMessagesPerSecond,
            parse: positive)
        realtime.maxChangeRecordBytes = try Environment.resolve(
            realtimeMaxChangeRecordBytes, "PRAXIS_REALTIME_MAX_CHANGE_RECORD_BYTES", default: realtime.maxChangeRecordBytes, parse: positive)
        realtime.maxAPIBroadcastsPerSecond = try Environment.resolve(
            realtimeApiBroadcastsPerSecond, "PRAXIS_REALTIME_API_BROADCASTS_PER_SECOND", default: realtime.maxAPIBroadcastsPerSecond, parse: positive)
        realtime.broadcastLogSize = try Environment.resolve(
            realtimeBroadcastLogSize, "PRAXIS_REALTIME_BROADCAST_LOG_SIZE", default: realtime.broadcastLogSize, parse: positive)
        configuration.realtime = realtime
    }

    /// The room flags (--room-…).
    private func resolveRooms(_ configuration: inout ServerConfiguration) throws {
        let positive: (String) -> Int? = { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        let seconds: (String) -> Double? = { Double($0).flatMap { $0 > 0 ? $0 : nil } }
        var rooms = configuration.rooms
        rooms.graceSeconds = try Environment.resolve(roomGrace, "PRAXIS_ROOM_GRACE", default: rooms.graceSeconds, parse: seconds)
        rooms.sweepIntervalSeconds = try Environment.resolve(
            roomSweepInterval, "PRAXIS_ROOM_SWEEP_INTERVAL", default: rooms.sweepIntervalSeconds, parse: seconds)
        rooms.replayLimit = try Environment.resolve(roomReplayLimit, "PRAXIS_ROOM_REPLAY_LIMIT", default: rooms.replayLimit, parse: positive)
        rooms.recentEvents = try Environment.resolve(roomRecentEvents, "PRAXIS_ROOM_RECENT_EVENTS", default: rooms.recentEvents, parse: positive)
        rooms.maxTurnsPerRound = try Environment.resolve(
            roomMaxTurnsPerRound, "PRAXIS_ROOM_MAX_TURNS_PER_ROUND", default: rooms.maxTurnsPerRound, parse: positive)
        rooms.maxTurnCharacters = try Environment.resolve(
            roomMaxTurnCharacters, "PRAXIS_ROOM_MAX_TURN_CHARACTERS", default: rooms.maxTurnCharacters, parse: positive)
        rooms.maxJournalPending = try Environment.resolve(
            roomMaxPendingWrites, "PRAXIS_ROOM_MAX_PENDING_WRITES", default: rooms.maxJournalPending, parse: positive)
        rooms.minPhaseSeconds = try Environment.resolve(
            roomMinPhaseSeconds, "PRAXIS_ROOM_MIN_PHASE_SECONDS", default: rooms.minPhaseSeconds, parse: seconds)
        configuration.rooms = rooms
    }

    func run() async throws {
        let configuration = try resolvedConfiguration()
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "praxis")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let application: PraxisApplication
        do {
            application = try await PraxisApplication.start(configuration, logger: logger, metrics: registry)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
        if let demo = application.demo, demo.loaded {
            var lines = ["Demo data loaded: \(demo.caseCount) cases, \(demo.roomCount) rooms. Demo accounts:"]
            for account in demo.accounts {
                lines.append("  \(account.email)  password: \(account.password)  (\(account.role))")
            }
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        let banner = "Praxis listening on http://\(configuration.host):\(application.port)  (database \(configuration.database.redacted))\n"
        FileHandle.standardOutput.write(Data(banner.utf8))

        let group = ServiceGroup(
            services: [PraxisService(application: application)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }
}

