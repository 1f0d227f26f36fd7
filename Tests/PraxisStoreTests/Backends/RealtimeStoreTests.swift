import Foundation
import PraxisDomain
import PraxisProtocol
import PraxisStore
import Synchronization
import Testing

/// The realtime half of the store boundary on every backend: the change log (capture in
/// the write's transaction, offsets in commit order, publishing after commit), the
/// snapshot a join reads, related rows, seats and the broadcast log.
@Suite("Store boundary: realtime")
struct RealtimeStoreTests {
    typealias Boundary = any StoreBackend.Boundary

    /// What the change listener heard, batch by batch.
    final class Heard: Sendable {
        private let batches = Mutex<[[ChangeRecord]]>([])
        func add(_ batch: [ChangeRecord]) { batches.withLock { $0.append(batch) } }
        var all: [ChangeRecord] { batches.withLock { $0.flatMap { $0 } } }
        var batchCount: Int { batches.withLock { $0.count } }
    }

    static func listen(_ store: Boundary) -> Heard {
        let heard = Heard()
        store.setChangeListener { heard.add($0) }
        return heard
    }

    static func summary(_ changes: [ChangeRecord]) -> [String] {
        changes.map { "\($0.table) \($0.kind.rawValue)" }
    }

    @Test(arguments: StoreBackend.available)
    func writesAreLoggedInOrderAndPublishedAfterCommit(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let heard = Self.listen(store)
            let ann = try await DataStoreTests.member(store, "ann@example.org")
            _ = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("r1"), DataStoreTests.room("r2", hour: 11)], as: ann)
            _ = try await store.update(
                Catalog.practiceRooms, query: DataStoreTests.query(("room_url", "eq.r1")), patch: ["type": .string("Communication")],
                context: DataStoreTests.context(ann)
            )
            _ = try await store.delete(Catalog.practiceRooms, query: DataStoreTests.query(("room_url", "eq.r2")), context: DataStoreTests.context(ann))
            let logged = try await store.changes(after: 0, limit: 100)
            #expect(Self.summary(logged.changes) == [
                "profiles INSERT", "practice_rooms INSERT", "practice_rooms INSERT", "practice_rooms UPDATE", "practice_rooms DELETE",
            ])
            let offsets = logged.changes.map(\.offset)
            #expect(offsets == offsets.sorted() && Set(offsets).count == offsets.count)
            #expect(logged.latest == offsets.last && logged.oldestRetained == offsets.first)
            // Heard once per committed write, the same records as logged.
            #expect(heard.batchCount == 4)
            #expect(heard.all == logged.changes)
            let update = logged.changes[3]
            #expect(update.oldRecord?["type"] == .text("Clinical") && update.record?["type"] == .text("Communication"))
            #expect(Set(update.record.map { Array($0.keys) } ?? []) == Set(Catalog.practiceRooms.columnNames))
            #expect(update.record?["private"] == .integer(0) && update.record?["stage"] == .integer(1))
            #expect(logged.changes[4].record == nil && logged.changes[4].oldRecord?["room_url"] == .text("r2"))
            #expect(AuthStoreTests.isTimestamp(update.commitTimestamp))
            let after = try await store.changes(after: offsets[2], limit: 1)
            #expect(after.changes.map(\.offset) == [offsets[3]])
        }
    }

    /// Whether every batch, when heard, can already be read back by another transaction:
    /// the listener runs after COMMIT, not before.
    @Test(arguments: StoreBackend.available)
    func aBatchIsHeardOnlyOnceItIsCommitted(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let checks = Mutex<[Task<Bool, any Error>]>([])
            store.setChangeListener { batch in
                guard let first = batch.first else { return }
                let check = Task { try await store.changes(after: first.offset - 1, limit: 1).changes.first?.offset == first.offset }
                checks.withLock { $0.append(check) }
            }
            let ann = try await DataStoreTests.member(store, "ann@example.org")
            for index in 0..<5 {
                _ = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("v\(index)")], as: ann)
            }
            let tasks = checks.withLock { $0 }
            #expect(tasks.count == 6)
            for task in tasks { #expect(try await task.value) }
        }
    }

    @Test(arguments: StoreBackend.available)
    func aRolledBackWriteIsNeitherLoggedNorHeard(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let ann = try await DataStoreTests.member(store, "ann@example.org")
            _ = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("taken")], as: ann)
            let before = try await store.changes(after: 0, limit: 100)
            let heard = Self.listen(store)
            // The second row's unique violation rolls back the first one's insert.
            let failed = await DataStoreTests.failure { () async throws(DataError) -> DataResult in
                try await DataStoreTests.insertRooms(store, [DataStoreTests.room("fresh"), DataStoreTests.room("taken", hour: 12)], as: ann)
            }
            #expect(failed?.code == "23505")
            #expect(heard.batchCount == 0)
            #expect(try await store.changes(after: 0, limit: 100).changes == before.changes)
            // The next write continues after the log's latest offset.
            _ = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("next")], as: ann)
            let next = try await store.changes(after: before.latest, limit: 100).changes
            #expect(Self.summary(next) == ["practice_rooms INSERT"] && heard.all == next)
        }
    }

    @Test(arguments: StoreBackend.available)
    func concurrentWritersArePublishedInOffsetOrder(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let ann = try await DataStoreTests.member(store, "ann@example.org")
            let heard = Self.listen(store)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<24 {
                    group.addTask {
                        _ = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("c\(index)", hour: 10 + index % 10)], as: ann)
                    }
                }
                try await group.waitForAll()
            }
            let offsets = heard.all.map(\.offset)
            #expect(offsets.count == 24 && offsets == offsets.sorted())
            let logged = try await store.changes(after: 0, limit: 100).changes.filter { $0.table == "practice_rooms" }
            #expect(logged.map(\.offset) == offsets)
        }
    }

    @Test(arguments: StoreBackend.available)
    func theLogKeepsItsRetention(_ backend: StoreBackend) async throws {
        try await backend.withStore(changeLogMaxEntries: 10) { store in
            let ann = try await DataStoreTests.member(store, "ann@example.org")
            for index in 0..<15 {
                _ = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("k\(index)")], as: ann)
            }
            let logged = try await store.changes(after: 0, limit: 100)
            #expect(logged.changes.count <= 10 && logged.changes.count >= 9)
            #expect(logged.changes.last?.record?["room_url"] == .text("k14"))
            #expect(logged.oldestRetained == logged.changes.first?.offset)
        }
    }

    @Test(arguments: StoreBackend.available)
    func theSnapshotIsWhatTheCallerMayReadAsOfAnOffset(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let ann = try await DataStoreTests.member(store, "ann@example.org")
            let bo = try await DataStoreTests.member(store, "bo@example.org")
            _ = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("open"), DataStoreTests.room("hidden", isPrivate: true)], as: ann)
            let latest = try await store.changes(after: 0, limit: 100).latest
            let tables = [Catalog.practiceRooms, Catalog.profiles]
            let forBo = try await store.snapshot(tables: tables, caller: bo, limit: 100)
            #expect(forBo.offset == latest && !forBo.truncated)
            #expect(forBo.rows.filter { $0.table.name == "practice_rooms" }.compactMap { $0.row["room_url"]?.text } == ["open"])
            #expect(forBo.rows.filter { $0.table.name == "profiles" }.count == 2)
            let forAnn = try await store.snapshot(tables: [Catalog.practiceRooms], caller: ann, limit: 100)
            #expect(Set(forAnn.rows.compactMap { $0.row["room_url"]?.text }) == ["open", "hidden"])
            let capped = try await store.snapshot(tables: [Catalog.practiceRooms], caller: ann, limit: 1)
            #expect(capped.rows.count == 1 && capped.truncated)
            let room = try #require(forAnn.rows.first?.row["id"]?.text)
            let seat = try #require(try await store.roomSeat(id: room))
            #expect(seat.hostID == ann.userID && seat.guestID == nil && seat.asOf == latest)
            #expect(try await store.roomSeat(id: UUID().uuidString.lowercased()) == nil)
            let relations = try await store.relatedRows(RelationKeys(rooms: [room, "not-a-uuid"]))
            #expect(relations.rooms[room]?.host == ann.userID && relations.rooms.count == 1)
            let annID = try #require(ann.userID)
            let user = try #require(try await store.user(id: annID, sessionID: nil))
            #expect(user.0.email == "ann@example.org")
        }
    }

    @Test(arguments: StoreBackend.available)
    func broadcastsAreKeptToTheirRetentionAndReplayedByTopic(_ backend: StoreBackend) async throws {
        try await backend.withStore { store in
            let records = (1...6).map { id in
                BroadcastRecord(id: Int64(id), topic: id % 2 == 0 ? "realtime:even" : "realtime:odd", payload: #"{"n":\#(id)}"#, sentAt: 1_000 + Int64(id))
            }
            try await store.appendBroadcasts(Array(records.prefix(4)), retention: 100)
            try await store.appendBroadcasts(Array(records.suffix(3)), retention: 4) // id 4 again: kept once
            let even = try await store.broadcasts(topic: "realtime:even", since: 0, upTo: 100, limit: 10)
            #expect(even == [records[3], records[5]]) // 2 fell out of the newest 4
            let odd = try await store.broadcasts(topic: "realtime:odd", since: 0, upTo: 100, limit: 10)
            #expect(odd == [records[2], records[4]])
            #expect(try await store.broadcasts(topic: "realtime:even", since: 1_005, upTo: 100, limit: 10) == [records[5]])
            #expect(try await store.broadcasts(topic: "realtime:odd", since: 0, upTo: 4, limit: 10) == [records[2]])
            #expect(try await store.broadcasts(topic: "realtime:even", since: 0, upTo: 100, limit: 1) == [records[5]])
        }
    }
}
