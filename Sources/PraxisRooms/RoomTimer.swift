/// A timer the engine asks its shell to run: when it fires, the shell hands it back
/// (`RoomEngine.timerFired`) with the time.
package enum RoomTimer: Hashable, Sendable {
    /// The current phase's deadline (preparation or role-play).
    case phaseDeadline
    /// The room's one no-show check: its scheduled time plus the grace period.
    case noShowCheck
    /// A dropped peer's grace period: its seat is kept until then.
    case grace(userID: String)
}

/// A change to the shell's timers: times are absolute (seconds since 1970); one due
/// already fires at once.
package enum RoomTimerChange: Hashable, Sendable {
    case set(RoomTimer, at: Double)
    case cancel(RoomTimer)
}
