import GRDB

/// The schema's history. Each migration runs once, in order, in its own transaction;
/// re-running `migrate` on an up-to-date database does nothing.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: seed schemas", migrate: v1SeedSchemas)
        migrator.registerMigration("v2: auth sessions", migrate: v2AuthSessions)
        migrator.registerMigration("v3: realtime change log", migrate: v3RealtimeChanges)
        migrator.registerMigration("v4: room journal", migrate: v4RoomJournal)
        migrator.registerMigration("v5: room events type index without turns", migrate: v5RoomEventsTypeIndex)
        migrator.registerMigration("v6: realtime broadcast log", migrate: v6RealtimeBroadcasts)
        migrator.registerMigration("v7: room journal user ids and case ids as columns", migrate: v7RoomJournalColumns)
        migrator.registerMigration("v8: change log old records of updates as their changed columns", migrate: v8ChangedColumns)
        migrator.registerMigration("v9: change log records refer to their rows' large values", migrate: v9RecordReferences)
        return migrator
    }

    /// Every table of both seed data models.
    ///
    /// Overlaps are resolved once (protocol/schema.md): `case_briefs` is the case
    /// library and `scenarios` a view of it; `practice_rounds` are the practice sessions
    /// and `sessions` a view of them; `feedback_reports` is a table keyed by round.
    static func v1SeedSchemas(_ db: Database) throws {
        var statements: [String] = []

        statements.append(
            """
            CREATE TABLE praxis_settings (
                key TEXT PRIMARY KEY NOT NULL,
                value TEXT NOT NULL,
                \(Schema.createdAt)
            )
            """
        )

        // Platform seed: users.
        statements.append(
            """
            CREATE TABLE users (
                \(Schema.idColumn),
                email TEXT NOT NULL COLLATE NOCASE UNIQUE
                    CHECK (length(email) BETWEEN 3 AND 255 AND email LIKE '%_@_%' AND email = trim(email)),
                hashed_password TEXT NOT NULL CHECK (length(hashed_password) BETWEEN 1 AND 255),
                full_name TEXT CHECK (full_name IS NULL OR length(full_name) <= 255),
                role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
                profession TEXT CHECK (profession IS NULL OR length(profession) <= 50),
                \(Schema.booleanColumn("is_email_verified", default: false)),
                \(Schema.timestampColumn("last_login_at", nullable: true)),
                status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
                \(Schema.createdAt),
                \(Schema.updatedAt)
            )
            """
        )
        statements.append("CREATE INDEX users_role ON users(role)")
        statements += Schema.timestampTriggers("users")
        statements.append(Schema.noDelete("users", hint: "set status to ''deleted''"))

        statements.append(
            """
            CREATE TABLE subscriptions (
                \(Schema.idColumn),
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
                plan_name TEXT NOT NULL CHECK (length(plan_name) BETWEEN 1 AND 50),
                status TEXT NOT NULL CHECK (length(status) BETWEEN 1 AND 25),
                stripe_customer_id TEXT CHECK (stripe_customer_id IS NULL OR length(stripe_customer_id) <= 255),
                \(Schema.timestampColumn("current_period_start")),
                \(Schema.timestampColumn("current_period_end")),
                \(Schema.createdAt),
                \(Schema.updatedAt),
                CHECK (current_period_end >= current_period_start)
            )
            """
        )
        statements.append("CREATE INDEX subscriptions_user_id ON subscriptions(user_id)")
        statements.append("CREATE INDEX subscriptions_status ON subscriptions(status)")
        statements.append("CREATE INDEX subscriptions_current_period_end ON subscriptions(current_period_end)")
        statements += Schema.timestampTriggers("subscriptions")
        statements.append(Schema.noDelete("subscriptions", hint: "set status to ''cancelled''"))

        // Peer-practice seed: profiles.
        statements.append(
            """
            CREATE TABLE profiles (
                user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE RESTRICT
                    CHECK (\(Schema.uuidV4Check("user_id"))),
                first_name TEXT NOT NULL CHECK (length(trim(first_name)) BETWEEN 1 AND 100),
                last_name TEXT NOT NULL CHECK (length(trim(last_name)) BETWEEN 1 AND 100),
                training_level TEXT NOT NULL CHECK (length(trim(training_level)) BETWEEN 1 AND 100),
                avatar TEXT CHECK (avatar IS NULL OR length(avatar) <= 2048),
                \(Schema.createdAt),
                \(Schema.updatedAt)
            )
            """
        )
        statements += Schema.timestampTriggers("profiles", key: "user_id")

        // The case library: peer-practice case_briefs carrying the platform's scenario columns.
        statements.append(
            """
            CREATE TABLE case_briefs (
                \(Schema.idColumn),
                category TEXT NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
                condition TEXT NOT NULL CHECK (length(condition) BETWEEN 1 AND 255),
                case_name TEXT NOT NULL CHECK (length(case_name) BETWEEN 1 AND 255),
                case_name_internal TEXT NOT NULL UNIQUE CHECK (length(case_name_internal) BETWEEN 1 AND 255),
                domain TEXT NOT NULL CHECK (domain IN ('Clinical', 'Communication')),
                candidate_brief TEXT NOT NULL CHECK (length(candidate_brief) >= 1),
                actor_brief TEXT NOT NULL CHECK (length(actor_brief) >= 1),
                target_profession TEXT NOT NULL CHECK (length(target_profession) BETWEEN 1 AND 50),
                clinical_area TEXT NOT NULL CHECK (length(clinical_area) BETWEEN 1 AND 50),
                difficulty_level TEXT NOT NULL CHECK (difficulty_level IN ('easy', 'medium', 'hard')),
                \(Schema.jsonColumn("patient_persona", default: "{}")),
                status TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('draft', 'published', 'archived')),
                \(Schema.booleanColumn("is_ai_generated", default: false)),
                created_by_admin_id TEXT REFERENCES users(id) ON DELETE RESTRICT,
                \(Schema.createdAt),
                \(Schema.updatedAt)
            )
            """
        )
        statements.append("CREATE INDEX case_briefs_profession_difficulty ON case_briefs(target_profession, difficulty_level)")
        statements.append("CREATE INDEX case_briefs_profession_area ON case_briefs(target_profession, clinical_area)")
        statements.append("CREATE INDEX case_briefs_status ON case_briefs(status)")
        statements += Schema.timestampTriggers("case_briefs")
        statements.append(Schema.noDelete("case_briefs", hint: "set status to ''archived''"))
        statements.append(
            """
            CREATE VIEW scenarios AS
            SELECT id, case_name AS title, condition AS description, patient_persona, clinical_area,
                   target_profession, difficulty_level, is_ai_generated, created_by_admin_id, created_at, status
            FROM case_briefs
            """
        )

        statements.append(
            """
            CREATE TABLE practice_rooms (
                \(Schema.idColumn),
                host_id TEXT NOT NULL REFERENCES profiles(user_id) ON DELETE RESTRICT,
                guest_id TEXT REFERENCES profiles(user_id) ON DELETE RESTRICT,
                \(Schema.timestampColumn("datetime_utc")),
                first_round_id TEXT REFERENCES practice_rounds(id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED,
                second_round_id TEXT REFERENCES practice_rounds(id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED,
                type TEXT NOT NULL CHECK (type IN ('Clinical', 'Communication')),
                room_url TEXT NOT NULL UNIQUE CHECK (length(room_url) BETWEEN 1 AND 2048),
                stage INTEGER NOT NULL DEFAULT 1 CHECK (stage IN (1, 2, 3)),
                \(Schema.booleanColumn("private", default: false)),
                \(Schema.createdAt),
                \(Schema.updatedAt),
                CHECK (guest_id IS NULL OR guest_id <> host_id)
            )
            """
        )
        statements.append("CREATE INDEX practice_rooms_host_id ON practice_rooms(host_id)")
        statements.append("CREATE INDEX practice_rooms_guest_id ON practice_rooms(guest_id)")
        statements.append("CREATE INDEX practice_rooms_datetime_utc ON practice_rooms(datetime_utc)")
        statements += Schema.timestampTriggers("practice_rooms")

        // Rounds are the practice sessions: a transcript per round, assessed.
        statements.append(
            """
            CREATE TABLE practice_rounds (
                \(Schema.idColumn),
                room_id TEXT NOT NULL REFERENCES practice_rooms(id) ON DELETE RESTRICT,
                round INTEGER NOT NULL CHECK (round IN (1, 2)),
                candidate_id TEXT NOT NULL REFERENCES profiles(user_id) ON DELETE RESTRICT,
                case_briefs_id TEXT REFERENCES case_briefs(id) ON DELETE RESTRICT,
                \(Schema.jsonColumn("transcript", default: "[]")),
                \(Schema.jsonColumn("assessment", nullable: true)),
                status TEXT NOT NULL DEFAULT 'completed' CHECK (status IN ('in_progress', 'completed', 'abandoned')),
                duration_seconds INTEGER CHECK (duration_seconds IS NULL OR duration_seconds >= 0),
                \(Schema.createdAt),
                \(Schema.updatedAt),
                UNIQUE (room_id, round)
            )
            """
        )
        statements.append("CREATE INDEX practice_rounds_candidate_id ON practice_rounds(candidate_id)")
        statements.append("CREATE INDEX practice_rounds_created_at ON practice_rounds(created_at)")
        statements.append("CREATE INDEX practice_rounds_status ON practice_rounds(status)")
        statements += Schema.timestampTriggers("practice_rounds")
        statements.append(Schema.noDelete("practice_rounds", hint: "set status to ''abandoned''"))
        statements.append(
            """
            CREATE VIEW sessions AS
            SELECT id, candidate_id AS user_id, case_briefs_id AS scenario_id, status, duration_seconds, created_at
            FROM practice_rounds
            """
        )

        statements.append(
            """
            CREATE TABLE feedback_reports (
                \(Schema.idColumn),
                session_id TEXT NOT NULL UNIQUE REFERENCES practice_rounds(id) ON DELETE RESTRICT,
                transcript TEXT NOT NULL,
                ai_summary TEXT NOT NULL,
                score_raw INTEGER NOT NULL,
                strengths TEXT NOT NULL,
                areas_for_improvement TEXT NOT NULL,
                \(Schema.createdAt)
            )
            """
        )
        statements.append("CREATE INDEX feedback_reports_score_raw ON feedback_reports(score_raw)")
        statements += Schema.timestampTriggers("feedback_reports", updatedAt: false)
        statements.append(Schema.noDelete("feedback_reports", hint: "reports are kept with their round"))

        statements.append(
            """
            CREATE TABLE user_progress_snapshots (
                \(Schema.idColumn),
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
                snapshot_date TEXT NOT NULL CHECK (snapshot_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
                average_score REAL NOT NULL,
                sessions_completed_count INTEGER NOT NULL CHECK (sessions_completed_count >= 0),
                \(Schema.jsonColumn("strengths_topics", default: "[]")),
                \(Schema.createdAt)
            )
            """
        )
        statements.append("CREATE INDEX user_progress_snapshots_date ON user_progress_snapshots(snapshot_date)")
        statements.append("CREATE INDEX user_progress_snapshots_user_date ON user_progress_snapshots(user_id, snapshot_date)")
        statements += Schema.timestampTriggers("user_progress_snapshots", updatedAt: false)

        statements.append(
            """
            CREATE TABLE audit_logs (
                \(Schema.idColumn),
                admin_id TEXT NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
                action TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 50),
                target_entity_id TEXT CHECK (target_entity_id IS NULL OR \(Schema.uuidV4Check("target_entity_id"))),
                \(Schema.jsonColumn("details", nullable: true)),
                ip_address TEXT NOT NULL CHECK (length(ip_address) BETWEEN 1 AND 50),
                \(Schema.timestampColumn("timestamp", defaultNow: true))
            )
            """
        )
        statements.append("CREATE INDEX audit_logs_timestamp ON audit_logs(timestamp)")
        statements.append("CREATE INDEX audit_logs_action ON audit_logs(action)")
        statements.append(
            """
            CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
            BEGIN SELECT RAISE(ABORT, 'audit_logs are append-only'); END
            """
        )
        statements.append(
            """
            CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
            BEGIN SELECT RAISE(ABORT, 'audit_logs are never deleted'); END
            """
        )

        for statement in statements {
            try db.execute(sql: statement)
        }
    }

    /// GoTrue-style sessions: refresh tokens (stored hashed, rotated on use), email
    /// verification tokens, and the user's metadata.
    static func v2AuthSessions(_ db: Database) throws {
        let statements = [
            "ALTER TABLE users ADD COLUMN user_metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(user_metadata))",
            "ALTER TABLE users ADD COLUMN email_confirmed_at TEXT CHECK (email_confirmed_at IS NULL OR \(Schema.timestampCheck("email_confirmed_at")))",
            """
            CREATE TABLE auth_sessions (
                \(Schema.idColumn),
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
                \(Schema.createdAt),
                \(Schema.timestampColumn("ended_at", nullable: true))
            )
            """,
            "CREATE INDEX auth_sessions_user_id ON auth_sessions(user_id)",
            """
            CREATE TABLE auth_refresh_tokens (
                token_hash TEXT PRIMARY KEY NOT NULL,
                session_id TEXT NOT NULL REFERENCES auth_sessions(id) ON DELETE RESTRICT,
                parent_hash TEXT,
                \(Schema.booleanColumn("revoked", default: false)),
                \(Schema.createdAt)
            )
            """,
            "CREATE INDEX auth_refresh_tokens_session_id ON auth_refresh_tokens(session_id)",
            """
            CREATE TABLE auth_email_verifications (
                token_hash TEXT PRIMARY KEY NOT NULL,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
                \(Schema.timestampColumn("expires_at")),
                \(Schema.timestampColumn("consumed_at", nullable: true)),
                \(Schema.createdAt)
            )
            """,
        ]
        for statement in statements {
            try db.execute(sql: statement)
        }
    }

    /// The change log the realtime feed reads from: one row per committed change of a
    /// published table, in commit order. `offset` is the feed offset clients resume from.
    static func v3RealtimeChanges(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE realtime_changes (
                "offset" INTEGER PRIMARY KEY AUTOINCREMENT,
                table_name TEXT NOT NULL,
                type TEXT NOT NULL CHECK (type IN ('INSERT', 'UPDATE', 'DELETE')),
                \(Schema.jsonColumn("record", nullable: true)),
                \(Schema.jsonColumn("old_record", nullable: true)),
                \(Schema.timestampColumn("commit_timestamp", defaultNow: true))
            )
            """)
        try db.execute(sql: "CREATE INDEX realtime_changes_commit_timestamp ON realtime_changes(commit_timestamp)")
    }

    /// The room engine's journal: every room event (turns included) in room offset order,
    /// and each room's latest state. Written by `RoomJournal` with group commit; a room
    /// mid-round is rebuilt from these after a restart.
    static func v4RoomJournal(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE room_events (
                room_id TEXT NOT NULL REFERENCES practice_rooms(id) ON DELETE CASCADE,
                "offset" INTEGER NOT NULL CHECK ("offset" >= 1),
                type TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 32),
                round INTEGER CHECK (round IS NULL OR round IN (1, 2)),
                client_id TEXT CHECK (client_id IS NULL OR length(client_id) BETWEEN 1 AND 128),
                user_id TEXT,
                seq INTEGER CHECK (seq IS NULL OR seq >= 1),
                \(Schema.jsonColumn("payload", default: "{}")),
                \(Schema.timestampColumn("at", defaultNow: true)),
                PRIMARY KEY (room_id, "offset")
            ) WITHOUT ROWID
            """)
        try db.execute(sql: "CREATE UNIQUE INDEX room_events_turn_client ON room_events(room_id, round, user_id, client_id) WHERE type = 'turn'")
        try db.execute(sql: "CREATE INDEX room_events_type ON room_events(type, room_id)")
        // Accepted commands by client id, with their replies: a retry after a restart gets
        // the original answer.
        try db.execute(sql: """
            CREATE TABLE room_commands (
                room_id TEXT NOT NULL REFERENCES practice_rooms(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL,
                client_id TEXT NOT NULL CHECK (length(client_id) BETWEEN 1 AND 128),
                fingerprint TEXT NOT NULL,
                \(Schema.jsonColumn("reply", default: "{}")),
                \(Schema.timestampColumn("at", defaultNow: true)),
                PRIMARY KEY (room_id, user_id, client_id)
            ) WITHOUT ROWID
            """)
        try db.execute(sql: """
            CREATE TABLE room_runtime (
                room_id TEXT PRIMARY KEY NOT NULL REFERENCES practice_rooms(id) ON DELETE CASCADE,
                phase TEXT NOT NULL CHECK (phase IN ('waiting', 'preparation', 'roleplay', 'ended')),
                \(Schema.jsonColumn("state", default: "{}")),
                \(Schema.timestampColumn("updated_at", defaultNow: true))
            ) WITHOUT ROWID
            """)
    }

    /// The index of room events by type held every turn too, so each turn wrote a third
    /// B-tree page to the WAL for an index no turn query uses (turns are found through
    /// `room_events_turn_client`). Only the presence and no-show lookups need it: it now
    /// holds those events alone, by room. About a quarter fewer WAL bytes per turn.
    static func v5RoomEventsTypeIndex(_ db: Database) throws {
        try db.execute(sql: "DROP INDEX room_events_type")
        try db.execute(sql: "CREATE INDEX room_events_room_type ON room_events(room_id, type) WHERE type = 'presence' OR type = 'no_show'")
    }

    /// The bounded log of private-channel broadcasts that broadcast replay reads
    /// (`Store+Broadcasts.swift`). Ids are given by the realtime hub in fan-out order.
    static func v6RealtimeBroadcasts(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE realtime_broadcasts (
                id INTEGER PRIMARY KEY NOT NULL,
                topic TEXT NOT NULL,
                payload TEXT NOT NULL,
                sent_at INTEGER NOT NULL
            )
            """)
        try db.execute(sql: "CREATE INDEX realtime_broadcasts_topic ON realtime_broadcasts(topic, id)")
    }

    /// The journal's facts the store reads as columns, not JSON it digs into: who an event
    /// is about (`room_events.user_id`, until now a turn's speaker only: now also the user of
    /// `presence`, `ready`, `left` and `no_show`), and the case of each round
    /// (`room_runtime.round1_case_id`, `round2_case_id`). Old rows are filled from their
    /// payloads and saved states; the engine writes the columns from now on.
    static func v7RoomJournalColumns(_ db: Database) throws {
        try db.execute(sql: """
            UPDATE room_events SET user_id = json_extract(payload, '$.user_id')
            WHERE user_id IS NULL AND type IN ('presence', 'ready', 'left', 'no_show')
            """)
        try db.execute(sql: "ALTER TABLE room_runtime ADD COLUMN round1_case_id TEXT")
        try db.execute(sql: "ALTER TABLE room_runtime ADD COLUMN round2_case_id TEXT")
        try db.execute(sql: """
            UPDATE room_runtime SET round1_case_id = json_extract(state, '$.caseIDs[0]'), round2_case_id = json_extract(state, '$.caseIDs[1]')
            """)
    }

    /// An UPDATE's `old_record` in `realtime_changes` may hold only the columns the update
    /// changed (`old_record_changes_only` 1; the others are `record`'s), so a large column an
    /// update leaves alone is logged once. Older entries keep their whole old rows (0).
    static func v8ChangedColumns(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE realtime_changes ADD COLUMN \(Schema.booleanColumn("old_record_changes_only", default: false))")
    }

    /// A logged record may leave out its row's large values (`record_refs` names the columns,
    /// `ref_key` the row; ``StoredRow/encodeReferring(_:table:)``): a round's transcript is no
    /// longer copied into the log twice. The index finds the entries that refer to a row.
    static func v9RecordReferences(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE realtime_changes ADD COLUMN record_refs TEXT")
        try db.execute(sql: "ALTER TABLE realtime_changes ADD COLUMN ref_key TEXT")
        try db.execute(sql: "CREATE INDEX realtime_changes_refs ON realtime_changes(table_name, ref_key) WHERE ref_key IS NOT NULL")
    }
}
