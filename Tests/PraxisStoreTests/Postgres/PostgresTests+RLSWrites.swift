import PraxisDomain
import PraxisStore
import Testing

extension PostgresTests.RLSMatrix {
    /// One change to one stored row: the SQL and the same change as column values.
    struct Change: Sendable {
        var table: String
        var key: String
        var id: String
        var values: [String: (sql: String, value: Value)]
    }

    static let changes: [Change] = {
        let f = Fixture.self
        let later = (sql: "'2030-01-01T00:00:00Z'::timestamptz", value: Value.text("2030-01-01T00:00:00+00:00"))
        func seat(_ user: String?) -> (sql: String, value: Value) {
            guard let user else { return (sql: "NULL", value: Value.null) }
            return (sql: "'\(user)'::uuid", value: Value.text(user))
        }
        var list: [Change] = []
        // Taking a free seat, as each actor (a live room's seat is fixed; nobody seats another).
        // Seats go to users with a profile (the seat's foreign key), as on SQLite.
        for seatUser in [f.host, f.guest, f.other] {
            for room in [f.room(6), f.liveRoom] {
                list.append(Change(table: "practice_rooms", key: "id", id: room, values: ["guest_id": seat(seatUser)]))
            }
        }
        list += [
            // Giving a seat back (guest) or removing the guest (host), before round 1.
            Change(table: "practice_rooms", key: "id", id: f.room(2), values: ["guest_id": seat(nil)]),
            // The host edits; the stage is the server's; a finished room is read-only.
            Change(table: "practice_rooms", key: "id", id: f.room(1), values: ["datetime_utc": later]),
            Change(table: "practice_rooms", key: "id", id: f.room(1), values: ["stage": ("2", .integer(2))]),
            Change(table: "practice_rooms", key: "id", id: f.room(5), values: ["datetime_utc": later]),
            Change(table: "practice_rooms", key: "id", id: f.room(3), values: ["private": ("false", .integer(0))]),
            Change(table: "profiles", key: "user_id", id: f.host, values: ["first_name": ("'Renamed'", .text("Renamed"))]),
            Change(table: "users", key: "id", id: f.host, values: ["full_name": ("'Renamed'", .text("Renamed"))]),
            Change(table: "users", key: "id", id: f.host, values: ["email": ("'changed@example.org'", .text("changed@example.org"))]),
            Change(table: "case_briefs", key: "id", id: "cccccccc-0000-4000-8000-000000000002", values: ["status": ("'published'", .text("published"))]),
        ]
        return list
    }()

    @Test func updatesAgree() async throws {
        try await Self.seeded { database in
            let relations = try await Fixture.relations(database)
            for change in Self.changes {
                let rows = try await Fixture.rows(database, key: change.key, base: "SELECT * FROM \(change.table)")
                let old = try #require(rows[change.id])
                var new = old
                for (column, value) in change.values { new[column] = value.value }
                let changed = Set(change.values.keys.filter { old[$0] != new[$0] })
                let facts = RoomFacts(roundLive: change.id == Fixture.liveRoom)
                let assignments = change.values.map { "\($0.key) = \($0.value.sql)" }.sorted().joined(separator: ", ")
                // No RETURNING: it would need the new row to pass the caller's SELECT policy (a
                // guest giving back a private room's seat no longer sees it). The owner reads
                // afterwards, in the same transaction, whether the row now holds the new values.
                // A change to values the row already holds is told by RETURNING, as before.
                let returning = changed.isEmpty ? " RETURNING \(change.key)::text" : ""
                let sql = "UPDATE \(change.table) SET \(assignments) WHERE \(change.key) = '\(change.id)'" + returning
                let holds = change.values.map { "\($0.key) IS NOT DISTINCT FROM \($0.value.sql)" }.sorted().joined(separator: " AND ")
                let check = "SELECT \(change.key)::text FROM \(change.table) WHERE \(change.key) = '\(change.id)' AND \(holds)"
                for actor in Fixture.actors {
                    let visible = AccessPolicy.mergeable(change.table, by: actor.caller).evaluate(old, relations: relations)
                    let checked = (try? AccessPolicy.checkUpdate(
                        change.table, old: old, new: new, changed: changed, room: facts, by: actor.caller
                    )) != nil
                    let result = await database.trial(as: actor.caller, sql, afterwards: changed.isEmpty ? nil : check)
                    // 23514: a CHECK (a room's host cannot be its guest, as on SQLite) refused the
                    // row after row-level security and the guards had let it through.
                    let actual = Self.passed(result, accept: ["23514"], "\(actor.name): \(sql)") ?? [change.id]
                    let expected: Set<String> = visible && checked ? [change.id] : []
                    #expect(actual == expected, "\(actor.name): \(sql)")
                }
            }
        }
    }

    @Test func roomDeletesAgree() async throws {
        try await Self.seeded { database in
            let relations = try await Fixture.relations(database)
            let rooms = try await Fixture.rows(database, key: "id", base: "SELECT * FROM practice_rooms")
            for (id, room) in rooms.sorted(by: { $0.key < $1.key }) {
                let facts = RoomFacts(roundLive: id == Fixture.liveRoom)
                for actor in Fixture.actors {
                    let allowed = AccessPolicy.readable("practice_rooms", by: actor.caller).and(AccessPolicy.deletable("practice_rooms", by: actor.caller))
                        .evaluate(room, relations: relations)
                        && (try? AccessPolicy.checkDelete("practice_rooms", old: room, room: facts, by: actor.caller)) != nil
                    let result = await database.trial(as: actor.caller, "DELETE FROM practice_rooms WHERE id = '\(id)' RETURNING id::text")
                    // A room with rounds cannot go (ON DELETE RESTRICT): the policy let the delete through.
                    // 55006: the room's round is being played.
                    let actual = Self.passed(result, accept: ["23503", "23001", "55006"], "\(actor.name) deletes \(id)")
                    let passed: Bool
                    switch result {
                    case .failure(let error) where error.sqlState == "23503" || error.sqlState == "23001": passed = true
                    default: passed = !(actual ?? []).isEmpty
                    }
                    #expect(passed == allowed, "\(actor.name) deleting room \(id)")
                }
            }
        }
    }
}
