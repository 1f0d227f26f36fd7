import Logging
import PostgresNIO
import PraxisDomain

/// What the room engine's shell reads on PostgreSQL (``RoomStore``), as SQLite's
/// `Store+Rooms` does: the same records from the same columns. Each call is one read-only
/// REPEATABLE READ transaction (one snapshot, as SQLite's read transactions), run as the
/// connecting user. Ids that are not UUIDs name no row (nil or empty, never an error).
/// Timestamps come back as ``Timestamp`` text, JSON columns as their (jsonb) text.
extension PostgresDatabase: RoomStore {
    /// The `room_events` columns ``eventRecord(_:)`` reads, in its order.
    static let eventColumns = """
        room_events."offset"::text, room_events.type, room_events.round::text, room_events.client_id, room_events.seq::text, \
        room_events.payload::text, \(timestampText("room_events.at")), room_events.user_id
        """

    package func loadRoom(id: String, eventLimit: Int, commandLimit: Int) async throws -> LoadedRoom? {
        guard Self.isUUID(id) else { return nil }
        return try await readSnapshot { connection, logger in
            try await Self.loadRoom(id: id, eventLimit: eventLimit, commandLimit: commandLimit, on: connection, logger: logger)
        }
    }

    static func loadRoom(id: String, eventLimit: Int, commandLimit: Int, on connection: PostgresConnection, logger: Logger) async throws -> LoadedRoom? {
        let found = try await rows(
            """
            SELECT r.host_id::text, r.guest_id::text, r.type, \(unescaped: timestampText("r.datetime_utc")), r.stage::text,
                r.first_round_id::text, r.second_round_id::text, rt.state::text, rt.round1_case_id::text, rt.round2_case_id::text
            FROM practice_rooms r LEFT JOIN room_runtime rt ON rt.room_id = r.id WHERE r.id = \(id)::uuid
            """,
            on: connection, logger: logger
        )
        guard let row = found.first, row.count == 10, let host = row[0], let stage = row[4].flatMap({ Int($0) }) else { return nil }
        let recent = try await events(
            "SELECT \(unescaped: eventColumns) FROM room_events WHERE room_id = \(id)::uuid ORDER BY room_events.\"offset\" DESC LIMIT \(eventLimit)",
            on: connection, logger: logger
        )
        let marks = try await rows(
            """
            SELECT (SELECT coalesce(max("offset"), 0) FROM room_events WHERE room_id = \(id)::uuid)::text,
                (SELECT coalesce(max(seq), 0) FROM room_events WHERE room_id = \(id)::uuid)::text,
                (SELECT coalesce(max("offset"), 0) FROM room_events
                 WHERE room_id = \(id)::uuid AND type IN ('round_ended', 'round_cancelled'))::text
            """,
            on: connection, logger: logger
        ).first ?? []
        func mark(_ index: Int) -> Int64 { marks.count > index ? marks[index].flatMap { Int64($0) } ?? 0 : 0 }
        var cases: [String: CaseBrief] = [:]
        for caseID in [row[8], row[9]].compactMap({ $0 }) {
            if let brief = try await caseBrief(id: caseID, publishedOnly: false, on: connection, logger: logger) { cases[caseID] = brief }
        }
        let presence = try await roomPresence(id: id, on: connection, logger: logger)
        var room = LoadedRoom(
            id: id, hostID: host, guestID: row[1], type: row[2] ?? "", datetimeUTC: row[3] ?? "", stage: stage,
            roundIDs: [row[5], row[6]], stateJSON: row[7], recentEvents: recent.reversed(), latestOffset: mark(0),
            currentTurns: try await currentTurns(id: id, stage: stage, on: connection, logger: logger), maxSeq: Int(mark(1)), cases: cases,
            seenSinceScheduled: presence.seen, noShows: presence.noShows
        )
        room.commands = try await rows(
            """
            SELECT user_id, client_id, fingerprint, reply::text FROM room_commands WHERE room_id = \(id)::uuid
            ORDER BY room_commands.at DESC LIMIT \(commandLimit)
            """,
            on: connection, logger: logger
        ).reversed().compactMap { row in
            guard row.count == 4, let user = row[0], let client = row[1], let fingerprint = row[2], let reply = row[3] else { return nil }
            return RoomCommandRecord(userID: user, clientID: client, fingerprint: fingerprint, replyJSON: reply)
        }
        room.seatAsOf = try await changeOffset(on: connection, logger: logger)
        room.transcriptFrom = mark(2)
        return room
    }

