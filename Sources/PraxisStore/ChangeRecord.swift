import Foundation
public import PraxisDomain

/// One committed change of a published table, as the realtime feed delivers it.
public struct ChangeRecord: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case insert = "INSERT"
        case update = "UPDATE"
        case delete = "DELETE"
    }

    /// The feed offset: strictly increasing in commit order.
    public var offset: Int64
    public var table: String
    public var kind: Kind
    /// The row after the change (INSERT, UPDATE).
    public var record: Row?
    /// The row before the change (UPDATE, DELETE).
    public var oldRecord: Row?
    public var commitTimestamp: String

    public init(offset: Int64, table: String, kind: Kind, record: Row?, oldRecord: Row?, commitTimestamp: String) {
        self.offset = offset
        self.table = table
        self.kind = kind
        self.record = record
        self.oldRecord = oldRecord
        self.commitTimestamp = commitTimestamp
    }

    /// The tables whose changes are published.
    public static let publishedTables: Set<String> = ["practice_rooms", "practice_rounds", "profiles"]
}

/// Stored rows keep SQLite's values (0/1 booleans, JSON as text), so they decode back exactly.
enum StoredRow {
    static func encode(_ row: Row?) -> String? {
        guard let row else { return nil }
        var object: [String: JSONValue] = [:]
        for (name, value) in row {
            switch value {
            case .null: object[name] = .null
            case .integer(let number): object[name] = .number(Double(number))
            case .real(let number): object[name] = .number(number)
            case .text(let text): object[name] = .string(text)
            }
        }
        return JSONValue.object(object).jsonString
    }

    /// An UPDATE's old row as the log keeps it: the columns whose values the update changed
    /// (the rest are the new row's), so a column the update left alone (a round's transcript
    /// under its assessment) is logged once, in `record`, not twice.
    static func changedColumns(of oldRecord: Row, against record: Row) -> Row {
        oldRecord.filter { record[$0.key] != $0.value }
    }

    /// The whole old row back from ``changedColumns(of:against:)``.
    static func restore(changed: Row?, record: Row?) -> Row? {
        guard let changed else { return nil }
        return (record ?? [:]).merging(changed) { _, old in old }
    }

    /// The text of `oldRecord` as logged for a change of `kind`, and whether it holds only
    /// the changed columns (`realtime_changes.old_record_changes_only`).
    static func encodeOld(_ oldRecord: Row?, kind: ChangeRecord.Kind, record: Row?) -> (text: String?, changesOnly: Bool) {
        guard kind == .update, let oldRecord, let record else { return (encode(oldRecord), false) }
        return (encode(changedColumns(of: oldRecord, against: record)), true)
    }

    static func decode(_ text: String?) -> Row? {
        guard let text, case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return nil }
        var row: Row = [:]
        for (name, value) in object {
            switch value {
            case .number(let number): row[name] = number.rounded() == number && abs(number) < 9e15 ? .integer(Int64(number)) : .real(number)
            case .string(let text): row[name] = .text(text)
            default: row[name] = .null
            }
        }
        return row
    }
}
