/// Facts about related rows, read beforehand for a known set of keys (`RelationKeys`):
/// what `RowPredicate.roomParticipant` and `.roundCandidate` evaluate against in memory.
///
/// A key that was not read counts as "no such row": the relational rule is false.
package struct RowRelations: Sendable, Hashable {
    /// The host and guest of a practice room.
    package struct Participants: Sendable, Hashable {
        package var host: String
        package var guest: String?

        package init(host: String, guest: String?) {
            self.host = host
            self.guest = guest
        }
    }

    /// Participants by room id (rooms that do not exist are absent).
    package var rooms: [String: Participants]
    /// Candidate user id by round id (rounds that do not exist are absent).
    package var roundCandidates: [String: String]

    package init(rooms: [String: Participants] = [:], roundCandidates: [String: String] = [:]) {
        self.rooms = rooms
        self.roundCandidates = roundCandidates
    }

    /// Nothing known: every relational rule is false.
    package static let none = RowRelations()

    /// Adds `other`'s facts (the newer read wins for a key both know).
    package mutating func merge(_ other: RowRelations) {
        rooms.merge(other.rooms) { _, new in new }
        roundCandidates.merge(other.roundCandidates) { _, new in new }
    }

    /// The facts as the predicate evaluator asks for them.
    package var relations: RowPredicate.Relations {
        let rooms = self.rooms
        let candidates = roundCandidates
        return RowPredicate.Relations(
            roomParticipants: { id in rooms[id].map { (host: $0.host, guest: $0.guest) } },
            roundCandidate: { id in candidates[id] }
        )
    }
}
