/// The related rows an access rule consults for some rows: practice rooms (for their host
/// and guest) and practice rounds (for their candidate), by id.
///
/// Collected from the rows first, so that the facts can be read in one go, off any event
/// loop, before the rules are evaluated in memory.
package struct RelationKeys: Sendable, Hashable {
    /// Ids of `practice_rooms` rows whose participants a rule asks for.
    package var rooms: Set<String> = []
    /// Ids of `practice_rounds` rows whose candidate a rule asks for.
    package var rounds: Set<String> = []

    package init(rooms: Set<String> = [], rounds: Set<String> = []) {
        self.rooms = rooms
        self.rounds = rounds
    }

    package var isEmpty: Bool { rooms.isEmpty && rounds.isEmpty }

    package mutating func formUnion(_ other: RelationKeys) {
        rooms.formUnion(other.rooms)
        rounds.formUnion(other.rounds)
    }
}
