import GRDB
import PraxisDomain
import PraxisProtocol
import Testing

@testable import PraxisStore

/// The change log's records refer to their rows' large values instead of copying them
/// (a round's transcript, an avatar): a replay must still give every change exactly as it
/// was delivered live, after the large value changed and after the row is gone.
extension RealtimeStoreTests {
    static func words(_ tag: String, count: Int) -> String {
        (1...count).map { "\(tag)-\($0)" }.joined(separator: " ")
    }

    static func transcript(_ tag: String) -> JSONValue {
        .array((1...30).map { seq in
            .object(["seq": .number(Double(seq)), "role": .string(seq % 2 == 0 ? "interlocutor" : "candidate"), "text": .string(words("\(tag)\(seq)", count: 12))])
        })
    }

    @Test(arguments: StoreBackend.available)
    func largeValuesAreReplayedAsTheyWereDelivered(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let heard = Self.listen(store)
            let ann = try await DataStoreTests.member(store, "ann@example.org")
            let annID = try #require(ann.userID)
            let service = DataStoreTests.context(.service)
            let room = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("r1")], as: ann)
            let roomID = try #require(room.rows.first?["id"]?.text)
            let round = try await store.insert(
                Catalog.practiceRounds,
                InsertRequest(
                    rows: [["room_id": .string(roomID), "round": .number(1), "candidate_id": .string(annID), "transcript": Self.transcript("first")]],
                    query: DataStoreTests.query(), preferences: Preferences()
                ),
                context: service
            )
            let roundID = try #require(round.rows.first?["id"]?.text)
            let byID = try DataStoreTests.query(("id", "eq.\(roundID)"))
            // The assessment arrives: an UPDATE that leaves the transcript alone.
            _ = try await store.update(
                Catalog.practiceRounds, query: byID, patch: ["assessment": .object(["summary": .string(Self.words("good", count: 300))])], context: service
            )
            #expect(try await store.changes(after: 0, limit: 100).changes == heard.all)
            if let sqlite = store as? Store {
                // The log holds neither the transcript nor the assessment: only which columns its row has.
                let entries = try await sqlite.pool.read { db in
                    try GRDB.Row.fetchAll(db, sql: "SELECT length(record) AS bytes, record_refs FROM realtime_changes WHERE table_name = 'practice_rounds' ORDER BY \"offset\"")
                }
                #expect(entries.map { $0["bytes"] as Int }.allSatisfy { $0 < 1024 })
                #expect(entries.map { $0["record_refs"] as String? } == ["transcript", "assessment,transcript"])
            }

            // The transcript itself changes: the earlier entries keep the one they were delivered with.
            _ = try await store.update(Catalog.practiceRounds, query: byID, patch: ["transcript": Self.transcript("second")], context: service)
            // A large avatar, changed, then its row deleted.
            let bob = try await DataStoreTests.member(store, "bob@example.org", profile: false)
            let bobProfile: [String: JSONValue] = [
                "first_name": .string("Bob"), "last_name": .string("Test"), "training_level": .string("FY2"), "avatar": .string(Self.words("a", count: 250)),
            ]
            _ = try await store.insert(Catalog.profiles, InsertRequest(rows: [bobProfile], query: DataStoreTests.query(), preferences: Preferences()), context: DataStoreTests.context(bob))
            let bobKey = try DataStoreTests.query(("user_id", "eq.\(try #require(bob.userID))"))
            _ = try await store.update(Catalog.profiles, query: bobKey, patch: ["avatar": .string(Self.words("b", count: 250))], context: DataStoreTests.context(bob))
            _ = try await store.update(Catalog.profiles, query: bobKey, patch: ["last_name": .string("Tested")], context: DataStoreTests.context(bob))
            _ = try await store.delete(Catalog.profiles, query: bobKey, context: service)

            let logged = try await store.changes(after: 0, limit: 100).changes
            #expect(logged == heard.all)
            let rounds = logged.filter { $0.table == "practice_rounds" }
            #expect(rounds.map(\.kind) == [.insert, .update, .update])
            let first = try #require(rounds[0].record?["transcript"])
            #expect(rounds[1].record?["transcript"] == first && rounds[1].record?["assessment"] != .null)
            #expect(rounds[2].oldRecord?["transcript"] == first && rounds[2].record?["transcript"] != first)
            let avatars = logged.filter { $0.table == "profiles" && ($0.record?["first_name"] == .text("Bob") || $0.oldRecord?["first_name"] == .text("Bob")) }
                .map { ($0.kind, $0.record?["avatar"]?.text?.prefix(3), $0.oldRecord?["avatar"]?.text?.prefix(3)) }
            #expect(avatars.map(\.0) == [.insert, .update, .update, .delete])
            #expect(avatars.map(\.1) == ["a-1", "b-1", "b-1", nil])
            #expect(avatars.map(\.2) == [nil, "a-1", "b-1", "b-1"])
        }
    }
}
