extension PostgresMigrations {
    /// Every table of both seed data models, as `Migrations.v1SeedSchemas` has them, in
    /// PostgreSQL's types: `uuid` keys by `gen_random_uuid()`, `timestamptz` (microseconds),
    /// `boolean`, `jsonb` with GIN indexes (the platform seed's), a unique index on
    /// `lower(email)`, `ON DELETE RESTRICT`, soft deletes and an append-only audit log.
    static var v1SeedSchemas: [String] {
        var s = triggerFunctions
        s.append("""
            CREATE TABLE praxis_settings (
                key text PRIMARY KEY,
                value text NOT NULL,
                \(createdAt)
            )
            """)
        s.append("""
            CREATE TABLE users (
                \(id),
                email text NOT NULL
                    CHECK (length(email) BETWEEN 3 AND 255 AND email LIKE '%_@_%' AND email = btrim(email)),
                hashed_password text NOT NULL CHECK (length(hashed_password) BETWEEN 1 AND 255),
                full_name text CHECK (full_name IS NULL OR length(full_name) <= 255),
                role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
                profession text CHECK (profession IS NULL OR length(profession) <= 50),
                is_email_verified boolean NOT NULL DEFAULT false,
                last_login_at timestamptz,
                status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
                \(createdAt),
                \(updatedAt)
            )
            """)
        s.append("CREATE UNIQUE INDEX users_email_lower ON users (lower(email))")
        s.append("CREATE INDEX users_role ON users (role)")
        s.append(timestamps("users"))
        s.append(noDelete("users", hint: "set status to ''deleted''"))

        s.append("""
            CREATE TABLE subscriptions (
                \(id),
                user_id uuid NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
                plan_name text NOT NULL CHECK (length(plan_name) BETWEEN 1 AND 50),
                status text NOT NULL CHECK (length(status) BETWEEN 1 AND 25),
                stripe_customer_id text CHECK (stripe_customer_id IS NULL OR length(stripe_customer_id) <= 255),
                current_period_start timestamptz NOT NULL,
                current_period_end timestamptz NOT NULL,
                \(createdAt),
                \(updatedAt),
                CHECK (current_period_end >= current_period_start)
            )
            """)
        s.append("CREATE INDEX subscriptions_user_id ON subscriptions (user_id)")
        s.append("CREATE INDEX subscriptions_status ON subscriptions (status)")
        s.append("CREATE INDEX subscriptions_current_period_end ON subscriptions (current_period_end)")
        s.append(timestamps("subscriptions"))
        s.append(noDelete("subscriptions", hint: "set status to ''cancelled''"))

        s.append("""
            CREATE TABLE profiles (
                user_id uuid PRIMARY KEY DEFAULT auth.uid() REFERENCES users(id) ON DELETE RESTRICT,
                first_name text NOT NULL CHECK (length(btrim(first_name)) BETWEEN 1 AND 100),
                last_name text NOT NULL CHECK (length(btrim(last_name)) BETWEEN 1 AND 100),
                training_level text NOT NULL CHECK (length(btrim(training_level)) BETWEEN 1 AND 100),
                avatar text CHECK (avatar IS NULL OR length(avatar) <= 2048),
                \(createdAt),
                \(updatedAt)
            )
            """)
        s.append(timestamps("profiles"))

        s.append("""
            CREATE TABLE case_briefs (
                \(id),
                category text NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
                condition text NOT NULL CHECK (length(condition) BETWEEN 1 AND 255),
                case_name text NOT NULL CHECK (length(case_name) BETWEEN 1 AND 255),
                case_name_internal text NOT NULL UNIQUE CHECK (length(case_name_internal) BETWEEN 1 AND 255),
                domain text NOT NULL CHECK (domain IN ('Clinical', 'Communication')),
                candidate_brief text NOT NULL CHECK (length(candidate_brief) >= 1),
                actor_brief text NOT NULL CHECK (length(actor_brief) >= 1),
                target_profession text NOT NULL CHECK (length(target_profession) BETWEEN 1 AND 50),
                clinical_area text NOT NULL CHECK (length(clinical_area) BETWEEN 1 AND 50),
                difficulty_level text NOT NULL CHECK (difficulty_level IN ('easy', 'medium', 'hard')),
                patient_persona jsonb NOT NULL DEFAULT '{}',
                status text NOT NULL DEFAULT 'published' CHECK (status IN ('draft', 'published', 'archived')),
                is_ai_generated boolean NOT NULL DEFAULT false,
                created_by_admin_id uuid REFERENCES users(id) ON DELETE RESTRICT,
                \(createdAt),
                \(updatedAt)
            )
            """)
        s.append("CREATE INDEX case_briefs_profession_difficulty ON case_briefs (target_profession, difficulty_level)")
        s.append("CREATE INDEX case_briefs_profession_area ON case_briefs (target_profession, clinical_area)")
        s.append("CREATE INDEX case_briefs_status ON case_briefs (status)")
        s.append("CREATE INDEX case_briefs_patient_persona ON case_briefs USING gin (patient_persona jsonb_path_ops)")
        s.append(timestamps("case_briefs"))
        s.append(noDelete("case_briefs", hint: "set status to ''archived''"))

        // Rounds reference rooms and rooms rounds: the rooms' round columns get their
        // (deferred) foreign keys once both tables exist.
        s.append("""
            CREATE TABLE practice_rooms (
                \(id),
                host_id uuid NOT NULL DEFAULT auth.uid() REFERENCES profiles(user_id) ON DELETE RESTRICT,
                guest_id uuid REFERENCES profiles(user_id) ON DELETE RESTRICT,
                datetime_utc timestamptz NOT NULL,
                first_round_id uuid,
                second_round_id uuid,
                type text NOT NULL CHECK (type IN ('Clinical', 'Communication')),
                room_url text NOT NULL UNIQUE CHECK (length(room_url) BETWEEN 1 AND 2048),
                stage integer NOT NULL DEFAULT 1 CHECK (stage IN (1, 2, 3)),
                private boolean NOT NULL DEFAULT false,
                \(createdAt),
                \(updatedAt),
                CHECK (guest_id IS NULL OR guest_id <> host_id)
            )
            """)
        s.append("CREATE INDEX practice_rooms_host_id ON practice_rooms (host_id)")
        s.append("CREATE INDEX practice_rooms_guest_id ON practice_rooms (guest_id)")
        s.append("CREATE INDEX practice_rooms_datetime_utc ON practice_rooms (datetime_utc)")
        s.append(timestamps("practice_rooms"))

        s.append("""
            CREATE TABLE practice_rounds (
                \(id),
                room_id uuid NOT NULL REFERENCES practice_rooms(id) ON DELETE RESTRICT,
                round integer NOT NULL CHECK (round IN (1, 2)),
                candidate_id uuid NOT NULL REFERENCES profiles(user_id) ON DELETE RESTRICT,
                case_briefs_id uuid REFERENCES case_briefs(id) ON DELETE RESTRICT,
                transcript jsonb NOT NULL DEFAULT '[]',
                assessment jsonb,
                status text NOT NULL DEFAULT 'completed' CHECK (status IN ('in_progress', 'completed', 'abandoned')),
                duration_seconds integer CHECK (duration_seconds IS NULL OR duration_seconds >= 0),
                \(createdAt),
                \(updatedAt),
                UNIQUE (room_id, round)
            )
            """)
        s.append("CREATE INDEX practice_rounds_candidate_id ON practice_rounds (candidate_id)")
        s.append("CREATE INDEX practice_rounds_created_at ON practice_rounds (created_at)")
        s.append("CREATE INDEX practice_rounds_status ON practice_rounds (status)")
        s.append(timestamps("practice_rounds"))
        s.append(noDelete("practice_rounds", hint: "set status to ''abandoned''"))
        for column in ["first_round_id", "second_round_id"] {
            s.append("""
                ALTER TABLE practice_rooms ADD CONSTRAINT practice_rooms_\(column)_fkey FOREIGN KEY (\(column))
                REFERENCES practice_rounds(id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED
                """)
        }

        s.append("""
            CREATE TABLE feedback_reports (
                \(id),
                session_id uuid NOT NULL UNIQUE REFERENCES practice_rounds(id) ON DELETE RESTRICT,
                transcript text NOT NULL,
                ai_summary text NOT NULL,
                score_raw integer NOT NULL,
                strengths text NOT NULL,
                areas_for_improvement text NOT NULL,
                \(createdAt)
            )
            """)
        s.append("CREATE INDEX feedback_reports_score_raw ON feedback_reports (score_raw)")
        s.append(timestamps("feedback_reports", updatedAt: false))
        s.append(noDelete("feedback_reports", hint: "reports are kept with their round"))

        s.append("""
            CREATE TABLE user_progress_snapshots (
                \(id),
                user_id uuid NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
                snapshot_date date NOT NULL,
                average_score double precision NOT NULL,
                sessions_completed_count integer NOT NULL CHECK (sessions_completed_count >= 0),
                strengths_topics jsonb NOT NULL DEFAULT '[]',
                \(createdAt)
            )
            """)
        s.append("CREATE INDEX user_progress_snapshots_date ON user_progress_snapshots (snapshot_date)")
        s.append("CREATE INDEX user_progress_snapshots_user_date ON user_progress_snapshots (user_id, snapshot_date)")
        s.append("CREATE INDEX user_progress_snapshots_strengths_topics ON user_progress_snapshots USING gin (strengths_topics jsonb_path_ops)")
        s.append(timestamps("user_progress_snapshots", updatedAt: false))

        s.append("""
            CREATE TABLE audit_logs (
                \(id),
                admin_id uuid NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
                action text NOT NULL CHECK (length(action) BETWEEN 1 AND 50),
                target_entity_id uuid,
                details jsonb,
                ip_address text NOT NULL CHECK (length(ip_address) BETWEEN 1 AND 50),
                "timestamp" timestamptz NOT NULL DEFAULT now()
            )
            """)
        s.append("CREATE INDEX audit_logs_timestamp ON audit_logs (\"timestamp\")")
        s.append("CREATE INDEX audit_logs_action ON audit_logs (action)")
        s.append("CREATE INDEX audit_logs_details ON audit_logs USING gin (details jsonb_path_ops)")
        s.append("CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs FOR EACH ROW EXECUTE FUNCTION praxis_append_only()")
        s.append("CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs FOR EACH STATEMENT EXECUTE FUNCTION praxis_append_only()")
        return s
    }
}
