import Foundation
import PostgresNIO

extension StoreCopier {
    /// Reads every table of the target back and compares it with the snapshot row by row,
    /// matched by primary key, each value in one normalised form: timestamps as
    /// ``Timestamp`` text, booleans 0/1, uuids lowercase, JSON parsed (keys sorted), reals
    /// as numbers. The first difference fails, naming the table and the row's key.
    func verify(_ snapshot: SQLiteSnapshot, types: [String: [String: String]]) async throws {
        for table in snapshot.tables {
            let columnTypes = table.columns.map { types[table.name]?[$0] ?? "text" }
            let select = zip(table.columns, columnTypes).map { Self.readBack(SQLBuilder.quote($0), type: $1) }.joined(separator: ", ")
            let copied = try await database.ownerTextRows("SELECT \(select) FROM \(SQLBuilder.quote(table.name))")
            let keyIndexes = table.primaryKey.compactMap { table.columns.firstIndex(of: $0) }
            func normalised(_ row: [String?]) -> [String?] {
                zip(row, columnTypes).map { Self.normalised($0, type: $1) }
            }
            func key(_ row: [String?]) -> String {
                keyIndexes.map { "\(table.columns[$0])=\(row[$0] ?? "NULL")" }.joined(separator: ", ")
            }
            var target: [String: [String?]] = [:]
            for row in copied.map(normalised) { target[key(row)] = row }
            guard copied.count == table.rows.count, target.count == table.rows.count else {
                throw StoreCopyError("verification failed: \(table.name) has \(copied.count) rows in the target, \(table.rows.count) in the source")
            }
            for row in table.rows.map(normalised) {
                let rowKey = key(row)
                guard let other = target[rowKey] else {
                    throw StoreCopyError("verification failed: \(table.name) row (\(rowKey)) is missing in the target")
                }
                if let index = row.indices.first(where: { row[$0] != other[$0] }) {
                    throw StoreCopyError(
                        "verification failed: \(table.name) row (\(rowKey)) differs in \(table.columns[index]): "
                            + "source \(row[index] ?? "NULL"), target \(other[index] ?? "NULL")"
                    )
                }
            }
        }
    }

    /// A target column read as text in SQLite's shape.
    static func readBack(_ column: String, type: String) -> String {
        switch type {
        case "boolean": "\(column)::int::text"
        case "timestamp with time zone": PostgresDatabase.timestampText(column)
        default: "\(column)::text"
        }
    }

    /// One value of either side in the form both are compared in.
    static func normalised(_ value: String?, type: String) -> String? {
        guard let value else { return nil }
        switch type {
        case "uuid":
            return value.lowercased()
        case "boolean":
            return ["1", "t", "true"].contains(value.lowercased()) ? "1" : ["0", "f", "false"].contains(value.lowercased()) ? "0" : value
        case "jsonb", "json":
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed]),
                let data = try? JSONSerialization.data(withJSONObject: parsed, options: [.sortedKeys, .fragmentsAllowed])
            else { return value }
            return String(decoding: data, as: UTF8.self)
        case "double precision", "real", "numeric":
            return Double(value).map { "\($0)" } ?? value
        default:
            return value
        }
    }
}
