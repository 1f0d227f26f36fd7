import Foundation
import PraxisDomain

/// A room's seats for the realtime feed (``RealtimeStore/roomSeat(id:)``; the rooms'
/// ``RoomStore`` asks the same).
extension PostgresDatabase {
    package func roomSeat(id: String) async throws -> RoomSeat? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await readSnapshot { connection, logger in
            let rows = try await Self.collect(connection.query(
                "SELECT host_id::text, guest_id::text FROM practice_rooms WHERE id = \(id)::uuid", logger: logger
            ))
            guard let row = rows.first, let host = row[0] else { return nil }
            return RoomSeat(hostID: host, guestID: row[1], asOf: try await Self.changeOffset(on: connection, logger: logger))
        }
    }
}
