import Foundation
import GRDB
import NIOCore
import NIOEmbedded
import PraxisAuth
import PraxisDomain
import PraxisProtocol
import Synchronization
import Testing

@testable import PraxisRealtime
@testable import PraxisStore
@testable import PraxisWebSocket

/// `RealtimeSession`'s room routing, over a rooms double (`RoomChannels`): what goes to the
/// rooms, what the session refuses itself. On an `NIOAsyncTestingEventLoop` (the user check
/// reads the store off the loop).
@Suite("RealtimeSession room routing")
struct RealtimeSessionRoomRoutingTests {
    static let user = LiveRoomShellTests.host
    static let roomID = LiveRoomShellTests.roomID
    static let unknownRoom = "00000000-0000-4000-8000-0000000000bb"

    /// A store with one active user whose session is open, and nothing else.
    struct UserStore: RealtimeStore {
        func setChangeListener(_ listener: ChangeListener?) {}
        func changes(after offset: Int64, limit: Int) async throws -> (changes: [ChangeRecord], oldestRetained: Int64?, latest: Int64) { ([], nil, 0) }
        func snapshot(tables: [TableSchema], caller: Caller, limit: Int) async throws
            -> (rows: [(table: TableSchema, row: PraxisDomain.Row)], offset: Int64, truncated: Bool)
        { ([], 0, false) }
        func relatedRows(_ keys: RelationKeys) async throws -> RowRelations { RowRelations() }
        func roomSeat(id: String) async throws -> RoomSeat? { nil }
        func user(id: String, sessionID: String?) async throws -> (UserRecord, sessionOpen: Bool)? {
            let row: GRDB.Row = [
                "id": id, "email": "u@b.test", "hashed_password": "x", "role": "user", "is_email_verified": true, "status": "active",
                "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-01T00:00:00.000000Z",
            ]
            return (UserRecord(row: row), true)
        }
        func appendBroadcasts(_ records: [BroadcastRecord], retention: Int) async throws {}
        func broadcasts(topic: String, since: Int64, upTo: Int64, limit: Int) async throws -> [BroadcastRecord] { [] }
    }

    /// The rooms as a double: one room (`roomID`) admits every join; what the session asked.
    final class Rooms: RoomChannels {
        enum Call: Equatable {
            case enter(roomID: String, userID: String?, resume: Int64?)
            case command(event: String, memberID: Int)
            case remove(memberID: Int, dropped: Bool)
        }

        private let log = Mutex<[Call]>([])
        var calls: [Call] { log.withLock { $0 } }

        func enter(_ join: RoomJoin, admitted: @escaping @Sendable (RoomMember) -> Void, refused: @escaping @Sendable (String) -> Void) {
            log.withLock { $0.append(.enter(roomID: join.roomID, userID: join.caller.userID, resume: join.resume)) }
            guard join.roomID == RealtimeSessionRoomRoutingTests.roomID else { return refused("room not found") }
            admitted(RoomMember(roomID: join.roomID, memberID: 7, owner: self))
        }

        func command(_ event: String, payload: [String: JSONValue], from member: RoomMember, reply: LiveRoom.ReplyTarget) {
            log.withLock { $0.append(.command(event: event, memberID: member.memberID)) }
        }

        func remove(_ member: RoomMember, dropped: Bool) {
            log.withLock { $0.append(.remove(memberID: member.memberID, dropped: dropped)) }
        }

        func admission(of caller: Caller, channel: String, member: RoomMember, then: @escaping @Sendable (String?) -> Void) { then(nil) }
    }

    /// The session is the loop's alone: the tests touch it only inside `loop.submit`.
    struct OnLoop: @unchecked Sendable {
        let session: RealtimeSession
    }

    let loop = NIOAsyncTestingEventLoop()
    let rooms = Rooms()

    /// A session on a peer's socket, and a signed-in user's token.
    func session() async throws -> (OnLoop, LiveRoomPendingJoinTests.Peer, String) {
        let peer = try await LiveRoomPendingJoinTests.Peer(loop: loop)
        let tokens = try await TokenIssuer(secret: String(repeating: "s", count: 48))
        let token = try await tokens.sign(TokenClaims(
            role: "authenticated", sub: Self.user, sessionID: "session-1", issuedAt: Date(), expiresAt: Date().addingTimeInterval(3600)
        ))
        let hub = RealtimeHub(store: UserStore(), tokens: tokens, epoch: "e", configuration: RealtimeConfiguration())
        let rooms = self.rooms
        let session = try await loop.submit {
            OnLoop(session: RealtimeSession(connection: peer.connection, hub: hub, rooms: rooms, version: .v1, apiKey: ""))
        }.get()
        return (session, peer, token)
    }

    func send(_ session: OnLoop, topic: String, event: String, payload: [String: JSONValue], ref: String) async throws {
        let bytes = PhoenixMessage(joinRef: ref, ref: ref, topic: topic, event: event, payload: .object(payload)).encode(.v1)
        try await loop.submit { session.session.received(text: ByteBuffer(bytes: bytes)) }.get()
    }

