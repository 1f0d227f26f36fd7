/// The peer-practice seed's row-level security, in the database itself (as Supabase runs
/// it): roles, `auth.uid()` and friends reading the request's claims, grants, and policies
/// that agree with `AccessPolicy` (PraxisDomain), which the server keeps checking as well.
///
/// Roles (cluster-wide, created once; a second database reuses them):
/// - `anon`, `authenticated`, `service_role`: NOLOGIN; an API request runs under one of
///   them with `SET LOCAL ROLE` and its claims in `request.jwt.claims`
///   (``PostgresDatabase/withCaller(_:roomLink:_:)``). `service_role` passes every policy
///   through explicit `USING (true)` policies (not BYPASSRLS, which needs a superuser).
/// - `praxis_server`: LOGIN NOINHERIT, member of the three: the server's own login. It owns
///   nothing, reaches the server-internal tables by grant, and the API tables only by
///   switching role. No password is set here (`ALTER ROLE praxis_server PASSWORD …`).
/// The migrating user (the URL's) owns the schema and is made a member of the three too.
enum PostgresSecurity {
    static let apiRoles = ["anon", "authenticated", "service_role"]

    /// Tables the data API serves (RLS policies below) and the views over them.
    static let apiTables = [
        "users", "subscriptions", "profiles", "case_briefs", "practice_rooms", "practice_rounds",
        "feedback_reports", "user_progress_snapshots", "audit_logs",
    ]

    /// Columns of `users` the API roles may read: all but `hashed_password` (as the catalog).
    static let userColumnsV1 = "id, email, full_name, role, profession, is_email_verified, last_login_at, status, created_at, updated_at"

    static var roles: [String] {
        var s: [String] = []
        for role in apiRoles {
            s.append(createRole(role, options: "NOLOGIN NOINHERIT"))
        }
        s.append(createRole("praxis_server", options: "LOGIN NOINHERIT"))
        s.append("GRANT anon, authenticated, service_role TO praxis_server")
        s.append("DO $$ BEGIN EXECUTE format('GRANT anon, authenticated, service_role TO %I', current_user); END $$")
        s.append("CREATE SCHEMA IF NOT EXISTS auth")
        s.append("CREATE SCHEMA IF NOT EXISTS praxis")
        s += authFunctions
        return s
    }

    /// `CREATE ROLE` unless it exists; safe against another database migrating at once.
    static func createRole(_ name: String, options: String) -> String {
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(name)') THEN
                CREATE ROLE \(name) \(options);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$
        """
    }

    /// Supabase's `auth.uid()`, `auth.role()`, `auth.jwt()`: the request's claims from the
    /// transaction-local `request.jwt.claims`.
    static let authFunctions = [
        """
        CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
            SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                            nullif(current_setting('request.jwt.claims', true), ''))::jsonb
        $$
        """,
        """
        CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
            SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                            (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
        $$
        """,
        """
        CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
            SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                            (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
        $$
        """,
    ]

    /// A server-internal table: RLS on with no policy, no grant to the API roles.
    static func internalTables(_ tables: [String]) -> [String] {
        tables.flatMap { table in
            [
                "ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY",
                "REVOKE ALL ON \(table) FROM PUBLIC",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON \(table) TO praxis_server",
                "CREATE POLICY \(table)_server ON \(table) TO praxis_server USING (true) WITH CHECK (true)",
            ]
        }
    }

    /// Helpers the policies call. SECURITY DEFINER: they read other tables as the owner, so
    /// a policy on one table does not recurse into another's.
    static let helperFunctions = [
        """
        CREATE OR REPLACE FUNCTION auth.is_admin() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = public, pg_temp AS $$
            SELECT EXISTS (SELECT 1 FROM users WHERE id = auth.uid() AND role = 'admin')
        $$
        """,
        """
        CREATE OR REPLACE FUNCTION praxis.room_link() RETURNS text LANGUAGE sql STABLE AS $$
            SELECT nullif(current_setting('praxis.room_link', true), '')
        $$
        """,
        """
        CREATE OR REPLACE FUNCTION praxis.released_room() RETURNS text LANGUAGE sql VOLATILE AS $$
            SELECT nullif(current_setting('praxis.released_room', true), '')
        $$
        """,
        """
        CREATE OR REPLACE FUNCTION praxis.is_room_participant(p_room uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = public, pg_temp AS $$
            SELECT EXISTS (SELECT 1 FROM practice_rooms r WHERE r.id = p_room AND (r.host_id = auth.uid() OR r.guest_id = auth.uid()))
        $$
        """,
        """
        CREATE OR REPLACE FUNCTION praxis.is_round_candidate(p_round uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = public, pg_temp AS $$
            SELECT EXISTS (SELECT 1 FROM practice_rounds r WHERE r.id = p_round AND r.candidate_id = auth.uid())
        $$
        """,
        """
        CREATE OR REPLACE FUNCTION praxis.round_live(p_room uuid) RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER
        SET search_path = public, pg_temp AS $$
        BEGIN
            IF to_regclass('public.room_runtime') IS NULL THEN RETURN false; END IF;
            RETURN EXISTS (SELECT 1 FROM room_runtime WHERE room_id = p_room AND phase IN ('preparation', 'roleplay'));
        END $$
        """,
    ]
}
