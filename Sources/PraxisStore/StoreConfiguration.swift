/// How the store opens its SQLite file.
public struct StoreConfiguration: Sendable {
    /// Path of the SQLite file. Default `./praxis.sqlite`.
    public var path: String
    /// How long a write waits for a competing writer (another process) before failing.
    /// Default 5 seconds.
    public var busyTimeoutSeconds: Double
    /// Most concurrent read connections. Default 8.
    public var maximumReaderCount: Int

    public init(path: String = "./praxis.sqlite", busyTimeoutSeconds: Double = 5, maximumReaderCount: Int = 8) {
        self.path = path
        self.busyTimeoutSeconds = busyTimeoutSeconds
        self.maximumReaderCount = maximumReaderCount
    }
}
