import Foundation
import GRDB
import PraxisDomain
import PraxisProtocol
import Testing

@testable import PraxisStore

/// Every write path a practice room can take, through the store's data operations on a real
/// SQLite file: actor × operation (insert, upsert merge and ignore on every conflict target,
/// update, delete) × public/private × free/taken seat. Each cell asserts the answer, and that
/// the room is exactly as the rules say afterwards — unchanged wherever nothing may change.
@Suite("Write access matrix: practice_rooms")
struct WriteAccessMatrixTests {
    enum Actor: String, CaseIterable, Sendable { case anon, host, guest, other, admin, service }

    /// An upsert's `on_conflict`.
    enum Target: String, CaseIterable, Sendable {
        /// No `on_conflict`: the primary key.
        case primaryKey
        case id
        /// The room's link.
        case roomURL
        /// Not a unique key (the shape of the reported attack).
        case hostTypePrivate

        var onConflict: [String]? {
            switch self {
            case .primaryKey: nil
            case .id: ["id"]
            case .roomURL: ["room_url"]
            case .hostTypePrivate: ["host_id", "type", "private"]
            }
        }
    }

    /// What a write tries to change.
    enum Body: String, CaseIterable, Sendable {
        /// Seat the actor as guest.
        case seat
        /// Change the room's type (the host's right).
        case edit
    }

    enum Operation: Hashable, Sendable, CustomStringConvertible {
        /// A plain insert reusing the room's id.
        case insert
        case upsertMerge(Target, Body)
        case upsertIgnore(Target, Body)
        case update(Body)
        case delete

        static var all: [Operation] {
            var all: [Operation] = [.insert]
            for target in Target.allCases {
                for body in Body.allCases { all += [.upsertMerge(target, body), .upsertIgnore(target, body)] }
            }
            return all + Body.allCases.map { .update($0) } + [.delete]
        }

        var description: String {
            switch self {
            case .insert: "insert"
            case .upsertMerge(let target, let body): "upsert merge on \(target) (\(body))"
            case .upsertIgnore(let target, let body): "upsert ignore on \(target) (\(body))"
            case .update(let body): "update (\(body))"
            case .delete: "delete"
            }
        }
    }

    enum Outcome: Equatable, Sendable, CustomStringConvertible {
        /// Answered with this many rows.
        case rows(Int)
        /// Refused with this PostgreSQL/PostgREST code.
        case refused(String)

        var description: String {
            switch self {
            case .rows(let count): "\(count) rows"
            case .refused(let code): "refused \(code)"
            }
        }
    }

    /// The room as the rules leave it.
    struct RoomState: Equatable, CustomStringConvertible {
        var exists: Bool
        var guest: String?
        var type: String

        var description: String { exists ? "guest \(guest ?? "none"), \(type)" : "deleted" }
    }

    struct Cell: CustomStringConvertible {
        var actor: Actor
        var operation: Operation
        var isPrivate: Bool
        var seatTaken: Bool

        var description: String {
            "\(actor) \(operation) on a \(isPrivate ? "private" : "public") room, seat \(seatTaken ? "taken" : "free")"
        }
    }

    // MARK: The oracle, written from protocol/access-rules.md

    /// The expected answer and the room afterwards, from the rules alone.
    static func expected(_ cell: Cell, ids: [Actor: String], before: RoomState) -> (Outcome, RoomState) {
        let actor = cell.actor
        let me = ids[actor]
        let isHost = actor == .host
        let isGuest = actor == .guest && cell.seatTaken
        func visible(link: Bool) -> Bool { actor == .service || !cell.isPrivate || isHost || isGuest || link }
        let updatable = actor == .service || isHost || !cell.seatTaken || isGuest

        /// The update rule on a row the caller reached.
        func applied(_ body: Body) -> (Outcome, RoomState) {
            var after = before
            switch body {
            case .seat:
                let seated = me ?? ids[.other]!
                if actor == .service || (!isHost && (!cell.seatTaken || isGuest)) {
                    after.guest = seated
                    return (.rows(1), after)
                }
                return (.refused("42501"), before)  // The host cannot seat themselves.
            case .edit:
                guard actor == .service || isHost else { return (.refused("42501"), before) }
                after.type = "Communication"
                return (.rows(1), after)
            }
        }

        switch cell.operation {
        case .insert:
            // The insert rule passes for every signed-in actor (the row is their own); the id
            // then collides. The anonymous caller may not insert at all.
            return (actor == .anon ? .refused("42501") : .refused("23505"), before)
        case .upsertMerge(let target, let body), .upsertIgnore(let target, let body):
            if actor == .anon { return (.refused("42501"), before) }
            if target == .hostTypePrivate { return (.refused("42P10"), before) }
            guard visible(link: target == .roomURL) else {
                // A row the caller cannot see counts as absent: the answer is a plain insert's.
                // A new room takes no guest (42501); the edit body lacks the room's required
                // columns (23502). Either way nothing is written.
                return (.refused(body == .seat ? "42501" : "23502"), before)
            }
            if case .upsertIgnore = cell.operation { return (.rows(0), before) }
            guard updatable else { return (.refused("42501"), before) }
            return applied(body)
        case .update(let body):
            guard actor != .anon, visible(link: false), updatable else { return (.rows(0), before) }
            return applied(body)
        case .delete:
            guard actor == .service || isHost else { return (.rows(0), before) }
            return (.rows(1), RoomState(exists: false, guest: nil, type: ""))
        }
    }

