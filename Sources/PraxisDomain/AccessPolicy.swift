/// The access rules of both seed data models, written once.
///
/// The store renders the predicates to SQL for the data API; the realtime feed evaluates
/// the same predicates per subscriber. The service role bypasses every rule.
///
/// | table | read | insert | update | delete |
/// |---|---|---|---|---|
/// | profiles | everyone | own (`user_id` = caller) | own | nobody |
/// | practice_rooms | public rooms; private: host, guest, or the exact `room_url` (the link) | own (`host_id` = caller) | host; others only take a free seat or give theirs back; the seat (`guest_id`) is fixed once round 1 has started | host, while no round is being played |
/// | practice_rounds | the room's host and guest | server only | server only | nobody |
/// | case_briefs, scenarios | published cases, without brief texts; admins: all | admins | admins | admins (archives) |
/// | users | self; admins: all | auth API | admins | nobody |
/// | subscriptions, sessions, user_progress_snapshots | own; admins: all | server only | server only | nobody |
/// | feedback_reports | the round's candidate; admins: all | server only | server only | nobody |
/// | audit_logs | admins | server only | nobody | nobody |
public enum AccessPolicy {
    /// Columns of `case_briefs` only admins may read over the data API. Peers see a brief
    /// only through their room, by role.
    public static let briefColumns: Set<String> = ["candidate_brief", "actor_brief"]

    /// Columns a host may change on their room.
    static let hostEditableRoomColumns: Set<String> = ["datetime_utc", "type", "room_url", "private", "guest_id"]

    // MARK: Reading

    /// The rows of `table` the caller may read.
    ///
    /// - Parameter roomLink: the exact `room_url` the request asks for, if any: a private
    ///   room is reachable by its link.
    public static func readable(_ table: String, by caller: Caller, roomLink: String? = nil) -> RowPredicate {
        if caller.isService { return .always }
        let me = caller.userID
        switch table {
        case "profiles":
            return .always
        case "practice_rooms":
            var visible = RowPredicate.isFalse("private")
            if let me {
                visible = visible.or(.equals("host_id", .text(me))).or(.equals("guest_id", .text(me)))
            }
            if let roomLink {
                visible = visible.or(.equals("room_url", .text(roomLink)))
            }
            return visible
        case "practice_rounds":
            guard let me else { return .never }
            return .roomParticipant(column: "room_id", userID: me)
        case "case_briefs", "scenarios":
            return caller.isAdmin ? .always : .equals("status", .text("published"))
        case "users":
            guard let me else { return .never }
            return caller.isAdmin ? .always : .equals("id", .text(me))
        case "subscriptions", "user_progress_snapshots", "sessions":
            guard let me else { return .never }
            return caller.isAdmin ? .always : .equals("user_id", .text(me))
        case "feedback_reports":
            guard let me else { return .never }
            return caller.isAdmin ? .always : .roundCandidate(column: "session_id", userID: me)
        case "audit_logs":
            return caller.isAdmin ? .always : .never
        default:
            return .never
        }
    }

    /// The columns of `table` the caller may read, in catalog order.
    public static func readableColumns(_ table: TableSchema, by caller: Caller) -> [String] {
        if table.name == "case_briefs", !caller.isService, !caller.isAdmin {
            return table.columnNames.filter { !briefColumns.contains($0) }
        }
        return table.columnNames
    }

    // MARK: Inserting

    /// Values a new row takes from the caller when the client leaves them out
    /// (the seeds' `DEFAULT auth.uid()`).
    public static func callerDefaults(_ table: String, for caller: Caller) -> Row {
        guard let me = caller.userID else { return [:] }
        switch table {
        case "profiles": return ["user_id": .text(me)]
        case "practice_rooms": return ["host_id": .text(me)]
        case "case_briefs": return caller.isAdmin ? ["created_by_admin_id": .text(me)] : [:]
        default: return [:]
        }
    }

    /// Whether the caller may insert into `table` at all (PostgreSQL's table privilege).
    ///
    /// Asked before anything else a write does, so that a refused writer learns nothing
    /// about stored rows (an upsert's conflict lookup included).
    public static func mayInsert(into table: String, by caller: Caller) -> Bool {
        if caller.isService { return true }
        guard caller.userID != nil else { return false }
        switch table {
        case "profiles", "practice_rooms": return true
        case "case_briefs": return caller.isAdmin
        default: return false
        }
    }

    /// The stored rows an upsert may merge into: those the caller may both see and update
    /// (PostgreSQL checks an `ON CONFLICT DO UPDATE` target against the `UPDATE` policy's
    /// `USING`). A visible row outside it refuses the merge with
    /// ``AccessDenied/upsertTarget(_:)``; a row the caller cannot see counts as absent, so
    /// the upsert answers as a plain insert of the same row would.
    ///
    /// - Parameter roomLink: the `room_url` the upsert names as its conflict target, if it
    ///   does: the link reaches a private room here as it does in a filter.
    public static func mergeable(_ table: String, by caller: Caller, roomLink: String? = nil) -> RowPredicate {
        readable(table, by: caller, roomLink: roomLink).and(updatable(table, by: caller))
    }

