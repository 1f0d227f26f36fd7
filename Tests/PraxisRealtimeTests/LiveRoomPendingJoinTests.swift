import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PraxisDomain
import PraxisProtocol
import Synchronization
import Testing

@testable import PraxisRealtime
@testable import PraxisStore
@testable import PraxisWebSocket

/// A join that has to read the journal first (a resume older than the room's memory) waits
/// off the loop; whatever happens to the seat meanwhile must still hold when it completes.
/// On an `NIOAsyncTestingEventLoop`, because the read comes back from another thread.
@Suite("LiveRoom pending joins")
struct LiveRoomPendingJoinTests {
    static let host = LiveRoomShellTests.host
    static let guest = LiveRoomShellTests.guest
    static let stranger = "00000000-0000-4000-8000-000000000003"
    static let roomID = LiveRoomShellTests.roomID

    /// A gate the test opens: the journal read waits on it, and says when it began.
    final class Gate: Sendable {
        private let state = Mutex<(reads: Int, open: Bool, waiting: [CheckedContinuation<Void, Never>])>((0, false, []))

        var reads: Int { state.withLock { $0.reads } }

        func pass() async {
            await withCheckedContinuation { continuation in
                let go = state.withLock { state -> Bool in
                    state.reads += 1
                    if state.open { return true }
                    state.waiting.append(continuation)
                    return false
                }
                if go { continuation.resume() }
            }
        }

        func open() {
            let waiting = state.withLock { state in
                state.open = true
                defer { state.waiting = [] }
                return state.waiting
            }
            for continuation in waiting { continuation.resume() }
        }
    }

    /// A store whose journal reads wait at the gate.
    struct HeldStore: RoomStore {
        let gate: Gate
        func loadRoom(id: String, eventLimit: Int, commandLimit: Int) async throws -> LoadedRoom? { nil }
        func caseBrief(id: String) async throws -> CaseBrief? { nil }
        func randomCase(profession: String?, domain: String?, difficulty: String?, excluding: String?) async throws -> CaseBrief? { nil }
        func roomParticipants(id: String) async throws -> (host: String, guest: String?)? { (host, guest) }
        func roomSeat(id: String) async throws -> RoomSeat? { RoomSeat(hostID: host, guestID: guest, asOf: 0) }
        func roomsMidRound() async throws -> [String] { [] }
        func roomsDueForNoShowCheck(from: String, to: String, limit: Int) async throws -> [String] { [] }
        func unassessedRounds(limit: Int) async throws -> [UnassessedRound] { [] }
        func roomEvents(roomID: String, after: Int64, before: Int64, limit: Int, turnsOnly: Bool) async throws -> [RoomEventRecord] {
            await gate.pass()
            return []
        }
        func roundTranscript(roundID: String) async throws -> String? { nil }
    }

    /// A peer's socket on the testing loop: what it was sent.
    struct Peer {
        let channel: NIOAsyncTestingChannel
        let connection: WebSocketConnection

        init(loop: NIOAsyncTestingEventLoop) async throws {
            channel = NIOAsyncTestingChannel(loop: loop)
            connection = WebSocketConnection(eventLoop: loop, deflate: nil, remoteIP: "127.0.0.1")
            let handler = WebSocketHandler(
                configuration: .init(), application: LiveRoomShellTests.Silent(),
                request: HTTPRequestHeadBox(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/realtime/v1/websocket")),
                connection: connection
            )
            try await channel.pipeline.addHandler(handler)
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9))
        }