    /// Waits (bounded) until `done` holds, letting the loop and the session's tasks run.
    func eventually(_ what: String, _ done: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !done() {
            try #require(ContinuousClock.now < deadline, "never: \(what)")
            await loop.run()
            await Task.yield()
        }
    }

    /// Waits (bounded) for the peer's next messages.
    func replies(_ peer: LiveRoomPendingJoinTests.Peer) async throws -> [PhoenixMessage] {
        var got: [PhoenixMessage] = []
        try await eventually("a reply") {
            got = try await peer.messages()
            return !got.isEmpty
        }
        return got
    }

    func reason(_ message: PhoenixMessage?) -> String? {
        guard case .object(let fields)? = message?.payload, case .object(let response)? = fields["response"],
            case .string(let reason)? = response["reason"]
        else { return nil }
        return reason
    }

    @Test("a room topic goes to the rooms with the caller and resume offset; its pushes become room commands")
    func roomTopicGoesToTheRooms() async throws {
        let (session, peer, token) = try await session()
        let topic = "realtime:room:\(Self.roomID)"
        let config: JSONValue = .object(["praxis": .object(["resume": .object(["offset": .number(4)])])])
        try await send(session, topic: topic, event: "phx_join", payload: ["access_token": .string(token), "config": config], ref: "1")
        try await eventually("the channel is recorded") { try await loop.submit { session.session.channels[topic]?.room != nil }.get() }
        #expect(rooms.calls == [.enter(roomID: Self.roomID, userID: Self.user, resume: 4)])

        try await send(session, topic: topic, event: "ready", payload: ["client_id": .string("r-1")], ref: "2")
        #expect(rooms.calls.last == .command(event: "ready", memberID: 7))
        // Broadcast and presence are not room commands: the session refuses them itself.
        try await send(session, topic: topic, event: "broadcast", payload: ["event": .string("x"), "payload": .object([:])], ref: "3")
        #expect(reason(try await replies(peer).last) == "room topics carry room commands only")
        #expect(rooms.calls.count == 2)
    }

    @Test("a room id that is not a UUID is refused without asking the rooms; an unknown room is refused by them")
    func badAndUnknownRooms() async throws {
        let (session, peer, token) = try await session()
        try await send(session, topic: "realtime:room:not-a-uuid", event: "phx_join", payload: ["access_token": .string(token)], ref: "1")
        #expect(reason(try await replies(peer).first) == "room not found")
        #expect(rooms.calls.isEmpty)

        let unknown = "realtime:room:\(Self.unknownRoom)"
        try await send(session, topic: unknown, event: "phx_join", payload: ["access_token": .string(token)], ref: "2")
        let refusal = try await replies(peer).first
        #expect(refusal?.topic == unknown)
        #expect(refusal?.ref == "2")
        #expect(reason(refusal) == "room not found")
        #expect(rooms.calls == [.enter(roomID: Self.unknownRoom, userID: Self.user, resume: nil)])
        let recorded = try await loop.submit { session.session.channels[unknown] == nil }.get()
        #expect(recorded)
    }

    @Test("a command on a room topic not joined is refused, and the rooms never hear of it")
    func commandsOnTopicsNotJoined() async throws {
        let (session, peer, _) = try await session()
        try await send(session, topic: "realtime:room:\(Self.roomID)", event: "ready", payload: ["client_id": .string("r-1")], ref: "1")
        #expect(reason(try await replies(peer).first) == "unmatched topic")
        #expect(rooms.calls.isEmpty)
    }

    @Test("a room join needs a signed-in user: the anonymous key is refused before the rooms")
    func anonymousRefused() async throws {
        let (session, peer, _) = try await session()
        let tokens = try await TokenIssuer(secret: String(repeating: "s", count: 48))
        let anon = try await tokens.sign(TokenClaims(role: "anon", issuedAt: Date(), expiresAt: Date().addingTimeInterval(3600)))
        try await send(session, topic: "realtime:room:\(Self.roomID)", event: "phx_join", payload: ["access_token": .string(anon)], ref: "1")
        #expect(reason(try await replies(peer).first) == "unauthorized: room channels need a signed-in user")
        #expect(rooms.calls.isEmpty)
    }

    @Test("when the session closes, its room member is removed as dropped (the seat is kept for the grace period)")
    func closedSessionRemovesItsMember() async throws {
        let (session, _, token) = try await session()
        let topic = "realtime:room:\(Self.roomID)"
        try await send(session, topic: topic, event: "phx_join", payload: ["access_token": .string(token)], ref: "1")
        try await eventually("the channel is recorded") { try await loop.submit { session.session.channels[topic]?.room != nil }.get() }
        try await loop.submit { session.session.closed(code: 1001) }.get()
        #expect(rooms.calls.last == .remove(memberID: 7, dropped: true))
        let left = try await loop.submit { session.session.channels.isEmpty }.get()
        #expect(left)
    }
}