    /// Checks that the caller may insert `row` (defaults already applied).
    public static func checkInsert(_ table: String, row: Row, by caller: Caller) throws(AccessDenied) {
        if caller.isService { return }
        guard let me = caller.userID else { throw .rowLevelSecurity(table) }
        switch table {
        case "profiles":
            guard row["user_id"] == .text(me) else { throw .rowLevelSecurity(table) }
        case "practice_rooms":
            guard row["host_id"] == .text(me) else { throw .rowLevelSecurity(table) }
            guard (row["guest_id"] ?? .null).isNull else {
                throw AccessDenied("a new room has no guest: a guest signs up to it")
            }
        case "case_briefs":
            guard caller.isAdmin else { throw .rowLevelSecurity(table) }
        default:
            throw .rowLevelSecurity(table)
        }
    }

    // MARK: Updating

    /// The rows of `table` the caller may attempt to update (Postgres' `USING`); rows
    /// outside it are silently left alone.
    public static func updatable(_ table: String, by caller: Caller) -> RowPredicate {
        if caller.isService { return .always }
        guard let me = caller.userID else { return .never }
        switch table {
        case "profiles":
            return .equals("user_id", .text(me))
        case "practice_rooms":
            return .equals("host_id", .text(me)).or(.isNull("guest_id")).or(.equals("guest_id", .text(me)))
        case "case_briefs", "users":
            return caller.isAdmin ? .always : .never
        default:
            return .never
        }
    }

    /// Checks one update: `old` is the stored row, `new` the row after the change,
    /// `changed` the columns whose value differs; `room` what the store knows of a
    /// `practice_rooms` row beside the row itself (its engine's journaled phase).
    public static func checkUpdate(
        _ table: String, old: Row, new: Row, changed: Set<String>, room: RoomFacts = RoomFacts(), by caller: Caller
    ) throws(AccessDenied) {
        if caller.isService { return }
        guard let me = caller.userID else { throw .rowLevelSecurity(table) }
        switch table {
        case "profiles":
            guard old["user_id"] == .text(me), new["user_id"] == .text(me) else { throw .rowLevelSecurity(table) }
        case "practice_rooms":
            try checkRoomUpdate(old: old, new: new, changed: changed, facts: room, me: me)
        case "case_briefs":
            guard caller.isAdmin else { throw .rowLevelSecurity(table) }
        case "users":
            guard caller.isAdmin else { throw .rowLevelSecurity(table) }
            guard !changed.contains("email") else { throw AccessDenied("emails change through the auth API") }
        default:
            throw .rowLevelSecurity(table)
        }
    }

    /// Whether a room's guest seat can no longer change: from the start of round 1 on
    /// (the room left stage 1, has a first round, or a round is being played). A new guest
    /// then would have rounds persisted under a seat they never took part in, or read round
    /// 1's transcript (rounds are readable by the room's host and guest).
    public static func seatIsFixed(_ room: Row, facts: RoomFacts) -> Bool {
        room["stage"] != .integer(1) || !(room["first_round_id"] ?? .null).isNull || facts.roundLive
    }

    /// The rule of a room update by a signed-in user who is not the service role.
    static func checkRoomUpdate(old: Row, new: Row, changed: Set<String>, facts: RoomFacts, me: String) throws(AccessDenied) {
        if changed.isEmpty { return }
        let isHost = old["host_id"] == .text(me)
        if old["stage"] == .integer(3) {
            throw AccessDenied("the room is complete (stage 3) and read-only")
        }
        if changed.contains("guest_id"), seatIsFixed(old, facts: facts) {
            throw AccessDenied("the guest seat is fixed once round 1 has started: it can be taken or given back only before")
        }
        if isHost {
            let forbidden = changed.subtracting(hostEditableRoomColumns)
            guard forbidden.isEmpty else {
                throw AccessDenied("the host may not change \(forbidden.sorted().joined(separator: ", ")) of a room")
            }
            if changed.contains("guest_id"), !(new["guest_id"] ?? .null).isNull {
                throw AccessDenied("a host cannot seat a guest (or themselves): the guest signs up")
            }
            return
        }
        guard changed == ["guest_id"] else {
            throw AccessDenied("only the host may change a room; others may only sign up as guest")
        }
        let oldGuest = old["guest_id"] ?? .null
        let newGuest = new["guest_id"] ?? .null
        if oldGuest.isNull, newGuest == .text(me) {
            return  // Taking a free seat.
        }
        if oldGuest == .text(me), newGuest.isNull {
            return  // Giving the seat back.
        }
        throw AccessDenied("the guest seat can be taken only when free, and only by the caller")
    }

    // MARK: Deleting

    /// The rows of `table` the caller may delete; others are silently left alone.
    public static func deletable(_ table: String, by caller: Caller) -> RowPredicate {
        if caller.isService { return .always }
        guard let me = caller.userID else { return .never }
        switch table {
        case "practice_rooms": return .equals("host_id", .text(me))
        default: return .never
        }
    }

    /// Checks one delete the predicate of ``deletable(_:by:)`` let through: a room whose
    /// round is being played is in use (409) for everyone but the service role, whose delete
    /// the room engine then announces to the members.
    public static func checkDelete(_ table: String, old: Row, room: RoomFacts = RoomFacts(), by caller: Caller) throws(AccessDenied) {
        if caller.isService { return }
        if table == "practice_rooms", room.roundLive {
            throw AccessDenied.inUse("the room has a round in progress: end the round (or wait for it to end) before deleting the room")
        }
    }

    /// Tables whose DELETE is a soft delete: the row's status is set instead.
    public static let softDeleteStatus: [String: String] = ["case_briefs": "archived"]

    /// Who may soft-delete from `table`.
    public static func archivable(_ table: String, by caller: Caller) -> RowPredicate {
        guard softDeleteStatus[table] != nil else { return .never }
        return caller.isService || caller.isAdmin ? .always : .never
    }
}
