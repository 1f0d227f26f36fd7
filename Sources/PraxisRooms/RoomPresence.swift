/// Who is in a room and who was: the members' connections per user, peers away within
/// their grace period, and what the no-show check needs. A plain value the engine owns.
package struct RoomPresence: Sendable, Equatable {
    /// Open connections (joined channels) per present user.
    package private(set) var connections: [String: Int] = [:]
    /// Peers whose last connection dropped: until when their seat is kept.
    package internal(set) var away: [String: Double] = [:]
    /// Users recorded present at or after the scheduled time.
    package internal(set) var seenSinceScheduled: Set<String>
    /// Users already recorded as no-shows.
    package internal(set) var noShows: Set<String>
    /// The room's scheduled time (seconds since 1970), nil when unknown.
    package let scheduledAt: Double?
    /// How long a dropped peer keeps its seat, and how long after the scheduled time a
    /// missing peer counts as a no-show.
    package let graceSeconds: Double
    /// How often the shell's sweep looks for rooms due for their no-show check: a check due
    /// within this gets a timer, a later one is left to the sweep.
    package let sweepIntervalSeconds: Double

    package init(
        scheduledAt: Double?, graceSeconds: Double, sweepIntervalSeconds: Double, seenSinceScheduled: Set<String> = [],
        noShows: Set<String> = []
    ) {
        self.scheduledAt = scheduledAt
        self.graceSeconds = graceSeconds
        self.sweepIntervalSeconds = sweepIntervalSeconds
        self.seenSinceScheduled = seenSinceScheduled
        self.noShows = noShows
    }

    /// Present users, sorted (the `present` of presence events and snapshots).
    package var present: [String] { connections.keys.sorted() }

    /// Peers away, by user id (the `away` of presence events and snapshots).
    package var awayList: [RoomEvent.Away] {
        away.sorted { $0.key < $1.key }.map { RoomEvent.Away(userID: $0.key, until: $0.value) }
    }

    package func isPresent(_ userID: String) -> Bool { connections[userID] != nil }

    /// One more connection of `userID`; whether it is the user's first.
    mutating func connect(_ userID: String) -> Bool {
        connections[userID, default: 0] += 1
        return connections[userID] == 1
    }

    /// One connection of `userID` less; whether it was the user's last.
    mutating func disconnect(_ userID: String) -> Bool {
        guard let count = connections[userID] else { return false }
        connections[userID] = count > 1 ? count - 1 : nil
        return count == 1
    }

    /// Every connection of `userID` is closed.
    mutating func disconnectAll(_ userID: String) {
        connections[userID] = nil
    }
}
