/// A JSON value of the scripted client (`praxis client run`): scripts, payloads, replies,
/// saved variables. Integers are kept apart from other numbers so that ids, offsets and
/// counts print as they came; `1` and `1.0` still compare equal.
public enum ScriptValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([ScriptValue])
    case object([String: ScriptValue])

    public static func == (lhs: ScriptValue, rhs: ScriptValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): Double(a) == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }

    subscript(key: String) -> ScriptValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var intValue: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value) where value.rounded() == value && abs(value) < 9e15: Int64(value)
        default: nil
        }
    }

    var objectValue: [String: ScriptValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    /// The kind, for error messages: "a string", "an object", …
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

// MARK: - Encoding

extension ScriptValue: CustomStringConvertible {
    /// Compact JSON with sorted keys.
    public var description: String {
        var out = ""
        write(to: &out)
        return out
    }

    /// The JSON text, cut to about `limit` characters (with "…" when cut).
    func truncated(_ limit: Int = 500) -> String {
        let text = description
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value):
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
                item.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                Self.writeString(key, to: &out)
                out += ":"
                fields[key]!.write(to: &out)
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

// MARK: - Decoding

extension ScriptValue: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ScriptValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ScriptValue].self))
        }
    }
}

/// Why a text is not JSON: the message names the line and column.
public struct JSONSyntaxError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension ScriptValue {
    /// Parses JSON text. Errors name line and column ("line 3, column 7: expected ',' or
    /// '}'"); a key repeated in one object is an error too (a script would silently lose one).
    public static func parse(_ text: String) throws(JSONSyntaxError) -> ScriptValue {
        var parser = JSONParser(bytes: Array(text.utf8))
        return try parser.parseDocument()
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var position = 0
    var depth = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JSONSyntaxError) -> ScriptValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard position == bytes.count else { throw error("unexpected text after the JSON value") }
        return value
    }

    func error(_ message: String) -> JSONSyntaxError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(position, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONSyntaxError(description: "line \(line), column \(column): \(message)")
    }

    mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(JSONSyntaxError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { throw error("expected \(what)") }
        position += 1
    }

    mutating func parseValue() throws(JSONSyntaxError) -> ScriptValue {
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of the text, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("expected a value (object, array, string, number, true, false or null)")
        }
    }

    mutating func parseLiteral(_ word: String, _ value: ScriptValue) throws(JSONSyntaxError) -> ScriptValue {
        let utf8 = Array(word.utf8)
        guard position + utf8.count <= bytes.count, Array(bytes[position..<position + utf8.count]) == utf8 else {
            throw error("expected a value (object, array, string, number, true, false or null)")
        }
        position += utf8.count
        return value
    }

    mutating func parseObject() throws(JSONSyntaxError) -> ScriptValue {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 200 else { throw error("nested too deeply") }
        position += 1
        var fields: [String: ScriptValue] = [:]
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(fields)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a key in double quotes") }
            let keyStart = position
            let key = try parseString()
            guard fields[key] == nil else {
                position = keyStart
                throw error("key \"\(key)\" appears twice in one object")
            }
            try expect(UInt8(ascii: ":"), "':' after the key")
            fields[key] = try parseValue()
            skipWhitespace()
            guard position < bytes.count else { throw error("unexpected end of the text inside an object") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            guard bytes[position] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
            position += 1
            return .object(fields)
        }
    }

    mutating func parseArray() throws(JSONSyntaxError) -> ScriptValue {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 200 else { throw error("nested too deeply") }
        position += 1
        var items: [ScriptValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw error("unexpected end of the text inside an array") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            guard bytes[position] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
            position += 1
            return .array(items)
        }
    }

    mutating func parseString() throws(JSONSyntaxError) -> String {
        position += 1  // the opening quote
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush(_ run: inout [UInt8], into scalars: inout String.UnicodeScalarView) {
            if !run.isEmpty {
                scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
                run.removeAll(keepingCapacity: true)
            }
        }
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                flush(&run, into: &scalars)
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(&run, into: &scalars)
                position += 1
                guard position < bytes.count else { break }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800..<0xDC00).contains(code), position + 1 < bytes.count,
                        bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                    {
                        position += 2
                        let low = try parseHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    scalars.append(scalar)
                default:
                    position -= 1
                    throw error("invalid escape in a string")
                }
            case 0..<0x20:
                throw error("control character in a string (write \\n, \\t, …)")
            default:
                run.append(byte)
                position += 1
            }
        }
        throw error("unterminated string")
    }

    mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("invalid \\u escape") }
        var value: UInt32 = 0
        for byte in bytes[position..<position + 4] {
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
        }
        position += 4
        return value
    }

    mutating func parseNumber() throws(JSONSyntaxError) -> ScriptValue {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        var isInteger = true
        func digits(_ parser: inout JSONParser) -> Int {
            let from = parser.position
            while parser.position < parser.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.position]) {
                parser.position += 1
            }
            return parser.position - from
        }
        guard digits(&self) > 0 else { throw error("invalid number") }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard digits(&self) > 0 else { throw error("invalid number: digits must follow '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits(&self) > 0 else { throw error("invalid number: digits must follow the exponent") }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if isInteger, let value = Int64(text) { return .int(value) }
        guard let value = Double(text) else {
            position = start
            throw error("invalid number")
        }
        return .double(value)
    }
}

// MARK: - Paths and matching

extension ScriptValue {
    /// Follows a dotted path (`body.0.id`): object keys, array indices, and `length` (the
    /// count of an array, or of a string's characters, unless the object has such a key).
    func value(atPath path: String) -> ScriptValue? {
        var current = self
        for segment in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            switch current {
            case .object(let fields):
                guard let next = fields[segment] else { return nil }
                current = next
            case .array(let items):
                if segment == "length" {
                    current = .int(Int64(items.count))
                } else {
                    guard let index = Int(segment), items.indices.contains(index) else { return nil }
                    current = items[index]
                }
            case .string(let text) where segment == "length":
                current = .int(Int64(text.count))
            default:
                return nil
            }
        }
        return current
    }

    /// Where the subset match fails first: `at body.0.text: expected "a", arrived "b"`; nil
    /// when it matches.
    func mismatch(with expected: ScriptValue, at path: String = "") -> String? {
        let here = path.isEmpty ? "the top" : path
        func join(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        switch (expected, self) {
        case (.object(let want), .object(let have)):
            for key in want.keys.sorted() {
                guard let value = have[key] else { return "at \(here): the key \(key) is missing" }
                if let inner = value.mismatch(with: want[key]!, at: join(key)) { return inner }
            }
            return nil
        case (.array(let want), .array(let have)):
            guard want.count == have.count else {
                return "at \(here): expected \(want.count) element\(want.count == 1 ? "" : "s"), arrived \(have.count)"
            }
            for (index, pair) in zip(have, want).enumerated() {
                if let inner = pair.0.mismatch(with: pair.1, at: join(String(index))) { return inner }
            }
            return nil
        default:
            return self == expected ? nil : "at \(here): expected \(expected.truncated(120)), arrived \(truncated(120))"
        }
    }

    /// Subset match: every key of `expected` is present in `self` and matches, recursively;
    /// arrays match element by element and must have the same length; other values are equal.
    func contains(_ expected: ScriptValue) -> Bool {
        switch (expected, self) {
        case (.object(let want), .object(let have)):
            return want.allSatisfy { key, value in have[key].map { $0.contains(value) } ?? false }
        case (.array(let want), .array(let have)):
            return want.count == have.count && zip(have, want).allSatisfy { $0.contains($1) }
        default:
            return self == expected
        }
    }
}
