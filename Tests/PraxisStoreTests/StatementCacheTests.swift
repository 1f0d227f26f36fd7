import PraxisDomain
import PraxisProtocol
@testable import PraxisStore
import Testing

/// The data API's bounded statement caches on SQLite (``StatementCaches``): the bound holds
/// whatever texts requests make, a cached statement runs right with new arguments, a failed
/// one is dropped, a schema change leaves no stale statement behind.
@Suite("Data API statement cache (SQLite)")
struct StatementCacheTests {
    typealias Data = DataStoreTests

    /// A fresh SQLite store keeping at most `capacity` statements per connection, with a
    /// member who hosts rooms `a`, `b` and `c`; closed and removed after `body`.
    static func withStore(capacity: Int, _ body: (Store, Caller) async throws -> Void) async throws {
        let temporary = try TemporaryDatabase()
        let store = try Store.open(StoreConfiguration(path: temporary.path, statementCacheSize: capacity))
        defer { try? store.close() }
        let ann = try await Data.member(store, "ann@example.org")
        _ = try await Data.insertRooms(store, ["a", "b", "c"].map { Data.room($0) }, as: ann)
        try await body(store, ann)
    }

    static func byURL(_ url: String) throws -> PostgrestQuery { try Data.query(("room_url", "eq.\(url)")) }

    /// Moves room `url` to `hour` o'clock; returns the rows the update answered.
    static func move(_ store: Store, _ url: String, to hour: Int, as caller: Caller) async throws -> [PraxisDomain.Row] {
        let patch: [String: JSONValue] = ["datetime_utc": .string("2026-12-01T\(hour):00:00Z")]
        return try await store.update(Catalog.practiceRooms, query: byURL(url), patch: patch, context: Data.context(caller)).rows
    }

    @Test
    func manyDifferentTextsNeverGrowACachePastItsBound() async throws {
        try await Self.withStore(capacity: 4) { store, ann in
            let before = store.statements.prepared
            let columns = Catalog.practiceRooms.columnNames
            for index in 0..<40 {
                // Each request its own text: a column set, and a limit written into the SQL.
                let select = [columns[index % columns.count], columns[(index + 3) % columns.count], "room_url"]
                let query = try Data.query(("select", select.joined(separator: ",")), ("order", "room_url"), ("limit", "\(index + 1)"))
                let rows = try await store.select(Catalog.practiceRooms, query: query, countExact: false, context: Data.context(ann)).rows
                #expect(rows.compactMap { $0["room_url"]?.text } == Array(["a", "b", "c"].prefix(index + 1)))
                #expect(store.statements.counts.allSatisfy { $0 <= 4 }, "at most 4 statements per connection")
            }
            for index in 0..<20 {
                // Writes of four column sets (and the reads of their answers) on the writer.
                var room = Data.room("w\(index)", hour: 10 + index % 10)
                if index % 2 == 0 { room["guest_id"] = .null }
                if index % 5 == 0 { room["id"] = .string("00000000-0000-4000-8000-0000000000\(10 + index)") }
                let select = try Data.query(("select", columns[index % columns.count] + ",room_url"))
                let stored = try await store.insert(
                    Catalog.practiceRooms, InsertRequest(rows: [room], query: select, preferences: Preferences()), context: Data.context(ann)
                )
                #expect(Data.urls(stored) == ["w\(index)"])
                #expect(store.statements.counts.allSatisfy { $0 <= 4 })
            }
            #expect(store.statements.prepared - before >= 40, "the texts were prepared, and dropped again")
        }
    }

    @Test
    func aCachedStatementReusedWithNewArgumentsFindsTheRightRows() async throws {
        try await Self.withStore(capacity: 64) { store, ann in
            let first = try await Self.move(store, "a", to: 11, as: ann)
            #expect(first.map { $0["room_url"]?.text } == ["a"])
            let prepared = store.statements.prepared
            // The same texts (the writer's one connection), other arguments.
            let second = try await Self.move(store, "b", to: 12, as: ann)
            let third = try await Self.move(store, "c", to: 13, as: ann)
            #expect(store.statements.prepared == prepared, "every statement came from the cache")
            #expect(second.map { $0["room_url"]?.text } == ["b"] && third.map { $0["room_url"]?.text } == ["c"])
            #expect(try await Self.move(store, "nowhere", to: 14, as: ann).isEmpty)

            for (url, hour) in [("a", 11), ("b", 12), ("c", 13), ("a", 11)] {
                let rows = try await store.select(Catalog.practiceRooms, query: Self.byURL(url), countExact: true, context: Data.context(ann))
                #expect(rows.rows.map { $0["room_url"]?.text } == [url] && rows.total == 1)
                #expect(rows.rows.first?["datetime_utc"]?.text?.hasPrefix("2026-12-01T\(hour):00:00") == true, "\(url) at \(hour)")
            }
        }
    }

    @Test
    func aStatementWhoseUseFailedIsDroppedAndTheNextWriteOfItsShapeSucceeds() async throws {
        try await Self.withStore(capacity: 64) { store, ann in
            let failure = await Data.failure { () async throws(DataError) -> DataResult in
                try await Data.insertRooms(store, [Data.room("a")], as: ann)
            }
            #expect(failure?.code == "23505", "room_url a is taken")
            let stored = try await Data.insertRooms(store, [Data.room("d")], as: ann)
            #expect(Data.urls(stored) == ["d"])
            let rows = try await store.select(Catalog.practiceRooms, query: Data.query(("order", "room_url")), countExact: true, context: Data.context(ann))
            #expect(Data.urls(rows) == ["a", "b", "c", "d"] && rows.total == 4)
        }
    }

    @Test
    func aMigrationLeavesNoStaleStatement() async throws {
        try await Self.withStore(capacity: 64) { store, ann in
            _ = try await Self.move(store, "a", to: 11, as: ann)
            // A schema change on the writer while its statements are cached: SQLite prepares
            // them again (the explicit column lists still hold).
            try await store.pool.write { db in
                try db.execute(sql: "ALTER TABLE practice_rooms ADD COLUMN note TEXT DEFAULT 'n'")
            }
            var prepared = store.statements.prepared
            #expect(try await Self.move(store, "b", to: 12, as: ann).map { $0["room_url"]?.text } == ["b"])
            #expect(store.statements.prepared == prepared, "still the cached statements")

            // Migrations drop every cached statement: the same texts are prepared again.
            try store.migrate()
            prepared = store.statements.prepared
            let moved = try await Self.move(store, "c", to: 13, as: ann)
            #expect(moved.map { $0["room_url"]?.text } == ["c"] && moved.first?["note"] == nil, "the catalog's columns only")
            #expect(store.statements.prepared > prepared, "prepared against the new schema")
            let upserted = try await Data.insertRooms(store, [Data.room("c", hour: 15)], as: ann, prefer: "resolution=merge-duplicates")
            #expect(upserted.rows.first?["datetime_utc"]?.text?.hasPrefix("2026-12-01T15:00:00") == true)
        }
    }

    @Test
    func aCapacityOfZeroCachesNothingAndStillAnswers() async throws {
        try await Self.withStore(capacity: 0) { store, ann in
            let prepared = store.statements.prepared
            let first = try await Self.move(store, "a", to: 11, as: ann)
            let second = try await Self.move(store, "b", to: 12, as: ann)
            #expect(first.map { $0["room_url"]?.text } == ["a"] && second.map { $0["room_url"]?.text } == ["b"])
            #expect(store.statements.counts.allSatisfy { $0 == 0 })
            #expect(store.statements.prepared - prepared >= 6, "every use prepared its own statement")
        }
    }
}
