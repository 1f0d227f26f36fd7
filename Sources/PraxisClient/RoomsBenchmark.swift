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
        /// Seconds each room lives (nil, the default: every room for the whole run, all
        /// started and ended together). Set: rooms at a steady rate (`runSteady`), each room
        /// slot running fresh rooms one after another, their starts and ends staggered evenly.
        public var roomLifetime: Double?
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

        /// `ws://host:port/realtime/v1/websocket`, for reports (keys left out).
        public var realtimeURL: String { BenchTarget.realtime(host: host, port: port).url }
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
            throw BenchError(description: "cannot reach the server at \(configuration.host):\(configuration.port): \(error)")
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
        guard profileAnswer.status == 201 else { throw BenchError(description: "creating profiles failed: \(profileAnswer.summary)") }
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
            guard answer.status == 201 else { throw BenchError(description: "creating rooms failed: \(answer.summary)") }
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

    /// Peers: connect, join, and put every room into role-play (host and guest of room i on
    /// alternate loops); rooms whose set-up fails are counted in `setup` and left out.
    static func prepareRooms(
        _ configuration: Configuration, ids: [String], peerUsers: [(id: String, token: String)], recorders: [LoopRecorder], counters: RunCounters,
        setup: RunCounters, errors: FirstError, progress: @escaping @Sendable (String) -> Void
    ) async -> [RoomPeer] {
        let key = configuration.anonKey ?? configuration.serviceKey
        let target = BenchTarget.realtime(host: configuration.host, port: configuration.port, key: key)
        let half = peerUsers.count / 2
        let text = String(repeating: "Can you tell me more about the pain, when it started and what makes it worse? ", count: 4).prefix(configuration.turnSize)
        return await withProgress(progress, line: { "preparing rooms: \(setup.opened.load(ordering: .relaxed))/\(configuration.rooms) in role-play" }) {
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
    }

    public static func run(_ configuration: Configuration, progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        if configuration.roomLifetime != nil { return try await runSteady(configuration, progress: progress) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        defer { group.shutdownGracefully { _ in } }
        let errors = FirstError()
        let setupStart = MonotonicClock.now()

        // 1. Users, profiles and rooms through the HTTP API.
        let (ids, peerUsers) = try await createUsersAndRooms(configuration, eventLoop: group.next())
        let userCount = peerUsers.count
        progress("\(userCount) users and \(configuration.rooms) rooms created")

        // 2. Peers: connect, join, and put every room into role-play.
        let recorders = group.makeIterator().map { LoopRecorder(eventLoop: $0) }
        let counters = RunCounters()
        // Rooms in role-play (opened) and rooms whose set-up failed (failed).
        let setup = RunCounters()
        let peers = await prepareRooms(
            configuration, ids: ids, peerUsers: peerUsers, recorders: recorders, counters: counters, setup: setup, errors: errors, progress: progress
        )
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
            turnSeconds: turnSeconds, turnsPerSecond: BenchHarness.rate(turnsAcked, configuration.duration), ackLatency: ackHistogram.summary,
            deliveries: deliveries, expectedDeliveries: 2 * turnsAcked, roundsEnded: ended,
            roundEndLatency: endHistogram.summary, errorReplies: recorders.total(.errorReply),
            orderViolations: recorders.total(.orderViolation), unexpectedCloses: counters.unexpectedCloses.load(ordering: .relaxed),
            setupFailures: setup.failed.load(ordering: .relaxed), firstError: errors.text, clientCPUSeconds: phase.cpu.client, serverCPUSeconds: phase.cpu.server,
            serverBefore: sampleBefore, serverAfter: sampleAfter, intervals: intervals
        )
    }
}
