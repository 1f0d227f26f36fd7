import Logging
import PostgresNIO
import PraxisDomain

/// What the room journal and the assessments write on PostgreSQL, as SQLite's
/// `RoomJournal.write` and `Store+Rooms` do: one transaction per batch of journal entries
/// (events, command replies, round ends, assessments, each room's latest state), the
/// published tables' changes logged in it and published after COMMIT
/// (``writeWithChanges(_:)``). Run as the connecting user.
extension PostgresDatabase {
    /// Writes `entries` in one transaction, in order: each entry's events, then its command
    /// (kept once per room, user and client id: a retry keeps the first reply), its round end
    /// and its assessment; every room's latest state last. Events are sent in as few
    /// statements as the round ends allow (a round end reads the turns written before it).
    func writeRoomEntries(_ entries: [RoomJournalEntry]) async throws {
        let logger = self.logger
        try await writeWithChanges { connection, changes in
            var events = RoomRowsJSON()
            var commands = RoomRowsJSON()
            var states: [String: RoomStateRecord] = [:]
            for entry in entries {
                for event in entry.events { events.append(event, roomID: entry.roomID) }
                if let command = entry.command { commands.append(command, roomID: entry.roomID) }
                if let round = entry.roundEnd {
                    try await Self.insertEvents(&events, on: connection, logger: logger)
                    try await Self.persistRound(roomID: entry.roomID, round: round, changes: changes, on: connection, logger: logger)
                }
                if let assessment = entry.assessment {
                    _ = try await Self.writeAssessment(
                        roundID: assessment.roundID, assessmentJSON: assessment.assessmentJSON, report: assessment.report, changes: changes,
                        on: connection, logger: logger
                    )
                }
                if let state = entry.state { states[entry.roomID] = state }
            }
            try await Self.insertEvents(&events, on: connection, logger: logger)
            if !commands.isEmpty {
                // clock_timestamp(): each reply its own time, in entry order (loadRoom keeps the latest).
                try await Self.run(
                    """
                    INSERT INTO room_commands (room_id, user_id, client_id, fingerprint, reply, at)
                    SELECT c.room_id, c.user_id, c.client_id, c.fingerprint, c.reply::jsonb, clock_timestamp()
                    FROM json_to_recordset(\(commands.text)::json) AS c(room_id uuid, user_id text, client_id text, fingerprint text, reply text)
                    ON CONFLICT (room_id, user_id, client_id) DO NOTHING
                    """,
                    on: connection, logger: logger
                )
            }
            if !states.isEmpty {
                var rows = RoomRowsJSON()
                for (roomID, state) in states { rows.append(state, roomID: roomID) }
                try await Self.run(
                    """
                    INSERT INTO room_runtime (room_id, phase, state, round1_case_id, round2_case_id, updated_at)
                    SELECT s.room_id, s.phase, s.state::jsonb, s.case1, s.case2, now()
                    FROM json_to_recordset(\(rows.text)::json) AS s(room_id uuid, phase text, state text, case1 uuid, case2 uuid)
                    ON CONFLICT (room_id) DO UPDATE SET phase = excluded.phase, state = excluded.state,
                        round1_case_id = excluded.round1_case_id, round2_case_id = excluded.round2_case_id, updated_at = excluded.updated_at
                    """,
                    on: connection, logger: logger
                )
            }
        }
    }

    /// Inserts the events gathered so far in one statement and empties `events`.
    static func insertEvents(_ events: inout RoomRowsJSON, on connection: PostgresConnection, logger: Logger) async throws {
        guard !events.isEmpty else { return }
        let text = events.text
        events = RoomRowsJSON()
        try await run(
            """
            INSERT INTO room_events (room_id, "offset", type, round, client_id, user_id, seq, payload, at)
            SELECT e.room_id, e."offset", e.type, e.round, e.client_id, e.user_id, e.seq, e.payload::jsonb, e.at
            FROM json_to_recordset(\(text)::json) AS e(
                room_id uuid, "offset" bigint, type text, round integer, client_id text, user_id text, seq bigint, payload text, at timestamptz)
            """,
            on: connection, logger: logger
        )
    }

