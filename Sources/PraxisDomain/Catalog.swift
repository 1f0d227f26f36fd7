/// The kind of value a column holds, as clients see it over the wire.
///
/// SQLite stores booleans as 0/1 and JSON as text; the catalog says how a value is
/// presented (JSON `true`, a nested object) and how a client's value is checked.
public enum ColumnType: String, Sendable, Hashable, CaseIterable {
    case uuid
    case text
    case integer
    case float
    case boolean
    /// An ISO 8601 UTC timestamp with microseconds, e.g. `2026-11-23T19:50:12.123456Z`.
    case timestamp
    /// A calendar date, `YYYY-MM-DD`.
    case date
    /// A JSON document (stored as text checked with `json_valid`).
    case json
}

/// One column of a table the data API and the realtime feed serve.
public struct Column: Sendable, Hashable {
    public var name: String
    public var type: ColumnType
    public var nullable: Bool
    /// Set by the server (ids, timestamps, stage): a client may not write it.
    public var serverManaged: Bool

    public init(_ name: String, _ type: ColumnType, nullable: Bool = false, serverManaged: Bool = false) {
        self.name = name
        self.type = type
        self.nullable = nullable
        self.serverManaged = serverManaged
    }
}

/// A table (or read-only view) of the public schema.
public struct Table: Sendable, Hashable {
    public var name: String
    public var primaryKey: String
    public var columns: [Column]
    /// Views are read-only projections of other tables.
    public var isView: Bool

    public init(name: String, primaryKey: String, columns: [Column], isView: Bool = false) {
        self.name = name
        self.primaryKey = primaryKey
        self.columns = columns
        self.isView = isView
    }

    /// The column called `name`, if the table has it.
    public func column(_ name: String) -> Column? {
        columns.first { $0.name == name }
    }

    public var columnNames: [String] { columns.map(\.name) }
}

/// The public schema: every table of both seed data models, under their seed names.
///
/// `scenarios` and `sessions` are views over `case_briefs` and `practice_rounds`
/// (protocol/schema.md explains the mapping).
public enum Catalog {
    public static let users = Table(
        name: "users", primaryKey: "id",
        columns: [
            Column("id", .uuid, serverManaged: true),
            Column("email", .text),
            Column("full_name", .text, nullable: true),
            Column("role", .text),
            Column("profession", .text, nullable: true),
            Column("is_email_verified", .boolean, serverManaged: true),
            Column("last_login_at", .timestamp, nullable: true, serverManaged: true),
            Column("status", .text),
            Column("created_at", .timestamp, serverManaged: true),
            Column("updated_at", .timestamp, serverManaged: true),
        ]
    )

    public static let subscriptions = Table(
        name: "subscriptions", primaryKey: "id",
        columns: [
            Column("id", .uuid, serverManaged: true),
            Column("user_id", .uuid),
            Column("plan_name", .text),
            Column("status", .text),
            Column("stripe_customer_id", .text, nullable: true),
            Column("current_period_start", .timestamp),
            Column("current_period_end", .timestamp),
            Column("created_at", .timestamp, serverManaged: true),
            Column("updated_at", .timestamp, serverManaged: true),
        ]
    )

    public static let caseBriefs = Table(
        name: "case_briefs", primaryKey: "id",
        columns: [
            Column("id", .uuid, serverManaged: true),
            Column("category", .text),
            Column("condition", .text),
            Column("case_name", .text),
            Column("case_name_internal", .text),
            Column("domain", .text),
            Column("candidate_brief", .text),
            Column("actor_brief", .text),
            Column("target_profession", .text),
            Column("clinical_area", .text),
            Column("difficulty_level", .text),
            Column("patient_persona", .json),
            Column("status", .text),
            Column("is_ai_generated", .boolean),
            Column("created_by_admin_id", .uuid, nullable: true, serverManaged: true),
            Column("created_at", .timestamp, serverManaged: true),
            Column("updated_at", .timestamp, serverManaged: true),
        ]
    )

