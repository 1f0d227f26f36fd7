import PraxisDomain
import PraxisProtocol

/// One `postgres_changes` binding of a channel: which table, which events, which filter.
struct ChangeBinding: Sendable, Equatable {
    /// Stable for equal bindings, so subscribers with the same binding share encoded bytes.
    let id: Int
    let event: String
    let schema: String
    let table: TableSchema
    let filterText: String?
    let filter: ChangeFilter?

    /// Parses a binding from a join's config; the error is the reply's reason.
    init(_ json: JSONValue) throws(RealtimeError) {
        guard case .object(let object) = json else { throw .badConfig("each postgres_changes entry is an object") }
        let event = object["event"]?.string ?? "*"
        guard ["*", "INSERT", "UPDATE", "DELETE"].contains(event) else { throw .badConfig("event must be *, INSERT, UPDATE or DELETE, not \(event)") }
        let schema = object["schema"]?.string ?? "public"
        guard schema == "public" else { throw .badConfig("schema \(schema) is not published; use public") }
        guard let tableName = object["table"]?.string else { throw .badConfig("postgres_changes needs a table") }
        guard let table = Catalog.table(tableName) else { throw .badConfig("unknown table \(tableName)") }
        guard ChangeFeed.publishedTables.contains(tableName) else {
            throw .badConfig("table \(tableName) is not published to realtime (published: \(ChangeFeed.publishedTables.sorted().joined(separator: ", ")))")
        }
        let filterText = object["filter"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        var filter: ChangeFilter?
        if let filterText {
            do {
                filter = try ChangeFilter(filterText, table: table)
            } catch {
                throw .badConfig("invalid filter \(filterText): \(error.message)")
            }
        }
        self.event = event
        self.schema = schema
        self.table = table
        self.filterText = filterText
        self.filter = filter
        self.id = Self.stableID("\(event)|\(schema)|\(tableName)|\(filterText ?? "")")
    }

    /// The binding in full (`event|schema|table|filter`): equal texts are equal bindings (the
    /// filter comes last, and the other parts cannot hold a `|`).
    var text: String { "\(event)|\(schema)|\(table.name)|\(filterText ?? "")" }

    /// FNV-1a, 31 bits: the same binding gets the same id on every connection and restart.
    static func stableID(_ text: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int(hash & 0x7FFF_FFFF)
    }

    /// Whether a change of this kind on this row matches the binding.
    func matches(kind: String, table: String, row: Row) -> Bool {
        guard table == self.table.name, event == "*" || event == kind else { return false }
        return filter?.matches(row) ?? true
    }

    /// The binding as the join reply echoes it.
    var replyJSON: JSONValue {
        var object: [String: JSONValue] = [
            "id": .number(Double(id)), "event": .string(event), "schema": .string(schema), "table": .string(table.name),
        ]
        object["filter"] = filterText.map(JSONValue.string) ?? .null
        return .object(object)
    }
}

extension JSONValue {
    var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    var object: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }
}
