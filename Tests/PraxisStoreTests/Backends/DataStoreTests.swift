import Foundation
import PraxisDomain
import PraxisProtocol
import PraxisStore
import Testing

/// The data API half of the store boundary (select, insert, upsert, update, delete with the
/// access policy; on PostgreSQL under the caller's role with row-level security as well), on
/// every backend: one suite, run once per ``StoreBackend``.
@Suite("Store boundary: data API")
struct DataStoreTests {
    typealias Boundary = any StoreBackend.Boundary

    static func query(_ items: (String, String)...) throws -> PostgrestQuery {
        try PostgrestQuery.parse(items.map { (name: $0.0, value: $0.1) })
    }

    static func context(_ caller: Caller) -> DataContext { DataContext(caller: caller, ipAddress: "127.0.0.1") }

    /// A signed-up user, with a profile unless `profile` is false.
    static func member(_ store: Boundary, _ email: String, profile: Bool = true) async throws -> Caller {
        let made = try #require(try await AuthStoreTests.signUp(store, email))
        let caller = Caller.user(id: made.0.id, isAdmin: false)
        if profile {
            let body: [String: JSONValue] = ["first_name": .string(email), "last_name": .string("Test"), "training_level": .string("FY1")]
            _ = try await store.insert(Catalog.profiles, InsertRequest(rows: [body], query: query(), preferences: Preferences()), context: context(caller))
        }
        return caller
    }

    static func room(_ url: String, type: String = "Clinical", hour: Int = 10, isPrivate: Bool = false) -> [String: JSONValue] {
        ["room_url": .string(url), "type": .string(type), "private": .bool(isPrivate), "datetime_utc": .string("2026-12-01T\(hour):00:00Z")]
    }

    static func insertRooms(_ store: Boundary, _ rows: [[String: JSONValue]], as caller: Caller, prefer: String? = nil) async throws(DataError) -> DataResult {
        let preferences = Preferences(headerValues: prefer.map { [$0] } ?? [])
        let query = (try? Self.query(("on_conflict", "room_url"))) ?? PostgrestQuery()
        return try await store.insert(Catalog.practiceRooms, InsertRequest(rows: rows, query: prefer == nil ? PostgrestQuery() : query, preferences: preferences), context: context(caller))
    }

    static func urls(_ result: DataResult) -> [String] { result.rows.compactMap { $0["room_url"]?.text } }

    /// The error `body` throws (nil when it succeeds).
    static func failure(_ body: () async throws(DataError) -> DataResult) async -> DataError? {
        do throws(DataError) {
            _ = try await body()
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: StoreBackend.available)
    func profilesAreReadByEveryoneAndWrittenByTheirOwner(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let ann = try await Self.member(store, "ann@example.org")
            let bo = try await Self.member(store, "bo@example.org")
            let all = try await store.select(Catalog.profiles, query: Self.query(("order", "first_name.desc")), countExact: true, context: Self.context(.anonymous))
            #expect(all.rows.map { $0["first_name"]?.text } == ["bo@example.org", "ann@example.org"] && all.total == 2)
            #expect(all.rows.allSatisfy { AuthStoreTests.isTimestamp($0["created_at"]?.text) })
            let refused = try await store.update(
                Catalog.profiles, query: Self.query(("user_id", "eq.\(ann.userID!)")), patch: ["first_name": .string("Mallory")], context: Self.context(bo)
            )
            #expect(refused.rows.isEmpty)
            let renamed = try await store.update(
                Catalog.profiles, query: Self.query(("user_id", "eq.\(ann.userID!)")), patch: ["first_name": .string("Annie")], context: Self.context(ann)
            )
            #expect(renamed.rows.map { $0["first_name"]?.text } == ["Annie"])
            #expect(try await store.delete(Catalog.profiles, query: Self.query(), context: Self.context(ann)).rows.isEmpty)
            let forged: [String: JSONValue] = ["user_id": .string(bo.userID!), "first_name": .string("x"), "last_name": .string("y"), "training_level": .string("z")]
            let error = await Self.failure { () async throws(DataError) -> DataResult in
                try await store.insert(Catalog.profiles, InsertRequest(rows: [forged], query: PostgrestQuery(), preferences: Preferences()), context: Self.context(ann))
            }
            #expect(error?.kind == .forbidden)
        }
    }

