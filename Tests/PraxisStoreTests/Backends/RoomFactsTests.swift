import Foundation
import PraxisDomain
import PraxisProtocol
import Testing

@testable import PraxisStore

/// The store hands the room rules the fact only it knows (a round being played, from the room
/// engine's `room_runtime`), on every write path that reaches a room: update, upsert, delete;
/// on each backend.
@Suite("Access rules: room facts from the store")
struct RoomFactsTests {
    struct World {
        var rooms: RoomWorld
        var store: any RoomBoundary { rooms.store }
        var host: String
        var guest: String
        var room: String
    }

    static func world(_ rooms: RoomWorld, phase: String?) async throws -> World {
        let room = newID()
        let (host, guest) = (newID(), newID())
        for id in [host, guest] {
            try await rooms.execute("INSERT INTO users (id, email, hashed_password, role) VALUES ('\(id)', '\(id)@facts.test', 'x', 'user')")
            try await rooms.execute("INSERT INTO profiles (user_id, first_name, last_name, training_level) VALUES ('\(id)', 'A', 'B', 'FY1')")
        }
        try await rooms.execute("""
            INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url)
            VALUES ('\(room)', '\(host)', '\(guest)', '2026-12-01T10:00:00.000000Z', 'Clinical', 'facts-\(room)')
            """)
        if let phase {
            try await rooms.execute("INSERT INTO room_runtime (room_id, phase, state) VALUES ('\(room)', '\(phase)', '{}')")
        }
        return World(rooms: rooms, host: host, guest: guest, room: room)
    }

    static func context(_ id: String) -> DataContext { DataContext(caller: .user(id: id, isAdmin: false), ipAddress: "127.0.0.1") }

    static func guest(of world: World) async throws -> String? {
        try await world.rooms.text("SELECT CAST(guest_id AS TEXT) FROM practice_rooms WHERE id = '\(world.room)'")
    }

    static var playing: [(StoreBackend, String)] {
        StoreBackend.available.flatMap { backend in ["preparation", "roleplay"].map { (backend, $0) } }
    }

    static var notPlaying: [(StoreBackend, String?)] {
        StoreBackend.available.flatMap { backend in [nil, "waiting"].map { (backend, $0) } }
    }

    @Test(arguments: playing)
    func aRoundBeingPlayedFixesTheSeatOnEveryPath(backend: StoreBackend, phase: String) async throws {
        try await backend.withRooms { rooms in
            let world = try await Self.world(rooms, phase: phase)
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
    }

    @Test(arguments: playing)
    func aRoomWithARoundBeingPlayedIsInUse(backend: StoreBackend, phase: String) async throws {
        try await backend.withRooms { rooms in
            let world = try await Self.world(rooms, phase: phase)
            let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [world.room])])
            do {
                _ = try await world.store.delete(Catalog.practiceRooms, query: byID, context: Self.context(world.host))
                Issue.record("a room whose round is being played was deleted")
            } catch {
                let refusal = error as? DataError
                #expect(refusal?.kind == .conflict && refusal?.code == "55006", "\(error)")
            }
            #expect(try await rooms.count("practice_rooms WHERE id = '\(world.room)'") == 1)
            let deleted = try await world.store.delete(Catalog.practiceRooms, query: byID, context: DataContext(caller: .service, ipAddress: "127.0.0.1"))
            #expect(deleted.rows.count == 1)
        }
    }

    @Test(arguments: notPlaying)
    func aWaitingRoomKeepsTheOldRules(backend: StoreBackend, phase: String?) async throws {
        try await backend.withRooms { rooms in
            let world = try await Self.world(rooms, phase: phase)
            let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [world.room])])
            let given = try await world.store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .null], context: Self.context(world.guest))
            #expect(given.rows.first?["guest_id"] == .null)
            let deleted = try await world.store.delete(Catalog.practiceRooms, query: byID, context: Self.context(world.host))
            #expect(deleted.rows.count == 1)
        }
    }
}
