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
public struct ColumnSchema: Sendable, Hashable {
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
public struct TableSchema: Sendable, Hashable {
    public var name: String
    public var primaryKey: String
    public var columns: [ColumnSchema]
    /// Views are read-only projections of other tables.
    public var isView: Bool
    /// The column sets the database keeps unique (the primary key first): the only valid
    /// `on_conflict` targets of an upsert, as in PostgreSQL.
    public var uniqueKeys: [[String]]

    public init(name: String, primaryKey: String, columns: [ColumnSchema], isView: Bool = false, uniqueKeys: [[String]] = []) {
        self.name = name
        self.primaryKey = primaryKey
        self.columns = columns
        self.isView = isView
        self.uniqueKeys = [[primaryKey]] + uniqueKeys
    }

    /// The unique key made of exactly `columns` (in any order), if the table has one.
    public func uniqueKey(matching columns: [String]) -> [String]? {
        let wanted = Set(columns)
        return uniqueKeys.first { Set($0) == wanted && $0.count == columns.count }
    }

    /// The column called `name`, if the table has it.
    public func column(_ name: String) -> ColumnSchema? {
        columns.first { $0.name == name }
    }

    public var columnNames: [String] { columns.map(\.name) }
}

/// The public schema: every table of both seed data models, under their seed names.
///
/// `scenarios` and `sessions` are views over `case_briefs` and `practice_rounds`
/// (protocol/schema.md explains the mapping).
public enum Catalog {
    public static let users = TableSchema(
        name: "users", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid, serverManaged: true),
            ColumnSchema("email", .text),
            ColumnSchema("full_name", .text, nullable: true),
            ColumnSchema("role", .text),
            ColumnSchema("profession", .text, nullable: true),
            ColumnSchema("is_email_verified", .boolean, serverManaged: true),
            ColumnSchema("last_login_at", .timestamp, nullable: true, serverManaged: true),
            ColumnSchema("status", .text),
            ColumnSchema("user_metadata", .json),
            ColumnSchema("email_confirmed_at", .timestamp, nullable: true, serverManaged: true),
            ColumnSchema("created_at", .timestamp, serverManaged: true),
            ColumnSchema("updated_at", .timestamp, serverManaged: true),
        ],
        uniqueKeys: [["email"]]
    )

    public static let subscriptions = TableSchema(
        name: "subscriptions", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid, serverManaged: true),
            ColumnSchema("user_id", .uuid),
            ColumnSchema("plan_name", .text),
            ColumnSchema("status", .text),
            ColumnSchema("stripe_customer_id", .text, nullable: true),
            ColumnSchema("current_period_start", .timestamp),
            ColumnSchema("current_period_end", .timestamp),
            ColumnSchema("created_at", .timestamp, serverManaged: true),
            ColumnSchema("updated_at", .timestamp, serverManaged: true),
        ]
    )

    public static let caseBriefs = TableSchema(
        name: "case_briefs", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid, serverManaged: true),
            ColumnSchema("category", .text),
            ColumnSchema("condition", .text),
            ColumnSchema("case_name", .text),
            ColumnSchema("case_name_internal", .text),
            ColumnSchema("domain", .text),
            ColumnSchema("candidate_brief", .text),
            ColumnSchema("actor_brief", .text),
            ColumnSchema("target_profession", .text),
            ColumnSchema("clinical_area", .text),
            ColumnSchema("difficulty_level", .text),
            ColumnSchema("patient_persona", .json),
            ColumnSchema("status", .text),
            ColumnSchema("is_ai_generated", .boolean),
            ColumnSchema("created_by_admin_id", .uuid, nullable: true, serverManaged: true),
            ColumnSchema("created_at", .timestamp, serverManaged: true),
            ColumnSchema("updated_at", .timestamp, serverManaged: true),
        ],
        uniqueKeys: [["case_name_internal"]]
    )

    public static let scenarios = TableSchema(
        name: "scenarios", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid),
            ColumnSchema("title", .text),
            ColumnSchema("description", .text),
            ColumnSchema("patient_persona", .json),
            ColumnSchema("clinical_area", .text),
            ColumnSchema("target_profession", .text),
            ColumnSchema("difficulty_level", .text),
            ColumnSchema("is_ai_generated", .boolean),
            ColumnSchema("created_by_admin_id", .uuid, nullable: true),
            ColumnSchema("created_at", .timestamp),
            ColumnSchema("status", .text),
        ],
        isView: true
    )

    public static let profiles = TableSchema(
        name: "profiles", primaryKey: "user_id",
        columns: [
            ColumnSchema("user_id", .uuid),
            ColumnSchema("first_name", .text),
            ColumnSchema("last_name", .text),
            ColumnSchema("training_level", .text),
            ColumnSchema("avatar", .text, nullable: true),
            ColumnSchema("created_at", .timestamp, serverManaged: true),
            ColumnSchema("updated_at", .timestamp, serverManaged: true),
        ]
    )

    public static let practiceRooms = TableSchema(
        name: "practice_rooms", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid),
            ColumnSchema("host_id", .uuid),
            ColumnSchema("guest_id", .uuid, nullable: true),
            ColumnSchema("datetime_utc", .timestamp),
            ColumnSchema("first_round_id", .uuid, nullable: true, serverManaged: true),
            ColumnSchema("second_round_id", .uuid, nullable: true, serverManaged: true),
            ColumnSchema("type", .text),
            ColumnSchema("room_url", .text),
            ColumnSchema("stage", .integer, serverManaged: true),
            ColumnSchema("private", .boolean),
            ColumnSchema("created_at", .timestamp, serverManaged: true),
            ColumnSchema("updated_at", .timestamp, serverManaged: true),
        ],
        uniqueKeys: [["room_url"]]
    )

    public static let practiceRounds = TableSchema(
        name: "practice_rounds", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid, serverManaged: true),
            ColumnSchema("room_id", .uuid),
            ColumnSchema("round", .integer),
            ColumnSchema("candidate_id", .uuid),
            ColumnSchema("case_briefs_id", .uuid, nullable: true),
            ColumnSchema("transcript", .json),
            ColumnSchema("assessment", .json, nullable: true),
            ColumnSchema("status", .text),
            ColumnSchema("duration_seconds", .integer, nullable: true),
            ColumnSchema("created_at", .timestamp, serverManaged: true),
            ColumnSchema("updated_at", .timestamp, serverManaged: true),
        ],
        uniqueKeys: [["room_id", "round"]]
    )

    public static let sessions = TableSchema(
        name: "sessions", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid),
            ColumnSchema("user_id", .uuid),
            ColumnSchema("scenario_id", .uuid, nullable: true),
            ColumnSchema("status", .text),
            ColumnSchema("duration_seconds", .integer, nullable: true),
            ColumnSchema("created_at", .timestamp),
        ],
        isView: true
    )

    public static let feedbackReports = TableSchema(
        name: "feedback_reports", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid, serverManaged: true),
            ColumnSchema("session_id", .uuid),
            ColumnSchema("transcript", .text),
            ColumnSchema("ai_summary", .text),
            ColumnSchema("score_raw", .integer),
            ColumnSchema("strengths", .text),
            ColumnSchema("areas_for_improvement", .text),
            ColumnSchema("created_at", .timestamp, serverManaged: true),
        ],
        uniqueKeys: [["session_id"]]
    )

    public static let userProgressSnapshots = TableSchema(
        name: "user_progress_snapshots", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid, serverManaged: true),
            ColumnSchema("user_id", .uuid),
            ColumnSchema("snapshot_date", .date),
            ColumnSchema("average_score", .float),
            ColumnSchema("sessions_completed_count", .integer),
            ColumnSchema("strengths_topics", .json),
            ColumnSchema("created_at", .timestamp, serverManaged: true),
        ]
    )

    public static let auditLogs = TableSchema(
        name: "audit_logs", primaryKey: "id",
        columns: [
            ColumnSchema("id", .uuid, serverManaged: true),
            ColumnSchema("admin_id", .uuid),
            ColumnSchema("action", .text),
            ColumnSchema("target_entity_id", .uuid, nullable: true),
            ColumnSchema("details", .json, nullable: true),
            ColumnSchema("ip_address", .text),
            ColumnSchema("timestamp", .timestamp, serverManaged: true),
        ]
    )

    /// Every table and view, by name.
    public static let tables: [String: TableSchema] = Dictionary(
        uniqueKeysWithValues: [
            users, subscriptions, caseBriefs, scenarios, profiles, practiceRooms, practiceRounds,
            sessions, feedbackReports, userProgressSnapshots, auditLogs,
        ].map { ($0.name, $0) }
    )

    /// The table or view called `name`, if the public schema has it.
    public static func table(_ name: String) -> TableSchema? { tables[name] }
}
