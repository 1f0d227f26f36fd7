import Foundation
import GRDB
import PraxisDomain
import Testing

@testable import PraxisStore

/// `Store.relatedRows`: the facts the realtime feed's access rules consult, read in one go.
@Suite("Store: related rows for the access rules")
struct RelatedRowsTests {
    @Test func readsParticipantsAndCandidatesAndLeavesUnknownIDsOut() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let (host, guest, seated, empty, round) = try await store.pool.write { db -> (String, String, String, String, String) in
            let host = try insertUser(db, email: "h@related.test")
            let guest = try insertUser(db, email: "g@related.test")
            let seated = newID()
            let empty = newID()
            for (room, guestID) in [(seated, guest as String?), (empty, nil)] {
                try db.execute(
                    sql: "INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url) VALUES (?, ?, ?, '2026-12-01T10:00:00.000000Z', 'Clinical', ?)",
                    arguments: [room, host, guestID, "related-\(room)"]
                )
            }
            let round = newID()
            try db.execute(
                sql: "INSERT INTO practice_rounds (id, room_id, round, candidate_id) VALUES (?, ?, 1, ?)", arguments: [round, seated, guest]
            )
            return (host, guest, seated, empty, round)
        }
        let missing = newID()
        let facts = try await store.relatedRows(RelationKeys(rooms: [seated, empty, missing], rounds: [round, missing]))
        #expect(facts.rooms == [
            seated: RowRelations.Participants(host: host, guest: guest), empty: RowRelations.Participants(host: host, guest: nil),
        ])
        #expect(facts.roundCandidates == [round: guest])
        #expect(try await store.relatedRows(RelationKeys()) == .none)
    }

    /// More ids than one `IN (…)` list holds: every chunk is read.
    @Test func readsMoreKeysThanOneChunk() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let count = Store.relationChunk * 2 + 7
        let (host, rooms) = try await store.pool.write { db -> (String, [String]) in
            let host = try insertUser(db, email: "many@related.test")
            var rooms: [String] = []
            for index in 0..<count {
                let room = newID()
                try db.execute(
                    sql: "INSERT INTO practice_rooms (id, host_id, datetime_utc, type, room_url) VALUES (?, ?, '2026-12-01T10:00:00.000000Z', 'Clinical', ?)",
                    arguments: [room, host, "many-\(index)"]
                )
                rooms.append(room)
            }
            return (host, rooms)
        }
        let facts = try await store.relatedRows(RelationKeys(rooms: Set(rooms)))
        #expect(facts.rooms.count == count)
        #expect(facts.rooms.values.allSatisfy { $0 == RowRelations.Participants(host: host, guest: nil) })
    }
}
