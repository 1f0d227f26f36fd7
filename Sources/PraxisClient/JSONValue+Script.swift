import PraxisDomain

/// The scripted client's (`praxis client run`) view of a JSON value: scripts, payloads,
/// replies and saved variables are PraxisDomain's `JSONValue`. Numbers are doubles; an
/// integral number (below 9e15) prints without a fraction, so ids, offsets and counts print
/// as they came, and `1` and `1.0` compare equal.
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
    /// Compact JSON with sorted keys, as scripts print it (an integral number below 9e15
    /// without a fraction; controls other than \\n, \\r, \\t as \\u00XX).
    var scriptText: String {
        var out = ""
        writeScript(to: &out)
        return out
    }

    /// The JSON text, cut to about `limit` characters (with "…" when cut).
    func truncated(_ limit: Int = 500) -> String {
        let text = scriptText
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }

    private func writeScript(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let value):
            if value.isFinite, value.rounded() == value, abs(value) < 9e15 {
                out += String(Int64(value))
            } else if value.isFinite {
                out += "\(value)"
            } else {
                out += "null"
            }
        case .string(let text): Self.writeString(text, to: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.writeScript(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                Self.writeString(key, to: &out)
                out += ":"
                fields[key]!.writeScript(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
