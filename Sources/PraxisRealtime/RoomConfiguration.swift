/// Behaviour and limits of practice rooms (protocol/room.md).
public struct RoomConfiguration: Sendable {
    /// How long a dropped peer keeps its seat before a `left` event is recorded, and how
    /// long after the scheduled time a missing peer counts as a no-show. Default 60 s.
    public var graceSeconds: Double
    /// How often rooms scheduled in the last 24 hours are checked for no-shows. Default 30 s.
    public var sweepIntervalSeconds: Double
    /// Most events a resume replays (from memory, or from the journal for events the room no
    /// longer keeps in memory); an offset further back gets a snapshot with
    /// `recovered: false`. Default 1,000.
    public var replayLimit: Int
    /// Latest events each loaded room keeps in memory, for resumes and snapshots without a
    /// read (older ones are read from the journal). Default 64.
    public var recentEvents: Int = 64
    /// Most turns one round accepts: the next is refused with a reason (a round's turns are
    /// bounded however fast a peer sends). Default 2,000.
    public var maxTurnsPerRound: Int = 2000
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
