import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The practice-room benchmark: K rooms, each with its host and guest on their own realtime
/// connection, joined to `realtime:room:<id>`, put into role-play, then both peers send turns
/// at a fixed total rate. Measures the acknowledged-turn latency (send → ok reply, which the
/// server sends only once the turn is durable), turn deliveries to both peers, and at the end
/// the round-end persistence time (end_round → ok, sent by every room at once).
public enum RoomsBenchmark {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The service_role key: set-up (profiles, rooms).
        public var serviceKey: String
        /// The key the peers connect with (the `apikey` parameter). Default: the service key.
        public var anonKey: String?
        public var rooms: Int
        /// Turns per second over all peers.
        public var rate: Int
        /// Seconds of sending turns.
        public var duration: Double
        public var threads: Int
        /// Users signed up for the run; room i's host is host i mod users/2, its guest guest i mod users/2.
        public var users = 20
        /// Rooms being joined and prepared at once.
        public var concurrency = 100
        /// Characters per turn.
        public var turnSize = 120
        public var serverPID: Int32?
        /// Seconds between interval reports while turns are sent (nil: none): turns acked,
        /// their ack latency, and the server's WAL, database size and memory.
        public var reportEvery: Double?
        /// After sending, how long to wait for the last replies and deliveries.
        public var drainTimeout: Double { max(10, duration) }

        public init(host: String, port: Int, serviceKey: String, anonKey: String?, rooms: Int, rate: Int, duration: Double, threads: Int) {
            self.host = host
            self.port = port
            self.serviceKey = serviceKey
            self.anonKey = anonKey
            self.rooms = rooms
            self.rate = rate
            self.duration = duration
            self.threads = threads
        }

