import Foundation
import GRDB
import Testing

@testable import PraxisStore

/// A fresh database file in a temporary directory, removed afterwards.
struct TemporaryDatabase: ~Copyable {
    let directory: URL
    var path: String { directory.appendingPathComponent("praxis.sqlite").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("praxis-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func open() throws -> Store { try Store.open(StoreConfiguration(path: path)) }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

func newID() -> String { UUID().uuidString.lowercased() }

/// Inserts a user (and their profile) and returns the id.
@discardableResult
func insertUser(_ db: Database, email: String, role: String = "user", profile: Bool = true) throws -> String {
    let id = newID()
    try db.execute(sql: "INSERT INTO users (id, email, hashed_password, role) VALUES (?, ?, 'x', ?)", arguments: [id, email, role])
    if profile {
        try db.execute(
            sql: "INSERT INTO profiles (user_id, first_name, last_name, training_level) VALUES (?, 'A', 'B', 'FY1')",
            arguments: [id]
        )
    }
    return id
}

@Suite("Store: migrations")
struct MigrationTests {
    static let seedTables = [
        "users", "subscriptions", "scenarios", "sessions", "feedback_reports", "user_progress_snapshots",
        "audit_logs", "profiles", "practice_rooms", "practice_rounds", "case_briefs",
    ]

    @Test func migratesFromEmptyAndCreatesEverySeedTable() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let names = try store.pool.read { db in
            try String.fetchSet(db, sql: "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        }
        for table in Self.seedTables {
            #expect(names.contains(table), "missing \(table)")
        }
        #expect(try store.appliedMigrations().isEmpty == false)
    }

    /// GRDB turns WAL on with synchronous=NORMAL; the store must set FULL on the writer
    /// afterwards, or an acknowledged commit could be lost with the power.
    @Test func writerFsyncsEveryCommitUnlessToldOtherwise() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        #expect(try store.writerSynchronous() == 2)
        let mode = try store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        try store.close()
        let normal = try Store.open(StoreConfiguration(path: temp.path, synchronousFull: false))
        #expect(try normal.writerSynchronous() == 1)
    }

    @Test func rerunningMigrationsChangesNothing() throws {
        let temp = try TemporaryDatabase()
        let first = try temp.open()
        let applied = try first.appliedMigrations()
        let schema = try first.pool.read { db in try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name") }
        try first.migrate()
        try first.close()
        let second = try temp.open()
        #expect(try second.appliedMigrations() == applied)
        #expect(try second.pool.read { db in try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name") } == schema)
    }

    @Test func everySeedColumnExistsUnderItsSeedName() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let expected: [String: [String]] = [
            "users": ["id", "email", "hashed_password", "full_name", "role", "profession", "is_email_verified", "last_login_at", "created_at", "updated_at"],
            "subscriptions": ["id", "user_id", "plan_name", "status", "stripe_customer_id", "current_period_start", "current_period_end", "created_at", "updated_at"],
            "scenarios": ["id", "title", "description", "patient_persona", "clinical_area", "target_profession", "difficulty_level", "is_ai_generated", "created_by_admin_id", "created_at", "status"],
            "sessions": ["id", "user_id", "scenario_id", "status", "duration_seconds", "created_at"],
            "feedback_reports": ["id", "session_id", "transcript", "ai_summary", "score_raw", "strengths", "areas_for_improvement", "created_at"],
            "user_progress_snapshots": ["id", "user_id", "snapshot_date", "average_score", "sessions_completed_count", "strengths_topics", "created_at"],
            "audit_logs": ["id", "admin_id", "action", "target_entity_id", "details", "ip_address", "timestamp"],
            "profiles": ["user_id", "first_name", "last_name", "training_level", "avatar"],
            "practice_rooms": ["id", "host_id", "guest_id", "datetime_utc", "first_round_id", "second_round_id", "type", "room_url", "stage", "private", "created_at"],
            "practice_rounds": ["id", "room_id", "candidate_id", "case_briefs_id", "transcript", "assessment"],
            "case_briefs": [
                "id", "category", "condition", "case_name", "case_name_internal", "domain", "candidate_brief", "actor_brief",
                "target_profession", "clinical_area", "difficulty_level", "patient_persona", "status", "is_ai_generated", "created_by_admin_id",
            ],
        ]
        try store.pool.read { db in
            for (table, columns) in expected {
                let actual = Set(try db.columns(in: table).map(\.name))
                for column in columns {
                    #expect(actual.contains(column), "\(table).\(column) missing")
                }
            }
        }
    }

    @Test func databaseIsInWALWithForeignKeys() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let (mode, foreignKeys) = try store.pool.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA foreign_keys"))
        }
        #expect(mode == "wal")
        #expect(foreignKeys == 1)
    }
}

@Suite("Store: opening files")
struct OpeningTests {
    @Test func refusesAFileThatIsNotADatabaseAndLeavesItUntouched() throws {
        let temp = try TemporaryDatabase()
        let content = Data(String(repeating: "not a database\n", count: 64).utf8)
        #expect(FileManager.default.createFile(atPath: temp.path, contents: content))
        #expect(throws: StoreError.notADatabase(path: temp.path)) { try temp.open() }
        #expect(FileManager.default.contents(atPath: temp.path) == content)
        #expect(!FileManager.default.fileExists(atPath: temp.path + "-wal"))
    }

    @Test func unwritablePathIsAClearError() throws {
        #expect(throws: StoreError.self) {
            try Store.open(StoreConfiguration(path: "/proc/praxis-no-such-dir/praxis.sqlite"))
        }
    }

    @Test func jwtSecretIsGeneratedOnceAndKept() throws {
        let temp = try TemporaryDatabase()
        let first = try temp.open().jwtSecret()
        #expect(first.count >= 40)
        #expect(try temp.open().jwtSecret() == first)
        #expect(try temp.open().jwtSecret(provided: "given") == "given")
    }
}
