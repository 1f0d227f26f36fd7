import PraxisDomain
import PraxisStore

/// The rows the RLS agreement tests run on: host, guest, other, admin and a newcomer
/// without a profile; public, private, live and finished rooms; rounds, briefs, reports,
/// subscriptions, snapshots and an audit log.
enum RLSFixture {
    static let host = "11111111-1111-4111-8111-111111111111"
    static let guest = "22222222-2222-4222-8222-222222222222"
    static let other = "33333333-3333-4333-8333-333333333333"
    static let admin = "44444444-4444-4444-8444-444444444444"
    static let newcomer = "55555555-5555-4555-8555-555555555555"

    static func room(_ n: Int) -> String { "aaaaaaaa-0000-4000-8000-00000000000\(n)" }
    static func round(_ n: Int) -> String { "bbbbbbbb-0000-4000-8000-00000000000\(n)" }

    /// Public room host/guest; private host/guest; private other; public other, round live;
    /// public guest's, stage 3; public other's, free seat.
    static let liveRoom = room(4)

    static let actors: [(name: String, caller: Caller)] = [
        ("anon", .anonymous),
        ("host", .user(id: host, isAdmin: false)),
        ("guest", .user(id: guest, isAdmin: false)),
        ("other", .user(id: other, isAdmin: false)),
        ("admin", .user(id: admin, isAdmin: true)),
        ("newcomer", .user(id: newcomer, isAdmin: false)),
        ("service", .service),
    ]

    static let statements: [String] = [
        """
        INSERT INTO users (id, email, hashed_password, role) VALUES
          ('\(host)', 'host@example.org', 'x', 'user'), ('\(guest)', 'guest@example.org', 'x', 'user'),
          ('\(other)', 'other@example.org', 'x', 'user'), ('\(admin)', 'admin@example.org', 'x', 'admin'),
          ('\(newcomer)', 'new@example.org', 'x', 'user')
        """,
        """
        INSERT INTO profiles (user_id, first_name, last_name, training_level)
        SELECT id, 'F', 'L', 'T' FROM users WHERE id <> '\(newcomer)'
        """,
        """
        INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, private, stage) VALUES
          ('\(room(1))', '\(host)', '\(guest)', now(), 'Clinical', 'link-1', false, 1),
          ('\(room(2))', '\(host)', '\(guest)', now(), 'Clinical', 'link-2', true, 1),
          ('\(room(3))', '\(other)', NULL, now(), 'Communication', 'link-3', true, 1),
          ('\(room(4))', '\(other)', NULL, now(), 'Clinical', 'link-4', false, 1),
          ('\(room(5))', '\(guest)', NULL, now(), 'Clinical', 'link-5', false, 3),
          ('\(room(6))', '\(other)', NULL, now(), 'Clinical', 'link-6', false, 1)
        """,
        "INSERT INTO room_runtime (room_id, phase) VALUES ('\(room(4))', 'roleplay')",
        """
        INSERT INTO case_briefs (id, category, condition, case_name, case_name_internal, domain, candidate_brief,
                                 actor_brief, target_profession, clinical_area, difficulty_level, status) VALUES
          ('cccccccc-0000-4000-8000-000000000001', 'c', 'c', 'Published', 'pub', 'Clinical', 'b', 'b', 'doctor', 'gp', 'easy', 'published'),
          ('cccccccc-0000-4000-8000-000000000002', 'c', 'c', 'Draft', 'draft', 'Clinical', 'b', 'b', 'doctor', 'gp', 'easy', 'draft')
        """,
        """
        INSERT INTO practice_rounds (id, room_id, round, candidate_id) VALUES
          ('\(round(1))', '\(room(2))', 1, '\(host)'), ('\(round(2))', '\(room(3))', 1, '\(other)'),
          ('\(round(3))', '\(room(1))', 1, '\(guest)')
        """,
        """
        INSERT INTO feedback_reports (id, session_id, transcript, ai_summary, score_raw, strengths, areas_for_improvement) VALUES
          ('dddddddd-0000-4000-8000-000000000001', '\(round(1))', 't', 's', 3, 's', 'a'),
          ('dddddddd-0000-4000-8000-000000000002', '\(round(2))', 't', 's', 4, 's', 'a')
        """,
        """
        INSERT INTO subscriptions (id, user_id, plan_name, status, current_period_start, current_period_end) VALUES
          ('eeeeeeee-0000-4000-8000-000000000001', '\(host)', 'pro', 'active', now(), now()),
          ('eeeeeeee-0000-4000-8000-000000000002', '\(other)', 'pro', 'active', now(), now())
        """,
        """
        INSERT INTO user_progress_snapshots (id, user_id, snapshot_date, average_score, sessions_completed_count) VALUES
          ('ffffffff-0000-4000-8000-000000000001', '\(guest)', '2026-11-01', 3.5, 2),
          ('ffffffff-0000-4000-8000-000000000002', '\(admin)', '2026-11-01', 4.5, 1)
        """,
        "INSERT INTO audit_logs (id, admin_id, action, ip_address) VALUES ('99999999-0000-4000-8000-000000000001', '\(admin)', 'x', '127.0.0.1')",
    ]