    /// The current round's turns, in seq order (after the room's last `round_cancelled`, as
    /// SQLite's `Store.currentTurns`); none once the room is complete.
    static func currentTurns(id: String, stage: Int, on connection: PostgresConnection, logger: Logger) async throws -> [RoomEventRecord] {
        guard stage < 3 else { return [] }
        return try await events(
            """
            SELECT \(unescaped: eventColumns) FROM room_events WHERE room_id = \(id)::uuid AND type = 'turn' AND round = \(stage)
            AND "offset" > coalesce((SELECT max(c."offset") FROM room_events c WHERE c.room_id = \(id)::uuid AND c.type = 'round_cancelled'), 0)
            ORDER BY room_events.seq
            """,
            on: connection, logger: logger
        )
    }

    /// Users with a presence event at or after the room's scheduled time, and users recorded
    /// as no-shows (by the journal's `user_id` column).
    static func roomPresence(id: String, on connection: PostgresConnection, logger: Logger) async throws -> (seen: Set<String>, noShows: Set<String>) {
        let found = try await rows(
            """
            SELECT DISTINCT e.type, e.user_id FROM room_events e WHERE e.room_id = \(id)::uuid AND e.user_id IS NOT NULL
            AND (e.type = 'no_show' OR (e.type = 'presence' AND e.at >= (SELECT datetime_utc FROM practice_rooms WHERE id = \(id)::uuid)))
            """,
            on: connection, logger: logger
        )
        var seen: Set<String> = []
        var noShows: Set<String> = []
        for row in found where row.count == 2 {
            guard let user = row[1] else { continue }
            if row[0] == "no_show" { noShows.insert(user) } else { seen.insert(user) }
        }
        return (seen, noShows)
    }

    package func roomParticipants(id: String) async throws -> (host: String, guest: String?)? {
        guard Self.isUUID(id) else { return nil }
        return try await readSnapshot { connection, logger in
            let found = try await Self.rows(
                "SELECT host_id::text, guest_id::text FROM practice_rooms WHERE id = \(id)::uuid", on: connection, logger: logger
            )
            guard let row = found.first, row.count == 2, let host = row[0] else { return nil }
            return (host, row[1])
        }
    }

    package func caseBrief(id: String) async throws -> CaseBrief? {
        guard Self.isUUID(id) else { return nil }
        return try await readSnapshot { connection, logger in
            try await Self.caseBrief(id: id, publishedOnly: true, on: connection, logger: logger)
        }
    }

    package func randomCase(profession: String?, domain: String?, difficulty: String?, excluding: String?) async throws -> CaseBrief? {
        // An excluded id that is no UUID excludes nothing.
        let excluded = excluding.flatMap { Self.isUUID($0) ? $0 : nil }
        return try await readSnapshot { connection, logger in
            let found = try await Self.rows(
                """
                SELECT id::text FROM case_briefs WHERE status = 'published'
                AND (\(profession)::text IS NULL OR lower(target_profession) = lower(\(profession)::text))
                AND (\(domain)::text IS NULL OR lower(domain) = lower(\(domain)::text))
                AND (\(difficulty)::text IS NULL OR lower(difficulty_level) = lower(\(difficulty)::text))
                AND (\(excluded)::uuid IS NULL OR id <> \(excluded)::uuid)
                ORDER BY random() LIMIT 1
                """,
                on: connection, logger: logger
            )
            guard let id = found.first?.first ?? nil else { return nil }
            return try await Self.caseBrief(id: id, publishedOnly: true, on: connection, logger: logger)
        }
    }

