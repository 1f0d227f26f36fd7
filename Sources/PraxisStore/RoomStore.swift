/// What the room engine's shell (`RoomRegistry`, `LiveRoom`) reads from the database,
/// beside the journal it writes through: the boundary a second database (PostgreSQL,
/// issue 13) implements for the rooms. `Store` is the SQLite implementation,
/// `PostgresDatabase` the PostgreSQL one; each has its journal (``RoomJournaling``):
/// `RoomJournal(store:)` and `PostgresRoomJournal(database:)`.
///
/// Every method runs on the implementation's own threads, never the caller's; records are
/// typed.
package protocol RoomStore: Sendable {
    /// A room with its saved state, latest `eventLimit` events, the current round's turns,
    /// the cases chosen for it and its latest `commandLimit` command records (nil: no room).
    func loadRoom(id: String, eventLimit: Int, commandLimit: Int) async throws -> LoadedRoom?

    /// A published case by id, briefs included.
    func caseBrief(id: String) async throws -> CaseBrief?

    /// A random published case matching the filters that are given, never `excluding`.
    func randomCase(profession: String?, domain: String?, difficulty: String?, excluding: String?) async throws -> CaseBrief?

    /// The room's host and guest as stored now (nil: no such room).
    func roomParticipants(id: String) async throws -> (host: String, guest: String?)?

    /// The room's seats as stored now, with the feed offset they are as of (nil: no room).
    func roomSeat(id: String) async throws -> RoomSeat?

    /// Rooms whose saved state is mid-round (their timers must run after a restart).
    func roomsMidRound() async throws -> [String]

    /// Up to `limit` rooms scheduled between `from` and `to`, not started, with no no-show yet.
    func roomsDueForNoShowCheck(from: String, to: String, limit: Int) async throws -> [String]

    /// Up to `limit` completed rounds that have no assessment yet, oldest first.
    func unassessedRounds(limit: Int) async throws -> [UnassessedRound]

    /// The room's journaled events with `after < offset < before`, oldest first, at most
    /// `limit`, only `turn` events when `turnsOnly` (what a join needs of the events the
    /// loaded room no longer keeps in memory).
    func roomEvents(roomID: String, after: Int64, before: Int64, limit: Int, turnsOnly: Bool) async throws -> [RoomEventRecord]

    /// A completed round's transcript (a JSON array of its turns); nil: no such round.
    func roundTranscript(roundID: String) async throws -> String?
}

extension RoomStore {
    /// `roomsDueForNoShowCheck` with at most `Store.roomSweepBatch` rooms.
    package func roomsDueForNoShowCheck(from: String, to: String) async throws -> [String] {
        try await roomsDueForNoShowCheck(from: from, to: to, limit: Store.roomSweepBatch)
    }

    /// `unassessedRounds` with at most `Store.roomSweepBatch` rounds.
    package func unassessedRounds() async throws -> [UnassessedRound] {
        try await unassessedRounds(limit: Store.roomSweepBatch)
    }
}

extension Store: RoomStore {
    /// Most rooms (or rounds) one sweep or recovery pass takes.
    public static let roomSweepBatch = 100
}
