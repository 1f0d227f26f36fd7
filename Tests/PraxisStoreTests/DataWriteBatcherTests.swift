import Dispatch
import PraxisDomain
import PraxisProtocol
@testable import PraxisStore
import Synchronization
import Testing

/// The data API's group commit on SQLite (``DataWriteBatcher``): writes that wait while a
/// transaction is written share the next one, each in its own savepoint, and each caller is
/// answered only once that transaction is committed.
@Suite("Data API group commit (SQLite)")
struct DataWriteBatcherTests {
    /// Holds SQLite's single writer (as a long transaction would) until `release()`: the
    /// batcher's next transaction waits behind it while more writes queue up.
    final class WriterHold: Sendable {
        private let held = DispatchSemaphore(value: 0)
        private let gate = DispatchSemaphore(value: 0)

        init(_ store: Store) {
            DispatchQueue.global().async { [held, gate] in
                try? store.pool.writeWithoutTransaction { _ in
                    held.signal()
                    gate.wait()
                }
            }
            held.wait()
        }

        func release() { gate.signal() }
    }

    /// Waits (yielding, at most 10 s) until `count` writes are queued or in the held
    /// transaction, `inTransaction` of them taken into it.
    static func waitUntilQueued(_ store: Store, _ count: Int, inTransaction: Int = 0) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while store.dataWrites.notDurable < count || store.dataWrites.inTransaction < inTransaction {
            try #require(clock.now < deadline, "\(count) writes queued")
            await Task.yield()
        }
    }

    static func insert(_ store: Store, _ urls: [String], as caller: Caller) async -> Result<[String], DataError> {
        do throws(DataError) {
            let result = try await DataStoreTests.insertRooms(store, urls.map { DataStoreTests.room($0) }, as: caller)
            return .success(DataStoreTests.urls(result))
        } catch {
            return .failure(error)
        }
    }

    /// A fresh SQLite store (transactions of at most `maxBatch` data writes) with a member,
    /// closed and removed after `body`.
    static func withStore(
        maxBatch: Int = StoreConfiguration.Defaults.dataWriteMaxBatch, _ body: (Store, Caller) async throws -> Void
    ) async throws {
        let temporary = try TemporaryDatabase()
        let store = try Store.open(StoreConfiguration(path: temporary.path, dataWriteMaxBatch: maxBatch))
        defer { try? store.close() }
        try await body(store, try await DataStoreTests.member(store, "ann@example.org"))
    }

    /// The changes a store hands to its change listener (``listen(_:)``).
    final class Heard: Sendable {
        private let changes = Mutex<[ChangeRecord]>([])
        var records: [ChangeRecord] { changes.withLock { $0 } }
        func append(_ records: [ChangeRecord]) { changes.withLock { $0 += records } }
    }

    /// The changes `store` hands to its change listener from now on.
    static func listen(_ store: Store) -> Heard {
        let heard = Heard()
        store.setChangeListener { records in heard.append(records) }
        return heard
    }

    @Test(arguments: [(256, 40), (4, 10), (1, 5)])
    func writesWaitingForTheWriterShareTransactionsOfAtMostMaxBatch(maxBatch: Int, writes: Int) async throws {
        try await Self.withStore(maxBatch: maxBatch) { store, ann in
            let before = store.dataWrites.counts

            let hold = WriterHold(store)
            let answers = await withTaskGroup(of: Result<[String], DataError>.self) { group in
                for index in 0..<writes {
                    group.addTask { await Self.insert(store, ["room-\(index)"], as: ann) }
                }
                // The first write's transaction waits for the writer; the others queue behind it.
                try? await Self.waitUntilQueued(store, writes)
                hold.release()
                return await group.reduce(into: [Result<[String], DataError>]()) { $0.append($1) }
            }

            let urls = try answers.map { try $0.get() }
            #expect(Set(urls.flatMap { $0 }) == Set((0..<writes).map { "room-\($0)" }), "every write answered with its own row")
            let after = store.dataWrites.counts
            #expect(after.writes - before.writes == writes)
            // The drain's first transaction took what was queued when it began (at least one write),
            // the others wait behind it for the writer: at most maxBatch per transaction.
            let fewest = (writes + maxBatch - 1) / maxBatch
            let most = 1 + (writes - 1 + maxBatch - 1) / maxBatch
            #expect((fewest...most).contains(after.batches - before.batches), "\(writes) writes in transactions of at most \(maxBatch)")
            let stored = try await store.select(Catalog.practiceRooms, query: DataStoreTests.query(), countExact: true, context: DataStoreTests.context(ann))
            #expect(stored.total == writes, "every answered write is committed")
        }
    }

    @Test
    func aFailingWriteRollsBackAloneAndPublishesNothing() async throws {
        try await Self.withStore { store, ann in
            _ = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("taken")], as: ann)
            let heard = Self.listen(store)
            let before = store.dataWrites.counts

            let hold = WriterHold(store)
            // `first` alone in a transaction that waits for the writer; the failing write and
            // `last` queue behind it and share the next one.
            async let first = Self.insert(store, ["first"], as: ann)
            try await Self.waitUntilQueued(store, 1, inTransaction: 1)
            async let failing = Self.insert(store, ["half", "taken"], as: ann)
            async let last = Self.insert(store, ["last"], as: ann)
            try await Self.waitUntilQueued(store, 3)
            hold.release()
            let (a, b, c) = await (first, failing, last)

            #expect(try a.get() == ["first"] && c.get() == ["last"])
            guard case .failure(let error) = b else {
                Issue.record("the insert of a taken room_url succeeded")
                return
            }
            #expect(error.kind == .conflict && error.code == "23505")
            #expect(store.dataWrites.counts.batches - before.batches == 2, "the failing write shared its transaction with `last`")
            let stored = try await store.select(Catalog.practiceRooms, query: DataStoreTests.query(("order", "room_url")), countExact: false, context: DataStoreTests.context(ann))
            #expect(DataStoreTests.urls(stored) == ["first", "last", "taken"], "the failing write's first row is rolled back with it")
            let published = heard.records.compactMap { $0.record?["room_url"]?.text }
            #expect(Set(published) == ["first", "last"], "only committed writes reach the change feed")
        }
    }

    /// A write that breaks a deferred foreign key passes its savepoint but makes COMMIT fail:
    /// the batch is lost, its writes run again one by one, and only that write fails.
    @Test
    func aWriteThatFailsTheCommitFailsAloneAndTheOthersAreStored() async throws {
        try await Self.withStore { store, ann in
            let room = try await DataStoreTests.insertRooms(store, [DataStoreTests.room("target")], as: ann)
            let roomID = try #require(room.rows.first?["id"]?.text)
            let byID = try DataStoreTests.query(("id", "eq.\(roomID)"))
            let heard = Self.listen(store)

            let hold = WriterHold(store)
            async let first = Self.insert(store, ["first"], as: ann)
            try await Self.waitUntilQueued(store, 1, inTransaction: 1)
            async let dangling = Self.failure { () async throws(DataError) -> DataResult in
                try await store.update(
                    Catalog.practiceRooms, query: byID,
                    patch: ["first_round_id": .string("00000000-0000-4000-8000-000000000000")], context: DataStoreTests.context(.service)
                )
            }
            async let last = Self.insert(store, ["last"], as: ann)
            try await Self.waitUntilQueued(store, 3)
            hold.release()
            let (a, error, c) = await (first, dangling, last)

            #expect(try a.get() == ["first"] && c.get() == ["last"])
            #expect(error?.kind == .conflict && error?.code == "23503", "the dangling round id is refused: \(String(describing: error))")
            let stored = try await store.select(Catalog.practiceRooms, query: DataStoreTests.query(("order", "room_url")), countExact: false, context: DataStoreTests.context(ann))
            #expect(DataStoreTests.urls(stored) == ["first", "last", "target"])
            #expect(stored.rows.first { $0["id"]?.text == roomID }?["first_round_id"] == .null, "the refused update left no trace")
            let published = heard.records.map { "\($0.kind) \($0.record?["room_url"]?.text ?? "")" }
            #expect(published.sorted() == ["insert first", "insert last"], "only the stored writes reach the feed, once each")
        }
    }

    static func failure(_ body: () async throws(DataError) -> DataResult) async -> DataError? {
        await DataStoreTests.failure(body)
    }
}
