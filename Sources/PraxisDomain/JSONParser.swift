/// Why a text is not JSON: the message names the line and column.
public struct JSONSyntaxError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension JSONValue {
    /// Parses JSON text. Errors name line and column ("line 3, column 7: expected ',' or
    /// '}'"); a key repeated in one object is an error too (a script would silently lose one).
    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(bytes: Array(text.utf8), building: true, maxDepth: 200)
        return try parser.parseDocument()
    }
}

/// The one JSON parser of the package, in two modes. Building (`JSONValue.parse`, the scripted
/// client's): the value, line and column in errors, repeated keys refused, `01` read as 1.
/// Checking (`StrictJSON.isValid`, request bodies): strict RFC 8259 syntax only — nothing is
/// built, so keys may repeat and a lone surrogate escape passes (the decoder after it judges).
package struct JSONParser {
    let bytes: [UInt8]
    let building: Bool
    /// The most containers (objects, arrays) nested in each other.
    let maxDepth: Int
    var position = 0
    var depth = 0

    package init(bytes: [UInt8], building: Bool, maxDepth: Int) {
        self.bytes = bytes
        self.building = building
        self.maxDepth = maxDepth
    }

    /// Exactly one value, with optional white space around it (`.null` when only checking).
    package mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
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
        while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D || bytes[position] == 0x09 {
            position += 1
        }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(JSONSyntaxError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { throw error("expected \(what)") }
        position += 1
    }

    mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
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

    mutating func parseLiteral(_ word: String, _ value: JSONValue) throws(JSONSyntaxError) -> JSONValue {
        let start = position
        for byte in word.utf8 {
            guard position < bytes.count, bytes[position] == byte else {
                position = start
                throw error("expected a value (object, array, string, number, true, false or null)")
            }
            position += 1
        }
        return value
    }

    /// Enters a container (past its opening byte); false when it is empty (past its closing byte).
    mutating func open(closing: UInt8) throws(JSONSyntaxError) -> Bool {
        depth += 1
        guard depth <= maxDepth else { throw error("nested too deeply") }
        position += 1
        skipWhitespace()
        guard position < bytes.count, bytes[position] == closing else { return true }
        position += 1
        return false
    }

    /// After a member: true for a `,`, false past the container's closing byte.
    mutating func next(closing: UInt8, inside what: String) throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of the text inside \(what)") }
        let byte = bytes[position]
        guard byte == UInt8(ascii: ",") || byte == closing else { throw error("expected ',' or '\(Unicode.Scalar(closing))'") }
        position += 1
        return byte == UInt8(ascii: ",")
    }

    mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
        defer { depth -= 1 }
        var fields: [String: JSONValue] = [:]
        var more = try open(closing: UInt8(ascii: "}"))
        while more {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a key in double quotes") }
            let keyStart = position
            let key = try parseString()
            if building, fields[key] != nil {
                position = keyStart
                throw error("key \"\(key)\" appears twice in one object")
            }
            try expect(UInt8(ascii: ":"), "':' after the key")
            let value = try parseValue()
            if building { fields[key] = value }
            more = try next(closing: UInt8(ascii: "}"), inside: "an object")
        }
        return .object(fields)
    }

    mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
        defer { depth -= 1 }
        var items: [JSONValue] = []
        var more = try open(closing: UInt8(ascii: "]"))
        while more {
            let item = try parseValue()
            if building { items.append(item) }
            more = try next(closing: UInt8(ascii: "]"), inside: "an array")
        }
        return .array(items)
    }

    /// A string from its opening quote; "" when only checking.
    mutating func parseString() throws(JSONSyntaxError) -> String {
        position += 1  // the opening quote
        var text = String.UnicodeScalarView()
        var run = position  // the first byte not yet added to `text`
        func flush(_ parser: JSONParser, _ text: inout String.UnicodeScalarView) {
            if parser.building, run < parser.position {
                text.append(contentsOf: String(decoding: parser.bytes[run..<parser.position], as: UTF8.self).unicodeScalars)
            }
        }
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\""):
                flush(self, &text)
                position += 1
                return String(text)
            case UInt8(ascii: "\\"):
                flush(self, &text)
                position += 1
                guard position < bytes.count else { break }
                try parseEscape(into: &text)
                run = position
            case 0..<0x20:
                throw error("control character in a string (write \\n, \\t, …)")
            default:
                position += 1
            }
        }
        throw error("unterminated string")
    }

    /// The character after a backslash, appended to `text` when building.
    mutating func parseEscape(into text: inout String.UnicodeScalarView) throws(JSONSyntaxError) {
        let escape = bytes[position]
        position += 1
        let scalar: Unicode.Scalar
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalar = Unicode.Scalar(escape)
        case UInt8(ascii: "b"): scalar = "\u{08}"
        case UInt8(ascii: "f"): scalar = "\u{0C}"
        case UInt8(ascii: "n"): scalar = "\n"
        case UInt8(ascii: "r"): scalar = "\r"
        case UInt8(ascii: "t"): scalar = "\t"
        case UInt8(ascii: "u"):
            var code = try parseHex4()
            guard building else { return }
            if (0xD800..<0xDC00).contains(code), position + 1 < bytes.count,
                bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
            {
                position += 2
                let low = try parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair in \\u escape") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let value = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
            scalar = value
        default:
            position -= 1
            throw error("invalid escape in a string")
        }
        if building { text.append(scalar) }
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

    /// Skips decimal digits; how many.
    mutating func skipDigits() -> Int {
        let from = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
        return position - from
    }

    mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        var isInteger = true
        let integerStart = position
        guard skipDigits() > 0 else { throw error("invalid number") }
        if !building, bytes[integerStart] == UInt8(ascii: "0"), position - integerStart > 1 {
            position = integerStart + 1
            throw error("invalid number: a leading zero")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard skipDigits() > 0 else { throw error("invalid number: digits must follow '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard skipDigits() > 0 else { throw error("invalid number: digits must follow the exponent") }
        }
        guard building else { return .null }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if isInteger, let value = Int64(text) { return .number(Double(value)) }
        guard let value = Double(text) else {
            position = start
            throw error("invalid number")
        }
        return .number(value)
    }
}
