import Foundation
import GRDB

/// Every data table of a SQLite store as read in one read transaction: a consistent
/// snapshot, even of a file a running server is writing (WAL), opened read-only.
struct SQLiteSnapshot: Sendable {
    /// One table: its columns in order, its primary key columns, and every row as text
    /// (integers and reals in decimal, NULL as nil).
    struct Table: Sendable {
        var name: String
        var columns: [String]
        var primaryKey: [String]
        var rows: [[String?]]
    }

    /// The applied migrations' identifiers, oldest first.
    var migrations: [String]
    /// The tables in ``StoreCopier/copyOrder``.
    var tables: [Table]
    /// `sqlite_sequence`: the largest key an AUTOINCREMENT table ever gave, by table
    /// (`realtime_changes`), which may be above the largest kept once old rows are trimmed.
    var sequences: [String: Int64]

    /// Reads the store at `path` without writing to it.
    static func read(path: String) throws(StoreCopyError) -> SQLiteSnapshot {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreCopyError("no SQLite database at \(path)") }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.inDatabase { db in
                var snapshot: SQLiteSnapshot?
                try db.inTransaction(.deferred) {
                    snapshot = try read(db)
                    return .commit
                }
                return snapshot!
            }
        } catch let error as StoreCopyError {
            throw error
        } catch {
            throw StoreCopyError("cannot read \(path): \(error)")
        }
    }

    private static func read(_ db: Database) throws -> SQLiteSnapshot {
        let migrations = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        let names = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'"
        )
        let unknown = Set(names).subtracting(StoreCopier.copyOrder).sorted()
        guard unknown.isEmpty else {
            throw StoreCopyError("the source has tables praxis copy does not know: \(unknown.joined(separator: ", "))")
        }
        var tables: [Table] = []
        for name in StoreCopier.copyOrder where names.contains(name) {
            tables.append(try table(name, db))
        }
        var sequences: [String: Int64] = [:]
        if (try Bool.fetchOne(db, sql: "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'") ?? false) {
            for row in try Row.fetchAll(db, sql: "SELECT name, seq FROM sqlite_sequence") {
                sequences[row["name"]] = row["seq"]
            }
        }
        return SQLiteSnapshot(migrations: migrations, tables: tables, sequences: sequences)
    }

    private static func table(_ name: String, _ db: Database) throws -> Table {
        let info = try Row.fetchAll(db, sql: "PRAGMA table_info(\(SQLBuilder.quote(name)))")
        let columns: [String] = info.map { $0["name"] }
        let primaryKey = info.filter { ($0["pk"] as Int) > 0 }.sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }.map { $0["name"] as String }
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(SQLBuilder.quote(name))").map { row in
            try row.databaseValues.map { value throws -> String? in
                switch value.storage {
                case .null: return nil
                case .int64(let number): return String(number)
                case .double(let number): return "\(number)"
                case .string(let text): return text
                case .blob: throw StoreCopyError("\(name) holds a blob, which no Praxis column has")
                }
            }
        }
        return Table(name: name, columns: columns, primaryKey: primaryKey.isEmpty ? columns : primaryKey, rows: rows)
    }
}
