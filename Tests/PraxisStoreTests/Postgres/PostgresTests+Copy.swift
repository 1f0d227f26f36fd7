import Foundation
import GRDB
import Testing

@testable import PraxisStore

extension PostgresTests {
    /// A SQLite store with the demo data and a row in every other table, copied into an empty
    /// database: every table's count as the source's, the rows equal (the copier's own check),
    /// spot values exact, sequences past the copied keys; a second copy into it is refused.
    @Test func copyFromSQLiteCopiesEveryTableAndRefusesANonEmptyTarget() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        _ = try await store.loadDemoData(hashPassword: { "hashed:\($0)" })
        try await store.pool.write { db in try Self.fillEveryTable(db) }
        let sourceCounts = try await store.pool.read { db in
            try StoreCopier.copyOrder.map { ($0, try Int.fetchOne(db, sql: "SELECT count(*) FROM \"\($0)\"")!) }
        }
        try store.close()
        #expect(sourceCounts.allSatisfy { $0.1 > 0 }, "every table has rows: \(sourceCounts)")

        try await Self.withDatabase(migrated: false) { database, _ in
            let counts = try await StoreCopier(target: database).copy(from: temp.path)
            #expect(counts.map(\.table) == StoreCopier.copyOrder)
            #expect(counts.map(\.rows) == sourceCounts.map(\.1))
            let room = try await database.ownerTextRows(
                "SELECT stage::text, private::text, \(Self.at("created_at")), \(Self.at("updated_at")) FROM practice_rooms WHERE room_url = 'copy-test'"
            )
            #expect(room == [["3", "true", "2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:06.000001Z"]])
            let secret = try await database.ownerTextRows("SELECT value FROM praxis_settings WHERE key = 'copy_test'")
            #expect(secret == [["secret-value"]])
            let next = try await database.ownerTextRows(
                "INSERT INTO realtime_changes (table_name, type) VALUES ('users', 'INSERT') RETURNING \"offset\"::text"
            )
            #expect(next == [["100"]], "past the source's AUTOINCREMENT counter, not only its largest kept offset")

            await #expect(throws: StoreCopyError.self) { try await StoreCopier(target: database).copy(from: temp.path) }
            do {
                _ = try await StoreCopier(target: database).copy(from: temp.path)
            } catch let error as StoreCopyError {
                #expect(error.message.contains("table praxis_settings has rows"), "\(error.message)")
            }

            // A row changed behind the copy's back: the check names the table, the key and the column.
            _ = try await database.ownerTextRows("DELETE FROM realtime_changes WHERE \"offset\" = 100")
            _ = try await database.ownerTextRows("UPDATE realtime_broadcasts SET payload = 'changed' WHERE id = 9")
            let copier = StoreCopier(target: database)
            let snapshot = try SQLiteSnapshot.read(path: temp.path)
            var types: [String: [String: String]] = [:]
            for table in snapshot.tables {
                let rows = try await database.ownerTextRows(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_name = $1", [table.name]
                )
                types[table.name] = Dictionary(uniqueKeysWithValues: rows.map { ($0[0]!, $0[1]!) })
            }
            do {
                try await copier.verify(snapshot, types: types)
                Issue.record("verify passed over a changed row")
            } catch let error as StoreCopyError {
                #expect(error.message == "verification failed: realtime_broadcasts row (id=9) differs in payload: source {\"k\":1}, target changed")
            }
        }
    }

    static func at(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    /// One row (at least) in every table the demo data leaves empty, with exact timestamps.
    static func fillEveryTable(_ db: Database) throws {
        let t1 = "2026-01-02T03:04:05.123456Z", t2 = "2026-01-02T03:04:06.000001Z"
        let users = try String.fetchAll(db, sql: "SELECT user_id FROM profiles ORDER BY user_id LIMIT 2")
        let host = users[0], guest = users[1]
        let room = newID(), round = newID(), session = newID()
        let brief = try String.fetchOne(db, sql: "SELECT id FROM case_briefs LIMIT 1")!
        let statements: [(String, StatementArguments)] = [
            ("INSERT INTO praxis_settings (key, value) VALUES ('copy_test', 'secret-value')", []),
            ("""
             INSERT INTO subscriptions (id, user_id, plan_name, status, current_period_start, current_period_end, created_at, updated_at)
             VALUES (?, ?, 'pro', 'active', ?, ?, ?, ?)
             """, [newID(), host, t1, t2, t1, t2]),
            ("""
             INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, stage, private, created_at, updated_at)
             VALUES (?, ?, ?, ?, 'Clinical', 'copy-test', 3, 1, ?, ?)
             """, [room, host, guest, t1, t1, t1]),
            ("""
             INSERT INTO practice_rounds (id, room_id, round, candidate_id, case_briefs_id, transcript, assessment, duration_seconds, created_at, updated_at)
             VALUES (?, ?, 1, ?, ?, '[{"speaker":"candidate","text":"Hello","n":1.5}]', '{"score":7}', 300, ?, ?)
             """, [round, room, host, brief, t1, t2]),
            ("UPDATE practice_rooms SET first_round_id = ?, updated_at = ? WHERE id = ?", [round, t2, room]),
            ("""
             INSERT INTO feedback_reports (id, session_id, transcript, ai_summary, score_raw, strengths, areas_for_improvement, created_at)
             VALUES (?, ?, 't', 's', 7, 'a', 'b', ?)
             """, [newID(), round, t1]),
            ("""
             INSERT INTO user_progress_snapshots (id, user_id, snapshot_date, average_score, sessions_completed_count, strengths_topics, created_at)
             VALUES (?, ?, '2026-01-02', 7.25, 3, '["empathy"]', ?)
             """, [newID(), host, t1]),
            ("""
             INSERT INTO audit_logs (id, admin_id, action, target_entity_id, details, ip_address, "timestamp")
             VALUES (?, ?, 'copy', ?, '{"b":1,"a":[true,null]}', '127.0.0.1', ?)
             """, [newID(), host, room, t1]),
            ("INSERT INTO auth_sessions (id, user_id, created_at, ended_at) VALUES (?, ?, ?, NULL)", [session, host, t1]),
            ("INSERT INTO auth_refresh_tokens (token_hash, session_id, parent_hash, revoked, created_at) VALUES ('h1', ?, NULL, 1, ?)", [session, t1]),
            ("INSERT INTO auth_email_verifications (token_hash, user_id, expires_at, created_at) VALUES ('v1', ?, ?, ?)", [host, t2, t1]),
            ("""
             INSERT INTO realtime_changes ("offset", table_name, type, record, old_record, old_record_changes_only, commit_timestamp)
             VALUES (41, 'practice_rooms', 'UPDATE', '{"stage":3}', '{"stage":2}', 1, ?)
             """, [t1]),
            ("INSERT INTO realtime_broadcasts (id, topic, payload, sent_at) VALUES (9, 'room:x', '{\"k\":1}', 1767322445)", []),
            ("""
             INSERT INTO room_events (room_id, "offset", type, round, client_id, user_id, seq, payload, at)
             VALUES (?, 1, 'turn', 1, 'c1', ?, 1, '{"text":"hi"}', ?)
             """, [room, host, t1]),
            ("INSERT INTO room_commands (room_id, user_id, client_id, fingerprint, reply, at) VALUES (?, ?, 'c1', 'f', '{}', ?)", [room, host, t1]),
            ("""
             INSERT INTO room_runtime (room_id, phase, state, updated_at, round1_case_id) VALUES (?, 'ended', '{"caseIDs":[]}', ?, ?)
             """, [room, t2, brief]),
        ]
        for (sql, arguments) in statements {
            try db.execute(sql: sql, arguments: arguments)
        }
        // As after the change log's retention trimmed offsets 42…99.
        try db.execute(sql: "UPDATE sqlite_sequence SET seq = 99 WHERE name = 'realtime_changes'")
    }
}
