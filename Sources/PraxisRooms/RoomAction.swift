package import PraxisDomain

/// What the room's shell does for the engine, in order (`RoomEngine.handle`).
package enum RoomAction: Sendable, Equatable {
    /// Journal these events (with the room's state when `saveState`), then send them to the
    /// members once durable. Nobody waits for it.
    case journal([RoomEvent], saveState: Bool)
    /// Journal the command's events, its record (for a command with a client id) and the
    /// state when `saveState`; once durable, answer the sender ok with `reply` plus the
    /// offset of its last event, and answer waiting repeats with the same.
    case commit(RoomCommit)
    /// Answer the sender with this error now.
    case refuse(String)
    /// Answer the sender ok now with this (an earlier answer to the same command).
    case answer(JSONValue)
    /// The same command is being saved: answer the sender when it is.
    case waitForOriginal(ClientKey)
    /// Look the case up (off the loop); then `RoomEngine.caseFound` or a refusal.
    case lookUpCase(RoomCommand.CaseChoice, excluding: String?)
    /// Start or stop one of the room's timers (`RoomEngine.timerFired` when it fires).
    case timer(RoomTimerChange)
    /// Close `userID`'s channels on the room (and refuse its joins still waiting for a
    /// read): with `reason`, a `system` message says why before `phx_close`.
    case closeChannels(of: String, reason: String?)
}

/// An applied command as the shell journals it.
package struct RoomCommit: Sendable, Equatable {
    package var events: [RoomEvent]
    package var saveState: Bool
    /// The command's client id and fingerprint (nil for a turn: the turn index has it).
    package var key: ClientKey?
    package var fingerprint: String
    /// The ok reply without its `offset`.
    package var reply: [String: JSONValue]
    /// After `leave`: the user whose channels on the room close once answered.
    package var closesChannelsOf: String?
    /// The briefs to hand out once durable (a round started): each to its user's channels only.
    package var briefs: [RoomBrief] = []
}
