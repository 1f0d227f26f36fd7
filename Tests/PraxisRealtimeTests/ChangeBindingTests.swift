import Foundation
import PraxisDomain
import PraxisStore
import Testing

@testable import PraxisRealtime

@Suite("Join config: postgres_changes bindings")
struct ChangeBindingTests {
    func binding(_ object: [String: JSONValue]) throws(RealtimeError) -> ChangeBinding { try ChangeBinding(.object(object)) }

    @Test func acceptsTheSupabaseShape() throws {
        let accepted = try binding(["event": .string("*"), "schema": .string("public"), "table": .string("practice_rooms"), "filter": .string("host_id=eq.6f9619ff-8b86-4011-b42d-00c04fc964ff")])
        #expect(accepted.table.name == "practice_rooms")
        #expect(accepted.replyJSON.object?["filter"] == .string("host_id=eq.6f9619ff-8b86-4011-b42d-00c04fc964ff"))
    }

    @Test func equalBindingsShareTheirID() throws {
        let a = try binding(["event": .string("INSERT"), "schema": .string("public"), "table": .string("profiles")])
        let b = try binding(["event": .string("INSERT"), "schema": .string("public"), "table": .string("profiles")])
        let c = try binding(["event": .string("UPDATE"), "schema": .string("public"), "table": .string("profiles")])
        #expect(a.id == b.id && a.id != c.id && a.id >= 0)
    }

    @Test(arguments: [
        (["table": JSONValue.string("nope")], "unknown table"),
        (["table": .string("users")], "not published"),
        (["table": .string("practice_rooms"), "schema": .string("private")], "schema"),
        (["table": .string("practice_rooms"), "event": .string("TRUNCATE")], "event"),
        (["table": .string("practice_rooms"), "filter": .string("nope=eq.1")], "invalid filter"),
        (["table": .string("practice_rooms"), "filter": .string("host_id=foo.1")], "invalid filter"),
        ([:], "needs a table"),
    ])
    func joinErrorsSayWhy(object: [String: JSONValue], reason: String) {
        let error = #expect(throws: RealtimeError.self) { try binding(object) }
        #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "")")
    }
}

@Suite("Change feed: who sees what")
struct ChangeFeedVisibilityTests {
    let host = "11111111-1111-4111-8111-111111111111"
    let guest = "22222222-2222-4222-8222-222222222222"
    let other = "33333333-3333-4333-8333-333333333333"

    func room(isPrivate: Bool) -> Row {
        ["id": .text("44444444-4444-4444-8444-444444444444"), "host_id": .text(host), "guest_id": .text(guest), "private": .integer(isPrivate ? 1 : 0)]
    }

    func change(_ kind: ChangeRecord.Kind, isPrivate: Bool) -> ChangeRecord {
        ChangeRecord(
            offset: 1, table: "practice_rooms", kind: kind, record: kind == .delete ? nil : room(isPrivate: isPrivate),
            oldRecord: kind == .insert ? nil : room(isPrivate: isPrivate), commitTimestamp: "2026-01-01T00:00:00.000000Z"
        )
    }

    @Test(arguments: [ChangeRecord.Kind.insert, .update, .delete])
    func privateRoomChangesReachOnlyHostAndGuest(kind: ChangeRecord.Kind) {
        let private_ = change(kind, isPrivate: true)
        #expect(ChangeFeed.visibility(private_, caller: .user(id: host, isAdmin: false), relations: .none).visible)
        #expect(ChangeFeed.visibility(private_, caller: .user(id: guest, isAdmin: false), relations: .none).visible)
        #expect(!ChangeFeed.visibility(private_, caller: .user(id: other, isAdmin: false), relations: .none).visible)
        #expect(!ChangeFeed.visibility(private_, caller: .anonymous, relations: .none).visible)
        #expect(ChangeFeed.visibility(change(kind, isPrivate: false), caller: .anonymous, relations: .none).visible)
    }

    @Test func oldRowsAreSentWholeOnlyToWhoCouldSeeThem() {
        let table = Catalog.practiceRooms
        let data = String(decoding: ChangeFeed.dataJSON(change(.delete, isPrivate: true), table: table, epoch: "e", fullOldRecord: false), as: UTF8.self)
        #expect(data.contains(#""old_record":{"id":"44444444-4444-4444-8444-444444444444"}"#))
        #expect(!data.contains(host))
    }

    /// Past `maxRecordBytes`, both rows keep only the values that encode in under 64 bytes and
    /// `errors` says 413 (Supabase's `max_record_bytes`); at the limit, nothing changes.
    @Test func aChangeOverTheRecordLimitKeepsOnlyShortValues() throws {
        let table = Catalog.practiceRooms
        var update = change(.update, isPrivate: false)
        let link = String(repeating: "l", count: 100)
        update.record?["room_url"] = .text(link)
        update.oldRecord?["room_url"] = .text("short")
        let whole = ChangeFeed.dataJSON(update, table: table, epoch: "e", fullOldRecord: true)
        let rows = ["record", "old_record"].map { key in
            (try? JSONSerialization.jsonObject(with: Data(whole)) as? [String: Any])?[key] as? [String: Any] ?? [:]
        }
        let size = rows.map { try! JSONSerialization.data(withJSONObject: $0).count }.reduce(0, +)
        let atLimit = String(decoding: ChangeFeed.dataJSON(update, table: table, epoch: "e", fullOldRecord: true, maxRecordBytes: 10_000), as: UTF8.self)
        #expect(atLimit == String(decoding: whole, as: UTF8.self) && atLimit.contains(#""errors":null"#))

        let cut = ChangeFeed.dataJSON(update, table: table, epoch: "e", fullOldRecord: true, maxRecordBytes: size / 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(cut)) as? [String: Any])
        #expect(object["errors"] as? [String] == ["Error 413: Payload Too Large"])
        let record = try #require(object["record"] as? [String: Any])
        let old = try #require(object["old_record"] as? [String: Any])
        #expect(record["room_url"] == nil && record["id"] as? String == "44444444-4444-4444-8444-444444444444")
        #expect(old["room_url"] as? String == "short", "a short value stays in the old row")
        #expect((object["columns"] as? [Any])?.count == table.columns.count, "columns still names every column")
    }
}
