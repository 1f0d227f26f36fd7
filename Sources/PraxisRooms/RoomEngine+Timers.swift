/// Timers: the engine says which run and when; the shell runs them and hands them back.
extension RoomEngine {
    /// How far back a scheduled time may be for the room to still check its no-shows.
    static let noShowHorizonSeconds = 86_400.0

    /// The timer changes the room's state asks for at `now`: the phase deadline follows the
    /// phase (set, moved or cancelled), and the no-show check is set once it is due within
    /// the sweep interval (a later one is left to the shell's sweep). Grace timers are set
    /// and cancelled by the presence changes themselves.
    package mutating func timerChanges(now: Double) -> [RoomAction] {
        var changes: [RoomAction] = []
        let deadline = state.phase.deadline
        if timers[.phaseDeadline] != deadline {
            if timers[.phaseDeadline] != nil { changes.append(.timer(.cancel(.phaseDeadline))) }
            timers[.phaseDeadline] = deadline
            if let deadline { changes.append(.timer(.set(.phaseDeadline, at: deadline))) }
        }
        if timers[.noShowCheck] == nil, state.noShowChecked != true, state.stage == 1, let scheduledAt = presence.scheduledAt {
            let checkAt = scheduledAt + presence.graceSeconds
            if now - scheduledAt < Self.noShowHorizonSeconds, checkAt - now <= presence.sweepIntervalSeconds {
                timers[.noShowCheck] = checkAt
                changes.append(.timer(.set(.noShowCheck, at: checkAt)))
            }
        }
        return changes
    }

    /// A timer the shell ran fired at `now`: what it does (nothing for one that is no longer
    /// set), followed by the timer changes that leaves.
    package mutating func timerFired(_ timer: RoomTimer, now: Double) -> [RoomAction] {
        guard timers.removeValue(forKey: timer) != nil else { return [] }
        var actions: [RoomAction] = []
        switch timer {
        case .phaseDeadline:
            let events = tick(now: now)
            if !events.isEmpty { actions.append(.journal(events, saveState: true)) }
        case .noShowCheck:
            actions += checkNoShows()
        case .grace(let userID):
            guard presence.away.removeValue(forKey: userID) != nil else { break }
            let events = graceExpired(userID, now: now)
            if !events.isEmpty { actions.append(.journal(events, saveState: true)) }
        }
        return actions + timerChanges(now: now)
    }

    /// Whether the room needs its loop for a timer or a peer away (else it may be evicted
    /// when nothing else holds it).
    package var hasTimers: Bool { !timers.isEmpty || !presence.away.isEmpty }

    /// The one no-show check: in stage 1, still waiting, a participant neither present nor
    /// seen since the scheduled time is recorded as a no-show (once). Journaled with the
    /// state (which says the check was done), even with no event.
    package mutating func checkNoShows() -> [RoomAction] {
        guard state.noShowChecked != true else { return [] }
        machine.markNoShowChecked()
        var events: [RoomEvent] = []
        if state.stage == 1, state.phase == .waiting, let scheduledAt = presence.scheduledAt {
            for userID in [state.hostID, state.guestID].compactMap({ $0 })
            where !presence.isPresent(userID) && !presence.seenSinceScheduled.contains(userID) && !presence.noShows.contains(userID) {
                presence.noShows.insert(userID)
                events.append(.noShow(userID: userID, scheduledAt: scheduledAt))
            }
        }
        return [.journal(events, saveState: true)]
    }

    /// Stops `timer` if it runs.
    mutating func stopTimer(_ timer: RoomTimer) -> [RoomAction] {
        timers.removeValue(forKey: timer) == nil ? [] : [.timer(.cancel(timer))]
    }
}