    package func roomEvents(roomID: String, after: Int64, before: Int64, limit: Int, turnsOnly: Bool) async throws -> [RoomEventRecord] {
        guard Self.isUUID(roomID) else { return [] }
        return try await readSnapshot { connection, logger in
            try await Self.events(
                """
                SELECT \(unescaped: Self.eventColumns) FROM room_events
                WHERE room_id = \(roomID)::uuid AND "offset" > \(after) AND "offset" < \(before) AND (NOT \(turnsOnly) OR type = 'turn')
                ORDER BY room_events."offset" LIMIT \(limit)
                """,
                on: connection, logger: logger
            )
        }
    }

    package func roundTranscript(roundID: String) async throws -> String? {
        guard Self.isUUID(roundID) else { return nil }
        return try await readSnapshot { connection, logger in
            try await Self.rows("SELECT transcript::text FROM practice_rounds WHERE id = \(roundID)::uuid", on: connection, logger: logger)
                .first?.first ?? nil
        }
    }

    package func roomsMidRound() async throws -> [String] {
        try await readSnapshot { connection, logger in
            try await Self.rows(
                "SELECT room_id::text FROM room_runtime WHERE phase IN ('preparation', 'roleplay')", on: connection, logger: logger
            ).compactMap { $0.first ?? nil }
        }
    }

    package func roomsDueForNoShowCheck(from: String, to: String, limit: Int) async throws -> [String] {
        try await readSnapshot { connection, logger in
            try await Self.rows(
                """
                SELECT r.id::text FROM practice_rooms r
                LEFT JOIN room_runtime rt ON rt.room_id = r.id
                WHERE r.stage = 1 AND r.datetime_utc >= \(from)::timestamptz AND r.datetime_utc <= \(to)::timestamptz
                AND (rt.phase IS NULL OR rt.phase = 'waiting')
                AND NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = r.id AND e.type = 'no_show')
                ORDER BY r.datetime_utc LIMIT \(limit)
                """,
                on: connection, logger: logger
            ).compactMap { $0.first ?? nil }
        }
    }

    package func unassessedRounds(limit: Int) async throws -> [UnassessedRound] {
        try await readSnapshot { connection, logger in
            try await Self.rows(
                """
                SELECT id::text, room_id::text, round::text, case_briefs_id::text, transcript::text FROM practice_rounds
                WHERE assessment IS NULL AND status = 'completed' ORDER BY practice_rounds.created_at LIMIT \(limit)
                """,
                on: connection, logger: logger
            ).compactMap { row in
                guard row.count == 5, let id = row[0], let room = row[1], let round = row[2].flatMap({ Int($0) }), let transcript = row[4] else {
                    return nil
                }
                return UnassessedRound(roundID: id, roomID: room, round: round, caseID: row[3], transcriptJSON: transcript)
            }
        }
    }

    /// A case by id, briefs included; nil for a case that is not published when `publishedOnly`.
    static func caseBrief(id: String, publishedOnly: Bool, on connection: PostgresConnection, logger: Logger) async throws -> CaseBrief? {
        let found = try await rows(
            """
            SELECT id::text, case_name, domain, target_profession, difficulty_level, candidate_brief, actor_brief, status
            FROM case_briefs WHERE id = \(id)::uuid
            """,
            on: connection, logger: logger
        )
        guard let row = found.first, row.count == 8 else { return nil }
        if publishedOnly, row[7] != "published" { return nil }
        return CaseBrief(
            id: row[0] ?? id, caseName: row[1] ?? "", domain: row[2] ?? "", targetProfession: row[3] ?? "", difficultyLevel: row[4] ?? "",
            candidateBrief: row[5] ?? "", actorBrief: row[6] ?? ""
        )
    }

    /// Room events selected with ``eventColumns``.
    static func events(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [RoomEventRecord] {
        try await rows(query, on: connection, logger: logger).compactMap(eventRecord)
    }

    static func eventRecord(_ row: [String?]) -> RoomEventRecord? {
        guard row.count == 8, let offset = row[0].flatMap({ Int64($0) }), let type = row[1] else { return nil }
        return RoomEventRecord(
            offset: offset, type: type, round: row[2].flatMap { Int($0) }, clientID: row[3], seq: row[4].flatMap { Int($0) },
            payloadJSON: row[5] ?? "{}", at: row[6] ?? "", userID: row[7]
        )
    }
}
