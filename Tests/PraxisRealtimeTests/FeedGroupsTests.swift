import NIOEmbedded
import PraxisDomain
import PraxisProtocol
import PraxisStore
import Testing

@testable import PraxisRealtime
@testable import PraxisWebSocket

/// The board feed decides once per group of equivalent subscribers: these check that the
/// grouping keys on everything the decision reads, so grouped answers are the per-subscriber ones.
@Suite("Change feed: groups of equivalent subscribers")
struct FeedGroupsTests {
    static let host = "11111111-1111-4111-8111-111111111111"
    static let guest = "22222222-2222-4222-8222-222222222222"
    static let other = "33333333-3333-4333-8333-333333333333"
    static let roomID = "44444444-4444-4444-8444-444444444444"

    /// Only compared by identity (nothing runs on it), so one loop serves every test.
    static let loop = EmbeddedEventLoop()

    func connection() -> WebSocketConnection {
        WebSocketConnection(eventLoop: Self.loop, deflate: nil, remoteIP: "127.0.0.1")
    }

    func binding(_ object: [String: JSONValue]) throws -> ChangeBinding {
        try ChangeBinding(.object(object.merging(["schema": .string("public"), "table": .string("practice_rooms")]) { a, _ in a }))
    }

    func room(isPrivate: Bool) -> Row {
        ["id": .text(Self.roomID), "host_id": .text(Self.host), "guest_id": .text(Self.guest), "private": .integer(isPrivate ? 1 : 0),
         "room_url": .text("link-1"), "type": .text("Clinical")]
    }

    func change(_ kind: ChangeRecord.Kind, wasPrivate: Bool? = nil, isPrivate: Bool? = nil, offset: Int64 = 7) -> ChangeRecord {
        ChangeRecord(
            offset: offset, table: "practice_rooms", kind: kind, record: isPrivate.map { room(isPrivate: $0) },
            oldRecord: wasPrivate.map { room(isPrivate: $0) }, commitTimestamp: "2026-12-02T10:00:00.000000Z"
        )
    }

    /// The answer one subscriber gets when decided alone (what the hub did per subscriber before).
    func alone(_ change: ChangeRecord, caller: Caller, bindings: [ChangeBinding], topic: String, version: PhoenixMessage.Version) -> [UInt8]? {
        let ids = ChangeFeed.matchingIDs(bindings, change: change)
        let seen = ChangeFeed.visibility(change, caller: caller, relations: .none)
        guard !ids.isEmpty, seen.visible else { return nil }
        let data = ChangeFeed.dataJSON(change, table: Catalog.practiceRooms, epoch: "e", fullOldRecord: seen.oldVisible)
        return PhoenixMessage.encode(
            version, joinRef: nil, ref: nil, topic: topic, event: "postgres_changes", payloadJSON: ChangeFeed.payloadJSON(ids: ids, data: data)
        )
    }

    /// The answer per member id when decided by group.
    func grouped(_ change: ChangeRecord, _ feed: FeedGroups) -> (byMember: [Int: [UInt8]], messages: Int) {
        let deliveries = FeedGroups.plan(
            change, table: Catalog.practiceRooms, groups: feed.groups(on: "practice_rooms"), relations: .none, epoch: "e", maxRecordBytes: .max
        )
        var byMember: [Int: [UInt8]] = [:]
        for delivery in deliveries {
            for group in delivery.groups {
                for partition in group.subscribers.partitions {
                    for id in partition.ids {
                        #expect(byMember[id] == nil, "member \(id) answered twice")
                        byMember[id] = delivery.message
                    }
                }
            }
        }
        return (byMember, deliveries.count)
    }

    @Test func subscribersWithTheSameCallerAndBindingShareOneGroupAndOneEncodedMessage() throws {
        var feed = FeedGroups()
        let all = try binding(["event": .string("*")])
        let first = feed.insert(memberID: 1, connection: connection(), topic: "realtime:board", version: .v1, caller: .anonymous, bindings: [all])
        let second = feed.insert(memberID: 2, connection: connection(), topic: "realtime:board", version: .v1, caller: .anonymous, bindings: [all])
        #expect(first != nil && first == second)
        #expect(feed.groups.count == 1 && feed.subscriberCount == 2)

        let insert = change(.insert, isPrivate: false)
        let deliveries = FeedGroups.plan(
            insert, table: Catalog.practiceRooms, groups: feed.groups(on: "practice_rooms"), relations: .none, epoch: "e", maxRecordBytes: .max
        )
        #expect(deliveries.count == 1, "one encoding for the whole group")
        #expect(deliveries.first?.groups.count == 1 && deliveries.first?.groups.first?.subscribers.count == 2)
        #expect(deliveries.first?.message == alone(insert, caller: .anonymous, bindings: [all], topic: "realtime:board", version: .v1))
    }