    public static let scenarios = Table(
        name: "scenarios", primaryKey: "id",
        columns: [
            Column("id", .uuid),
            Column("title", .text),
            Column("description", .text),
            Column("patient_persona", .json),
            Column("clinical_area", .text),
            Column("target_profession", .text),
            Column("difficulty_level", .text),
            Column("is_ai_generated", .boolean),
            Column("created_by_admin_id", .uuid, nullable: true),
            Column("created_at", .timestamp),
            Column("status", .text),
        ],
        isView: true
    )

    public static let profiles = Table(
        name: "profiles", primaryKey: "user_id",
        columns: [
            Column("user_id", .uuid),
            Column("first_name", .text),
            Column("last_name", .text),
            Column("training_level", .text),
            Column("avatar", .text, nullable: true),
            Column("created_at", .timestamp, serverManaged: true),
            Column("updated_at", .timestamp, serverManaged: true),
        ]
    )

    public static let practiceRooms = Table(
        name: "practice_rooms", primaryKey: "id",
        columns: [
            Column("id", .uuid),
            Column("host_id", .uuid),
            Column("guest_id", .uuid, nullable: true),
            Column("datetime_utc", .timestamp),
            Column("first_round_id", .uuid, nullable: true, serverManaged: true),
            Column("second_round_id", .uuid, nullable: true, serverManaged: true),
            Column("type", .text),
            Column("room_url", .text),
            Column("stage", .integer, serverManaged: true),
            Column("private", .boolean),
            Column("created_at", .timestamp, serverManaged: true),
            Column("updated_at", .timestamp, serverManaged: true),
        ]
    )

    public static let practiceRounds = Table(
        name: "practice_rounds", primaryKey: "id",
        columns: [
            Column("id", .uuid, serverManaged: true),
            Column("room_id", .uuid),
            Column("round", .integer),
            Column("candidate_id", .uuid),
            Column("case_briefs_id", .uuid, nullable: true),
            Column("transcript", .json),
            Column("assessment", .json, nullable: true),
            Column("status", .text),
            Column("duration_seconds", .integer, nullable: true),
            Column("created_at", .timestamp, serverManaged: true),
            Column("updated_at", .timestamp, serverManaged: true),
        ]
    )

    public static let sessions = Table(
        name: "sessions", primaryKey: "id",
        columns: [
            Column("id", .uuid),
            Column("user_id", .uuid),
            Column("scenario_id", .uuid, nullable: true),
            Column("status", .text),
            Column("duration_seconds", .integer, nullable: true),
            Column("created_at", .timestamp),
        ],
        isView: true
    )

    public static let feedbackReports = Table(
        name: "feedback_reports", primaryKey: "id",
        columns: [
            Column("id", .uuid, serverManaged: true),
            Column("session_id", .uuid),
            Column("transcript", .text),
            Column("ai_summary", .text),
            Column("score_raw", .integer),
            Column("strengths", .text),
            Column("areas_for_improvement", .text),
            Column("created_at", .timestamp, serverManaged: true),
        ]
    )

    public static let userProgressSnapshots = Table(
        name: "user_progress_snapshots", primaryKey: "id",
        columns: [
            Column("id", .uuid, serverManaged: true),
            Column("user_id", .uuid),
            Column("snapshot_date", .date),
            Column("average_score", .float),
            Column("sessions_completed_count", .integer),
            Column("strengths_topics", .json),
            Column("created_at", .timestamp, serverManaged: true),
        ]
    )

    public static let auditLogs = Table(
        name: "audit_logs", primaryKey: "id",
        columns: [
            Column("id", .uuid, serverManaged: true),
            Column("admin_id", .uuid),
            Column("action", .text),
            Column("target_entity_id", .uuid, nullable: true),
            Column("details", .json, nullable: true),
            Column("ip_address", .text),
            Column("timestamp", .timestamp, serverManaged: true),
        ]
    )

    /// Every table and view, by name.
    public static let tables: [String: Table] = Dictionary(
        uniqueKeysWithValues: [
            users, subscriptions, caseBriefs, scenarios, profiles, practiceRooms, practiceRounds,
            sessions, feedbackReports, userProgressSnapshots, auditLogs,
        ].map { ($0.name, $0) }
    )

    /// The table or view called `name`, if the public schema has it.
    public static func table(_ name: String) -> Table? { tables[name] }
}