    @Test(arguments: StoreBackend.available)
    func roomsFilterOrderPageAndHidePrivateRoomsButByTheirLink(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let ann = try await Self.member(store, "ann@example.org")
            let made = try await Self.insertRooms(
                store, [Self.room("r1", hour: 10), Self.room("r2", type: "Communication", hour: 11), Self.room("r3", hour: 12, isPrivate: true)], as: ann
            )
            #expect(Self.urls(made) == ["r1", "r2", "r3"])
            #expect(made.rows.allSatisfy { $0["host_id"]?.text == ann.userID && $0["stage"] == .integer(1) })
            #expect(made.rows.map { $0["private"] } == [.integer(0), .integer(0), .integer(1)])
            let anon = Self.context(.anonymous)
            let rooms = Catalog.practiceRooms
            #expect(Self.urls(try await store.select(rooms, query: Self.query(("order", "datetime_utc.desc")), countExact: false, context: anon)) == ["r2", "r1"])
            #expect(Self.urls(try await store.select(rooms, query: Self.query(("room_url", "eq.r3")), countExact: false, context: anon)) == ["r3"])
            #expect(Self.urls(try await store.select(rooms, query: Self.query(("type", "eq.Clinical")), countExact: false, context: anon)) == ["r1"])
            let host = Self.context(ann)
            let page = try await store.select(rooms, query: Self.query(("order", "room_url"), ("limit", "1"), ("offset", "1")), countExact: true, context: host)
            #expect(Self.urls(page) == ["r2"] && page.total == 3)
            let filtered: [(String, String)] = [("room_url", "in.(r1,r3)"), ("private", "is.true"), ("room_url", "like.r*"), ("type", "neq.Communication")]
            for (column, filter) in filtered {
                let found = try await store.select(rooms, query: Self.query((column, filter), ("order", "room_url")), countExact: false, context: host)
                let expected = ["in.(r1,r3)": ["r1", "r3"], "is.true": ["r3"], "like.r*": ["r1", "r2", "r3"], "neq.Communication": ["r1", "r3"]][filter]
                #expect(Self.urls(found) == expected, "\(column)=\(filter)")
            }
            let narrow = try await store.select(rooms, query: Self.query(("select", "room_url,private"), ("room_url", "eq.r1")), countExact: false, context: host)
            #expect(narrow.columns.map(\.name) == ["room_url", "private"])
        }
    }

    @Test(arguments: StoreBackend.available)
    func upsertsMergeOrIgnoreOnTheRoomLink(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let ann = try await Self.member(store, "ann@example.org")
            let first = try await Self.insertRooms(store, [Self.room("u1")], as: ann)
            let id = try #require(first.rows.first?["id"])
            let merged = try await Self.insertRooms(store, [Self.room("u1", type: "Communication")], as: ann, prefer: "resolution=merge-duplicates")
            #expect(merged.rows.map { $0["id"] } == [id] && merged.rows.first?["type"] == .text("Communication"))
            let ignored = try await Self.insertRooms(store, [Self.room("u1", type: "Clinical"), Self.room("u2")], as: ann, prefer: "resolution=ignore-duplicates")
            #expect(Self.urls(ignored) == ["u2"])
            let stored = try await store.select(Catalog.practiceRooms, query: Self.query(("room_url", "eq.u1")), countExact: false, context: Self.context(ann))
            #expect(stored.rows.first?["type"] == .text("Communication"))
        }
    }

    @Test(arguments: StoreBackend.available)
    func storeErrorsKeepTheAPIShape(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let ann = try await Self.member(store, "ann@example.org")
            let cy = try await Self.member(store, "cy@example.org", profile: false)
            _ = try await Self.insertRooms(store, [Self.room("taken")], as: ann)
            let duplicate = await Self.failure { () async throws(DataError) -> DataResult in try await Self.insertRooms(store, [Self.room("taken")], as: ann) }
            #expect(duplicate?.kind == .conflict && duplicate?.code == "23505")
            let noProfile = await Self.failure { () async throws(DataError) -> DataResult in try await Self.insertRooms(store, [Self.room("free")], as: cy) }
            #expect(noProfile?.kind == .conflict && noProfile?.code == "23503")
            let badType = await Self.failure { () async throws(DataError) -> DataResult in
                try await Self.insertRooms(store, [Self.room("odd", type: "Bogus")], as: ann)
            }
            #expect(badType?.kind == .badRequest && badType?.code == "23514")
            for error in [duplicate, noProfile, badType].compactMap({ $0 }) {
                let text = "\(error.message) \(error.details ?? "") \(error.hint ?? "")".lowercased()
                #expect(!text.contains("sqlite") && !text.contains("postgres") && !text.contains("constraint \""), "\(error)")
            }
            // A round-free room is deleted by its host, and only by its host.
            #expect(try await store.delete(Catalog.practiceRooms, query: Self.query(("room_url", "eq.taken")), context: Self.context(cy)).rows.isEmpty)
            let deleted = try await store.delete(Catalog.practiceRooms, query: Self.query(("room_url", "eq.taken")), context: Self.context(ann))
            #expect(Self.urls(deleted) == ["taken"])
        }
    }

    @Test(arguments: StoreBackend.available)
    func aTableTheCallerMayNotReadAnswersNoRows(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            for table in [Catalog.practiceRounds, Catalog.users] {
                let result = try await store.select(table, query: Self.query(), countExact: true, context: Self.context(.anonymous))
                #expect(result.rows.isEmpty && result.total == 0)
            }
        }
    }
}
