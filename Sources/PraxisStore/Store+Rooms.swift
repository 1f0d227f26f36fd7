import GRDB
import PraxisDomain

/// What the room engine reads and writes besides the journal: rooms, cases, rounds and
/// their assessments.
extension Store {
    /// Loads a room with its saved state, its latest `eventLimit` events, the current
    /// round's turns and the cases chosen for it. Nil when there is no such room. The saved
    /// state is the engine's to decode: the store reads only its columns.
    public func loadRoom(id: String, eventLimit: Int, commandLimit: Int = 1024) async throws -> LoadedRoom? {
        try await pool.read { db in try Self.loadRoom(db, id: id, eventLimit: eventLimit, commandLimit: commandLimit) }
    }

    static func loadRoom(_ db: Database, id: String, eventLimit: Int, commandLimit: Int) throws -> LoadedRoom? {
        guard let row = try GRDB.Row.fetchOne(
            db, sql: "SELECT host_id, guest_id, type, datetime_utc, stage, first_round_id, second_round_id FROM practice_rooms WHERE id = ?",
            arguments: [id]
        ) else { return nil }
        let stage: Int = row["stage"]
        let runtime = try GRDB.Row.fetchOne(db, sql: "SELECT state, round1_case_id, round2_case_id FROM room_runtime WHERE room_id = ?", arguments: [id])
        let recent = try roomEvents(
            db, sql: "SELECT * FROM room_events WHERE room_id = ? ORDER BY \"offset\" DESC LIMIT ?", arguments: [id, eventLimit]
        ).reversed()
        let latest = try Int64.fetchOne(db, sql: "SELECT max(\"offset\") FROM room_events WHERE room_id = ?", arguments: [id]) ?? 0
        let maxSeq = try Int.fetchOne(db, sql: "SELECT max(seq) FROM room_events WHERE room_id = ?", arguments: [id]) ?? 0
        var cases: [String: CaseBrief] = [:]
        let caseIDs: [String?] = runtime.map { runtime in [runtime["round1_case_id"], runtime["round2_case_id"]] } ?? []
        let stateJSON: String? = runtime.flatMap { runtime -> String? in runtime["state"] }
        for caseID in caseIDs.compactMap({ $0 }) {
            if let brief = try caseBrief(db, id: caseID, publishedOnly: false) { cases[caseID] = brief }
        }
        let scheduled: String = row["datetime_utc"]
        let presence = try roomPresence(db, id: id, scheduled: scheduled)
        var room = LoadedRoom(
            id: id, hostID: row["host_id"], guestID: row["guest_id"], type: row["type"], datetimeUTC: scheduled, stage: stage,
            roundIDs: [row["first_round_id"], row["second_round_id"]], stateJSON: stateJSON, recentEvents: Array(recent),
            latestOffset: latest, currentTurns: try currentTurns(db, id: id, stage: stage), maxSeq: maxSeq, cases: cases,
            seenSinceScheduled: presence.seen, noShows: presence.noShows
        )
        room.commands = try GRDB.Row.fetchAll(
            db,
            sql: "SELECT user_id, client_id, fingerprint, reply FROM room_commands WHERE room_id = ? ORDER BY at DESC LIMIT ?",
            arguments: [id, commandLimit]
        ).reversed().map { row in
            RoomCommandRecord(userID: row["user_id"], clientID: row["client_id"], fingerprint: row["fingerprint"], replyJSON: row["reply"])
        }
        room.seatAsOf = try changeOffset(db)
        room.transcriptFrom = try Int64.fetchOne(
            db, sql: "SELECT max(\"offset\") FROM room_events WHERE room_id = ? AND type IN ('round_ended', 'round_cancelled')", arguments: [id]
        ) ?? 0
        return room
    }

    /// The current round's turns, in seq order (a round cancelled because its seat changed
    /// mid-round keeps its turns in the journal, not in the round).
    static func currentTurns(_ db: Database, id: String, stage: Int) throws -> [RoomEventRecord] {
        guard stage < 3 else { return [] }
        return try roomEvents(
            db,
            sql: """
                SELECT * FROM room_events WHERE room_id = ? AND type = 'turn' AND round = ? AND "offset" > coalesce(
                    (SELECT max("offset") FROM room_events WHERE room_id = ? AND type = 'round_cancelled'), 0) ORDER BY seq
                """,
            arguments: [id, stage, id]
        )
    }

    /// Users with a presence event at or after the scheduled time, and users recorded as
    /// no-shows (by the journal's `user_id` column).
    static func roomPresence(_ db: Database, id: String, scheduled: String) throws -> (seen: Set<String>, noShows: Set<String>) {
        let seen = try String.fetchAll(
            db,
            sql: "SELECT DISTINCT user_id FROM room_events WHERE room_id = ? AND type = 'presence' AND at >= ? AND user_id IS NOT NULL",
            arguments: [id, scheduled]
        )
        let noShows = try String.fetchAll(
            db, sql: "SELECT user_id FROM room_events WHERE room_id = ? AND type = 'no_show' AND user_id IS NOT NULL", arguments: [id]
        )
        return (Set(seen), Set(noShows))
    }

