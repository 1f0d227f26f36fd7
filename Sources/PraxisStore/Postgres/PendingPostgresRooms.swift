import PraxisDomain

/// The rooms' storage on PostgreSQL until its ``RoomStore`` and ``RoomJournaling`` exist
/// (built beside the change log, issue 13): every read throws and every journal entry
/// fails with ``StoreError/database(_:)`` saying so, so the data API and the realtime feed
/// run on PostgreSQL while rooms are refused clearly.
struct PendingPostgresRooms: RoomStore, RoomJournaling {
    static let notYet = StoreError.database("not yet supported on PostgreSQL: the rooms' storage (room journal and room reads)")

    var isFull: Bool { false }
    var hasWork: Bool { false }

    func append(_ entry: RoomJournalEntry, completion: @escaping RoomJournal.Completion) {
        completion(.failure(Self.notYet))
    }

    func waitUntilWritten() async {}

    func loadRoom(id: String, eventLimit: Int, commandLimit: Int) async throws -> LoadedRoom? { throw Self.notYet }
    func caseBrief(id: String) async throws -> CaseBrief? { throw Self.notYet }
    func randomCase(profession: String?, domain: String?, difficulty: String?, excluding: String?) async throws -> CaseBrief? { throw Self.notYet }
    func roomParticipants(id: String) async throws -> (host: String, guest: String?)? { throw Self.notYet }
    func roomSeat(id: String) async throws -> RoomSeat? { throw Self.notYet }
    func roomsMidRound() async throws -> [String] { [] }
    func roomsDueForNoShowCheck(from: String, to: String, limit: Int) async throws -> [String] { [] }
    func unassessedRounds(limit: Int) async throws -> [UnassessedRound] { [] }
    func roomEvents(roomID: String, after: Int64, before: Int64, limit: Int, turnsOnly: Bool) async throws -> [RoomEventRecord] { throw Self.notYet }
    func roundTranscript(roundID: String) async throws -> String? { throw Self.notYet }
}