    // MARK: Driving the store

    static func caller(_ actor: Actor, ids: [Actor: String]) -> Caller {
        switch actor {
        case .anon: .anonymous
        case .service: .service
        case .admin: .user(id: ids[.admin]!, isAdmin: true)
        default: .user(id: ids[actor]!, isAdmin: false)
        }
    }

    static func perform(_ cell: Cell, store: Store, ids: [Actor: String], room: String, url: String) async -> Outcome {
        let context = DataContext(caller: caller(cell.actor, ids: ids), ipAddress: "127.0.0.1")
        let table = Catalog.practiceRooms
        let seated = JSONValue.string(ids[cell.actor] ?? ids[.other]!)
        func body(_ body: Body, target: Target) -> [String: JSONValue] {
            var row: [String: JSONValue] = body == .seat ? ["guest_id": seated] : ["type": .string("Communication")]
            switch target {
            case .primaryKey, .id: row["id"] = .string(room)
            case .roomURL: row["room_url"] = .string(url)
            case .hostTypePrivate:
                row["host_id"] = .string(ids[.host]!)
                row["type"] = row["type"] ?? .string("Clinical")
                row["private"] = .bool(cell.isPrivate)
            }
            return row
        }
        func upsert(_ target: Target, _ row: [String: JSONValue], _ resolution: Preferences.Resolution) async throws -> DataResult {
            var query = PostgrestQuery()
            query.onConflict = target.onConflict
            var preferences = Preferences()
            preferences.resolution = resolution
            return try await store.insert(table, InsertRequest(rows: [row], query: query, preferences: preferences), context: context)
        }
        let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [room])])
        do {
            switch cell.operation {
            case .insert:
                var row: [String: JSONValue] = [
                    "id": .string(room), "datetime_utc": .string("2026-12-02T10:00:00Z"), "type": .string("Clinical"),
                    "room_url": .string("fresh-\(UUID())"), "private": .bool(false),
                ]
                if cell.actor == .service { row["host_id"] = .string(ids[.host]!) }
                return .rows(try await store.insert(table, InsertRequest(rows: [row], query: PostgrestQuery(), preferences: Preferences()), context: context).rows.count)
            case .upsertMerge(let target, let kind):
                return .rows(try await upsert(target, body(kind, target: target), .mergeDuplicates).rows.count)
            case .upsertIgnore(let target, let kind):
                return .rows(try await upsert(target, body(kind, target: target), .ignoreDuplicates).rows.count)
            case .update(let kind):
                var patch = body(kind, target: .id)
                patch["id"] = nil
                return .rows(try await store.update(table, query: byID, patch: patch, context: context).rows.count)
            case .delete:
                return .rows(try await store.delete(table, query: byID, context: context).rows.count)
            }
        } catch let error as DataError {
            return .refused(error.code)
        } catch {
            return .refused("unexpected \(error)")
        }
    }

    static func state(_ store: Store, room: String) async throws -> RoomState {
        try await store.pool.read { db in
            guard let row = try GRDB.Row.fetchOne(db, sql: "SELECT guest_id, type FROM practice_rooms WHERE id = ?", arguments: [room]) else {
                return RoomState(exists: false, guest: nil, type: "")
            }
            return RoomState(exists: true, guest: row["guest_id"], type: row["type"])
        }
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func everyWritePath(isPrivate: Bool, seatTaken: Bool) async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let ids = try await store.pool.write { db -> [Actor: String] in
            var ids: [Actor: String] = [:]
            for actor in [Actor.host, .guest, .other, .admin] {
                ids[actor] = try insertUser(db, email: "\(actor)@writes.test", role: actor == .admin ? "admin" : "user")
            }
            return ids
        }
        var cells = 0
        for actor in Actor.allCases {
            for operation in Operation.all {
                let cell = Cell(actor: actor, operation: operation, isPrivate: isPrivate, seatTaken: seatTaken)
                // A fresh room for every cell: no cell sees another's effects.
                let room = newID()
                let url = "link-\(room)"
                try await store.pool.write { db in
                    try db.execute(
                        sql: "INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, private) VALUES (?, ?, ?, '2026-12-01T10:00:00.000000Z', 'Clinical', ?, ?)",
                        arguments: [room, ids[.host], seatTaken ? ids[.guest] : nil, url, isPrivate]
                    )
                }
                let before = try await Self.state(store, room: room)
                let (wantOutcome, wantState) = Self.expected(cell, ids: ids, before: before)
                let outcome = await Self.perform(cell, store: store, ids: ids, room: room, url: url)
                let after = try await Self.state(store, room: room)
                #expect(outcome == wantOutcome, "\(cell): answer")
                #expect(after == wantState, "\(cell): room afterwards")
                cells += 1
            }
        }
        #expect(cells == Actor.allCases.count * Operation.all.count)
        // No write created a room beside the ones the cells made.
        let rooms = try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM practice_rooms")! }
        let deleted = Actor.allCases.filter { $0 == .host || $0 == .service }.count
        #expect(rooms == cells - deleted)
    }
}

