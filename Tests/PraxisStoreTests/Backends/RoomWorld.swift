import Foundation
import GRDB
import Logging
import PraxisDomain
import Testing

@testable import PraxisStore

/// What the room suites reach a backend through: the store boundary and the rooms' reads.
typealias RoomBoundary = StoreBackend.Boundary & RoomStore

/// A room journal whose transactions the tests count.
protocol CountedJournal: RoomJournaling {
    var counts: (batches: Int, entries: Int) { get }
}

extension RoomJournal: CountedJournal {}
extension PostgresRoomJournal: CountedJournal {}

/// A fresh database of one backend for the room suites: the boundary, its journal, and
/// plain SQL for fixtures and checks. The SQL given is written to run on both (literal
/// values in quotes, `CAST(… AS TEXT)` for every column read, `"offset"` quoted).
struct RoomWorld: Sendable {
    let backend: StoreBackend
    let store: any RoomBoundary
    let sqlite: Store?
    let postgres: PostgresDatabase?

    /// This backend's journal.
    func journal(maxBatch: Int = 1024, maxPending: Int = 20_000) -> any CountedJournal {
        if let sqlite { return RoomJournal(store: sqlite, maxBatch: maxBatch, maxPending: maxPending) }
        return PostgresRoomJournal(database: postgres!, maxBatch: maxBatch, maxPending: maxPending)
    }

    /// Runs `sql` (statements without results) in one transaction.
    func execute(_ sql: String) async throws {
        if let sqlite {
            try await sqlite.pool.write { db in try db.execute(sql: sql) }
        } else {
            _ = try await postgres!.ownerTextRows(sql)
        }
    }

    /// The rows of `sql`, every column as text (cast them: `CAST(x AS TEXT)`).
    func texts(_ sql: String) async throws -> [[String?]] {
        if let sqlite {
            return try await sqlite.pool.read { db in
                try GRDB.Row.fetchAll(db, sql: sql).map { row in
                    (0..<row.count).map { index -> String? in
                        let value: DatabaseValue = row[index]
                        switch value.storage {
                        case .null: return nil
                        case .int64(let number): return String(number)
                        case .double(let number): return String(number)
                        case .string(let text): return text
                        case .blob(let data): return String(decoding: data, as: UTF8.self)
                        }
                    }
                }
            }
        }
        return try await postgres!.ownerTextRows(sql)
    }

    /// The first column of the first row of `sql`.
    func text(_ sql: String) async throws -> String? {
        try await texts(sql).first?.first ?? nil
    }

    /// `SELECT count(*) FROM <rest>` as a number.
    func count(_ rest: String) async throws -> Int {
        Int(try await text("SELECT CAST(count(*) AS TEXT) FROM \(rest)") ?? "") ?? -1
    }

    /// The row of `table` with id `id` in SQLite's shape (as the change log records it).
    func storedRow(_ table: String, id: String) async throws -> PraxisDomain.Row? {
        let schema = try #require(Catalog.table(table))
        if let sqlite {
            return try await sqlite.pool.read { db in try Store.storedRow(db, table: schema, key: .text(id)) }
        }
        let database = postgres!
        return try await database.transaction { connection in
            try await PostgresDatabase.storedRow(schema, key: .text(id), on: connection, logger: database.logger)
        }
    }

    /// `saveAssessment` of this backend (SQLite's `Store`, or `PostgresDatabase`: not on the
    /// rooms' boundary, which stores assessments through its journal).
    func saveAssessment(roundID: String, assessmentJSON: String, report: FeedbackReportRecord) async throws -> Bool {
        if let sqlite { return try await sqlite.saveAssessment(roundID: roundID, assessmentJSON: assessmentJSON, report: report) }
        return try await postgres!.saveAssessment(roundID: roundID, assessmentJSON: assessmentJSON, report: report)
    }

    /// Holds the journal's writes back until `open()`: the way to make entries queue up.
    func holdWriter() async throws -> any HeldWriter {
        if let sqlite {
            let gate = WriterGate()
            await gate.hold(sqlite)
            return gate
        }
        let gate = PostgresWriterGate()
        try await gate.hold(postgres!)
        return gate
    }
}

