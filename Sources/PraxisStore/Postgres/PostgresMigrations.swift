/// The PostgreSQL schema's history, numbered as the SQLite one (`Migrations.swift`): v1..v8
/// here are the same steps in PostgreSQL's own types. A SQLite migration added later (v9
/// and on) needs its PostgreSQL twin here under the same number; until then the two
/// histories differ by that step.
///
/// Each migration runs once, in order, in its own transaction, holding
/// `pg_advisory_xact_lock(PostgresMigrations.lockKey)`; its number is then recorded in
/// `schema_migrations`. See ``PostgresDatabase/migrate()``.
enum PostgresMigrations {
    /// One numbered step: statements run in one transaction.
    struct Migration: Sendable {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// The advisory lock every migrator takes ("praxis" as a number): several processes
    /// migrating at once apply each step once, one after the other.
    static let lockKey: Int64 = 0x7072_6178_6973

    static let schemaMigrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    static var all: [Migration] {
        [
            Migration(version: 1, name: "v1: seed schemas", statements: PostgresSecurity.roles + v1SeedSchemas + PostgresSecurity.v1Policies),
            Migration(version: 2, name: "v2: auth sessions", statements: v2AuthSessions),
            Migration(version: 3, name: "v3: realtime change log", statements: v3RealtimeChanges),
            Migration(version: 4, name: "v4: room journal", statements: v4RoomJournal),
            Migration(version: 5, name: "v5: room events type index without turns", statements: v5RoomEventsTypeIndex),
            Migration(version: 6, name: "v6: realtime broadcast log", statements: v6RealtimeBroadcasts),
            Migration(version: 7, name: "v7: room journal user ids and case ids as columns", statements: v7RoomJournalColumns),
            Migration(version: 8, name: "v8: change log old records of updates as their changed columns", statements: v8ChangedColumns),
            Migration(version: 9, name: "v9: change log records refer to their rows' large values", statements: v9RecordReferences),
        ]
    }

    /// Shared trigger functions: `created_at` fixed, `updated_at` refreshed on every
    /// update that does not set it, physical deletes refused (soft deletes by status).
    static let triggerFunctions = [
        """
        CREATE OR REPLACE FUNCTION praxis_timestamps() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN
                RAISE EXCEPTION '%.created_at cannot be changed', TG_TABLE_NAME USING ERRCODE = 'check_violation';
            END IF;
            -- Nested, not AND: plpgsql may resolve NEW.updated_at even when the first test is false,
            -- and tables without the column (feedback_reports) use 'keep'.
            IF TG_ARGV[0] = 'touch' THEN
                IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
                    NEW.updated_at := now();
                END IF;
            END IF;
            RETURN NEW;
        END $$
        """,
        """
        CREATE OR REPLACE FUNCTION praxis_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are never deleted: %', TG_TABLE_NAME, TG_ARGV[0] USING ERRCODE = 'restrict_violation';
        END $$
        """,
        """
        CREATE OR REPLACE FUNCTION praxis_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% are append-only: never updated or deleted', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
        END $$
        """,
    ]

    static func timestamps(_ table: String, updatedAt: Bool = true) -> String {
        """
        CREATE TRIGGER \(table)_timestamps BEFORE UPDATE ON \(table)
        FOR EACH ROW EXECUTE FUNCTION praxis_timestamps('\(updatedAt ? "touch" : "keep")')
        """
    }

    static func noDelete(_ table: String, hint: String) -> String {
        """
        CREATE TRIGGER \(table)_no_delete BEFORE DELETE ON \(table)
        FOR EACH ROW EXECUTE FUNCTION praxis_no_delete('\(hint)')
        """
    }

    static let id = "id uuid PRIMARY KEY DEFAULT gen_random_uuid()"
    static let createdAt = "created_at timestamptz NOT NULL DEFAULT now()"
    static let updatedAt = "updated_at timestamptz NOT NULL DEFAULT now()"
}
