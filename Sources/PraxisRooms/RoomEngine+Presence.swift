import PraxisDomain

/// Presence (joined, away, back, left, and the present set), seats and briefs: decided here,
/// performed by the shell.
extension RoomEngine {
    /// A connection of `userID` joined the room topic (admitted) at `now`. The user's first
    /// connection is journaled as `joined`, or `back` when it was away (its grace timer
    /// stops); a user seen at or after the scheduled time is no no-show.
    package mutating func connected(_ userID: String, now: Double) -> [RoomAction] {
        _ = machine.arrived(userID)
        guard presence.connect(userID) else { return [] }
        if let scheduledAt = presence.scheduledAt, now >= scheduledAt { presence.seenSinceScheduled.insert(userID) }
        var actions: [RoomAction] = []
        let status: RoomEvent.PresenceStatus
        if presence.away.removeValue(forKey: userID) != nil {
            actions.append(contentsOf: stopTimer(.grace(userID: userID)))
            status = .back
        } else {
            status = .joined
        }
        actions.append(.journal([presenceEvent(userID: userID, status: status)], saveState: false))
        return actions
    }

    /// A connection of `userID` closed at `now`. When it was the user's last, a peer whose
    /// connection dropped is away for the grace period (its seat is kept; a timer runs);
    /// anyone else has left.
    package mutating func disconnected(_ userID: String, dropped: Bool, now: Double) -> [RoomAction] {
        guard presence.disconnect(userID) else { return [] }
        guard dropped, state.isParticipant(userID) else {
            return [.journal([presenceEvent(userID: userID, status: .left)], saveState: false)]
        }
        let until = now + presence.graceSeconds
        presence.away[userID] = until
        timers[.grace(userID: userID)] = until
        return [.timer(.set(.grace(userID: userID), at: until)), .journal([presenceEvent(userID: userID, status: .away)], saveState: false)]
    }

    /// Every channel of `userID` on the room was closed (after `leave`, or a lost seat):
    /// it has left.
    package mutating func closed(_ userID: String) -> [RoomAction] {
        presence.disconnectAll(userID)
        return [.journal([presenceEvent(userID: userID, status: .left)], saveState: false)]
    }

    /// The database's seat changed to `guestID` at `now` (the room follows it; nothing when
    /// it is the room's already): the former guest stops being away, its channels are
    /// closed with `reason` and it has left; then the seat's events (a round being played
    /// is cancelled) are journaled with the state.
    package mutating func seatChanged(_ guestID: String?, reason: String, now: Double) -> [RoomAction] {
        let previous = state.guestID
        let events = followSeat(guestID, now: now)
        guard !events.isEmpty else { return [] }
        var actions: [RoomAction] = []
        if let previous {
            if presence.away.removeValue(forKey: previous) != nil { actions += stopTimer(.grace(userID: previous)) }
            actions.append(.closeChannels(of: previous, reason: reason))
            actions += closed(previous)
        }
        actions.append(.journal(events, saveState: true))
        return actions
    }

    /// A `presence` event for `userID` with the room's present and away users now.
    func presenceEvent(userID: String, status: RoomEvent.PresenceStatus) -> RoomEvent {
        .presence(userID: userID, status: status, present: presence.present, away: presence.awayList)
    }

    // MARK: Briefs

    /// The brief `userID` may see in `state`: its own role's, from preparation on (nil
    /// otherwise, and for anyone not in the round).
    package func brief(for userID: String, in state: RoomState) -> RoomBrief? {
        guard let round = state.round, let role = state.role(of: userID) else { return nil }
        switch state.phase {
        case .preparation, .roleplay: break
        default: return nil
        }
        guard let caseID = state.caseIDs[round - 1], let summary = cases[caseID], let briefs = caseBriefs[caseID] else { return nil }
        return RoomBrief(
            userID: userID, round: round, role: role, caseID: caseID, caseName: summary.caseName,
            text: role == .candidate ? briefs.candidate : briefs.actor
        )
    }

    /// Each participant's brief in the state now (a round just started).
    func briefsNow() -> [RoomBrief] {
        [state.hostID, state.guestID].compactMap { $0 }.compactMap { brief(for: $0, in: state) }
    }
}
