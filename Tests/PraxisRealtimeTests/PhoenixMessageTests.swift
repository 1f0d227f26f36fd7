import PraxisDomain
import Testing

@testable import PraxisProtocol

@Suite("PhoenixMessage codec")
struct PhoenixMessageTests {
    @Test func decodesVersion1Objects() throws {
        let text = #"{"topic":"realtime:board","event":"phx_join","payload":{"config":{}},"ref":"1","join_ref":"1"}"#
        let message = try PhoenixMessage.decode(Array(text.utf8), version: .v1)
        #expect(message == PhoenixMessage(joinRef: "1", ref: "1", topic: "realtime:board", event: "phx_join", payload: .object(["config": .object([:])])))
    }

    @Test func decodesVersion2Arrays() throws {
        let text = #"["3","4","realtime:room","broadcast",{"type":"broadcast","event":"x","payload":{}}]"#
        let message = try PhoenixMessage.decode(Array(text.utf8), version: .v2)
        #expect(message.joinRef == "3" && message.ref == "4" && message.topic == "realtime:room" && message.event == "broadcast")
    }

    @Test func nullRefsDecodeAsNil() throws {
        let message = try PhoenixMessage.decode(Array(#"[null,null,"phoenix","heartbeat",{}]"#.utf8), version: .v2)
        #expect(message.joinRef == nil && message.ref == nil)
    }

    @Test(arguments: [
        (#"["1","2","t","e",{}]"#, PhoenixMessage.Version.v1), (#"{"topic":"t","event":"e"}"#, .v2), ("not json", .v1),
        (#"{"event":"e"}"#, .v1), (#"["1","2","t"]"#, .v2), (#"{"topic":1,"event":"e"}"#, .v1),
    ])
    func rejectsTheWrongShape(text: String, version: PhoenixMessage.Version) {
        #expect(throws: PhoenixMessage.DecodingError.self) { try PhoenixMessage.decode(Array(text.utf8), version: version) }
    }

    @Test(arguments: [PhoenixMessage.Version.v1, .v2])
    func roundTrips(version: PhoenixMessage.Version) throws {
        let message = PhoenixMessage(joinRef: "7", ref: "8", topic: "realtime:ro\"om", event: "phx_reply", payload: .object(["status": .string("ok"), "response": .object([:])]))
        #expect(try PhoenixMessage.decode(message.encode(version), version: version) == message)
    }

    @Test func encodesTheSupabaseReplyShape() {
        let reply = PhoenixMessage(ref: "1", topic: "phoenix", event: "phx_reply", payload: .object(["status": .string("ok"), "response": .object([:])]))
        #expect(String(decoding: reply.encode(.v1), as: UTF8.self) == #"{"topic":"phoenix","event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","join_ref":null}"#)
        #expect(String(decoding: reply.encode(.v2), as: UTF8.self) == #"[null,"1","phoenix","phx_reply",{"response":{},"status":"ok"}]"#)
    }
}

@Suite("ChangeFilter")
struct ChangeFilterTests {
    let table = Catalog.practiceRooms

    @Test func everyOperator() throws {
        let row: Row = ["stage": .integer(2), "type": .text("Clinical"), "host_id": .text("6f9619ff-8b86-4011-b42d-00c04fc964ff")]
        #expect(try ChangeFilter("stage=eq.2", table: table).matches(row))
        #expect(try !ChangeFilter("stage=neq.2", table: table).matches(row))
        #expect(try ChangeFilter("stage=lt.3", table: table).matches(row))
        #expect(try ChangeFilter("stage=lte.2", table: table).matches(row))
        #expect(try !ChangeFilter("stage=gt.2", table: table).matches(row))
        #expect(try ChangeFilter("stage=gte.2", table: table).matches(row))
        #expect(try ChangeFilter("type=in.(Clinical,Communication)", table: table).matches(row))
        #expect(try ChangeFilter("host_id=eq.6F9619FF-8B86-4011-B42D-00C04FC964FF", table: table).matches(row))
        #expect(try !ChangeFilter("guest_id=eq.6f9619ff-8b86-4011-b42d-00c04fc964ff", table: table).matches(row))
    }

    @Test(arguments: ["nope=eq.1", "stage=foo.1", "stage", "stage=eq.abc", "stage=like.*1*", "stage=not.eq.1", "host_id=eq.x"])
    func badFiltersAreErrors(filter: String) {
        #expect(throws: DataError.self) { try ChangeFilter(filter, table: table) }
    }
}
