public import PraxisDomain

/// Writes rows as JSON the way PostgREST presents Postgres rows: booleans as `true`/`false`,
/// JSON columns as nested JSON, numbers as numbers, keys in the selected order.
///
/// Encoding is done once per message; the bytes can be sent to many recipients.
public enum RowEncoder {
    /// `[{...}, ...]` for `rows`, with `columns` in order. `stripNulls` omits null fields.
    public static func encodeArray(_ rows: [Row], columns: [ColumnSchema], stripNulls: Bool = false) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(64 + rows.count * columns.count * 24)
        for (index, row) in rows.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            encodeObject(row, columns: columns, stripNulls: stripNulls, into: &out)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// `{...}` for one row.
    public static func encodeObject(_ row: Row, columns: [ColumnSchema], stripNulls: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        encodeObject(row, columns: columns, stripNulls: stripNulls, into: &out)
        return out
    }

    public static func encodeObject(_ row: Row, columns: [ColumnSchema], stripNulls: Bool, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for column in columns {
            let value = row[column.name] ?? .null
            if stripNulls, value.isNull { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONText.appendString(column.name, to: &out)
            out.append(UInt8(ascii: ":"))
            encodeValue(value, type: column.type, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// One value as JSON, by column type.
    public static func encodeValue(_ value: Value, type: ColumnType, into out: inout [UInt8]) {
        switch (value, type) {
        case (.null, _):
            out.append(contentsOf: "null".utf8)
        case (.integer(let number), .boolean):
            out.append(contentsOf: (number != 0 ? "true" : "false").utf8)
        case (.integer(let number), _):
            out.append(contentsOf: String(number).utf8)
        case (.real(let number), _):
            out.append(contentsOf: (number.isFinite ? String(number) : "null").utf8)
        case (.text(let text), .json):
            // Stored JSON is checked by json_valid on write, so it is embedded as is.
            out.append(contentsOf: text.utf8)
        case (.text(let text), _):
            JSONText.appendString(text, to: &out)
        }
    }
}

/// JSON string escaping.
public enum JSONText {
    /// Appends `text` as a JSON string literal (quotes included).
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        JSONValue.appendString(text, to: &out)
    }

    /// `text` as a JSON string literal.
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        appendString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
