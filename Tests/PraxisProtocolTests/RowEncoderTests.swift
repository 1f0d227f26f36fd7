import PraxisDomain
import Testing

@testable import PraxisProtocol

@Suite("RowEncoder")
struct RowEncoderTests {
    let columns = [
        ColumnSchema("id", .uuid), ColumnSchema("private", .boolean), ColumnSchema("stage", .integer),
        ColumnSchema("persona", .json), ColumnSchema("note", .text, nullable: true),
    ]

    @Test func presentsValuesByColumnType() {
        let row: Row = ["id": .text("a"), "private": .integer(1), "stage": .integer(2), "persona": .text("{\"x\":[1]}"), "note": .null]
        let json = String(decoding: RowEncoder.encodeObject(row, columns: columns), as: UTF8.self)
        #expect(json == #"{"id":"a","private":true,"stage":2,"persona":{"x":[1]},"note":null}"#)
    }

    @Test func stripsNullsWhenAsked() {
        let row: Row = ["id": .text("a"), "private": .integer(0), "stage": .integer(1), "persona": .text("{}"), "note": .null]
        let json = String(decoding: RowEncoder.encodeArray([row], columns: columns, stripNulls: true), as: UTF8.self)
        #expect(json == #"[{"id":"a","private":false,"stage":1,"persona":{}}]"#)
    }

    @Test func escapesStrings() {
        #expect(JSONText.quoted("a\"b\\c\nd\u{01}é") == #""a\"b\\c\nd\u0001é""#)
    }
}

@Suite("ColumnValues")
struct ColumnValuesTests {
    @Test func convertsTextByType() throws {
        #expect(try ColumnValues.fromText("TRUE", column: ColumnSchema("b", .boolean)) == .integer(1))
        #expect(try ColumnValues.fromText("3", column: ColumnSchema("i", .integer)) == .integer(3))
        #expect(try ColumnValues.fromText("2026-01-02T03:04:05+01:00", column: ColumnSchema("t", .timestamp)) == .text("2026-01-02T02:04:05.000000Z"))
        #expect(
            try ColumnValues.fromText("6F9619FF-8B86-4011-B42D-00C04FC964FF", column: ColumnSchema("u", .uuid))
                == .text("6f9619ff-8b86-4011-b42d-00c04fc964ff")
        )
    }

    @Test(arguments: [
        ("abc", ColumnType.integer, "22P02"), ("maybe", .boolean, "22P02"), ("not a date", .timestamp, "22007"),
        ("1 OR 1=1", .uuid, "22P02"), ("2026-02-30", .date, "22007"),
    ])
    func rejectsWrongTypes(text: String, type: ColumnType, code: String) {
        let error = #expect(throws: DataError.self) { try ColumnValues.fromText(text, column: ColumnSchema("c", type)) }
        #expect(error?.code == code)
    }

    @Test func jsonValuesByType() throws {
        #expect(try ColumnValues.fromJSON(.bool(false), column: ColumnSchema("b", .boolean), table: "t") == .integer(0))
        #expect(try ColumnValues.fromJSON(.object(["a": .number(1)]), column: ColumnSchema("j", .json), table: "t") == .text(#"{"a":1}"#))
        #expect(throws: DataError.self) { try ColumnValues.fromJSON(.number(1.5), column: ColumnSchema("i", .integer), table: "t") }
        #expect(throws: DataError.self) { try ColumnValues.fromJSON(.null, column: ColumnSchema("n", .text), table: "t") }
        #expect(try ColumnValues.fromJSON(.null, column: ColumnSchema("n", .text, nullable: true), table: "t") == .null)
    }
}

@Suite("StrictJSON")
struct StrictJSONTests {
    @Test(arguments: [#"{}"#, #"[]"#, #" {"a": [1, -2.5e3, true, false, null, "x\u00e9\n"]} "#, #""s""#, "0", "-0.1", #"{"a":1,"a":2}"#, #""\ud800""#])
    func acceptsJSON(text: String) {
        #expect(StrictJSON.isValid(Array(text.utf8)))
    }

    @Test(arguments: [#"{"a":1,}"#, #"[1,]"#, "{'a':1}", "NaN", "01", "1.", #"{"a":1} x"#, "", #""\x""#, "// c\n{}", #"{"a"}"#])
    func refusesWhatRFC8259Refuses(text: String) {
        #expect(!StrictJSON.isValid(Array(text.utf8)))
    }

    @Test func refusesDeepNesting() {
        #expect(!StrictJSON.isValid(Array((String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)).utf8)))
    }
}
