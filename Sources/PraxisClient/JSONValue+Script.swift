import PraxisDomain

/// The scripted client's (`praxis client run`) view of a JSON value: scripts, payloads,
/// replies and saved variables are PraxisDomain's `JSONValue`, printed by its `jsonString`.
/// Numbers are doubles; an integral number (below 1e15) prints without a fraction, so ids,
/// offsets and counts print as they came, and `1` and `1.0` compare equal.
extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var intValue: Int64? {
        switch self {
        case .number(let value) where value.rounded() == value && abs(value) < 9e15: Int64(value)
        default: nil
        }
    }

    var objectValue: [String: JSONValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    /// The kind, for error messages: "a string", "an object", …
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// An integer.
    static func int(_ value: some BinaryInteger) -> JSONValue { .number(Double(value)) }
}

extension JSONValue {
    /// The JSON text (`jsonString`), cut to about `limit` characters (with "…" when cut).
    func truncated(_ limit: Int = 500) -> String { jsonString.clipped(limit) }
}

extension String {
    /// The text cut to `limit` characters, with "…" when cut.
    func clipped(_ limit: Int) -> String { count > limit ? String(prefix(limit)) + "…" : self }
}
