import Foundation
import GRDB
import PraxisDomain
import PraxisProtocol
import Synchronization
import Testing

@testable import PraxisStore

@Suite("Change log: capture, order, resume across a restart")
struct ChangeLogTests {
    func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("praxis-feed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func dataAPIWritesAreLoggedInCommitOrderAndPublishedAfterCommit() async throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("p.sqlite").path
        let store = try Store.open(StoreConfiguration(path: path))
        let heard = Mutex<[ChangeRecord]>([])
        store.setChangeListener { records in heard.withLock { $0 += records } }
        let host = UUID().uuidString.lowercased()
        try await store.pool.write { db in
            try db.execute(sql: "INSERT INTO users (id, email, hashed_password) VALUES (?, 'h@x.test', 'x')", arguments: [host])
            try db.execute(sql: "INSERT INTO profiles (user_id, first_name, last_name, training_level) VALUES (?, 'a', 'b', 'c')", arguments: [host])
        }
        let context = DataContext(caller: .user(id: host, isAdmin: false), ipAddress: "127.0.0.1")
        let inserted = try await store.insert(
            Catalog.practiceRooms,
            InsertRequest(
                rows: [["datetime_utc": .string("2026-12-01T10:00:00Z"), "type": .string("Clinical"), "room_url": .string("r1")]],
                query: PostgrestQuery(), preferences: Preferences()
            ),
            context: context
        )
        let id = inserted.rows[0]["id"]!.text!
        let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [id])])
        _ = try await store.update(Catalog.practiceRooms, query: byID, patch: ["type": .string("Communication")], context: context)
        _ = try await store.delete(Catalog.practiceRooms, query: byID, context: context)
        // A refused write logs nothing.
        _ = try? await store.update(Catalog.practiceRooms, query: byID, patch: ["stage": .number(3)], context: context)

        let kinds = heard.withLock { $0.map(\.kind) }
        #expect(kinds == [.insert, .update, .delete])
        let offsets = heard.withLock { $0.map(\.offset) }
        #expect(offsets == offsets.sorted() && Set(offsets).count == 3)
        let update = heard.withLock { $0[1] }
        #expect(update.oldRecord?["type"] == .text("Clinical") && update.record?["type"] == .text("Communication"))

        // The same changes can be read back after a restart, with the same epoch.
        let epoch = try store.feedEpoch()
        try store.close()
        let reopened = try Store.open(StoreConfiguration(path: path))
        #expect(try reopened.feedEpoch() == epoch)
        let replay = try await reopened.changes(after: offsets[0], limit: 10)
        #expect(replay.changes.map(\.offset) == Array(offsets.dropFirst()))
        #expect(replay.changes.map(\.kind) == [.update, .delete])
        #expect(replay.changes[1].oldRecord?["room_url"] == .text("r1"))
        #expect(replay.latest == offsets.last)
    }

    @Test func unpublishedTablesAreNotLogged() async throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store.open(StoreConfiguration(path: folder.appendingPathComponent("p.sqlite").path))
        let admin = UUID().uuidString.lowercased()
        try await store.pool.write { db in
            try db.execute(sql: "INSERT INTO users (id, email, hashed_password, role) VALUES (?, 'a@x.test', 'x', 'admin')", arguments: [admin])
        }
        _ = try await store.insert(
            Catalog.caseBriefs,
            InsertRequest(
                rows: [[
                    "category": .string("c"), "condition": .string("c"), "case_name": .string("n"), "case_name_internal": .string("i"),
                    "domain": .string("Clinical"), "candidate_brief": .string("cb"), "actor_brief": .string("ab"),
                    "target_profession": .string("medicine"), "clinical_area": .string("GP"), "difficulty_level": .string("easy"),
                ]], query: PostgrestQuery(), preferences: Preferences()
            ),
            context: DataContext(caller: .user(id: admin, isAdmin: true), ipAddress: "127.0.0.1")
        )
        #expect(try await store.changes(after: 0, limit: 10).changes.isEmpty)
    }
}

/// The change log keeps to its byte limit (values under 1 KiB are logged whole, larger ones referred to), across a restart.
@Suite("Change log: bounded by bytes")
struct ChangeLogBytesTests {
    @Test func largeRowsPushOldChangesOutAndTheBoundHoldsAfterARestart() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("praxis-feed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("p.sqlite").path
        let limit = 8 * 1024
        func open() throws -> Store { try Store.open(StoreConfiguration(path: path, changeLogMaxEntries: 1_000, changeLogMaxBytes: limit)) }
        func logBytes(_ store: Store) async throws -> (bytes: Int, count: Int, oldest: Int64?) {
            try await store.pool.read { db in
                let row = try GRDB.Row.fetchOne(
                    db,
                    sql: "SELECT coalesce(sum(length(CAST(record AS BLOB)) + coalesce(length(CAST(old_record AS BLOB)), 0)), 0) AS bytes, count(*) AS n, min(\"offset\") AS oldest FROM realtime_changes"
                )!
                return (row["bytes"], row["n"], row["oldest"])
            }
        }
        var store = try open()
        let host = UUID().uuidString.lowercased()
        try await store.pool.write { db in
            try db.execute(sql: "INSERT INTO users (id, email, hashed_password) VALUES (?, 'h@x.test', 'x')", arguments: [host])
            try db.execute(sql: "INSERT INTO profiles (user_id, first_name, last_name, training_level) VALUES (?, 'a', 'b', 'c')", arguments: [host])
        }
        let context = DataContext(caller: .user(id: host, isAdmin: false), ipAddress: "127.0.0.1")
        // Each room row carries a 900-character link (under the 1 KiB from which a logged record refers to the row's
        // value instead of copying it): about 1.2 KB per insert logged.
        let long = String(repeating: "x", count: 900)
        var ids: [String] = []
        for index in 0..<12 {
            let inserted = try await store.insert(
                Catalog.practiceRooms,
                InsertRequest(
                    rows: [["datetime_utc": .string("2026-12-01T10:00:00Z"), "type": .string("Clinical"), "room_url": .string("\(index)-\(long)")]],
                    query: PostgrestQuery(), preferences: Preferences()
                ),
                context: context
            )
            ids.append(inserted.rows[0]["id"]!.text!)
        }
        var log = try await logBytes(store)
        #expect(log.bytes <= limit, "the log holds \(log.bytes) bytes, over its limit")
        #expect(log.count < 12 && log.count >= 4)
        let replay = try await store.changes(after: 0, limit: 100)
        #expect(replay.oldestRetained == log.oldest && (replay.oldestRetained ?? 0) > 1, "a resume from the start now gets a snapshot")

        // After a restart the bound is computed from what the log holds.
        try store.close()
        store = try open()
        for id in ids.prefix(6) {
            let byID = PostgrestQuery(filters: [.init(column: "id", op: .eq, values: [id])])
            _ = try await store.update(Catalog.practiceRooms, query: byID, patch: ["type": .string("Communication")], context: context)
        }
        log = try await logBytes(store)
        #expect(log.bytes <= limit, "after a restart the log holds \(log.bytes) bytes, over its limit")
        let latest = try await store.changes(after: 0, limit: 100)
        #expect(latest.changes.last?.kind == .update, "the newest change is kept")
    }
}