/// Writes held back by a test, until `open()`.
protocol HeldWriter: Sendable {
    func open()
}

extension WriterGate: HeldWriter {}

/// Holds `room_events` locked (EXCLUSIVE: reads go on, inserts wait) in a transaction that
/// ends on `open()`, so the journal's transaction waits as SQLite's waits for the writer.
final class PostgresWriterGate: HeldWriter {
    private let release = AsyncStream<Void>.makeStream()

    func hold(_ database: PostgresDatabase) async throws {
        let held = AsyncStream<Void>.makeStream()
        let release = self.release.stream
        Task {
            try await database.transaction { connection in
                try await PostgresDatabase.run("LOCK TABLE room_events IN EXCLUSIVE MODE", on: connection, logger: database.logger)
                held.continuation.yield()
                for await _ in release { break }
            }
        }
        for await _ in held.stream { break }
    }

    func open() {
        release.continuation.yield()
    }
}

extension StoreBackend {
    /// A fresh, migrated database of this backend as a ``RoomWorld``, closed after `body`.
    func withRooms<T>(_ body: (RoomWorld) async throws -> T) async throws -> T {
        try await withStore { store in
            let rooms = try #require(store as? any RoomBoundary)
            return try await body(RoomWorld(backend: self, store: rooms, sqlite: store as? Store, postgres: store as? PostgresDatabase))
        }
    }
}

/// Whether two texts hold the same JSON (PostgreSQL's jsonb keeps its own spacing and key order).
func sameJSON(_ left: String?, _ right: String?) -> Bool {
    guard let left, let right else { return left == nil && right == nil }
    let decoder = JSONDecoder()
    guard let a = try? decoder.decode(JSONValue.self, from: Data(left.utf8)),
        let b = try? decoder.decode(JSONValue.self, from: Data(right.utf8))
    else { return false }
    return a == b
}

extension PraxisDomain.Value {
    /// The text of a text value (nil otherwise).
    var textValue: String? {
        if case .text(let text) = self { return text }
        return nil
    }
}

extension RoomFixture {
    /// Users, published cases and a draft case, through plain SQL (either backend).
    static func make(_ world: RoomWorld) async throws -> RoomFixture {
        let (host, guest) = (newID(), newID())
        let (case1, case2, draft) = (newID(), newID(), newID())
        var sql = ""
        for (id, email) in [(host, "host-\(host)@b.test"), (guest, "guest-\(guest)@b.test")] {
            sql += "INSERT INTO users (id, email, hashed_password, role) VALUES ('\(id)', '\(email)', 'x', 'user');\n"
            sql += "INSERT INTO profiles (user_id, first_name, last_name, training_level) VALUES ('\(id)', 'A', 'B', 'FY1');\n"
        }
        for (id, name, status) in [(case1, "Chest pain", "published"), (case2, "Asthma review", "published"), (draft, "Draft case", "draft")] {
            sql += """
                INSERT INTO case_briefs (id, category, condition, case_name, case_name_internal, domain, candidate_brief,
                    actor_brief, target_profession, clinical_area, difficulty_level, status)
                VALUES ('\(id)', 'cat', 'cond', '\(name)', '\(name) \(id)', 'Clinical', 'candidate brief of \(name)', 'actor brief of \(name)',
                    'medicine', 'GP', 'medium', '\(status)');

                """
        }
        for statement in sql.split(separator: ";\n") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            try await world.execute(String(statement))
        }
        return RoomFixture(host: host, guest: guest, case1: case1, case2: case2, draftCase: draft)
    }

    /// A room hosted by the host (with the guest seated unless told otherwise), on either backend.
    @discardableResult
    func room(_ world: RoomWorld, at scheduled: String = RoomFixture.scheduled, withGuest: Bool = true, stage: Int = 1) async throws -> String {
        let id = newID()
        try await world.execute("""
            INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, stage)
            VALUES ('\(id)', '\(host)', \(withGuest ? "'\(guest)'" : "NULL"), '\(scheduled)', 'Clinical', 'https://rooms.test/\(id)', \(stage))
            """)
        return id
    }
}
