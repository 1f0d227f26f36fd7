import Foundation
import GRDB
import PraxisDomain
import Synchronization
import Testing

@testable import PraxisStore

// The WAL stays bounded under continuous journal commits while readers keep it busy
// (checkpoint starvation), the WAL flags reach SQLite, and the writer's commits are metered.

@Suite struct WALTests {
    /// Small sizes, so a short load writes many times the bound.
    static func boundedConfiguration(path: String) -> StoreConfiguration {
        StoreConfiguration(
            path: path, checkpointInterval: 0.05, walRestartBytes: 256 << 10, walMaxBytes: 1 << 20, journalSizeLimitBytes: 512 << 10,
            checkpointReaderWait: 2
        )
    }

    @Test func theWALFlagsReachSQLite() throws {
        let temp = try TemporaryDatabase()
        var configuration = StoreConfiguration(path: temp.path, journalSizeLimitBytes: 3 << 20)
        let store = try Store.open(configuration)
        let pragmas = try store.walPragmas()
        #expect(pragmas.journalMode == "wal")
        #expect(pragmas.journalSizeLimit == 3 << 20)
        // The background checkpointer runs: SQLite's own (inside commits) is off.
        #expect(pragmas.autocheckpoint == 0)
        #expect(pragmas.synchronous == 2)
        try store.close()

        configuration.journalSizeLimitBytes = -1
        let unlimited = try Store.open(configuration)
        #expect(try unlimited.walPragmas().journalSizeLimit == -1)
        try unlimited.close()
    }

