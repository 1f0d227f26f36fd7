public import PraxisDomain
import Foundation

/// Turns client values (JSON body fields, filter strings) into stored values of a column's
/// type, or a PostgREST-shaped error saying why not.
public enum ColumnValues {
    /// A JSON body value for `column`.
    public static func fromJSON(_ json: JSONValue, column: ColumnSchema, table: String) throws(DataError) -> Value {
        guard StoredText.isStorable(json) else { throw .nulCharacter }
        switch (column.type, json) {
        case (_, .null):
            guard column.nullable || column.serverManaged else { throw .notNull(column.name, table: table) }
            return .null
        case (.json, _):
            return .text(json.jsonString)
        case (.boolean, .bool(let value)):
            return .integer(value ? 1 : 0)
        case (.boolean, .string(let text)):
            return try fromText(text, column: column)
        case (.integer, .number(let number)):
            guard number.rounded() == number, abs(number) < 9.2e18 else { throw .invalidText("integer", String(number)) }
            return .integer(Int64(number))
        case (.float, .number(let number)):
            return .real(number)
        case (.integer, .string(let text)), (.float, .string(let text)):
            return try fromText(text, column: column)
        case (.uuid, .string(let text)), (.text, .string(let text)), (.timestamp, .string(let text)), (.date, .string(let text)):
            return try fromText(text, column: column)
        case (.text, .number(let number)):
            return .text(number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number))
        default:
            throw .invalidText(typeName(column.type), json.jsonString)
        }
    }

    /// A value written as text (a filter operand, or a JSON string) for `column`.
    public static func fromText(_ text: String, column: ColumnSchema) throws(DataError) -> Value {
        guard StoredText.isStorable(text) else { throw .nulCharacter }
        switch column.type {
        case .text, .json:
            return .text(text)
        case .uuid:
            guard let uuid = UUID(uuidString: text) else { throw .invalidText("uuid", text) }
            return .text(uuid.uuidString.lowercased())
        case .integer:
            guard let number = Int64(text.trimmingCharacters(in: .whitespaces)) else { throw .invalidText("integer", text) }
            return .integer(number)
        case .float:
            guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite else {
                throw .invalidText("double precision", text)
            }
            return .real(number)
        case .boolean:
            switch text.lowercased() {
            case "true", "t", "yes", "y", "on", "1": return .integer(1)
            case "false", "f", "no", "n", "off", "0": return .integer(0)
            default: throw .invalidText("boolean", text)
            }
        case .timestamp:
            guard let canonical = Timestamp.canonical(text) else { throw .invalidDatetime(text) }
            return .text(canonical)
        case .date:
            guard isDate(text) else { throw DataError(.badRequest, code: "22007", message: "invalid input syntax for type date: \"\(text.prefix(200))\"") }
            return .text(text)
        }
    }

    static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return false }
        var components = DateComponents()
        components.year = year
        components.month = month
        components.day = day
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return (1...12).contains(month) && components.isValidDate(in: calendar)
    }

    static func typeName(_ type: ColumnType) -> String {
        switch type {
        case .uuid: "uuid"
        case .text: "text"
        case .integer: "integer"
        case .float: "double precision"
        case .boolean: "boolean"
        case .timestamp: "timestamp with time zone"
        case .date: "date"
        case .json: "jsonb"
        }
    }
}