    /// What the access rules need to know of a room beside its row: whether its engine
    /// journaled a round being played (read in the caller's transaction).
    static func roomFacts(_ db: Database, roomID: Value) throws -> RoomFacts {
        guard case .text(let id) = roomID else { return RoomFacts() }
        let phase = try String.fetchOne(db, sql: "SELECT phase FROM room_runtime WHERE room_id = ?", arguments: [id])
        return RoomFacts(roundLive: phase == "preparation" || phase == "roleplay")
    }

    /// The room's host and guest as stored now (the guest may have been seated since the
    /// room was loaded).
    public func roomParticipants(id: String) async throws -> (host: String, guest: String?)? {
        try await pool.read { db in try GRDBRoomRow.participants(db, room: id) }
    }

    /// The room's seats as stored now, with the feed offset they are as of (nil: no room).
    public func roomSeat(id: String) async throws -> RoomSeat? {
        try await pool.read { db in
            guard let seat = try GRDBRoomRow.participants(db, room: id) else { return nil }
            return RoomSeat(hostID: seat.host, guestID: seat.guest, asOf: try Self.changeOffset(db))
        }
    }

    /// The latest committed change-feed offset seen by this read (AUTOINCREMENT's
    /// counter: trimming the log does not lower it).
    static func changeOffset(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'realtime_changes'") ?? 0
    }

    /// A published case by id, briefs included.
    public func caseBrief(id: String) async throws -> CaseBrief? {
        try await pool.read { db in try Self.caseBrief(db, id: id, publishedOnly: true) }
    }

    /// A random published case matching the filters that are given, never `excluding`.
    public func randomCase(profession: String?, domain: String?, difficulty: String?, excluding: String?) async throws -> CaseBrief? {
        try await pool.read { db in
            let id = try String.fetchOne(
                db,
                sql: """
                    SELECT id FROM case_briefs WHERE status = 'published'
                    AND (?1 IS NULL OR target_profession = ?1 COLLATE NOCASE)
                    AND (?2 IS NULL OR domain = ?2 COLLATE NOCASE)
                    AND (?3 IS NULL OR difficulty_level = ?3 COLLATE NOCASE)
                    AND (?4 IS NULL OR id <> ?4)
                    ORDER BY random() LIMIT 1
                    """,
                arguments: [profession, domain, difficulty, excluding]
            )
            guard let id else { return nil }
            return try Self.caseBrief(db, id: id, publishedOnly: true)
        }
    }

    /// The room's journaled events with `after < offset < before`, oldest first, at most
    /// `limit` of them (the oldest ones), only `turn` events when `turnsOnly`: what a join
    /// needs of the events a loaded room no longer keeps in memory (a resume's missed
    /// events, the current round's transcript).
    public func roomEvents(roomID: String, after: Int64, before: Int64, limit: Int, turnsOnly: Bool) async throws -> [RoomEventRecord] {
        try await pool.read { db in
            try Self.roomEvents(
                db,
                sql: """
                    SELECT * FROM room_events WHERE room_id = ? AND "offset" > ? AND "offset" < ? AND (? = 0 OR type = 'turn')
                    ORDER BY "offset" LIMIT ?
                    """,
                arguments: [roomID, after, before, turnsOnly ? 1 : 0, limit]
            )
        }
    }

