import Foundation
import Testing

@testable import PraxisDomain

@Suite("JSONValue")
struct JSONValueTests {
    /// The hand-written writer gives what Foundation's encoder (sorted keys, slashes as they
    /// are) gives, byte for byte, for every kind of value.
    @Test(arguments: [
        JSONValue.null, .bool(true), .bool(false), .number(0), .number(-3), .number(42), .number(1e14), .number(60.5), .number(-0.125),
        .number(1e20), .string(""), .string("plain"), .string("quote \" backslash \\ slash / tab \t nl \n cr \r bs \u{08} ff \u{0C}"),
        .string("control \u{01}\u{1F} and é ü 漢字 😀"), .string("\"\\\n"), .string("\"edges\""),
        .string(String(decoding: (0..<0x80).map { UInt8($0) }, as: UTF8.self)), .array([]), .object([:]),
        .array([.number(1), .string("a"), .null, .array([.bool(true)])]),
        .object(["b": .number(2), "a": .object(["z": .null, "y": .array([.string("x")])]), "é": .string("k"), "A": .bool(false)]),
    ])
    func writesWhatFoundationWrites(_ value: JSONValue) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let foundation = String(decoding: try encoder.encode(value), as: UTF8.self)
        #expect(value.jsonString == foundation)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(value.jsonString.utf8)) == value)
    }

    @Test func nonFiniteNumbersAreNull() {
        #expect(JSONValue.number(.nan).jsonString == "null")
        #expect(JSONValue.array([.number(.infinity)]).jsonString == "[null]")
    }
}
