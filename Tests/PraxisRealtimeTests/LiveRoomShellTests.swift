import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOWebSocket
import PraxisAssessment
import PraxisDomain
import PraxisProtocol
import Synchronization
import Testing

@testable import PraxisRealtime
@testable import PraxisStore
@testable import PraxisWebSocket

/// The room shell (`LiveRoom`) on an EmbeddedEventLoop, over a store and a journal that are
/// doubles: what it journals, and that nothing is answered or sent before it is durable.
@Suite("LiveRoom shell")
struct LiveRoomShellTests {
    static let host = "00000000-0000-4000-8000-000000000001"
    static let guest = "00000000-0000-4000-8000-000000000002"
    static let roomID = "00000000-0000-4000-8000-0000000000aa"

    /// A store with one room and nothing else (the shell must not need more for these paths).
    struct FakeStore: RoomStore {
        func loadRoom(id: String, eventLimit: Int, commandLimit: Int) async throws -> LoadedRoom? { nil }
        func caseBrief(id: String) async throws -> CaseBrief? { nil }
        func randomCase(profession: String?, domain: String?, difficulty: String?, excluding: String?) async throws -> CaseBrief? { nil }
        func roomParticipants(id: String) async throws -> (host: String, guest: String?)? { (host, guest) }
        func roomSeat(id: String) async throws -> RoomSeat? { RoomSeat(hostID: host, guestID: guest, asOf: 0) }
        func roomsMidRound() async throws -> [String] { [] }
        func roomsDueForNoShowCheck(from: String, to: String, limit: Int) async throws -> [String] { [] }
        func unassessedRounds(limit: Int) async throws -> [UnassessedRound] { [] }
        func roomEvents(roomID: String, after: Int64, before: Int64, limit: Int, turnsOnly: Bool) async throws -> [RoomEventRecord] { [] }
        func roundTranscript(roundID: String) async throws -> String? { nil }
    }

    /// A journal that holds entries until the test makes them durable.
    final class FakeJournal: RoomJournaling {
        private let held = Mutex<[(RoomJournalEntry, RoomJournal.Completion)]>([])
        private let written = Mutex<[RoomJournalEntry]>([])
        var isFull: Bool { false }
        var hasWork: Bool { held.withLock { !$0.isEmpty } }
        func append(_ entry: RoomJournalEntry, completion: @escaping RoomJournal.Completion) {
            held.withLock { $0.append((entry, completion)) }
        }
        func waitUntilWritten() async {}
        var pending: [RoomJournalEntry] { held.withLock { $0.map(\.0) } }
        var entries: [RoomJournalEntry] { written.withLock { $0 } }
        /// Makes every held entry durable, in order.
        func commitAll() {
            let now = held.withLock { held in defer { held = [] }; return held }
            for (entry, completion) in now {
                written.withLock { $0.append(entry) }
                completion(.success(()))
            }
        }
    }

    struct UnusedAssessor: Assessor {
        func assess(_ input: AssessmentInput) async -> Assessment { fatalError("no round ends in these tests") }
    }

    final class Silent: WebSocketApplication, @unchecked Sendable {
        func connected(_ connection: WebSocketConnection, request: HTTPRequestHead) -> any WebSocketMessageHandler { Handler() }
        final class Handler: WebSocketMessageHandler {
            func received(text: ByteBuffer) {}
            func received(binary: ByteBuffer) {}
            func closed(code: UInt16?) {}
        }
    }

    /// A peer's socket: an EmbeddedChannel with the WebSocket handler; what it was sent.
    struct Peer {
        let channel: EmbeddedChannel
        let connection: WebSocketConnection

        init() throws {
            channel = EmbeddedChannel()
            connection = WebSocketConnection(eventLoop: channel.eventLoop, deflate: nil, remoteIP: "127.0.0.1")
            try channel.pipeline.syncOperations.addHandler(WebSocketHandler(
                configuration: .init(), application: Silent(),
                request: HTTPRequestHeadBox(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/realtime/v1/websocket")),
                connection: connection
            ))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }

        /// The Phoenix messages written since the last call.
        func messages() throws -> [PhoenixMessage] {
            channel.embeddedEventLoop.run()
            var out: [PhoenixMessage] = []
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                out += try phoenixMessages(inServerFrames: &buffer)
            }
            return out
        }
    }

    let journal = FakeJournal()
    let peer: Peer
    let room: LiveRoom
    let topic = "realtime:room:\(Self.roomID)"

