import GRDB
package import PraxisDomain

/// The related-row facts the access rules consult when the realtime feed filters changes
/// in memory (room participants, round candidates).
extension Store {
    /// Reads the participants of `keys.rooms` and the candidates of `keys.rounds` in one
    /// read transaction on a reader of the pool (never the caller's thread). Rows that do
    /// not exist are absent from the result.
    package func relatedRows(_ keys: RelationKeys) async throws -> RowRelations {
        if keys.isEmpty { return .none }
        return try await pool.read { db in try Self.relatedRows(db, keys: keys) }
    }

    /// Ids per `IN (…)` list: well under SQLite's bound-parameter limit.
    static let relationChunk = 500

    static func relatedRows(_ db: Database, keys: RelationKeys) throws -> RowRelations {
        var relations = RowRelations()
        for ids in chunks(keys.rooms) {
            let rows = try GRDB.Row.fetchAll(
                db, sql: "SELECT id, host_id, guest_id FROM practice_rooms WHERE id IN (\(placeholders(ids.count)))", arguments: StatementArguments(ids)
            )
            for row in rows { relations.rooms[row["id"]] = RowRelations.Participants(host: row["host_id"], guest: row["guest_id"]) }
        }
        for ids in chunks(keys.rounds) {
            let rows = try GRDB.Row.fetchAll(
                db, sql: "SELECT id, candidate_id FROM practice_rounds WHERE id IN (\(placeholders(ids.count)))", arguments: StatementArguments(ids)
            )
            for row in rows {
                if let candidate: String = row["candidate_id"] { relations.roundCandidates[row["id"]] = candidate }
            }
        }
        return relations
    }

    private static func chunks(_ ids: Set<String>) -> [[String]] {
        let sorted = ids.sorted()
        return stride(from: 0, to: sorted.count, by: relationChunk).map { Array(sorted[$0..<min($0 + relationChunk, sorted.count)]) }
    }

    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}
