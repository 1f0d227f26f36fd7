import PraxisDomain
import PraxisProtocol
import PraxisStore
import Testing

/// Writes that race on every backend: SQLite's writes are serial, PostgreSQL's run at once
/// under READ COMMITTED, so a write that reads its rows first must lock them (or retry) to
/// answer as the serial order would.
extension DataStoreTests {
    @Test(arguments: StoreBackend.available)
    func aGuardedSeatRaceHasOneWinner(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let host = try await Self.member(store, "host@example.org")
            let guests = [
                try await Self.member(store, "a@example.org"), try await Self.member(store, "b@example.org"),
                try await Self.member(store, "c@example.org"), try await Self.member(store, "d@example.org"),
            ]
            for round in 0..<3 {
                let room = try await Self.insertRooms(store, [Self.room("race-\(round)")], as: host)
                let id = try #require(room.rows.first?["id"]?.text)
                let query = try Self.query(("id", "eq.\(id)"), ("guest_id", "is.null"))
                let winners = try await withThrowingTaskGroup(of: String?.self) { group in
                    for guest in guests {
                        group.addTask {
                            let result = try await store.update(
                                Catalog.practiceRooms, query: query, patch: ["guest_id": .string(guest.userID!)], context: Self.context(guest)
                            )
                            return result.rows.isEmpty ? nil : guest.userID
                        }
                    }
                    return try await group.reduce(into: [String]()) { if let winner = $1 { $0.append(winner) } }
                }
                #expect(winners.count == 1, "exactly one guarded update changes the row")
                let stored = try await store.select(Catalog.practiceRooms, query: Self.query(("id", "eq.\(id)")), countExact: false, context: Self.context(host))
                #expect(stored.rows.first?["guest_id"]?.text == winners.first)
            }
        }
    }

    @Test(arguments: StoreBackend.available)
    func upsertsOfOneNewKeyAtOnceAllMergeIntoOneRow(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let ann = try await Self.member(store, "ann@example.org")
            let types = ["Clinical", "Communication", "Clinical", "Communication", "Clinical", "Communication"]
            let ids = try await withThrowingTaskGroup(of: Value?.self) { group in
                for type in types {
                    group.addTask {
                        try await Self.insertRooms(store, [Self.room("same-link", type: type)], as: ann, prefer: "resolution=merge-duplicates").rows.first?["id"]
                    }
                }
                return try await group.reduce(into: [Value?]()) { $0.append($1) }
            }
            #expect(ids.count == types.count && Set(ids.compactMap { $0 }).count == 1, "every upsert answered with the one row")
            let stored = try await store.select(Catalog.practiceRooms, query: Self.query(("room_url", "eq.same-link")), countExact: true, context: Self.context(ann))
            #expect(stored.total == 1)
        }
    }
}
