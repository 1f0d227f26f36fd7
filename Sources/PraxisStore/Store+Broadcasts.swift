import GRDB

/// One logged broadcast of a private channel: what broadcast replay sends again.
public struct BroadcastRecord: Sendable, Equatable {
    /// Given by the realtime hub, increasing in fan-out order.
    public var id: Int64
    /// The socket topic (`realtime:<name>`).
    public var topic: String
    /// The broadcast message's payload JSON, `{"event", "payload", "type"}`.
    public var payload: String
    /// When it was sent, in Unix milliseconds.
    public var sentAt: Int64

    public init(id: Int64, topic: String, payload: String, sentAt: Int64) {
        self.id = id
        self.topic = topic
        self.payload = payload
        self.sentAt = sentAt
    }
}

extension Store {
    /// The highest logged broadcast id (0 when none): the hub continues after it.
    public func lastBroadcastID() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM realtime_broadcasts") ?? 0 }
    }

    /// Appends broadcasts (one transaction) and keeps only the newest `retention` of them.
    public func appendBroadcasts(_ records: [BroadcastRecord], retention: Int) async throws {
        guard let last = records.map(\.id).max() else { return }
        try await pool.write { db in
            for record in records {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO realtime_broadcasts (id, topic, payload, sent_at) VALUES (?, ?, ?, ?)",
                    arguments: [record.id, record.topic, record.payload, record.sentAt]
                )
            }
            try db.execute(sql: "DELETE FROM realtime_broadcasts WHERE id <= ?", arguments: [last - Int64(retention)])
        }
    }

    /// The newest `limit` broadcasts of `topic` sent at or after `since` (Unix ms) with an id
    /// up to `upTo`, oldest first.
    public func broadcasts(topic: String, since: Int64, upTo: Int64, limit: Int) async throws -> [BroadcastRecord] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, topic, payload, sent_at FROM realtime_broadcasts
                    WHERE topic = ? AND id <= ? AND sent_at >= ? ORDER BY id DESC LIMIT ?
                    """,
                arguments: [topic, upTo, since, limit]
            )
            return rows.reversed().map { BroadcastRecord(id: $0["id"], topic: $0["topic"], payload: $0["payload"], sentAt: $0["sent_at"]) }
        }
    }
}
