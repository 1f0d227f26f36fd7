import Foundation
import GRDB
import PraxisDomain
import PraxisProtocol
import Testing

@testable import PraxisStore

/// Every cell of the practice-room access matrix, through the store's data operations
/// on a real SQLite file: actor × operation × public/private room.
@Suite("Access matrix: practice_rooms")
struct AccessMatrixTests {
    enum Actor: String, CaseIterable, Sendable { case anon, host, guest, other, admin, service }
    enum Operation: String, CaseIterable, Sendable { case select, insert, update, delete }
    enum Outcome: Equatable, Sendable {
        /// The operation affected (or returned) this many rows.
        case rows(Int)
        /// Refused with an error.
        case refused
    }

    /// The expected outcome of each cell. Insert means "insert a room hosted by the host".
    static func expected(_ actor: Actor, _ operation: Operation, isPrivate: Bool) -> Outcome {
        switch (operation, actor) {
        case (.select, .host), (.select, .guest), (.select, .service): return .rows(1)
        case (.select, _): return .rows(isPrivate ? 0 : 1)
        case (.insert, .host), (.insert, .service): return .rows(1)
        case (.insert, _): return .refused
        case (.update, .host), (.update, .service): return .rows(1)
        case (.update, .guest): return .refused  // The guest may only give the seat back.
        case (.update, _): return .rows(0)
        case (.delete, .host), (.delete, .service): return .rows(1)
        case (.delete, _): return .rows(0)
        }
    }

    static var cells: [(Actor, Operation, Bool)] {
        Actor.allCases.flatMap { actor in Operation.allCases.flatMap { op in [false, true].map { (actor, op, $0) } } }
    }

    struct World {
        var store: Store
        var ids: [Actor: String]
        var room: String

        func caller(_ actor: Actor) -> Caller {
            switch actor {
            case .anon: .anonymous
            case .service: .service
            case .admin: .user(id: ids[.admin]!, isAdmin: true)
            default: .user(id: ids[actor]!, isAdmin: false)
            }
        }
    }

    static func world(_ temp: borrowing TemporaryDatabase, isPrivate: Bool) throws -> World {
        let store = try temp.open()
        let room = newID()
        let ids = try store.pool.write { db -> [Actor: String] in
            var ids: [Actor: String] = [:]
            for actor in [Actor.host, .guest, .other, .admin] {
                ids[actor] = try insertUser(db, email: "\(actor)@matrix.test", role: actor == .admin ? "admin" : "user")
            }
            try db.execute(
                sql: "INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, private) VALUES (?, ?, ?, '2026-12-01T10:00:00.000000Z', 'Clinical', ?, ?)",
                arguments: [room, ids[.host], ids[.guest], "room-\(room)", isPrivate]
            )
            return ids
        }
        return World(store: store, ids: ids, room: room)
    }

    @Test(arguments: cells)
    func cell(actor: Actor, operation: Operation, isPrivate: Bool) async throws {
        let temp = try TemporaryDatabase()
        let world = try Self.world(temp, isPrivate: isPrivate)
        let context = DataContext(caller: world.caller(actor), ipAddress: "127.0.0.1")
        let table = Catalog.practiceRooms
        let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [world.room])])
        let before = try await world.store.pool.read { db in try GRDB.Row.fetchOne(db, sql: "SELECT * FROM practice_rooms WHERE id = ?", arguments: [world.room]) }

        var outcome: Outcome
        do {
            switch operation {
            case .select:
                outcome = .rows(try await world.store.select(table, query: byID, countExact: false, context: context).rows.count)
            case .insert:
                let row: [String: JSONValue] = [
                    "host_id": .string(world.ids[.host]!), "datetime_utc": .string("2026-12-02T10:00:00Z"),
                    "type": .string("Communication"), "room_url": .string("new-\(UUID())"), "private": .bool(isPrivate),
                ]
                let result = try await world.store.insert(
                    table, InsertRequest(rows: [row], query: PostgrestQuery(), preferences: Preferences()), context: context
                )
                let stored = try await world.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM practice_rooms")! }
                outcome = .rows(stored - 1)
                #expect(result.rows.count == (actor == .anon ? 0 : 1))
            case .update:
                outcome = .rows(try await world.store.update(table, query: byID, patch: ["type": .string("Communication")], context: context).rows.count)
            case .delete:
                outcome = .rows(try await world.store.delete(table, query: byID, context: context).rows.count)
            }
        } catch let error as DataError {
            #expect(error.code == "42501", "refusals are permission errors: \(error)")
            outcome = .refused
        }
        #expect(outcome == Self.expected(actor, operation, isPrivate: isPrivate), "\(actor) \(operation) \(isPrivate ? "private" : "public")")

        // Whatever was refused or filtered out left the room exactly as it was.
        let after = try await world.store.pool.read { db in try GRDB.Row.fetchOne(db, sql: "SELECT * FROM practice_rooms WHERE id = ?", arguments: [world.room]) }
        if operation == .select || operation == .insert || outcome != .rows(1) {
            #expect(after == before)
        }
    }
}

