/// How the store opens its SQLite file.
public struct StoreConfiguration: Sendable {
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

    public init(
        path: String = "./praxis.sqlite", busyTimeoutSeconds: Double = 5, maximumReaderCount: Int = 8, synchronousFull: Bool = true,
        checkpointInterval: Double? = 0.5
    ) {
        self.checkpointInterval = checkpointInterval
        self.synchronousFull = synchronousFull
        self.path = path
        self.busyTimeoutSeconds = busyTimeoutSeconds
        self.maximumReaderCount = maximumReaderCount
    }
}
