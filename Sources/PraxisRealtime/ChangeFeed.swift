import PraxisDomain
import PraxisProtocol
import PraxisStore

/// Turns committed changes into `postgres_changes` payloads: the `data` object is encoded
/// once per change (and per old-row variant); recipients only add their binding ids.
enum ChangeFeed {
    static let publishedTables = ChangeRecord.publishedTables

    /// Postgres type names clients see in `columns`.
    static func postgresType(_ type: ColumnType) -> String {
        switch type {
        case .uuid: "uuid"
        case .text: "text"
        case .integer: "int4"
        case .float: "float8"
        case .boolean: "bool"
        case .timestamp: "timestamptz"
        case .date: "date"
        case .json: "jsonb"
        }
    }

    /// The `data` object of a change. `fullOldRecord` false gives only the primary key of
    /// the old row (for a recipient who could not see the old row).
    static func dataJSON(_ change: ChangeRecord, table: TableSchema, epoch: String, fullOldRecord: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out.append(contentsOf: #"{"schema":"public","table":"#.utf8)
        JSONText.appendString(table.name, to: &out)
        out.append(contentsOf: #","commit_timestamp":"#.utf8)
        JSONText.appendString(change.commitTimestamp, to: &out)
        out.append(contentsOf: #","type":"#.utf8)
        JSONText.appendString(change.kind.rawValue, to: &out)
        out.append(contentsOf: #","columns":["#.utf8)
        for (index, column) in table.columns.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"name":"#.utf8)
            JSONText.appendString(column.name, to: &out)
            out.append(contentsOf: #","type":"#.utf8)
            JSONText.appendString(postgresType(column.type), to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if let record = change.record {
            out.append(contentsOf: #","record":"#.utf8)
            RowEncoder.encodeObject(record, columns: table.columns, stripNulls: false, into: &out)
        }
        if let old = change.oldRecord {
            out.append(contentsOf: #","old_record":"#.utf8)
            if fullOldRecord {
                RowEncoder.encodeObject(old, columns: table.columns, stripNulls: false, into: &out)
            } else {
                let key = table.columns.filter { $0.name == table.primaryKey }
                RowEncoder.encodeObject(old, columns: key, stripNulls: false, into: &out)
            }
        }
        out.append(contentsOf: #","errors":null,"offset":"#.utf8)
        out.append(contentsOf: String(change.offset).utf8)
        out.append(contentsOf: #","epoch":"#.utf8)
        JSONText.appendString(epoch, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"ids":[…],"data":…}`.
    static func payloadJSON(ids: [Int], data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = Array(#"{"ids":["#.utf8)
        out.reserveCapacity(data.count + 32)
        out.append(contentsOf: ids.map(String.init).joined(separator: ",").utf8)
        out.append(contentsOf: #"],"data":"#.utf8)
        out.append(contentsOf: data)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Who may see `change`: the new row for INSERT/UPDATE, the old row for DELETE. Also
    /// whether they could see the old row (then they get it whole).
    static func visibility(
        _ change: ChangeRecord, caller: Caller, relations: RowPredicate.Relations
    ) -> (visible: Bool, oldVisible: Bool) {
        let predicate = AccessPolicy.readable(change.table, by: caller)
        let oldVisible = change.oldRecord.map { predicate.evaluate($0, relations: relations) } ?? false
        switch change.kind {
        case .insert, .update:
            return (change.record.map { predicate.evaluate($0, relations: relations) } ?? false, oldVisible)
        case .delete:
            return (oldVisible, oldVisible)
        }
    }

    /// The ids of `bindings` that match `change` (the row a filter sees: new, or old for DELETE).
    static func matchingIDs(_ bindings: [ChangeBinding], change: ChangeRecord) -> [Int] {
        guard let row = change.kind == .delete ? change.oldRecord : change.record else { return [] }
        return bindings.filter { $0.matches(kind: change.kind.rawValue, table: change.table, row: row) }.map(\.id)
    }
}