@Suite("Access rules: the guest seat")
struct GuestSeatTests {
    @Test func aUserTakesAFreeSeatAndGivesItBackBeforeRoundOne() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let (host, guest, late, room) = try await store.pool.write { db in
            let host = try insertUser(db, email: "h@seat.test")
            let guest = try insertUser(db, email: "g@seat.test")
            let late = try insertUser(db, email: "l@seat.test")
            let room = newID()
            try db.execute(sql: "INSERT INTO practice_rooms (id, host_id, datetime_utc, type, room_url) VALUES (?, ?, '2026-12-01T10:00:00.000000Z', 'Clinical', 'seat')", arguments: [room, host])
            return (host, guest, late, room)
        }
        let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [room])])
        func as_(_ id: String) -> DataContext { DataContext(caller: .user(id: id, isAdmin: false), ipAddress: "127.0.0.1") }

        // The host cannot seat themselves.
        await #expect(throws: DataError.self) {
            try await store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .string(host)], context: as_(host))
        }
        // Someone cannot seat another user.
        await #expect(throws: DataError.self) {
            try await store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .string(late)], context: as_(guest))
        }
        let taken = try await store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .string(guest)], context: as_(guest))
        #expect(taken.rows.first?["guest_id"] == .text(guest))
        // The seat is taken: a late comer changes nothing.
        let late_ = try await store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .string(late)], context: as_(late))
        #expect(late_.rows.isEmpty)
        // The guest gives it back.
        let given = try await store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .null], context: as_(guest))
        #expect(given.rows.first?["guest_id"] == .null)
        // Once round 1 is recorded the guest keeps the seat.
        _ = try await store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .string(guest)], context: as_(guest))
        try await store.pool.write { db in
            let round = newID()
            try db.execute(sql: "INSERT INTO practice_rounds (id, room_id, round, candidate_id) VALUES (?, ?, 1, ?)", arguments: [round, room, host])
            try db.execute(sql: "UPDATE practice_rooms SET first_round_id = ? WHERE id = ?", arguments: [round, room])
        }
        await #expect(throws: DataError.self) {
            try await store.update(Catalog.practiceRooms, query: byID, patch: ["guest_id": .null], context: as_(guest))
        }
    }
}

@Suite("Access rules: written once, used twice")
struct PredicateEquivalenceTests {
    /// The visibility predicate evaluated in memory (as the realtime feed will) selects exactly
    /// the rows SQL selects (as the data API does).
    @Test(arguments: ["anon", "host", "guest", "other", "service"])
    func inMemoryEvaluationMatchesSQL(actorName: String) async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let ids = try await store.pool.write { db -> [String: String] in
            var ids: [String: String] = [:]
            for name in ["host", "guest", "other"] { ids[name] = try insertUser(db, email: "\(name)@eq.test") }
            for (index, (isPrivate, withGuest)) in [(false, false), (false, true), (true, false), (true, true)].enumerated() {
                try db.execute(
                    sql: "INSERT INTO practice_rooms (host_id, guest_id, datetime_utc, type, room_url, private) VALUES (?, ?, '2026-12-01T10:00:00.000000Z', 'Clinical', ?, ?)",
                    arguments: [ids["host"], withGuest ? ids["guest"] : nil, "r\(index)", isPrivate]
                )
            }
            return ids
        }
        let caller: Caller =
            switch actorName {
            case "anon": .anonymous
            case "service": .service
            default: .user(id: ids[actorName]!, isAdmin: false)
            }
        let viaSQL = try await store.select(Catalog.practiceRooms, query: PostgrestQuery(), countExact: false, context: DataContext(caller: caller, ipAddress: "x"))
        let all = try await store.select(Catalog.practiceRooms, query: PostgrestQuery(), countExact: false, context: DataContext(caller: .service, ipAddress: "x"))
        let predicate = AccessPolicy.readable("practice_rooms", by: caller)
        let inMemory = all.rows.filter { predicate.evaluate($0) }
        #expect(Set(inMemory.compactMap { $0["id"]?.text }) == Set(viaSQL.rows.compactMap { $0["id"]?.text }))
    }
}
