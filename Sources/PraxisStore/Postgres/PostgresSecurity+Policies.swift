extension PostgresSecurity {
    /// Grants, views and policies of the v1 tables, table by table as `AccessPolicy`'s
    /// table (read, insert, update, delete). Rules a policy cannot state (which columns a
    /// host may change, the guest seat fixed once round 1 started, a room in play not
    /// deletable, emails changed only through the auth API) are triggers that apply to the
    /// `authenticated` role only, as `AccessPolicy.checkUpdate`/`checkDelete` do.
    static var v1Policies: [String] {
        var s = helperFunctions
        s += guardFunctions
        s.append("GRANT USAGE ON SCHEMA public, auth, praxis TO anon, authenticated, service_role")
        s.append("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC")
        s += internalTables(["praxis_settings", "schema_migrations"])
        for table in apiTables {
            s.append("ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY")
            s.append("GRANT SELECT, INSERT, UPDATE, DELETE ON \(table) TO service_role")
            s.append("CREATE POLICY \(table)_service ON \(table) TO service_role USING (true) WITH CHECK (true)")
        }
        s += [
            // profiles: everyone reads; own insert and update; nobody deletes.
            "GRANT SELECT ON profiles TO anon, authenticated",
            "GRANT INSERT, UPDATE ON profiles TO authenticated",
            "CREATE POLICY profiles_read ON profiles FOR SELECT TO anon, authenticated USING (true)",
            "CREATE POLICY profiles_insert ON profiles FOR INSERT TO authenticated WITH CHECK (user_id = auth.uid())",
            "CREATE POLICY profiles_update ON profiles FOR UPDATE TO authenticated USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid())",

            // practice_rooms: public rooms, or host, guest, or the exact link.
            "GRANT SELECT ON practice_rooms TO anon, authenticated",
            "GRANT INSERT, UPDATE, DELETE ON practice_rooms TO authenticated",
            """
            CREATE POLICY practice_rooms_read ON practice_rooms FOR SELECT TO anon, authenticated
            USING (NOT private OR host_id = auth.uid() OR guest_id = auth.uid() OR room_url = praxis.room_link()
                OR id::text = praxis.released_room())
            """,
            """
            CREATE POLICY practice_rooms_insert ON practice_rooms FOR INSERT TO authenticated
            WITH CHECK (host_id = auth.uid() AND guest_id IS NULL)
            """,
            """
            CREATE POLICY practice_rooms_update ON practice_rooms FOR UPDATE TO authenticated
            USING (host_id = auth.uid() OR guest_id IS NULL OR guest_id = auth.uid())
            WITH CHECK (host_id = auth.uid() OR guest_id IS NULL OR guest_id = auth.uid())
            """,
            "CREATE POLICY practice_rooms_delete ON practice_rooms FOR DELETE TO authenticated USING (host_id = auth.uid())",
            "CREATE TRIGGER practice_rooms_guard BEFORE UPDATE OR DELETE ON practice_rooms FOR EACH ROW EXECUTE FUNCTION praxis.room_guard()",

            // practice_rounds: the room's host and guest read; the server writes.
            "GRANT SELECT ON practice_rounds TO authenticated",
            "CREATE POLICY practice_rounds_read ON practice_rounds FOR SELECT TO authenticated USING (praxis.is_room_participant(room_id))",

            // case_briefs: published cases for all, everything for admins.
            "GRANT SELECT ON case_briefs TO anon, authenticated",
            "GRANT INSERT, UPDATE, DELETE ON case_briefs TO authenticated",
            "CREATE POLICY case_briefs_read ON case_briefs FOR SELECT TO anon, authenticated USING (status = 'published' OR auth.is_admin())",
            "CREATE POLICY case_briefs_insert ON case_briefs FOR INSERT TO authenticated WITH CHECK (auth.is_admin())",
            "CREATE POLICY case_briefs_update ON case_briefs FOR UPDATE TO authenticated USING (auth.is_admin()) WITH CHECK (auth.is_admin())",
            "CREATE POLICY case_briefs_delete ON case_briefs FOR DELETE TO authenticated USING (auth.is_admin())",

            // users: self, admins all; admins update (not the email); nobody inserts over the API.
            "GRANT SELECT (\(userColumnsV1)) ON users TO authenticated",
            "GRANT UPDATE (full_name, role, profession, status, email) ON users TO authenticated",
            "CREATE POLICY users_read ON users FOR SELECT TO authenticated USING (id = auth.uid() OR auth.is_admin())",
            "CREATE POLICY users_update ON users FOR UPDATE TO authenticated USING (auth.is_admin()) WITH CHECK (auth.is_admin())",
            "CREATE TRIGGER users_guard BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION praxis.users_guard()",
        ]
        for table in ["subscriptions", "user_progress_snapshots"] {
            s.append("GRANT SELECT ON \(table) TO authenticated")
            s.append("CREATE POLICY \(table)_read ON \(table) FOR SELECT TO authenticated USING (user_id = auth.uid() OR auth.is_admin())")
        }
        s += [
            "GRANT SELECT ON feedback_reports TO authenticated",
            """
            CREATE POLICY feedback_reports_read ON feedback_reports FOR SELECT TO authenticated
            USING (praxis.is_round_candidate(session_id) OR auth.is_admin())
            """,
            "GRANT SELECT ON audit_logs TO authenticated",
            "CREATE POLICY audit_logs_read ON audit_logs FOR SELECT TO authenticated USING (auth.is_admin())",
        ]
        s += views
        return s
    }

    /// `scenarios` and `sessions`, as in SQLite, with the rules of their own rows
    /// (`AccessPolicy.readable`): security-barrier views that filter by the caller.
    static let views = [
        """
        CREATE VIEW scenarios WITH (security_barrier) AS
        SELECT id, case_name AS title, condition AS description, patient_persona, clinical_area,
               target_profession, difficulty_level, is_ai_generated, created_by_admin_id, created_at, status
        FROM case_briefs
        WHERE auth.role() = 'service_role' OR status = 'published' OR auth.is_admin()
        """,
        """
        CREATE VIEW sessions WITH (security_barrier) AS
        SELECT id, candidate_id AS user_id, case_briefs_id AS scenario_id, status, duration_seconds, created_at
        FROM practice_rounds
        WHERE auth.role() = 'service_role' OR candidate_id = auth.uid() OR auth.is_admin()
        """,
        "GRANT SELECT ON scenarios TO anon, authenticated, service_role",
        "GRANT SELECT ON sessions TO authenticated, service_role",
    ]

    /// The room and user rules beyond rows (`AccessPolicy.checkRoomUpdate`, `checkDelete`,
    /// `checkUpdate` of users), for the `authenticated` role.
    static let guardFunctions = [
        """
        CREATE OR REPLACE FUNCTION praxis.room_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            me uuid := auth.uid();
            changed text[];
            forbidden text[];
        BEGIN
            IF current_user <> 'authenticated' THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'DELETE' THEN
                IF praxis.round_live(OLD.id) THEN
                    RAISE EXCEPTION 'the room has a round in progress' USING ERRCODE = 'object_in_use';
                END IF;
                RETURN OLD;
            END IF;
            SELECT coalesce(array_agg(n.key), '{}') INTO changed
            FROM jsonb_each(to_jsonb(NEW)) n JOIN jsonb_each(to_jsonb(OLD)) o USING (key)
            WHERE n.value IS DISTINCT FROM o.value AND n.key <> 'updated_at';
            IF cardinality(changed) = 0 THEN RETURN NEW; END IF;
            IF OLD.stage = 3 THEN
                RAISE EXCEPTION 'the room is complete (stage 3) and read-only' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF 'guest_id' = ANY (changed) AND (OLD.stage <> 1 OR OLD.first_round_id IS NOT NULL OR praxis.round_live(OLD.id)) THEN
                RAISE EXCEPTION 'the guest seat is fixed once round 1 has started' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF OLD.host_id = me THEN
                SELECT coalesce(array_agg(c), '{}') INTO forbidden FROM unnest(changed) c
                WHERE c NOT IN ('datetime_utc', 'type', 'room_url', 'private', 'guest_id');
                IF cardinality(forbidden) > 0 THEN
                    RAISE EXCEPTION 'the host may not change % of a room', array_to_string(forbidden, ', ')
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                IF 'guest_id' = ANY (changed) AND NEW.guest_id IS NOT NULL THEN
                    RAISE EXCEPTION 'a host cannot seat a guest' USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END IF;
            IF changed <> ARRAY['guest_id'] THEN
                RAISE EXCEPTION 'only the host may change a room' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF OLD.guest_id IS NULL AND NEW.guest_id = me THEN
                RETURN NEW;
            END IF;
            IF OLD.guest_id = me AND NEW.guest_id IS NULL THEN
                -- The former guest may no longer see a private room, but an UPDATE's new row must
                -- pass the SELECT policy: this transaction may still see the room it gave back.
                PERFORM set_config('praxis.released_room', OLD.id::text, true);
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'the guest seat can be taken only when free, and only by the caller' USING ERRCODE = 'insufficient_privilege';
        END $$
        """,
        """
        CREATE OR REPLACE FUNCTION praxis.users_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_user = 'authenticated' AND NEW.email IS DISTINCT FROM OLD.email THEN
                RAISE EXCEPTION 'emails change through the auth API' USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$
        """,
    ]
}