    @Test func differentCallersOnTheSameBindingGetDifferentAnswers() throws {
        var feed = FeedGroups()
        let all = try binding(["event": .string("*")])
        for (id, caller) in [(1, Caller.anonymous), (2, .user(id: Self.host, isAdmin: false)), (3, .user(id: Self.other, isAdmin: false))] {
            _ = feed.insert(memberID: id, connection: connection(), topic: "realtime:board", version: .v1, caller: caller, bindings: [all])
        }
        #expect(feed.groups.count == 3, "a group per caller")

        // A private room reaches its host only.
        let privateInsert = grouped(change(.insert, isPrivate: true), feed)
        #expect(Set(privateInsert.byMember.keys) == [2])

        // Made public: everyone sees it, but only the host could see the old (private) row whole.
        let madePublic = grouped(change(.update, wasPrivate: true, isPrivate: false), feed)
        #expect(Set(madePublic.byMember.keys) == [1, 2, 3])
        #expect(madePublic.messages == 2)
        #expect(madePublic.byMember[1] == madePublic.byMember[3] && madePublic.byMember[1] != madePublic.byMember[2])
        let hostSees = String(decoding: madePublic.byMember[2]!, as: UTF8.self)
        let anonSees = String(decoding: madePublic.byMember[1]!, as: UTF8.self)
        #expect(hostSees.contains(#""old_record":{"id":"\#(Self.roomID)","host_id""#), "the host could see the old row: whole")
        #expect(anonSees.contains(#""old_record":{"id":"\#(Self.roomID)"}"#), "the anonymous caller gets only the old row's key")
    }

    /// Every caller, binding and change: the grouped answer is byte for byte the one decided per subscriber.
    @Test func groupedAnswersEqualPerSubscriberAnswers() throws {
        let callers: [Caller] = [
            .anonymous, .service, .user(id: Self.host, isAdmin: false), .user(id: Self.guest, isAdmin: false),
            .user(id: Self.other, isAdmin: false), .user(id: Self.other, isAdmin: true),
        ]
        let bindingSets: [[ChangeBinding]] = [
            [try binding(["event": .string("*")])],
            [try binding(["event": .string("INSERT")])],
            [try binding(["event": .string("*"), "filter": .string("host_id=eq.\(Self.host)")])],
            [try binding(["event": .string("UPDATE"), "filter": .string("private=eq.false")]), try binding(["event": .string("DELETE")])],
        ]
        var feed = FeedGroups()
        var members: [Int: (caller: Caller, bindings: [ChangeBinding], topic: String, version: PhoenixMessage.Version)] = [:]
        var id = 0
        for caller in callers {
            for bindings in bindingSets {
                for (topic, version) in [("realtime:board", PhoenixMessage.Version.v1), ("realtime:board", .v2), ("realtime:rooms", .v1)] {
                    for _ in 0..<2 {
                        id += 1
                        members[id] = (caller, bindings, topic, version)
                        _ = feed.insert(memberID: id, connection: connection(), topic: topic, version: version, caller: caller, bindings: bindings)
                    }
                }
            }
        }
        #expect(feed.groups.count == members.count / 2)
        let changes = [
            change(.insert, isPrivate: true), change(.insert, isPrivate: false), change(.update, wasPrivate: true, isPrivate: false),
            change(.update, wasPrivate: false, isPrivate: true), change(.update, wasPrivate: false, isPrivate: false),
            change(.delete, wasPrivate: true), change(.delete, wasPrivate: false),
        ]
        for change in changes {
            let answer = grouped(change, feed)
            var expected: [Int: [UInt8]] = [:]
            for (id, member) in members {
                expected[id] = alone(change, caller: member.caller, bindings: member.bindings, topic: member.topic, version: member.version)
            }
            #expect(answer.byMember == expected, "\(change.kind) \(String(describing: change.oldRecord?["private"])) → \(String(describing: change.record?["private"]))")
            #expect(answer.messages == Set(expected.values).count, "each distinct message encoded once")
        }
    }

    @Test func aMemberLeavesItsGroupAndAnEmptiedGroupGoes() throws {
        var feed = FeedGroups()
        let all = try binding(["event": .string("*")])
        let inserted = feed.insert(memberID: 1, connection: connection(), topic: "realtime:board", version: .v1, caller: .anonymous, bindings: [all])
        let key = try #require(inserted)
        _ = feed.insert(memberID: 2, connection: connection(), topic: "realtime:board", version: .v1, caller: .anonymous, bindings: [all])
        feed.remove(memberID: 1, key: key)
        #expect(feed.groups[key]?.subscribers.count == 1)
        #expect(Set(grouped(change(.insert, isPrivate: false), feed).byMember.keys) == [2])
        feed.remove(memberID: 2, key: key)
        #expect(feed.groups.isEmpty && feed.groups(on: "practice_rooms").isEmpty)
        #expect(feed.insert(memberID: 3, connection: connection(), topic: "t", version: .v1, caller: .anonymous, bindings: []) == nil)
    }
}