    /// Each table (and view) the data API serves: its key, and the rows as the owner sees
    /// them (for views, the rows of the table under it with the view's column names).
    static let tables: [(name: String, key: String, base: String)] = [
        ("profiles", "user_id", "SELECT * FROM profiles"),
        ("practice_rooms", "id", "SELECT * FROM practice_rooms"),
        ("practice_rounds", "id", "SELECT * FROM practice_rounds"),
        ("case_briefs", "id", "SELECT * FROM case_briefs"),
        ("scenarios", "id", "SELECT id, status FROM case_briefs"),
        ("users", "id", "SELECT * FROM users"),
        ("subscriptions", "id", "SELECT * FROM subscriptions"),
        ("user_progress_snapshots", "id", "SELECT * FROM user_progress_snapshots"),
        ("sessions", "id", "SELECT id, candidate_id AS user_id FROM practice_rounds"),
        ("feedback_reports", "id", "SELECT * FROM feedback_reports"),
        ("audit_logs", "id", "SELECT * FROM audit_logs"),
    ]

    static let integerColumns: Set<String> = ["stage", "round", "score_raw", "sessions_completed_count", "duration_seconds"]
    static let booleanColumns: Set<String> = ["private", "is_ai_generated", "is_email_verified", "revoked"]

    /// The rows of `base`, keyed by `key`, as `Row`s the access predicates evaluate (SQLite's
    /// value shapes: booleans 0/1, integers, everything else text).
    static func rows(_ database: PostgresDatabase, key: String, base: String) async throws -> [String: Row] {
        let cells = try await database.ownerTextRows(
            "SELECT x.\(key)::text, e.key, e.value FROM (\(base)) x, jsonb_each_text(to_jsonb(x)) e"
        )
        var rows: [String: Row] = [:]
        for cell in cells {
            guard let id = cell[0], let column = cell[1] else { continue }
            let value: Value
            if let text = cell[2] {
                if booleanColumns.contains(column) {
                    value = .integer(text == "true" ? 1 : 0)
                } else if integerColumns.contains(column), let number = Int64(text) {
                    value = .integer(number)
                } else {
                    value = .text(text)
                }
            } else {
                value = .null
            }
            rows[id, default: [:]][column] = value
        }
        return rows
    }

    /// Room participants and round candidates, for the relational predicates.
    static func relations(_ database: PostgresDatabase) async throws -> RowPredicate.Relations {
        let rooms = try await database.ownerTextRows("SELECT id::text, host_id::text, guest_id::text FROM practice_rooms")
        let rounds = try await database.ownerTextRows("SELECT id::text, candidate_id::text FROM practice_rounds")
        let participants = Dictionary(uniqueKeysWithValues: rooms.map { ($0[0]!, (host: $0[1]!, guest: $0[2])) })
        let candidates = Dictionary(uniqueKeysWithValues: rounds.map { ($0[0]!, $0[1]!) })
        return RowPredicate.Relations(roomParticipants: { participants[$0] }, roundCandidate: { candidates[$0] })
    }
}
