import PraxisDomain
import Testing

@testable import PraxisClient

/// The script language's JSON: what `praxis client run` parses, prints and compares.
@Suite("Script JSON")
struct ScriptJSONTests {
    @Test("prints compact JSON with sorted keys; integral numbers without a fraction", arguments: [
        (#"{"b": [1, 2.5, -0, 1e2], "a": null, "c": {"y": true, "x": false}}"#, #"{"a":null,"b":[1,2.5,0,100],"c":{"x":false,"y":true}}"#),
        (#""tab\there \"q\" back\\slash \u0008 \u001f é 😀 \/""#, #""tab\there \"q\" back\\slash \b \u001f é 😀 /""#),
        (#"[12345678901234, 0.1, 1.5e300, "\ud83d\ude00"]"#, #"[12345678901234,0.1,1.5e+300,"😀"]"#),
    ])
    func printing(text: String, printed: String) throws {
        #expect(try JSONValue.parse(text).jsonString == printed)
    }

    @Test("names line and column of a syntax error", arguments: [
        ("{\"a\": 1,\n  \"b\" 2}", "line 2, column 7: expected ':' after the key"),
        (#"{"a": 1, "a": 2}"#, #"line 1, column 10: key "a" appears twice in one object"#),
        ("[1, 2", "line 1, column 6: unexpected end of the text inside an array"),
        ("[01x]", "line 1, column 4: expected ',' or ']'"),
        (#""a\qb""#, "line 1, column 4: invalid escape in a string"),
        ("1 2", "line 1, column 3: unexpected text after the JSON value"),
        ("-", "line 1, column 2: invalid number"),
    ])
    func syntaxErrors(text: String, message: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
        do {
            _ = try JSONValue.parse(text)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test("1 and 1.0 are equal; intValue only for integral numbers")
    func numbers() throws {
        #expect(try JSONValue.parse("1") == JSONValue.parse("1.0"))
        #expect(try JSONValue.parse("7").intValue == 7)
        #expect(try JSONValue.parse("7.5").intValue == nil)
        #expect(JSONValue.string("7").intValue == nil)
        #expect(JSONValue.int(42).jsonString == "42")
    }

    @Test("paths follow keys, indices and length")
    func paths() throws {
        let value = try JSONValue.parse(#"{"body": [{"id": "r1", "tags": ["a", "b"]}], "name": "héllo", "o": {"length": 9}}"#)
        #expect(value.value(atPath: "body.0.id") == .string("r1"))
        #expect(value.value(atPath: "body.length") == .int(1))
        #expect(value.value(atPath: "body.0.tags.length") == .int(2))
        #expect(value.value(atPath: "name.length") == .int(5))
        #expect(value.value(atPath: "o.length") == .int(9))
        #expect(value.value(atPath: "body.1") == nil)
        #expect(value.value(atPath: "missing") == nil)
    }

    @Test("subset matching and where it fails")
    func matching() throws {
        let have = try JSONValue.parse(#"{"status": "ok", "response": {"seq": 3, "list": [1, 2]}}"#)
        #expect(have.contains(try JSONValue.parse(#"{"status": "ok"}"#)))
        #expect(have.contains(try JSONValue.parse(#"{"response": {"list": [1, 2.0]}}"#)))
        #expect(!have.contains(try JSONValue.parse(#"{"response": {"list": [1]}}"#)))
        #expect(have.mismatch(with: try JSONValue.parse(#"{"status": "ok"}"#)) == nil)
        #expect(have.mismatch(with: try JSONValue.parse(#"{"status": "error"}"#)) == #"at status: expected "error", arrived "ok""#)
        #expect(have.mismatch(with: try JSONValue.parse(#"{"response": {"list": [1]}}"#)) == "at response.list: expected 1 element, arrived 2")
        #expect(have.mismatch(with: try JSONValue.parse(#"{"x": 1}"#)) == "at the top: the key x is missing")
    }

    @Test("truncates long text with an ellipsis")
    func truncation() {
        let long = JSONValue.string(String(repeating: "x", count: 600))
        #expect(long.truncated().count == 501)
        #expect(long.truncated().hasSuffix("…"))
        #expect(JSONValue.string("x").truncated() == #""x""#)
    }
}
