/// Behaviour and limits of the realtime channels.
public struct RealtimeConfiguration: Sendable {
    /// A connection from which no message (heartbeat or other) arrives for this long is
    /// closed. Generous enough for throttled background tabs, which may heartbeat only once
    /// a minute. Default 150 s.
    public var heartbeatTimeout: Double
    /// Most channels one connection may join. Default 100.
    public var maxChannelsPerConnection: Int
    /// Most changes replayed to a client that resumes; a longer gap gets a snapshot. Default 10,000.
    public var maxReplay: Int

    public init(heartbeatTimeout: Double = 150, maxChannelsPerConnection: Int = 100, maxReplay: Int = 10_000) {
        self.heartbeatTimeout = heartbeatTimeout
        self.maxChannelsPerConnection = maxChannelsPerConnection
        self.maxReplay = maxReplay
    }
}
