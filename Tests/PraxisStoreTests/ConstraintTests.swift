import Foundation
import GRDB
import Testing

@testable import PraxisStore

@Suite("Store: constraints the seeds demand")
struct ConstraintTests {
    @Test func emailIsUniqueRegardlessOfCase() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        _ = try store.pool.write { db in try insertUser(db, email: "Asha@Example.test") }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try insertUser(db, email: "asha@example.TEST") }
        }
        let count = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM users") }
        #expect(count == 1)
    }

    @Test(arguments: [
        ("case_briefs", "patient_persona"), ("practice_rounds", "transcript"), ("user_progress_snapshots", "strengths_topics"),
    ])
    func invalidJSONIsRefused(table: String, column: String) throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let error = #expect(throws: DatabaseError.self) {
            try store.pool.write { db in
                let user = try insertUser(db, email: "a@b.test")
                switch table {
                case "case_briefs":
                    try db.execute(sql: """
                        INSERT INTO case_briefs (category, condition, case_name, case_name_internal, domain, candidate_brief,
                            actor_brief, target_profession, clinical_area, difficulty_level, patient_persona)
                        VALUES ('c', 'c', 'n', 'i', 'Clinical', 'cb', 'ab', 'medicine', 'GP', 'easy', '{not json')
                        """)
                case "practice_rounds":
                    let room = newID()
                    try db.execute(sql: "INSERT INTO practice_rooms (id, host_id, datetime_utc, type, room_url) VALUES (?, ?, '2026-01-01T00:00:00.000000Z', 'Clinical', 'r1')", arguments: [room, user])
                    try db.execute(sql: "INSERT INTO practice_rounds (room_id, round, candidate_id, transcript) VALUES (?, 1, ?, '[1,')", arguments: [room, user])
                default:
                    try db.execute(sql: "INSERT INTO user_progress_snapshots (user_id, snapshot_date, average_score, sessions_completed_count, strengths_topics) VALUES (?, '2026-01-01', 1, 1, 'nope')", arguments: [user])
                }
            }
        }
        #expect(error?.resultCode == .SQLITE_CONSTRAINT)
        #expect(error?.message?.contains(column) == true)
    }

    @Test func foreignKeysRestrictDeletingAReferencedProfile() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let host = try store.pool.write { db -> String in
            let host = try insertUser(db, email: "host@b.test")
            try db.execute(sql: "INSERT INTO practice_rooms (host_id, datetime_utc, type, room_url) VALUES (?, '2026-01-01T00:00:00.000000Z', 'Clinical', 'r1')", arguments: [host])
            return host
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "DELETE FROM profiles WHERE user_id = ?", arguments: [host]) }
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in
                try db.execute(sql: "INSERT INTO practice_rooms (host_id, datetime_utc, type, room_url) VALUES (?, '2026-01-01T00:00:00.000000Z', 'Clinical', 'r2')", arguments: [newID()])
            }
        }
    }

    @Test func timestampsAreMaintained() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let id = try store.pool.write { db in try insertUser(db, email: "t@b.test") }
        let (created, updated) = try store.pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT created_at, updated_at FROM users WHERE id = ?", arguments: [id])!
            return (row["created_at"] as String, row["updated_at"] as String)
        }
        #expect(created.hasSuffix("Z") && created.count == "2026-11-23T19:50:12.123456Z".count)
        // Wait for the clock to move on (millisecond resolution in SQL) without sleeping blindly.
        let deadline = Date().addingTimeInterval(2)
        while PraxisDomainTimestampNow() <= updated, Date() < deadline {}
        try store.pool.write { db in try db.execute(sql: "UPDATE users SET full_name = 'New' WHERE id = ?", arguments: [id]) }
        let after = try store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT created_at, updated_at FROM users WHERE id = ?", arguments: [id])!
        }
        #expect(after["created_at"] as String == created)
        #expect(after["updated_at"] as String > updated)
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "UPDATE users SET created_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?", arguments: [id]) }
        }
    }

    @Test func idsAreUUIDv4() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        // SQLite's own default generates a v4 id.
        let generated = try store.pool.write { db -> String in
            try db.execute(sql: "INSERT INTO users (email, hashed_password) VALUES ('g@b.test', 'x')")
            return try String.fetchOne(db, sql: "SELECT id FROM users WHERE email = 'g@b.test'")!
        }
        #expect(UUID(uuidString: generated) != nil)
        #expect(Array(generated)[14] == "4")
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "INSERT INTO users (id, email, hashed_password) VALUES ('not-a-uuid', 'n@b.test', 'x')") }
        }
    }

    @Test func coreEntitiesAreSoftDeletedOnly() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let id = try store.pool.write { db in try insertUser(db, email: "s@b.test", profile: false) }
        let error = #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [id]) }
        }
        #expect(error?.message?.contains("never deleted") == true)
        try store.pool.write { db in try db.execute(sql: "UPDATE users SET status = 'deleted' WHERE id = ?", arguments: [id]) }
    }

    @Test func auditLogsAreAppendOnly() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        try store.pool.write { db in
            let admin = try insertUser(db, email: "admin@b.test", role: "admin")
            try db.execute(sql: "INSERT INTO audit_logs (admin_id, action, ip_address, details) VALUES (?, 'case.create', '127.0.0.1', '{}')", arguments: [admin])
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "UPDATE audit_logs SET action = 'x'") }
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "DELETE FROM audit_logs") }
        }
        #expect(try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_logs") } == 1)
    }

    @Test func roleIsUserOrAdmin() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try insertUser(db, email: "r@b.test", role: "superuser") }
        }
    }

    @Test func aHostCannotBeTheirOwnGuest() throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in
                let host = try insertUser(db, email: "h@b.test")
                try db.execute(sql: "INSERT INTO practice_rooms (host_id, guest_id, datetime_utc, type, room_url) VALUES (?, ?, '2026-01-01T00:00:00.000000Z', 'Clinical', 'r')", arguments: [host, host])
            }
        }
    }
}

import PraxisDomain

func PraxisDomainTimestampNow() -> String { Timestamp.now() }
