/// Rows for `json_to_recordset`: a JSON array of objects, built as text (every value a JSON
/// string, number or null; JSON documents such as payloads as strings, cast in SQL).
struct RoomRowsJSON {
    private var body = "["
    private(set) var isEmpty = true

    /// The array's JSON text.
    var text: String { body + "]" }

    mutating func append(_ event: RoomEventRecord, roomID: String) {
        add([
            ("room_id", string(roomID)), ("offset", String(event.offset)), ("type", string(event.type)), ("round", number(event.round)),
            ("client_id", string(event.clientID)), ("user_id", string(event.userID)), ("seq", number(event.seq)),
            ("payload", string(event.payloadJSON)), ("at", string(event.at)),
        ])
    }

    mutating func append(_ command: RoomCommandRecord, roomID: String) {
        add([
            ("room_id", string(roomID)), ("user_id", string(command.userID)), ("client_id", string(command.clientID)),
            ("fingerprint", string(command.fingerprint)), ("reply", string(command.replyJSON)),
        ])
    }

    mutating func append(_ state: RoomStateRecord, roomID: String) {
        let cases = state.caseIDs
        add([
            ("room_id", string(roomID)), ("phase", string(state.phase)), ("state", string(state.json)),
            ("case1", string(cases.first ?? nil)), ("case2", string(cases.dropFirst().first ?? nil)),
        ])
    }

    private mutating func add(_ fields: [(String, String)]) {
        body += isEmpty ? "{" : ",{"
        body += fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",")
        body += "}"
        isEmpty = false
    }

    private func string(_ value: String?) -> String { value.map(PostgresDatabase.jsonString) ?? "null" }
    private func number(_ value: Int?) -> String { value.map(String.init) ?? "null" }
}
