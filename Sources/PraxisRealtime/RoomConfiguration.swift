/// Behaviour and limits of practice rooms (protocol/room.md).
public struct RoomConfiguration: Sendable {
    /// How long a dropped peer keeps its seat before a `left` event is recorded, and how
    /// long after the scheduled time a missing peer counts as a no-show. Default 60 s.
    public var graceSeconds: Double
    /// How often rooms scheduled in the last 24 hours are checked for no-shows. Default 30 s.
    public var sweepIntervalSeconds: Double
    /// Events each loaded room keeps in memory for resume; an older offset gets a snapshot
    /// with `recovered: false`. Default 1,000.
    public var replayLimit: Int
    /// Longest turn, in characters. Default 4,000.
    public var maxTurnCharacters: Int
    /// Client ids of accepted commands remembered per room for idempotent repeats. Default 1,024.
    public var rememberedCommands: Int
    /// Most journal entries written in one transaction. Default 1,024.
    public var maxJournalBatch: Int
    /// Journal entries waiting for the disk beyond which room commands are refused with
    /// "the server is busy" (nothing applied). Default 20,000.
    public var maxJournalPending: Int = 20_000
    /// Shortest preparation or role-play a room may set. Default 30 s (tests use less).
    public var minPhaseSeconds: Double
    /// Longest preparation or role-play a room may set. Default 1,800 s.
    public var maxPhaseSeconds: Double

    public init(
        graceSeconds: Double = 60, sweepIntervalSeconds: Double = 30, replayLimit: Int = 1000, maxTurnCharacters: Int = 4000,
        rememberedCommands: Int = 1024, maxJournalBatch: Int = 1024, minPhaseSeconds: Double = 30, maxPhaseSeconds: Double = 1800
    ) {
        self.minPhaseSeconds = minPhaseSeconds
        self.maxPhaseSeconds = maxPhaseSeconds
        self.graceSeconds = graceSeconds
        self.sweepIntervalSeconds = sweepIntervalSeconds
        self.replayLimit = replayLimit
        self.maxTurnCharacters = maxTurnCharacters
        self.rememberedCommands = rememberedCommands
        self.maxJournalBatch = maxJournalBatch
    }
}