        /// The Phoenix messages written since the last call.
        func messages() async throws -> [PhoenixMessage] {
            await channel.testingEventLoop.run()
            var out: [PhoenixMessage] = []
            while var buffer = try await channel.readOutbound(as: ByteBuffer.self) {
                out += try phoenixMessages(inServerFrames: &buffer)
            }
            return out
        }
    }

    let loop = NIOAsyncTestingEventLoop()
    let gate = Gate()
    let topic = "realtime:room:\(Self.roomID)"

    /// A room whose memory holds nothing older than offset 10: a resume from 2 reads the journal.
    /// The room holds its registry weakly: the caller keeps it.
    func makeRoom() -> (LiveRoom, RoomRegistry) {
        let registry = RoomRegistry(
            store: HeldStore(gate: gate), journal: LiveRoomShellTests.FakeJournal(), configuration: RoomConfiguration(),
            assessor: LiveRoomShellTests.UnusedAssessor(), group: loop, logger: Logger(label: "test")
        )
        let loaded = LoadedRoom(
            id: Self.roomID, hostID: Self.host, guestID: Self.guest, type: "Clinical", datetimeUTC: "2099-01-01T00:00:00.000000Z", stage: 1,
            roundIDs: [nil, nil], stateJSON: nil, recentEvents: [], latestOffset: 10, currentTurns: [], maxSeq: 0, cases: [:],
            seenSinceScheduled: [], noShows: []
        )
        return (LiveRoom(loaded: loaded, loop: loop, registry: registry, configuration: RoomConfiguration()), registry)
    }

    func join(_ room: LiveRoom, peer: Peer, memberID: Int, userID: String) async throws {
        let member = LiveRoom.Member(id: memberID, userID: userID, connection: peer.connection, topic: topic, version: .v1, joinRef: "1")
        let reply = LiveRoom.ReplyTarget(connection: peer.connection, topic: topic, version: .v1, joinRef: "1", ref: "1")
        try await loop.submit { room.join(member, caller: .user(id: userID, isAdmin: false), resume: 2, reply: reply) }.get()
    }

    /// Waits (bounded) until `count` journal reads are waiting at the gate.
    func readsBegan(_ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while gate.reads < count {
            try #require(ContinuousClock.now < deadline, "the join never read the journal")
            await Task.yield()
        }
    }

    /// Waits (bounded) for the peer's next messages.
    func nextMessages(_ peer: Peer) async throws -> [PhoenixMessage] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let messages = try await peer.messages()
            if !messages.isEmpty { return messages }
            try #require(ContinuousClock.now < deadline, "nothing was sent")
            await Task.yield()
        }
    }

    @Test("a guest who loses the seat while the join reads the journal is refused, and the host's join still completes")
    func seatLostDuringRead() async throws {
        let (room, registry) = makeRoom()
        defer { withExtendedLifetime(registry) {} }
        let hostPeer = try await Peer(loop: loop)
        let guestPeer = try await Peer(loop: loop)
        try await join(room, peer: hostPeer, memberID: 1, userID: Self.host)
        try await join(room, peer: guestPeer, memberID: 2, userID: Self.guest)
        try await readsBegan(2)

        // The seat goes to someone else while both reads are out.
        try await loop.submit { room.followSeat(Self.stranger, asOf: 5) }.get()
        gate.open()

        let guestSaw = try await nextMessages(guestPeer)
        let refusal = try #require(guestSaw.first { $0.event == "phx_reply" })
        #expect(refusal.payload.object?["status"] == .string("error"))
        #expect(refusal.payload.object?["response"]?.object?["reason"]?.string?.contains("no longer this room's guest") == true)
        #expect(!guestSaw.contains { $0.payload.object?["status"] == .string("ok") }, "the former guest got a snapshot")

        let hostSaw = try await nextMessages(hostPeer)
        #expect(hostSaw.first { $0.event == "phx_reply" }?.payload.object?["status"] == .string("ok"))
        let members = try await loop.submit { room.members.values.map(\.userID) }.get()
        #expect(members == [Self.host])
        // Nothing reaches the former guest afterwards either.
        #expect(try await guestPeer.messages().isEmpty)
    }

    @Test("a join still reading when its user is no longer admitted is refused when the read is back")
    func recheckedWhenTheReadIsBack() async throws {
        let (room, registry) = makeRoom()
        defer { withExtendedLifetime(registry) {} }
        let guestPeer = try await Peer(loop: loop)
        try await join(room, peer: guestPeer, memberID: 2, userID: Self.guest)
        try await readsBegan(1)

        // The engine moves the seat without the shell closing anything (as a path that forgot
        // to would): the rule is still asked at the end of the join.
        try await loop.submit { _ = room.engine.followSeat(Self.stranger, now: LiveRoom.now()) }.get()
        gate.open()

        let saw = try await nextMessages(guestPeer)
        let reply = try #require(saw.first { $0.event == "phx_reply" })
        #expect(reply.payload.object?["status"] == .string("error"))
        #expect(reply.payload.object?["response"]?.object?["reason"] == .string("only the room's host and guest may join this room"))
        let members = try await loop.submit { room.members.count }.get()
        #expect(members == 0)
    }
}
