import Testing

@testable import PraxisProtocol

@Suite("PostgrestQuery")
struct PostgrestQueryTests {
    func parse(_ items: [(String, String)]) throws(PostgrestQueryError) -> PostgrestQuery {
        try PostgrestQuery.parse(items.map { (name: $0.0, value: $0.1) })
    }

    @Test func selectStarAndLists() throws {
        #expect(try parse([("select", "*")]).select == nil)
        #expect(try parse([("select", "id, host_id,\"stage\"")]).select == ["id", "host_id", "stage"])
        #expect(try parse([("select", "*,nope")]).select == ["*", "nope"])
    }

    @Test(arguments: ["rooms(*)", "alias:id", "data->x", "1abc", "id;drop"])
    func selectRejectsWhatItDoesNotSupport(select: String) {
        #expect(throws: PostgrestQueryError.self) { try parse([("select", select)]) }
    }

    @Test func filtersWithEveryOperator() throws {
        let query = try parse([
            ("host_id", "eq.abc"), ("stage", "neq.2"), ("stage", "gt.1"), ("stage", "gte.1"), ("stage", "lt.3"),
            ("stage", "lte.3"), ("room_url", "like.*x*"), ("room_url", "ilike.*X*"), ("guest_id", "is.null"),
            ("type", "in.(Clinical,\"Communication\")"), ("private", "not.is.true"),
        ])
        #expect(query.filters.map(\.op) == [.eq, .neq, .gt, .gte, .lt, .lte, .like, .ilike, .is, .in, .is])
        #expect(query.filters[9].values == ["Clinical", "Communication"])
        #expect(query.filters[10].negated)
        #expect(query.filters[0].values == ["abc"])
    }

    @Test func valuesMayContainDotsAndQuotes() throws {
        let query = try parse([("room_url", "eq.x'; DROP TABLE practice_rooms; --.y")])
        #expect(query.filters[0].values == ["x'; DROP TABLE practice_rooms; --.y"])
    }

    @Test func inListsHonourQuotesAndEscapes() throws {
        #expect(try PostgrestQuery.parseList("(a, b ,\"c,d\",\"e\\\"f\")") == ["a", "b", "c,d", "e\"f"])
        #expect(try PostgrestQuery.parseList("()") == [])
        #expect(throws: PostgrestQueryError.self) { try PostgrestQuery.parseList("a,b") }
        #expect(throws: PostgrestQueryError.self) { try PostgrestQuery.parseList("(\"a)") }
    }

    @Test(arguments: ["foo.bar", "eq", "between.1", "is.maybe", "in.a,b"])
    func badFiltersAreErrors(value: String) {
        #expect(throws: PostgrestQueryError.self) { try parse([("stage", value)]) }
    }

    @Test func orderLimitOffset() throws {
        let query = try parse([("order", "datetime_utc.desc.nullslast,id"), ("limit", "10"), ("offset", "20")])
        #expect(query.order == [.init(column: "datetime_utc", ascending: false, nullsFirst: false), .init(column: "id")])
        #expect(query.limit == 10)
        #expect(query.offset == 20)
        #expect(throws: PostgrestQueryError.self) { try parse([("limit", "-1")]) }
        #expect(throws: PostgrestQueryError.self) { try parse([("order", "id.sideways")]) }
    }

    @Test func logicalOperatorsAreReportedUnsupported() {
        let error = #expect(throws: PostgrestQueryError.self) { try parse([("or", "(a.eq.1,b.eq.2)")]) }
        #expect(error?.isUnsupported == true)
    }

    @Test func columnsOfABulkInsert() throws {
        #expect(try parse([("columns", "\"a\",\"b_c\"")]).columns == ["a", "b_c"])
    }
}

@Suite("Preferences")
struct PreferencesTests {
    @Test func parsesSupabaseHeaders() {
        let preferences = Preferences(headerValues: ["return=representation,count=exact", "resolution=merge-duplicates, missing=default"])
        #expect(preferences.returning == .representation)
        #expect(preferences.countExact)
        #expect(preferences.resolution == .mergeDuplicates)
        #expect(preferences.missingDefault)
        #expect(Preferences(headerValues: []).returning == nil)
    }
}
