/// How the store opens its SQLite file.
public struct StoreConfiguration: Sendable {
    /// The defaults, in one place (the server's configuration and `praxis serve` use them).
    public enum Defaults {
        public static let checkpointInterval: Double = 0.5
        public static let walRestartBytes = 32 << 20
        public static let walMaxBytes = 128 << 20
        public static let journalSizeLimitBytes = 64 << 20
        public static let checkpointReaderWait: Double = 0.1
        public static let changeLogMaxEntries = 100_000
        public static let changeLogMaxBytes = 64 << 20
        public static let dataWriteMaxBatch = 256
        public static let statementCacheSize = 64
        public static let postgresPoolSize = 8
    }

    /// Path of the SQLite file. Default `./praxis.sqlite`.
    public var path: String
    /// How long a write waits for a competing writer (another process) before failing.
    /// Default 5 seconds.
    public var busyTimeoutSeconds: Double
    /// Most concurrent read connections. Default 8.
    public var maximumReaderCount: Int
    /// `PRAGMA synchronous` of the writer: `FULL` (default) fsyncs the WAL at every commit,
    /// so a committed write survives a power cut; `NORMAL` fsyncs only at checkpoints, so a
    /// commit survives a crash of the process (SIGKILL) but the last ones may be lost with
    /// the machine's power.
    public var synchronousFull: Bool

    /// Seconds between WAL checkpoints run beside the writer, off its commits; nil lets the
    /// writer checkpoint inside its commits (SQLite's default). Default 0.5.
    public var checkpointInterval: Double?

    /// WAL size (bytes of frames) past which a background checkpoint is a RESTART one: it
    /// holds the writer while it copies the frames the passive pass before it left, so
    /// the next commit starts the WAL over. Under continuous writes and reads a PASSIVE
    /// checkpoint never catches up (checkpoint starvation) and the WAL would grow without
    /// bound. nil: passive checkpoints only. Default 32 MiB. Only with `checkpointInterval`.
    public var walRestartBytes: Int?

    /// WAL size (bytes of frames) past which the writer itself runs the RESTART checkpoint
    /// right after the commit that got there, before that commit is answered: a safety net
    /// for when the background checkpoints fall behind (starved of CPU). nil: never.
    /// Default 128 MiB. Only with `checkpointInterval`.
    public var walMaxBytes: Int?

    /// `PRAGMA journal_size_limit` of the writer: when the WAL starts over, its file is cut
    /// back to this many bytes. -1: never cut. Default 64 MiB.
    public var journalSizeLimitBytes: Int

    /// Longest a RESTART checkpoint waits for readers still on an older snapshot, while it
    /// holds the writer; then it gives up for this round (it still copied what it could).
    /// Commits wait at most about this long plus the copy. Default 0.1 s.
    public var checkpointReaderWait: Double

    /// Most changes the change log (the feed's replay for resume) keeps; older offsets get a
    /// snapshot instead. Default 100,000.
    public var changeLogMaxEntries: Int

    /// Most bytes of stored records the change log keeps (rows differ in size, so a count alone
    /// does not bound the file; values of 1 KiB or more are referred to in their rows, not
    /// stored, and do not count). Default 64 MiB.
    public var changeLogMaxBytes: Int

    /// Most data-API writes (requests) one transaction holds: the writes waiting while a
    /// transaction is written go into the next one together, each in its own savepoint, so
    /// one fsync covers them all (group commit). 1: every write its own transaction.
    /// Default 256.
    public var dataWriteMaxBatch: Int

    /// Most prepared statements of the data API's per-request SQL texts (they depend on the
    /// columns and filters a request names) each connection keeps, the least recently used
    /// dropped first (``StatementCaches``): preparing costs more than running a one-row
    /// write, and the bound keeps clients from filling memory with texts. 0: none kept.
    /// Default 64.
    public var statementCacheSize: Int

    /// PostgreSQL only: most connections the server's pool opens (requests beyond wait for
    /// one). Default 8.
    public var postgresPoolSize: Int

    public init(
        path: String = "./praxis.sqlite", busyTimeoutSeconds: Double = 5, maximumReaderCount: Int = 8, synchronousFull: Bool = true,
        checkpointInterval: Double? = Defaults.checkpointInterval, walRestartBytes: Int? = Defaults.walRestartBytes,
        walMaxBytes: Int? = Defaults.walMaxBytes, journalSizeLimitBytes: Int = Defaults.journalSizeLimitBytes, checkpointReaderWait: Double = Defaults.checkpointReaderWait,
        changeLogMaxEntries: Int = Defaults.changeLogMaxEntries, changeLogMaxBytes: Int = Defaults.changeLogMaxBytes,
        dataWriteMaxBatch: Int = Defaults.dataWriteMaxBatch, statementCacheSize: Int = Defaults.statementCacheSize,
        postgresPoolSize: Int = Defaults.postgresPoolSize
    ) {
        self.statementCacheSize = statementCacheSize
        self.postgresPoolSize = postgresPoolSize
        self.changeLogMaxEntries = changeLogMaxEntries
        self.changeLogMaxBytes = changeLogMaxBytes
        self.dataWriteMaxBatch = dataWriteMaxBatch
        self.checkpointInterval = checkpointInterval
        self.synchronousFull = synchronousFull
        self.path = path
        self.busyTimeoutSeconds = busyTimeoutSeconds
        self.maximumReaderCount = maximumReaderCount
        self.walRestartBytes = walRestartBytes
        self.walMaxBytes = walMaxBytes
        self.journalSizeLimitBytes = journalSizeLimitBytes
        self.checkpointReaderWait = checkpointReaderWait
    }
}
