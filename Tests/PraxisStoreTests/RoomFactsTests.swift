import Foundation
import GRDB
import PraxisDomain
import PraxisProtocol
import Testing

@testable import PraxisStore

/// The store hands the room rules the fact only it knows (a round being played, from the room
/// engine's `room_runtime`), on every write path that reaches a room: update, upsert, delete.
@Suite("Access rules: room facts from the store")
struct RoomFactsTests {
    struct World {
        var store: Store
        var host: String
        var guest: String
        var room: String
    }

    static func world(_ temp: borrowing TemporaryDatabase, phase: String?) throws -> World {
        let store = try temp.open()
        let room = newID()
        let (host, guest) = try store.pool.write { db in
            let host = try insertUser(db, email: "h-\(room)@facts.test")
            let guest = try insertUser(db, email: "g-\(room)@facts.test")
            try db.execute(
                sql: "INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url) VALUES (?, ?, ?, '2026-12-01T10:00:00.000000Z', 'Clinical', ?)",
                arguments: [room, host, guest, "facts-\(room)"]
            )
            if let phase {
                try db.execute(sql: "INSERT INTO room_runtime (room_id, phase, state) VALUES (?, ?, '{}')", arguments: [room, phase])
            }
            return (host, guest)
        }
        return World(store: store, host: host, guest: guest, room: room)
    }

    static func context(_ id: String) -> DataContext { DataContext(caller: .user(id: id, isAdmin: false), ipAddress: "127.0.0.1") }

    static func guest(of world: World) async throws -> String? {
        try await world.store.pool.read { db in try String.fetchOne(db, sql: "SELECT guest_id FROM practice_rooms WHERE id = ?", arguments: [world.room]) }
    }

    @Test(arguments: ["preparation", "roleplay"])
    func aRoundBeingPlayedFixesTheSeatOnEveryPath(phase: String) async throws {
        let temp = try TemporaryDatabase()
        let world = try Self.world(temp, phase: phase)
        let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [world.room])])
        for who in [world.guest, world.host] {
            await #expect(throws: DataError.self) {
                try await world.store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .null], context: Self.context(who))
            }
        }
        // The same change as an upsert that merges into the row.
        var upsert = PostgrestQuery()
        upsert.onConflict = ["id"]
        let row: [String: JSONValue] = [
            "id": .string(world.room), "host_id": .string(world.host), "guest_id": .null, "datetime_utc": .string("2026-12-01T10:00:00.000000Z"),
            "type": .string("Clinical"), "room_url": .string("facts-\(world.room)"),
        ]
        await #expect(throws: DataError.self) {
            try await world.store.insert(
                Catalog.practiceRooms, InsertRequest(rows: [row], query: upsert, preferences: Preferences(headerValues: ["resolution=merge-duplicates"])),
                context: Self.context(world.host)
            )
        }
        #expect(try await Self.guest(of: world) == world.guest, "nothing changed")
        // The service role may (the room engine then follows the seat).
        let moved = try await world.store.update(
            Catalog.practiceRooms, query: byID, patch: ["guest_id": .null], context: DataContext(caller: .service, ipAddress: "127.0.0.1")
        )
        #expect(moved.rows.count == 1)
        #expect(try await Self.guest(of: world) == nil)
    }

    @Test(arguments: ["preparation", "roleplay"])
    func aRoomWithARoundBeingPlayedIsInUse(phase: String) async throws {
        let temp = try TemporaryDatabase()
        let world = try Self.world(temp, phase: phase)
        let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [world.room])])
        do {
            _ = try await world.store.delete(Catalog.practiceRooms, query: byID, context: Self.context(world.host))
            Issue.record("a room whose round is being played was deleted")
        } catch {
            #expect(error.kind == .conflict && error.code == "55006", "\(error)")
        }
        let count = try await world.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM practice_rooms WHERE id = ?", arguments: [world.room]) }
        #expect(count == 1)
        let deleted = try await world.store.delete(Catalog.practiceRooms, query: byID, context: DataContext(caller: .service, ipAddress: "127.0.0.1"))
        #expect(deleted.rows.count == 1)
    }

    @Test(arguments: [nil, "waiting"] as [String?])
    func aWaitingRoomKeepsTheOldRules(phase: String?) async throws {
        let temp = try TemporaryDatabase()
        let world = try Self.world(temp, phase: phase)
        let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [world.room])])
        let given = try await world.store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .null], context: Self.context(world.guest))
        #expect(given.rows.first?["guest_id"] == .null)
        let deleted = try await world.store.delete(Catalog.practiceRooms, query: byID, context: Self.context(world.host))
        #expect(deleted.rows.count == 1)
    }
}