    @Test func turnsDoNotWriteTheTypeIndex() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let indexes = try store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'room_events'")
                .map { ($0["name"] as String, $0["sql"] as String?) }
        }
        #expect(!indexes.contains { $0.0 == "room_events_type" })
        let typeIndex = try #require(indexes.first { $0.0 == "room_events_room_type" }?.1)
        #expect(typeIndex.contains("WHERE type = 'presence' OR type = 'no_show'"))
    }

    /// Continuous journal commits (`waves` of `perWave` turns from different rooms) while
    /// two readers take turns so that one is nearly always reading: a passive checkpoint
    /// alone never finishes and the WAL would only grow. Returns the largest WAL file seen
    /// after any commit, and the store's status.
    static func load(_ store: Store, rooms: [String], fixture: RoomFixture, waves: Int, perWave: Int) async throws -> (largestWAL: Int, status: WALStatus) {
        let journal = RoomJournal(store: store)
        let control = ReaderControl()
        let readers = (0..<2).map { reader in
            Task.detached {
                while control.writing.load(ordering: .relaxed) {
                    _ = try? await store.pool.read { db -> Int in
                        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM room_events WHERE length(payload) > 0") ?? 0
                        usleep(UInt32(2_000 + reader * 1_000))
                        return count
                    }
                    control.reads.wrappingAdd(1, ordering: .relaxed)
                }
            }
        }
        var largest = 0
        var offsets = [String: Int64]()
        let text = String(repeating: "How long have you had the pain, and does it spread anywhere? ", count: 2)
        for wave in 0..<waves {
            let completions = JournalCompletions(expected: perWave)
            for index in 0..<perWave {
                let room = rooms[(wave * perWave + index) % rooms.count]
                let offset = (offsets[room] ?? 0) + 1
                offsets[room] = offset
                let turn = turnEvent(offset, seq: Int(offset), round: 1, clientID: "t\(offset)", speaker: fixture.host, text: text)
                journal.append(RoomJournalEntry(roomID: room, events: [turn]), completion: completions.completion(room: room, offset: offset))
            }
            await completions.wait()
            largest = max(largest, Checkpointer.fileSize(store.configuration.path + "-wal"))
        }
        control.writing.store(false, ordering: .relaxed)
        for reader in readers { await reader.value }
        #expect(control.reads.load(ordering: .relaxed) > 0)
        return (largest, store.walStatus())
    }

    @Test func theWALStaysBoundedUnderContinuousCommitsAndReaders() async throws {
        let temp = try TemporaryDatabase()
        let configuration = Self.boundedConfiguration(path: temp.path)
        let store = try Store.open(configuration)
        let fixture = try RoomFixture.make(store)
        let rooms = try (0..<40).map { _ in try fixture.room(store) }

        let (largest, status) = try await Self.load(store, rooms: rooms, fixture: fixture, waves: 300, perWave: 10)

        // Many times the bound went through the WAL…
        let bound = configuration.walMaxBytes! + (1 << 20)
        #expect(status.bytesWritten > 4 * bound, "only \(status.bytesWritten) bytes written")
        // …and it stayed under it: RESTART checkpoints let it start over.
        #expect(largest <= bound, "WAL reached \(largest) bytes (bound \(bound)); \(status)")
        #expect(status.restartCheckpointsComplete + status.writerCheckpoints >= 1, "\(status)")
        #expect(status.checkpointFailures == 0)
        // Every turn is still there.
        let count = try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM room_events") ?? 0 }
        #expect(count == 3000)

        // Idle: one more round restarts and cuts the file back to journal_size_limit at the next commit.
        store.checkpointRound()
        try await store.pool.write { db in try db.execute(sql: "INSERT INTO praxis_settings (key, value) VALUES ('wal-test', 'x')") }
        #expect(Checkpointer.fileSize(temp.path + "-wal") <= configuration.journalSizeLimitBytes)
        try store.close()
    }

    @Test func anIdleWALIsCutBackToTheLimitWithoutAnotherCommit() async throws {
        let temp = try TemporaryDatabase()
        var configuration = Self.boundedConfiguration(path: temp.path)
        // No round but the one below (none asked for by commits, none on the timer).
        configuration.checkpointInterval = 3600
        configuration.walRestartBytes = nil
        configuration.walMaxBytes = nil
        let store = try Store.open(configuration)
        // One transaction larger than journal_size_limit (it has to fit in the WAL whole).
        try await store.pool.write { db in
            for index in 0..<400 {
                try db.execute(sql: "INSERT INTO praxis_settings (key, value) VALUES (?, ?)", arguments: ["big-\(index)", String(repeating: "x", count: 4000)])
            }
        }
        #expect(Checkpointer.fileSize(temp.path + "-wal") > configuration.journalSizeLimitBytes)
        store.checkpointRound()
        #expect(Checkpointer.fileSize(temp.path + "-wal") <= configuration.journalSizeLimitBytes)
        try store.close()
    }

    @Test func theWriterCheckpointsItselfWhenBackgroundOnesFallBehind() async throws {
        let temp = try TemporaryDatabase()
        // Background rounds too rare to matter: only the writer's safety net keeps the WAL short.
        var configuration = Self.boundedConfiguration(path: temp.path)
        configuration.checkpointInterval = 3600
        configuration.walRestartBytes = nil
        let store = try Store.open(configuration)
        let fixture = try RoomFixture.make(store)
        let rooms = try (0..<40).map { _ in try fixture.room(store) }

        let (largest, status) = try await Self.load(store, rooms: rooms, fixture: fixture, waves: 200, perWave: 10)

        let bound = configuration.walMaxBytes! + (1 << 20)
        #expect(status.bytesWritten > 4 * bound)
        #expect(status.writerCheckpoints >= 1, "\(status)")
        #expect(largest <= bound, "WAL reached \(largest) bytes (bound \(bound)); \(status)")
        try store.close()
    }

    @Test func withoutTheBackgroundCheckpointerTheWriterStillCheckpoints() async throws {
        let temp = try TemporaryDatabase()
        let store = try Store.open(StoreConfiguration(path: temp.path, checkpointInterval: nil))
        let fixture = try RoomFixture.make(store)
        let rooms = try (0..<40).map { _ in try fixture.room(store) }
        let journal = RoomJournal(store: store)
        // More than SQLite's 1,000-frame autocheckpoint, no readers: the WAL starts over.
        let text = String(repeating: "x", count: 3000)
        for offset in 1...200 {
            let room = rooms[offset % rooms.count]
            let turn = turnEvent(Int64(offset), seq: offset, round: 1, clientID: "t\(offset)", speaker: fixture.host, text: text)
            #expect(await journal.append(RoomJournalEntry(roomID: room, events: [turn])).succeeded)
        }
        let status = store.walStatus()
        #expect(status.framesWritten > 1_000)
        #expect(status.framesInWAL < status.framesWritten, "\(status)")
        try store.close()
    }

    @Test func commitsAreMetered() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let room = try fixture.room(store)
        let before = store.walStatus()
        let journal = RoomJournal(store: store)
        let turn = turnEvent(1, seq: 1, round: 1, clientID: "t1", speaker: fixture.host, text: "Hello")
        #expect(await journal.append(RoomJournalEntry(roomID: room, events: [turn])).succeeded)
        let after = store.walStatus()
        // One turn: its table page and its turn-index page at least, and whole frames.
        #expect(after.framesWritten - before.framesWritten >= 2)
        #expect(after.bytesWritten == after.framesWritten * 4120)
        try store.close()
    }
}

/// Tells the load's readers to stop, and counts their reads.
final class ReaderControl: Sendable {
    let writing = Atomic<Bool>(true)
    let reads = Atomic<Int>(0)
}
