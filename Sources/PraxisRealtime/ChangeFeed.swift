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

    /// What a change too large for one message says in `errors` (Supabase's wording).
    static let tooLarge = "Error 413: Payload Too Large"
    /// A value kept in a too-large change's rows encodes in fewer bytes than this (Supabase's).
    static let keptValueBytes = 64

    /// The `data` object of a change. `fullOldRecord` false gives only the primary key of
    /// the old row (for a recipient who could not see the old row). When the rows take more
    /// than `maxRecordBytes` of JSON, they keep only their short values and `errors` says so.
    static func dataJSON(
        _ change: ChangeRecord, table: TableSchema, epoch: String, fullOldRecord: Bool, maxRecordBytes: Int = .max
    ) -> [UInt8] {
        let oldColumns = fullOldRecord ? table.columns : table.columns.filter { $0.name == table.primaryKey }
        var record = change.record.map { RowEncoder.encodeObject($0, columns: table.columns) }
        var oldRecord = change.oldRecord.map { RowEncoder.encodeObject($0, columns: oldColumns) }
        let tooLarge = (record?.count ?? 0) + (oldRecord?.count ?? 0) > maxRecordBytes
        if tooLarge {
            record = change.record.map { RowEncoder.encodeObject($0, columns: shortColumns(of: $0, among: table.columns)) }
            oldRecord = change.oldRecord.map { RowEncoder.encodeObject($0, columns: shortColumns(of: $0, among: oldColumns)) }
        }
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
        if let record {
            out.append(contentsOf: #","record":"#.utf8)
            out.append(contentsOf: record)
        }
        if let oldRecord {
            out.append(contentsOf: #","old_record":"#.utf8)
            out.append(contentsOf: oldRecord)
        }
        out.append(contentsOf: #","errors":"#.utf8)
        if tooLarge {
            out.append(UInt8(ascii: "["))
            JSONText.appendString(Self.tooLarge, to: &out)
            out.append(UInt8(ascii: "]"))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(contentsOf: #","offset":"#.utf8)
        out.append(contentsOf: String(change.offset).utf8)
        out.append(contentsOf: #","epoch":"#.utf8)
        JSONText.appendString(epoch, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The columns of `row` whose values encode in fewer than `keptValueBytes` bytes.
    static func shortColumns(of row: Row, among columns: [ColumnSchema]) -> [ColumnSchema] {
        columns.filter { column in
            var value: [UInt8] = []
            RowEncoder.encodeValue(row[column.name] ?? .null, type: column.type, into: &value)
            return value.count < keptValueBytes
        }
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