/// An upsert's conflict target never answers a question the caller could not ask with a
/// read: for every column of every table, guessing a stored value and guessing a value that
/// is not stored give the same answer, unless the caller may read that row's column anyway.
@Suite("Write access: on_conflict oracles")
struct ConflictOracleTests {
    enum Who: String, CaseIterable, Sendable { case anon, user, admin }

    @Test(arguments: Who.allCases)
    func conflictTargetsRevealNothingHidden(who: Who) async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        _ = try await store.loadDemoData(hashPassword: { "hashed:\($0)" })
        let (user, admin) = try await store.pool.write { db in
            (try insertUser(db, email: "prober@oracle.test"), try insertUser(db, email: "root@oracle.test", role: "admin"))
        }
        let caller: Caller =
            switch who {
            case .anon: .anonymous
            case .user: .user(id: user, isAdmin: false)
            case .admin: .user(id: admin, isAdmin: true)
            }
        let context = DataContext(caller: caller, ipAddress: "127.0.0.1")
        let service = DataContext(caller: .service, ipAddress: "127.0.0.1")
        var probed = 0
        for table in Catalog.tables.values.sorted(by: { $0.name < $1.name }) where !table.isView {
            let stored = try await store.select(table, query: PostgrestQuery(limit: 1), countExact: false, context: service).rows.first
            guard let stored else { continue }
            for column in table.columns where column.type == .text || column.type == .uuid {
                guard let value = stored[column.name]?.text else { continue }
                let guess = column.type == .uuid ? UUID().uuidString.lowercased() : "not-stored-\(UUID())"
                func answer(_ probe: String, onConflict: [String]?) async -> String {
                    var query = PostgrestQuery()
                    query.onConflict = onConflict
                    var preferences = Preferences()
                    preferences.resolution = onConflict == nil ? nil : .ignoreDuplicates
                    let request = InsertRequest(rows: [[column.name: .string(probe)]], query: query, preferences: preferences)
                    do {
                        return "rows \(try await store.insert(table, request, context: context).rows.count)"
                    } catch let error as DataError {
                        return "\(error.kind) \(error.code)"
                    } catch {
                        return "unexpected \(error)"
                    }
                }
                let hit = await answer(value, onConflict: [column.name])
                let filter = PostgrestQuery(filters: [.init(column: column.name, op: .eq, values: [value])])
                let rowReadable = (try? await store.select(table, query: filter, countExact: false, context: context).rows.isEmpty == false) ?? false
                if !AccessPolicy.readableColumns(table, by: caller).contains(column.name) {
                    // A hidden column as conflict target: the same answer whatever is stored.
                    let miss = await answer(guess, onConflict: [column.name])
                    #expect(hit == miss, "\(who) on_conflict=\(column.name) of \(table.name): stored \(hit), not stored \(miss)")
                    #expect(hit.hasSuffix("42501"), "\(who) on_conflict=\(column.name) of \(table.name): \(hit)")
                } else if !rowReadable {
                    // A hidden row: no more than a plain insert of the same row says.
                    let plain = await answer(value, onConflict: nil)
                    #expect(hit == plain, "\(who) on_conflict=\(column.name) of \(table.name): upsert \(hit), plain insert \(plain)")
                }
                probed += 1
            }
        }
        #expect(probed >= 25)
        // Probing wrote nothing the caller could not have written with a plain insert.
        let briefs = try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_logs WHERE action LIKE 'case_briefs.insert'")! }
        #expect(briefs == 0)
    }
}