    /// A completed round's transcript (a JSON array of its turns), nil when there is no
    /// such round.
    public func roundTranscript(roundID: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT transcript FROM practice_rounds WHERE id = ?", arguments: [roundID])
        }
    }

    /// Rooms whose saved state is mid-round (their timers must run after a restart).
    public func roomsMidRound() async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT room_id FROM room_runtime WHERE phase IN ('preparation', 'roleplay')")
        }
    }

    /// Rooms in stage 1, scheduled between `from` and `to`, not started, with no no-show
    /// recorded yet: candidates for the no-show check.
    public func roomsDueForNoShowCheck(from: String, to: String, limit: Int) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT r.id FROM practice_rooms r
                    LEFT JOIN room_runtime rt ON rt.room_id = r.id
                    WHERE r.stage = 1 AND r.datetime_utc >= ? AND r.datetime_utc <= ?
                    AND (rt.phase IS NULL OR rt.phase = 'waiting')
                    AND NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = r.id AND e.type = 'no_show')
                    ORDER BY r.datetime_utc LIMIT ?
                    """,
                arguments: [from, to, limit]
            )
        }
    }

    /// Completed rounds that have no assessment yet.
    public func unassessedRounds(limit: Int) async throws -> [UnassessedRound] {
        try await pool.read { db in
            try GRDB.Row.fetchAll(
                db,
                sql: "SELECT id, room_id, round, case_briefs_id, transcript FROM practice_rounds WHERE assessment IS NULL AND status = 'completed' ORDER BY created_at LIMIT ?",
                arguments: [limit]
            ).map { row in
                UnassessedRound(roundID: row["id"], roomID: row["room_id"], round: row["round"], caseID: row["case_briefs_id"], transcriptJSON: row["transcript"])
            }
        }
    }

    /// Stores a round's assessment and its feedback report in one transaction (the round's
    /// UPDATE reaches realtime subscribers). A round assessed already is left as it is.
    /// Returns false in that case.
    public func saveAssessment(roundID: String, assessmentJSON: String, report: FeedbackReportRecord) async throws -> Bool {
        try await writeWithChanges { db, changes in
            try Self.writeAssessment(db, roundID: roundID, assessmentJSON: assessmentJSON, report: report, collector: changes.collector)
        }
    }

    /// `saveAssessment` inside a transaction (the room journal's, for group commit).
    static func writeAssessment(_ db: Database, roundID: String, assessmentJSON: String, report: FeedbackReportRecord, collector: ChangeCollector) throws -> Bool {
        guard let table = Catalog.table("practice_rounds") else { return false }
        guard let old = try storedRow(db, table: table, key: .text(roundID)) else { return false }
        guard try String.fetchOne(db.cachedStatement(sql: "SELECT assessment FROM practice_rounds WHERE id = ?"), arguments: [roundID]) == nil else {
            return false
        }
        try db.cachedStatement(sql: "UPDATE practice_rounds SET assessment = ? WHERE id = ?").execute(arguments: [assessmentJSON, roundID])
        try db.cachedStatement(sql: """
                INSERT INTO feedback_reports (session_id, transcript, ai_summary, score_raw, strengths, areas_for_improvement)
                VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [roundID, report.transcriptText, report.summary, report.scoreRaw, report.strengths, report.areasForImprovement])
        try collector.capture(db, table: table.name, kind: .update, record: try storedRow(db, table: table, key: .text(roundID)), oldRecord: old)
        return true
    }

    /// Writes a finished round and moves the room on, inside the journal's transaction.
    func persistRound(_ db: Database, roomID: String, round: RoomRoundRecord, collector: ChangeCollector) throws {
        guard let rooms = Catalog.table("practice_rooms"), let rounds = Catalog.table("practice_rounds") else { return }
        let oldRoom = try Self.storedRow(db, table: rooms, key: .text(roomID))
        // The transcript from the journal: the round's turns after its last cancellation,
        // written earlier in this transaction or in earlier ones.
        try db.cachedStatement(sql: """
                INSERT INTO practice_rounds (id, room_id, round, candidate_id, case_briefs_id, transcript, status, duration_seconds)
                VALUES (?1, ?2, ?3, ?4, ?5, (
                    SELECT coalesce(json_group_array(json(payload)), '[]') FROM (
                        SELECT payload FROM room_events WHERE room_id = ?2 AND type = 'turn' AND round = ?3 AND "offset" > coalesce(
                            (SELECT max("offset") FROM room_events WHERE room_id = ?2 AND type = 'round_cancelled' AND round = ?3), 0)
                        ORDER BY "offset")
                ), 'completed', ?6)
                """).execute(arguments: [round.roundID, roomID, round.round, round.candidateID, round.caseID, round.durationSeconds])
        try collector.capture(db, table: rounds.name, kind: .insert, record: try Self.storedRow(db, table: rounds, key: .text(round.roundID)), oldRecord: nil)
        let column = round.round == 1 ? "first_round_id" : "second_round_id"
        try db.cachedStatement(sql: "UPDATE practice_rooms SET \(column) = ?, stage = ? WHERE id = ?").execute(arguments: [round.roundID, round.newStage, roomID])
        try collector.capture(db, table: rooms.name, kind: .update, record: try Self.storedRow(db, table: rooms, key: .text(roomID)), oldRecord: oldRoom)
    }

    static func roomEvents(_ db: Database, sql: String, arguments: StatementArguments) throws -> [RoomEventRecord] {
        try GRDB.Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            RoomEventRecord(
                offset: row["offset"], type: row["type"], round: row["round"], clientID: row["client_id"], seq: row["seq"],
                payloadJSON: row["payload"], at: row["at"], userID: row["user_id"]
            )
        }
    }

    static func caseBrief(_ db: Database, id: String, publishedOnly: Bool) throws -> CaseBrief? {
        guard let row = try GRDB.Row.fetchOne(
            db,
            sql: """
                SELECT id, case_name, domain, target_profession, difficulty_level, candidate_brief, actor_brief, status
                FROM case_briefs WHERE id = ?
                """,
            arguments: [id]
        ) else { return nil }
        if publishedOnly, (row["status"] as String) != "published" { return nil }
        return CaseBrief(
            id: row["id"], caseName: row["case_name"], domain: row["domain"], targetProfession: row["target_profession"],
            difficultyLevel: row["difficulty_level"], candidateBrief: row["candidate_brief"], actorBrief: row["actor_brief"]
        )
    }
}

/// Small reads of the room row.
enum GRDBRoomRow {
    static func participants(_ db: Database, room: String) throws -> (host: String, guest: String?)? {
        guard let row = try GRDB.Row.fetchOne(db, sql: "SELECT host_id, guest_id FROM practice_rooms WHERE id = ?", arguments: [room]) else {
            return nil
        }
        return (row["host_id"], row["guest_id"])
    }
}
