import PraxisDomain
import Testing

@testable import PraxisProtocol

@Suite("PostgrestQuery: limits and stored text")
struct PostgrestQueryLimitsTests {
    static func items(filters: Int = 0, orderTerms: Int = 0, inValues: Int = 0) -> [(name: String, value: String)] {
        var items = (0..<filters).map { (name: "type", value: "neq.x\($0)") }
        if orderTerms > 0 { items.append((name: "order", value: Array(repeating: "id", count: orderTerms).joined(separator: ","))) }
        if inValues > 0 { items.append((name: "id", value: "in.(" + Array(repeating: "x", count: inValues).joined(separator: ",") + ")")) }
        return items
    }

    @Test func queriesAtEachLimitParse() throws {
        let limits = PostgrestQuery.Limits(maxFilters: 5, maxOrderTerms: 3, maxFilterValues: 8)
        #expect(try PostgrestQuery.parse(Self.items(filters: 4, orderTerms: 3, inValues: 4), limits: limits).filters.count == 5)
    }

    @Test(arguments: [
        (5, 0, 0, "too many filters: 5 (at most 4)"),
        (0, 4, 0, "too many order terms: 4 (at most 3)"),
        (2, 0, 7, "too many filter values: 9 (at most 8)"),
    ])
    func queriesOverALimitAreRefusedWithIt(filters: Int, orderTerms: Int, inValues: Int, message: String) {
        let limits = PostgrestQuery.Limits(maxFilters: 4, maxOrderTerms: 3, maxFilterValues: 8)
        #expect(throws: PostgrestQueryError(message: message, isUnsupported: false)) {
            try PostgrestQuery.parse(Self.items(filters: filters, orderTerms: orderTerms, inValues: inValues), limits: limits)
        }
    }

    @Test func theDefaultsStayInsideWhatSQLiteCanPlan() {
        let limits = PostgrestQuery.Limits()
        #expect(limits.maxFilters == 100 && limits.maxOrderTerms == 32 && limits.maxFilterValues == 1000)
        // SQLite: expression depth 1,000; 32,766 bound values.
        #expect(limits.maxFilters < 1000 && limits.maxFilterValues < 32766)
        #expect(throws: PostgrestQueryError.self) { try PostgrestQuery.parse(Self.items(filters: 1100)) }
        #expect(throws: PostgrestQueryError.self) { try PostgrestQuery.parse(Self.items(orderTerms: 3000)) }
    }

    @Test func aNULAnywhereInTheQueryIsRefused() {
        #expect(throws: PostgrestQueryError.self) { try PostgrestQuery.parse([(name: "first_name", value: "eq.a\u{0}b")]) }
        #expect(throws: PostgrestQueryError.self) { try PostgrestQuery.parse([(name: "first\u{0}name", value: "eq.a")]) }
    }

    @Test func textAndJSONValuesWithANULAreRefusedWhole() throws {
        let text = ColumnSchema("first_name", .text)
        let json = ColumnSchema("details", .json)
        #expect(throws: DataError.nulCharacter) { try ColumnValues.fromJSON(.string("a\u{0}b"), column: text, table: "profiles") }
        #expect(throws: DataError.nulCharacter) { try ColumnValues.fromText("a\u{0}b", column: text) }
        #expect(throws: DataError.nulCharacter) {
            try ColumnValues.fromJSON(.object(["note": .array([.string("ok"), .string("x\u{0}")])]), column: json, table: "audit_logs")
        }
        #expect(throws: DataError.nulCharacter) { try ColumnValues.fromJSON(.object(["k\u{0}": .null]), column: json, table: "audit_logs") }
        #expect(try ColumnValues.fromJSON(.string("a\u{1}b é"), column: text, table: "profiles") == .text("a\u{1}b é"))
    }
}