    init() throws {
        peer = try Peer()
        let loop = peer.channel.embeddedEventLoop
        let registry = RoomRegistry(
            store: FakeStore(), journal: journal, configuration: RoomConfiguration(), assessor: UnusedAssessor(), group: loop,
            logger: Logger(label: "test")
        )
        let loaded = LoadedRoom(
            id: Self.roomID, hostID: Self.host, guestID: Self.guest, type: "Clinical", datetimeUTC: "2099-01-01T00:00:00.000000Z", stage: 1,
            roundIDs: [nil, nil], stateJSON: nil, recentEvents: [], latestOffset: 0, currentTurns: [], maxSeq: 0, cases: [:],
            seenSinceScheduled: [], noShows: []
        )
        room = LiveRoom(loaded: loaded, loop: loop, registry: registry, configuration: RoomConfiguration())
        self.registry = registry
    }

    let registry: RoomRegistry

    func target(ref: String) -> LiveRoom.ReplyTarget {
        LiveRoom.ReplyTarget(connection: peer.connection, topic: topic, version: .v1, joinRef: "1", ref: ref)
    }

    func joinHost() throws {
        room.join(
            LiveRoom.Member(id: 1, userID: Self.host, connection: peer.connection, topic: topic, version: .v1, joinRef: "1"),
            caller: .user(id: Self.host, isAdmin: false), resume: nil, reply: target(ref: "1")
        )
        let joined = try peer.messages()
        #expect(joined.map(\.event) == ["phx_reply"])
        #expect(joined.first?.payload.object?["status"] == .string("ok"))
        journal.commitAll()
        _ = try peer.messages()
    }

    @Test("a command is journaled first and answered, with its event sent, only once durable")
    func answeredOnceDurable() throws {
        try joinHost()
        room.command("ready", payload: ["client_id": .string("r-1")], memberID: 1, reply: target(ref: "2"))
        #expect(try peer.messages().isEmpty, "nothing before the journal says durable")
        let entry = try #require(journal.pending.last)
        #expect(entry.events.map(\.type) == ["ready"])
        #expect(entry.command?.clientID == "r-1")
        #expect(entry.command?.userID == Self.host)
        #expect(entry.state != nil)
        journal.commitAll()
        let sent = try peer.messages()
        #expect(sent.map(\.event) == ["broadcast", "phx_reply"])
        let event = try #require(sent.first?.payload.object)
        #expect(event["event"] == .string("ready"))
        #expect(event["payload"]?.object?["offset"] == .number(Double(entry.events[0].offset)))
        let reply = try #require(sent.last)
        #expect(reply.ref == "2")
        #expect(reply.payload.object?["response"] == .object(["offset": .number(Double(entry.events[0].offset)), "repeated": .bool(false)]))

        // The same command again: the same answer at once, marked repeated; nothing journaled.
        room.command("ready", payload: ["client_id": .string("r-1")], memberID: 1, reply: target(ref: "3"))
        #expect(journal.pending.isEmpty)
        let repeated = try peer.messages()
        #expect(repeated.first?.payload.object?["response"]?.object?["repeated"] == .bool(true))
    }

    @Test("a repeat of a command not durable yet waits for it; other content under its client id is refused")
    func repeatsWait() throws {
        try joinHost()
        room.command("ready", payload: ["client_id": .string("r-1")], memberID: 1, reply: target(ref: "2"))
        room.command("ready", payload: ["client_id": .string("r-1")], memberID: 1, reply: target(ref: "3"))
        room.command("leave", payload: ["client_id": .string("r-1")], memberID: 1, reply: target(ref: "4"))
        let refused = try peer.messages()
        #expect(refused.map(\.ref) == ["4"])
        #expect(refused.first?.payload.object?["response"] == .object(["reason": .string("client id r-1 was already used for a different command")]))
        #expect(journal.pending.count == 1)
        journal.commitAll()
        let replies = try peer.messages().filter { $0.event == "phx_reply" }
        #expect(replies.map(\.ref) == ["2", "3"])
        #expect(replies.last?.payload.object?["response"]?.object?["repeated"] == .bool(true))
    }

    @Test("a connection that is not a member is refused, and bad input gets a reason, not a crash")
    func strangersAndBadInput() throws {
        try joinHost()
        room.command("ready", payload: ["client_id": .string("x")], memberID: 99, reply: target(ref: "5"))
        room.command("dance", payload: ["client_id": .string("x")], memberID: 1, reply: target(ref: "6"))
        room.command("turn", payload: ["client_turn_id": .string("t")], memberID: 1, reply: target(ref: "7"))
        let replies = try peer.messages()
        #expect(replies.map { $0.payload.object?["response"]?.object?["reason"]?.string ?? "" } == [
            "you are not in this room: join the room topic again",
            "unknown room command dance (commands: ready, set_timing, choose_case, start_round, start_roleplay, turn, end_round, leave)",
            "a turn needs text (a string)",
        ])
        #expect(journal.pending.isEmpty)
    }
}

extension JSONValue {
    fileprivate var object: [String: JSONValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    fileprivate var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
