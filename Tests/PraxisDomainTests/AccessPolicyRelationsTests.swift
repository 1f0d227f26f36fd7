import Testing

@testable import PraxisDomain

/// The related rows the read rules consult are known before the rules run
/// (`AccessPolicy.relationKeys`), so the feed can read them off the event loops first.
@Suite("AccessPolicy: relation keys")
struct AccessPolicyRelationsTests {
    static let callers: [Caller] = [
        .anonymous, .service, .user(id: "u-1", isAdmin: false), .user(id: "u-2", isAdmin: true), .user(id: "", isAdmin: false),
    ]

    /// A row of `table` whose every column holds a distinct text.
    static func row(_ table: TableSchema) -> Row {
        Dictionary(uniqueKeysWithValues: table.columns.map { ($0.name, Value.text("\(table.name).\($0.name)")) })
    }

    /// Whatever any caller's rule consults is among the keys collected for the table.
    @Test(arguments: Catalog.tables.keys.sorted())
    func theKeysCoverEveryCallersRule(table: String) throws {
        let schema = try #require(Catalog.table(table))
        let row = Self.row(schema)
        let collected = AccessPolicy.relationKeys(table, rows: [row])
        for caller in Self.callers {
            var needed = RelationKeys()
            AccessPolicy.readable(table, by: caller).collectRelationKeys(in: row, into: &needed)
            #expect(needed.rooms.isSubset(of: collected.rooms), "\(table), \(caller)")
            #expect(needed.rounds.isSubset(of: collected.rounds), "\(table), \(caller)")
        }
    }

    @Test func onlyRoundsAndReportsConsultRelatedRows() {
        #expect(Set(AccessPolicy.relationalReadRules.keys) == ["practice_rounds", "feedback_reports"])
    }

    @Test func roundsNeedTheirRoomAndReportsTheirRound() {
        let round: Row = ["id": .text("round-1"), "room_id": .text("room-1")]
        let report: Row = ["id": .text("report-1"), "session_id": .text("round-2")]
        #expect(AccessPolicy.relationKeys("practice_rounds", rows: [round, nil]) == RelationKeys(rooms: ["room-1"]))
        #expect(AccessPolicy.relationKeys("feedback_reports", rows: [report]) == RelationKeys(rounds: ["round-2"]))
        #expect(AccessPolicy.relationKeys("practice_rooms", rows: [["id": .text("room-1"), "host_id": .text("h")]]).isEmpty)
    }

    /// The facts decide the relational rules; a key not read counts as no such row.
    @Test func factsDecideTheRelationalRules() {
        let facts = RowRelations(rooms: ["room-1": .init(host: "h", guest: "g")], roundCandidates: ["round-1": "g"])
        let round: Row = ["id": .text("round-1"), "room_id": .text("room-1")]
        let elsewhere: Row = ["id": .text("round-9"), "room_id": .text("room-9")]
        let readable = { (id: String) in AccessPolicy.readable("practice_rounds", by: .user(id: id, isAdmin: false)) }
        #expect(readable("h").evaluate(round, relations: facts.relations))
        #expect(readable("g").evaluate(round, relations: facts.relations))
        #expect(!readable("s").evaluate(round, relations: facts.relations))
        #expect(!readable("h").evaluate(elsewhere, relations: facts.relations))
        #expect(!readable("h").evaluate(round, relations: RowRelations.none.relations))
        let report: Row = ["id": .text("report-1"), "session_id": .text("round-1")]
        let reports = { (id: String) in AccessPolicy.readable("feedback_reports", by: .user(id: id, isAdmin: false)) }
        #expect(reports("g").evaluate(report, relations: facts.relations))
        #expect(!reports("h").evaluate(report, relations: facts.relations))
    }
}