    /// Writes a finished round and moves the room on, inside the journal's transaction: the
    /// round's row with its transcript built from the journal (the round's turns after its
    /// last cancellation, in offset order, those of this transaction included), then the
    /// room's round id and stage. Both changes are captured for the change log.
    static func persistRound(
        roomID: String, round: RoomRoundRecord, changes: PostgresChangeCapture, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard let rooms = Catalog.table("practice_rooms"), let rounds = Catalog.table("practice_rounds") else { return }
        let oldRoom = try await storedRow(rooms, key: .text(roomID), on: connection, logger: logger)
        try await run(
            """
            INSERT INTO practice_rounds (id, room_id, round, candidate_id, case_briefs_id, transcript, status, duration_seconds)
            VALUES (\(round.roundID)::uuid, \(roomID)::uuid, \(round.round), \(round.candidateID)::uuid, \(round.caseID)::uuid, (
                SELECT coalesce(jsonb_agg(e.payload ORDER BY e."offset"), '[]'::jsonb) FROM room_events e
                WHERE e.room_id = \(roomID)::uuid AND e.type = 'turn' AND e.round = \(round.round) AND e."offset" > coalesce(
                    (SELECT max(c."offset") FROM room_events c
                     WHERE c.room_id = \(roomID)::uuid AND c.type = 'round_cancelled' AND c.round = \(round.round)), 0)
            ), 'completed', \(round.durationSeconds))
            """,
            on: connection, logger: logger
        )
        let inserted = try await storedRow(rounds, key: .text(round.roundID), on: connection, logger: logger)
        changes.capture(rounds.name, kind: .insert, record: inserted, oldRecord: nil)
        let column = round.round == 1 ? "first_round_id" : "second_round_id"
        try await run(
            "UPDATE practice_rooms SET \(unescaped: column) = \(round.roundID)::uuid, stage = \(round.newStage) WHERE id = \(roomID)::uuid",
            on: connection, logger: logger
        )
        let updated = try await storedRow(rooms, key: .text(roomID), on: connection, logger: logger)
        changes.capture(rooms.name, kind: .update, record: updated, oldRecord: oldRoom)
    }

    /// Stores a round's assessment and its feedback report inside the caller's transaction
    /// (the round's row locked first, so two saves at once store one). A round assessed
    /// already, or no such round: nothing written, false.
    static func writeAssessment(
        roundID: String, assessmentJSON: String, report: FeedbackReportRecord, changes: PostgresChangeCapture,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> Bool {
        guard isUUID(roundID), let table = Catalog.table("practice_rounds") else { return false }
        let found = try await rows(
            "SELECT (assessment IS NULL)::text FROM practice_rounds WHERE id = \(roundID)::uuid FOR UPDATE", on: connection, logger: logger
        )
        guard (found.first?.first ?? nil) == "true" else { return false }
        let old = try await storedRow(table, key: .text(roundID), on: connection, logger: logger)
        try await run(
            "UPDATE practice_rounds SET assessment = \(assessmentJSON)::jsonb WHERE id = \(roundID)::uuid", on: connection, logger: logger
        )
        try await run(
            """
            INSERT INTO feedback_reports (session_id, transcript, ai_summary, score_raw, strengths, areas_for_improvement)
            VALUES (\(roundID)::uuid, \(report.transcriptText), \(report.summary), \(report.scoreRaw), \(report.strengths), \(report.areasForImprovement))
            """,
            on: connection, logger: logger
        )
        let new = try await storedRow(table, key: .text(roundID), on: connection, logger: logger)
        changes.capture(table.name, kind: .update, record: new, oldRecord: old)
        return true
    }

    /// Stores a round's assessment and its feedback report in one transaction, as SQLite's
    /// ``Store/saveAssessment(roundID:assessmentJSON:report:)``: the round's UPDATE reaches
    /// realtime subscribers; a round assessed already (or none) is left as it is: false.
    package func saveAssessment(roundID: String, assessmentJSON: String, report: FeedbackReportRecord) async throws -> Bool {
        let logger = self.logger
        do {
            return try await writeWithChanges { connection, changes in
                try await Self.writeAssessment(
                    roundID: roundID, assessmentJSON: assessmentJSON, report: report, changes: changes, on: connection, logger: logger
                )
            }
        } catch {
            throw StoreError.database(PostgresError.wrap(error).description)
        }
    }
}
