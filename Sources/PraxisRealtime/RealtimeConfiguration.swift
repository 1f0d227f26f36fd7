/// Behaviour and limits of the realtime channels: the one home of their defaults (README's flag
/// table and protocol/realtime.md §14 list the same).
public struct RealtimeConfiguration: Sendable {
    /// A connection from which no message (heartbeat or other) arrives for this long is
    /// closed. Generous enough for throttled background tabs, which may heartbeat only once
    /// a minute. Default 150 s.
    public var heartbeatTimeout: Double
    /// Most channels one connection may join; one more is refused with
    /// `ChannelRateLimitReached: Too many channels`. Default 100 (Supabase's).
    public var maxChannelsPerConnection: Int
    /// Most changes replayed to a client that resumes; a longer gap gets a snapshot. Default 10,000.
    public var maxReplay: Int
    /// Most `phx_join`s one connection may send in any second; more are refused with
    /// `ClientJoinRateLimitReached: Too many joins per second`. Default 100.
    public var maxJoinsPerSecond: Int
    /// Most `broadcast` pushes one connection may send in any second; past it the channel that
    /// sent one more gets the `system` error "Too many messages per second" and `phx_close`.
    /// Default 100.
    public var maxMessagesPerSecond: Int
    /// Most `broadcast` pushes all connections together may send in any second (Supabase's
    /// per-tenant rate; Praxis is one tenant); past it the channel that sent one more gets the
    /// same `system` error "Too many messages per second" and `phx_close`. Default 20,000.
    public var maxServerMessagesPerSecond: Int = 20_000
    /// Most `presence` pushes one connection may send in any second; past it the channel gets
    /// the `system` error "Too many presence messages per second" and `phx_close`. Default 10.
    public var maxPresencePerSecond: Int
    /// Largest broadcast payload in bytes (its JSON encoding, or a binary payload's bytes), on the
    /// socket and on the REST API (413). Default 3,000,000 (Supabase's 3000 KB).
    public var maxPayloadBytes: Int
    /// Broadcasts the REST API (`/realtime/v1/api/broadcast…`) accepts per second, all senders
    /// together; more get 429. Default 100 (Supabase's events per second).
    public var maxAPIBroadcastsPerSecond: Int
    /// Largest `record` plus `old_record` of a `postgres_changes` message, in bytes of JSON; a
    /// larger change is delivered with only the columns whose values encode in under 64 bytes
    /// and `errors: ["Error 413: Payload Too Large"]`, as Supabase does (its
    /// `max_record_bytes`). Default 1,048,576.
    public var maxChangeRecordBytes: Int = 1 << 20
    /// Private-channel broadcasts kept in the database for `config.broadcast.replay` (the newest
    /// ones; older ones are deleted). Default 100,000.
    public var broadcastLogSize: Int
    /// Payload bytes of logged broadcasts waiting for the disk; past it the oldest waiting ones
    /// are left out of the log (live delivery is unaffected). Fixed: 64 MiB.
    public var broadcastLogMaxPendingBytes: Int = 64 << 20

    public init(
        heartbeatTimeout: Double = 150, maxChannelsPerConnection: Int = 100, maxReplay: Int = 10_000, maxJoinsPerSecond: Int = 100,
        maxMessagesPerSecond: Int = 100, maxPresencePerSecond: Int = 10, maxPayloadBytes: Int = 3_000_000,
        maxAPIBroadcastsPerSecond: Int = 100, broadcastLogSize: Int = 100_000
    ) {
        self.heartbeatTimeout = heartbeatTimeout
        self.maxChannelsPerConnection = maxChannelsPerConnection
        self.maxReplay = maxReplay
        self.maxJoinsPerSecond = maxJoinsPerSecond
        self.maxMessagesPerSecond = maxMessagesPerSecond
        self.maxPresencePerSecond = maxPresencePerSecond
        self.maxPayloadBytes = maxPayloadBytes
        self.maxAPIBroadcastsPerSecond = maxAPIBroadcastsPerSecond
        self.broadcastLogSize = broadcastLogSize
    }
}
