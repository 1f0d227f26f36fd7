import Foundation
import GRDB
import Testing

@testable import PraxisStore

/// v7: the journal's user ids and the rounds' case ids become columns, filled from old
/// rows, so that `loadRoom` reads no JSON.
@Suite("Store: v7 room journal columns")
struct RoomJournalColumnsMigrationTests {
    /// A database migrated to v6 with one room journaled as v6 wrote it (the user only in
    /// the payload, the cases only in the saved state).
    static func seedAtV6(path: String) throws -> (room: String, host: String, guest: String, caseID: String) {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try Migrations.migrator.migrate(queue, upTo: "v6: realtime broadcast log")
        return try queue.write { db in
            let host = try insertUser(db, email: "host-\(newID())@b.test")
            let guest = try insertUser(db, email: "guest-\(newID())@b.test")
            let caseID = try RoomFixture.insertCase(db, name: "Chest pain")
            let room = newID()
            try db.execute(
                sql: "INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, stage) VALUES (?, ?, ?, ?, 'Clinical', ?, 1)",
                arguments: [room, host, guest, RoomFixture.scheduled, "https://rooms.test/\(room)"]
            )
            let rows: [(Int, String, String)] = [
                (1, "presence", #"{"user_id":"\#(host)","status":"joined"}"#),
                (2, "ready", #"{"user_id":"\#(guest)","round":1}"#),
                (3, "no_show", #"{"user_id":"\#(guest)"}"#),
                (4, "left", #"{"user_id":"\#(host)","phase":"waiting"}"#),
                (5, "stage", #"{"stage":1}"#),
            ]
            for (offset, type, payload) in rows {
                try db.execute(
                    sql: "INSERT INTO room_events (room_id, \"offset\", type, payload, at) VALUES (?, ?, ?, ?, '2026-01-01T10:01:00.000000Z')",
                    arguments: [room, offset, type, payload]
                )
            }
            try db.execute(
                sql: "INSERT INTO room_runtime (room_id, phase, state) VALUES (?, 'waiting', ?)",
                arguments: [room, #"{"caseIDs":["\#(caseID)",null],"stage":1}"#]
            )
            return (room, host, guest, caseID)
        }
    }

    @Test("old presence, ready, left and no-show rows get their user_id; saved states their case ids; loadRoom reads them")
    func backfills() async throws {
        let temp = try TemporaryDatabase()
        let (room, host, guest, caseID) = try Self.seedAtV6(path: temp.path)
        let store = try temp.open()
        let users = try await store.pool.read { db in
            try GRDB.Row.fetchAll(db, sql: "SELECT user_id FROM room_events WHERE room_id = ? ORDER BY \"offset\"", arguments: [room])
                .map { row -> String? in row["user_id"] }
        }
        #expect(users == [host, guest, guest, host, nil])
        let cases = try await store.pool.read { db in
            try GRDB.Row.fetchOne(db, sql: "SELECT round1_case_id, round2_case_id FROM room_runtime WHERE room_id = ?", arguments: [room])
                .map { row -> [String?] in [row["round1_case_id"], row["round2_case_id"]] }
        }
        #expect(cases == [caseID, nil])
        let loaded = try #require(try await store.loadRoom(id: room, eventLimit: 10))
        #expect(loaded.seenSinceScheduled == [host])
        #expect(loaded.noShows == [guest])
        #expect(Set(loaded.cases.keys) == [caseID])
    }
}