        public var realtimeURL: String {
            (host.contains(":") ? "ws://[\(host)]:\(port)" : "ws://\(host):\(port)") + "/realtime/v1/websocket"
        }
    }

    public struct Report: Sendable {
        public var roomsReady: Int
        public var peersConnected: Int
        public var setupSeconds: Double
        public var turnsSent: Int
        public var turnsAcked: Int
        public var turnSeconds: Double
        public var turnsPerSecond: Double
        /// Send → ok reply of each turn.
        public var ackLatency: LatencySummary
        public var deliveries: Int
        public var expectedDeliveries: Int
        public var roundsEnded: Int
        /// end_round → ok reply (the round's row, the room's stage and round id committed).
        public var roundEndLatency: LatencySummary
        public var errorReplies: Int
        public var orderViolations: Int
        public var unexpectedCloses: Int
        public var setupFailures: Int
        public var firstError: String?
        public var clientCPUSeconds: Double
        public var serverCPUSeconds: Double?
        /// The server at the start and the end of sending turns (its /metrics and memory).
        var serverBefore: ServerProbe.Sample?
        var serverAfter: ServerProbe.Sample?
        /// One entry per `reportEvery` interval.
        public var intervals: [Interval] = []

        /// Bytes the server appended to its WAL while turns were sent (nil when its
        /// /metrics does not say).
        public var walWrittenBytes: Int? {
            guard let before = serverBefore?.walWrittenBytes, let after = serverAfter?.walWrittenBytes else { return nil }
            return after - before
        }
        /// The server's WAL file and database file after sending turns, and its memory.
        public var walBytesAfter: Int? { serverAfter?.walBytes }
        public var databaseBytesAfter: Int? { serverAfter?.databaseBytes }
        public var serverRSSKiBAfter: Int? { serverAfter?.rssKiB }

        public var errors: Int { errorReplies + orderViolations + unexpectedCloses + setupFailures + max(0, turnsSent - turnsAcked) }
    }

    /// Signs up `configuration.users` users (at least 2), gives them profiles and creates the
    /// rooms (room i: host i mod users/2, guest the same of the other half); the rooms' ids and the users.
    static func createUsersAndRooms(
        _ configuration: Configuration, eventLoop: any EventLoop
    ) async throws -> (ids: [String], users: [(id: String, token: String)]) {
        let http: BenchHTTPConnection
        do {
            http = try await BenchHTTPConnection.connect(host: configuration.host, port: configuration.port, eventLoop: eventLoop)
        } catch {
            throw SetupError(description: "cannot reach the server at \(configuration.host):\(configuration.port): \(error)")
        }
        let tag = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
        let userCount = max(2, configuration.users)
        var users: [(id: String, token: String)] = []
        for index in 0..<userCount {
            users.append(try await BenchSetup.signUp(
                http, key: configuration.anonKey ?? configuration.serviceKey, email: "bench-rooms-\(tag)-\(index)@praxis.test",
                password: "bench-rooms-password"
            ))
        }
        let service = [("apikey", configuration.serviceKey), ("Authorization", "Bearer \(configuration.serviceKey)")]
        let profiles = users.map { #"{"user_id":"\#($0.id)","first_name":"Bench","last_name":"Peer","training_level":"Benchmark"}"# }
        let profileAnswer = try await http.request(
            method: .POST, uri: "/rest/v1/profiles", headers: service + [("Prefer", "return=minimal")], body: "[" + profiles.joined(separator: ",") + "]"
        )
        guard profileAnswer.status == 201 else { throw SetupError(description: "creating profiles failed: \(profileAnswer.summary)") }
        let half = userCount / 2
        var roomIDs: [String] = []
        var roomRows: [String] = []
        for index in 0..<configuration.rooms {
            let id = UUID().uuidString.lowercased()
            roomIDs.append(id)
            roomRows.append(
                #"{"id":"\#(id)","host_id":"\#(users[index % half].id)","guest_id":"\#(users[half + index % half].id)","#
                    + #""datetime_utc":"2030-01-01T10:00:00.000000Z","type":"Clinical","room_url":"https://praxis.test/bench-rooms/\#(tag)/\#(index)","private":false}"#
            )
        }
        for chunk in stride(from: 0, to: roomRows.count, by: 500) {
            let body = "[" + roomRows[chunk..<min(chunk + 500, roomRows.count)].joined(separator: ",") + "]"
            let answer = try await http.request(method: .POST, uri: "/rest/v1/practice_rooms", headers: service + [("Prefer", "return=minimal")], body: body)
            guard answer.status == 201 else { throw SetupError(description: "creating rooms failed: \(answer.summary)") }
        }
        await http.close()
        return (roomIDs, users)
    }

    /// Every host sends end_round at once; how many were answered ok.
    static func endRounds(_ peers: [RoomPeer]) async -> Int {
        await withTaskGroup(of: Bool.self) { tasks in
            for peer in peers where peer.name.hasPrefix("h") {
                tasks.addTask {
                    (try? await peer.command("end_round", #"{"client_id":"e"}"#, measured: true).get()) != nil
                }
            }
            var count = 0
            for await ok in tasks where ok { count += 1 }
            return count
        }
    }

    /// One interval of the sending phase (`reportEvery`).
    public typealias Interval = BenchInterval

    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func run(_ configuration: Configuration, progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        defer { group.shutdownGracefully { _ in } }
        let errors = FirstError()
        let setupStart = MonotonicClock.now()

        // 1. Users, profiles and rooms through the HTTP API.
        let (ids, peerUsers) = try await createUsersAndRooms(configuration, eventLoop: group.next())
        let userCount = peerUsers.count
        let half = userCount / 2
        progress("\(userCount) users and \(configuration.rooms) rooms created")

        // 2. Peers: connect, join, and put every room into role-play.
        let recorders = group.makeIterator().map { LoopRecorder(eventLoop: $0) }
        let key = configuration.anonKey ?? configuration.serviceKey
        let target = BenchTarget(host: configuration.host, port: configuration.port, path: "/realtime/v1/websocket?apikey=\(key)&vsn=1.0.0")
        let counters = RunCounters()
        // Rooms in role-play (opened) and rooms whose set-up failed (failed).
        let setup = RunCounters()
        let text = String(repeating: "Can you tell me more about the pain, when it started and what makes it worse? ", count: 4).prefix(configuration.turnSize)
        let peers: [RoomPeer] = await withProgress(progress, line: { "preparing rooms: \(setup.opened.load(ordering: .relaxed))/\(configuration.rooms) in role-play" }) {
            await BenchHarness.bounded(count: configuration.rooms, concurrency: configuration.concurrency) { index -> [RoomPeer]? in
                let host = RoomPeer(recorder: recorders[(2 * index) % recorders.count], roomID: ids[index], name: "h\(index)", text: String(text), errors: errors)
                let guest = RoomPeer(recorder: recorders[(2 * index + 1) % recorders.count], roomID: ids[index], name: "g\(index)", text: String(text), errors: errors)
                do {
                    for (peer, token) in [(host, peerUsers[index % half].token), (guest, peerUsers[half + index % half].token)] {
                        let connection = try await target.connect(group: peer.recorder.eventLoop) { peer.received($0) }
                        counters.watch(connection)
                        try await peer.join(connection, token: token).get()
                    }
                    try await host.command("set_timing", #"{"client_id":"t","preparation_seconds":1800,"roleplay_seconds":1800}"#).get()
                    try await host.command("choose_case", #"{"client_id":"c","random":{}}"#).get()
                    try await host.command("ready", #"{"client_id":"r"}"#).get()
                    try await guest.command("ready", #"{"client_id":"r"}"#).get()
                    try await host.command("start_round", #"{"client_id":"s"}"#).get()
                    try await guest.command("start_roleplay", #"{"client_id":"p"}"#).get()
                    setup.opened.wrappingAdd(1, ordering: .relaxed)
                    return [host, guest]
                } catch {
                    setup.failure(error)
                    errors.record("room \(index) set-up: \(error)")
                    host.close()
                    guest.close()
                    return nil
                }
            }.flatMap { $0 }
        }
        let setupSeconds = MonotonicClock.seconds(since: setupStart)
        progress("\(peers.count / 2)/\(configuration.rooms) rooms in role-play after \(formatted(setupSeconds, digits: 1)) s")

        // 3. Turns at the total rate, spread evenly over the peers.
        let probe = await ServerProbe.open(host: configuration.host, port: configuration.port, pid: configuration.serverPID, eventLoop: group.next())
        let sampleBefore = await probe.sample()
        _ = await recorders.takeInterval()
        let interval = Double(max(peers.count, 1)) / Double(configuration.rate)
        let sent: @Sendable () -> Int = { recorders.total(.sent) }
        let acked: @Sendable () -> Int = { recorders.total(.acked) }
        let phase = await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
            let elapsed = MonotonicClock.seconds(since: start)
            return "t=\(Int(elapsed))s turns sent=\(sent()) acked=\(acked()) (\(Int(Double(acked()) / max(elapsed, 0.001)))/s) "
                + "deliveries=\(recorders.total(.delivery)) errors=\(recorders.total(.errorReply))"
        }) { start -> Task<[Interval], Never>? in
            let stopAt = start + UInt64(configuration.duration * 1e9)
            for peer in peers { peer.startTurns(interval: interval, until: stopAt) }
            let reporter: Task<[Interval], Never>? = configuration.reportEvery.map { every in
                Task {
                    await BenchHarness.intervals(every: every, start: start, duration: configuration.duration, recorders: recorders, probe: probe,
                        before: sampleBefore, progress: progress)
                }
            }
            try? await Task.sleep(for: .milliseconds(Int64(configuration.duration * 1000)))
            let deadline = MonotonicClock.seconds(since: start) + configuration.drainTimeout
            try? await BenchHarness.drain(since: start, deadline: deadline) { acked() >= sent() && recorders.total(.delivery) >= 2 * acked() }
            return reporter
        }
        let turnSeconds = phase.seconds
        let intervals = await phase.result?.value ?? []
        let sampleAfter = await probe.sample()
        await probe.close()
        let turnsSent = sent()
        let turnsAcked = acked()
        let deliveries = recorders.total(.delivery)

        // 4. Every room ends its round at once: the round-end persistence time.
        progress("ending \(peers.count / 2) rounds")
        let ended = await endRounds(peers)

        let ackHistogram = try await recorders.merged(.main)
        let endHistogram = try await recorders.merged(.secondary)
        counters.stopping.store(true, ordering: .relaxed)
        for peer in peers { peer.close() }
        return Report(
            roomsReady: peers.count / 2, peersConnected: peers.count, setupSeconds: setupSeconds, turnsSent: turnsSent, turnsAcked: turnsAcked,
            turnSeconds: turnSeconds, turnsPerSecond: Double(turnsAcked) / max(configuration.duration, 0.001), ackLatency: ackHistogram.summary,
            deliveries: deliveries, expectedDeliveries: 2 * turnsAcked, roundsEnded: ended,
            roundEndLatency: endHistogram.summary, errorReplies: recorders.total(.errorReply),
            orderViolations: recorders.total(.orderViolation), unexpectedCloses: counters.unexpectedCloses.load(ordering: .relaxed),
            setupFailures: setup.failed.load(ordering: .relaxed), firstError: errors.text, clientCPUSeconds: phase.cpu.client, serverCPUSeconds: phase.cpu.server,
            serverBefore: sampleBefore, serverAfter: sampleAfter, intervals: intervals
        )
    }
}

/// One peer of one room: a connection joined to the room topic. Lives on its recorder's loop.
final class RoomPeer: @unchecked Sendable {
    private enum Kind {
        case join, command, turn, measuredCommand
    }

    let recorder: LoopRecorder
    let name: String
    private let topic: String
    private let topicBytes: [UInt8]
    private let text: String
    private let errors: FirstError
    private var connection: WebSocketClientConnection?
    private var nextRef = 1
    private var pending: [Int: (kind: Kind, sent: UInt64, promise: EventLoopPromise<Void>?)] = [:]
    private var lastSeq: Int64 = 0
    private var turnTask: RepeatedTask?
    private var turns = 0
    private var heartbeat: RepeatedTask?

    init(recorder: LoopRecorder, roomID: String, name: String, text: String, errors: FirstError) {
        self.recorder = recorder
        self.name = name
        self.topic = "realtime:room:\(roomID)"
        self.topicBytes = Array(topic.utf8)
        self.text = text
        self.errors = errors
    }

    func join(_ connection: WebSocketClientConnection, token: String) -> EventLoopFuture<Void> {
        recorder.eventLoop.flatSubmit {
            self.connection = connection
            self.heartbeat = self.recorder.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(20), delay: .seconds(20)) { _ in
                self.connection?.send(text: #"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"hb"}"#)
            }
            return self.send(kind: .join, event: "phx_join", payload: #"{"config":{},"access_token":"\#(token)"}"#)
        }
    }

    func command(_ event: String, _ payload: String, measured: Bool = false) -> EventLoopFuture<Void> {
        recorder.eventLoop.flatSubmit { self.send(kind: measured ? .measuredCommand : .command, event: event, payload: payload) }
    }

    private func send(kind: Kind, event: String, payload: String) -> EventLoopFuture<Void> {
        guard let connection else { return recorder.eventLoop.makeFailedFuture(RoomsBenchmark.SetupError(description: "not connected")) }
        let ref = nextRef
        nextRef += 1
        let promise: EventLoopPromise<Void>? = kind == .turn ? nil : recorder.eventLoop.makePromise()
        pending[ref] = (kind, MonotonicClock.now(), promise)
        connection.send(text: #"{"topic":"\#(topic)","event":"\#(event)","payload":\#(payload),"ref":"\#(ref)","join_ref":"1"}"#)
        return promise?.futureResult ?? recorder.eventLoop.makeSucceededVoidFuture()
    }

    /// Sends a turn every `interval` seconds (first one at a random point of the interval) until `stop`.
    func startTurns(interval: Double, until stop: UInt64) {
        recorder.eventLoop.execute {
            let every = TimeAmount.nanoseconds(Int64(interval * 1e9))
            self.turnTask = self.recorder.eventLoop.scheduleRepeatedTask(
                initialDelay: .nanoseconds(Int64.random(in: 0...max(1, every.nanoseconds))), delay: every
            ) { task in
                guard MonotonicClock.now() < stop else { return task.cancel() }
                self.turns += 1
                let body = #"{"client_turn_id":"\#(self.name)-\#(self.turns)","text":"\#(self.text)"}"#
                _ = self.send(kind: .turn, event: "turn", payload: body)
                self.recorder.count(.sent)
            }
        }
    }

    func close() {
        recorder.eventLoop.execute {
            self.turnTask?.cancel()
            self.heartbeat?.cancel()
            self.connection?.startClose()
            self.connection = nil
        }
    }

    func received(_ message: WebSocketClientMessage) {
        let now = MonotonicClock.now()
        message.data.withUnsafeReadableBytes { bytes in
            typealias P = BoardMessage.Patterns
            let event = BoardMessage.event(bytes)
            if BoardMessage.isEvent(bytes, event, P.phxReply) {
                guard let refRange = BoardMessage.string(P.ref, in: bytes), let ref = Int(BoardMessage.text(bytes, refRange)),
                    let entry = pending.removeValue(forKey: ref)
                else { return }
                let ok = BoardMessage.string(P.status, in: bytes).map { BoardMessage.equal(bytes, $0, P.ok) } ?? false
                if ok {
                    switch entry.kind {
                    case .turn: recorder.record(.acked, latency: now &- entry.sent)
                    case .measuredCommand: recorder.record(.roundEnd, latency: now &- entry.sent, in: .secondary)
                    default: break
                    }
                    entry.promise?.succeed()
                } else {
                    recorder.count(.errorReply)
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, 300)]), as: UTF8.self)
                    errors.record("error reply: \(text)")
                    entry.promise?.fail(RoomsBenchmark.SetupError(description: text))
                }
            } else if let inner = BoardMessage.find(Self.turnEvent, in: bytes, from: 0) {
                recorder.count(.delivery)
                if let seqStart = BoardMessage.find(Self.seqKey, in: bytes, from: inner), let seq = BoardMessage.integer(bytes, at: seqStart) {
                    if seq <= lastSeq { recorder.count(.orderViolation) } else { lastSeq = seq }
                }
            }
        }
    }

    private static let turnEvent = Array(#""event":"turn""#.utf8)
    private static let seqKey = Array(#""seq":"#.utf8)
}

/// Set-up steps the benchmarks share.
enum BenchSetup {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Signs a user up (`key` as the apikey); returns its id and access token.
    static func signUp(_ http: BenchHTTPConnection, key: String, email: String, password: String) async throws -> (id: String, token: String) {
        let answer = try await http.request(
            method: .POST, uri: "/auth/v1/signup", headers: [("apikey", key)],
            body: #"{"email":"\#(email)","password":"\#(password)","data":{"full_name":"Bench User"}}"#
        )
        guard answer.status == 200,
            let object = try? JSONSerialization.jsonObject(with: Data(answer.bodyText.utf8)) as? [String: Any],
            let token = object["access_token"] as? String, let user = object["user"] as? [String: Any], let id = user["id"] as? String
        else { throw Failure(description: "sign-up failed: \(answer.summary)") }
        return (id, token)
    }
}
