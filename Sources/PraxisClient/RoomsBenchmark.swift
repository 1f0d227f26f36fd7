import Foundation
import NIOCore
import NIOHTTP1
import PraxisDomain

/// The practice-room benchmark: K rooms, each with its host and guest on their own realtime
/// connection, joined to `realtime:room:<id>`, put into role-play, then both peers send turns
/// at a fixed total rate. Measures the acknowledged-turn latency (send → ok reply, which the
/// server sends only once the turn is durable), turn deliveries to both peers, and at the end
/// the round-end persistence time (end_round → ok, sent by every room at once). With
/// `roomLifetime` set, rooms come and go at a steady rate instead (RoomsBenchmark+Steady).
public enum RoomsBenchmark {
    /// Signs up `configuration.users` users (at least 2), gives them profiles and creates the
    /// rooms (room i: host i mod users/2, guest the same of the other half); the rooms' ids and the users.
    static func createUsersAndRooms(
        _ configuration: BenchConfiguration, eventLoop: any EventLoop
    ) async throws -> (ids: [String], users: [(id: String, token: String)]) {
        let http = try await BenchSetup.connect(configuration, eventLoop: eventLoop, what: "the server")
        let tag = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
        let userCount = max(2, configuration.users)
        var users: [(id: String, token: String)] = []
        for index in 0..<userCount {
            users.append(try await BenchSetup.signUp(
                http, key: configuration.clientKey, email: "bench-rooms-\(tag)-\(index)@praxis.test",
                password: "bench-rooms-password"
            ))
        }
        try await BenchSetup.createProfiles(http, serviceKey: configuration.serviceKey, users: users.map(\.id), lastName: "Peer", what: "profiles")
        let half = userCount / 2
        var roomIDs: [String] = []
        var roomRows: [String] = []
        for index in 0..<configuration.count {
            let id = UUID().uuidString.lowercased()
            roomIDs.append(id)
            roomRows.append(
                #"{"id":"\#(id)","host_id":"\#(users[index % half].id)","guest_id":"\#(users[half + index % half].id)","#
                    + #""datetime_utc":"2030-01-01T10:00:00.000000Z","type":"Clinical","room_url":"https://praxis.test/bench-rooms/\#(tag)/\#(index)","private":false}"#
            )
        }
        for chunk in stride(from: 0, to: roomRows.count, by: 500) {
            let body = "[" + roomRows[chunk..<min(chunk + 500, roomRows.count)].joined(separator: ",") + "]"
            let answer = try await http.request(
                method: .POST, uri: "/rest/v1/practice_rooms", headers: BenchSetup.serviceHeaders(configuration.serviceKey), body: body
            )
            guard answer.status == 201 else { throw BenchError(description: "creating rooms failed: \(answer.summary)") }
        }
        await http.close()
        return (roomIDs, users)
    }

    /// Takes a joined room from the waiting room into role-play: timing, a random case, both
    /// ready, the round started and the role-play begun.
    static func putIntoRolePlay(host: RoomPeer, guest: RoomPeer) async throws {
        try await host.command("set_timing", #"{"client_id":"t","preparation_seconds":1800,"roleplay_seconds":1800}"#).get()
        try await host.command("choose_case", #"{"client_id":"c","random":{}}"#).get()
        try await host.command("ready", #"{"client_id":"r"}"#).get()
        try await guest.command("ready", #"{"client_id":"r"}"#).get()
        try await host.command("start_round", #"{"client_id":"s"}"#).get()
        try await guest.command("start_roleplay", #"{"client_id":"p"}"#).get()
    }

    /// One room: its two peers.
    struct Room: Sendable {
        var host: RoomPeer
        var guest: RoomPeer

        /// Closes the room's peers, their closes expected (while the run's other rooms go on).
        func close() {
            host.close()
            guest.close()
        }
    }

    /// What the rooms of a run share.
    struct Context: Sendable {
        var configuration: BenchConfiguration
        var ids: [String]
        var users: [(id: String, token: String)]
        var recorder: BenchRecorder
    }

    /// Connects and joins room `index` (its id `ids[index]`, its host and guest users as
    /// `createUsersAndRooms` chose them) on slot `slot`'s two loops and puts it into role-play;
    /// nil (counted as a set-up failure) when that fails.
    static func prepareRoom(_ context: Context, index: Int, slot: Int) async -> Room? {
        let (configuration, recorder) = (context.configuration, context.recorder)
        let target = BenchTarget.realtime(host: configuration.target.host, port: configuration.target.port, key: configuration.clientKey)
        let half = context.users.count / 2
        let phrase = "Can you tell me more about the pain, when it started and what makes it worse? "
        let text = String(String(repeating: phrase, count: 4).prefix(configuration.turnSize))
        let id = context.ids[index]
        let host = RoomPeer(recorder: recorder, loop: recorder.loop(2 * slot), roomID: id, name: "h\(index)", text: text)
        let guest = RoomPeer(recorder: recorder, loop: recorder.loop(2 * slot + 1), roomID: id, name: "g\(index)", text: text)
        let room = Room(host: host, guest: guest)
        do {
            for (peer, token) in [(host, context.users[index % half].token), (guest, context.users[half + index % half].token)] {
                let connection = try await target.connect(group: peer.eventLoop) { peer.received($0) }
                try await peer.join(connection, token: token).get()
            }
            try await putIntoRolePlay(host: host, guest: guest)
            recorder.count(.ready)
            return room
        } catch {
            recorder.count(.setupFailure)
            recorder.error("room \(index) set-up: \(error)")
            room.close()
            return nil
        }
    }

    /// Runs the benchmark (`count` rooms, or room slots with `roomLifetime`); `progress` gets a
    /// status line once a second.
    public static func run(_ configuration: BenchConfiguration, progress: @escaping @Sendable (String) -> Void) async throws -> BenchReport {
        let lifetime = configuration.roomLifetime
        return try await BenchHarness.withLoops(configuration.threads) { group, _ in
            let setupStart = MonotonicClock.now()
            // 1. Users, profiles and rooms through the HTTP API (steady: every slot's rooms).
            var creating = configuration
            if let lifetime {
                creating.count = steadyRoomCount(rooms: configuration.count, duration: configuration.duration, lifetime: lifetime)
            }
            let (ids, users) = try await createUsersAndRooms(creating, eventLoop: group.next())
            let slots = lifetime.map { " for \(configuration.count) slots of \($0) s rooms" } ?? ""
            progress("\(users.count) users and \(ids.count) rooms created\(slots)")
            // 2. Peers: connect, join, and put every (first) room into role-play.
            let recorder = BenchRecorder(group)
            let context = Context(configuration: configuration, ids: ids, users: users, recorder: recorder)
            let rooms = await BenchHarness.withProgress(progress, line: {
                "preparing rooms: \(recorder[.ready])/\(configuration.count) in role-play"
            }) {
                var rooms = [Room?](repeating: nil, count: configuration.count)
                let prepared = await BenchHarness.bounded(count: configuration.count, concurrency: configuration.concurrency) { slot in
                    await prepareRoom(context, index: slot, slot: slot).map { (slot, $0) }
                }
                for (slot, room) in prepared { rooms[slot] = room }
                return rooms
            }
            let ready = rooms.count { $0 != nil }
            let setupSeconds = MonotonicClock.seconds(since: setupStart)
            progress("\(ready)/\(configuration.count) \(lifetime == nil ? "" : "first ")rooms in role-play after \(fixed(setupSeconds, 1)) s")
            // 3. Turns at the total rate, spread evenly over the peers.
            let probe = ServerProbe(host: configuration.target.host, port: configuration.target.port, pid: configuration.serverPID, eventLoop: group.next())
            let before = await probe.sample()
            let phase = await turnPhase(context, rooms: rooms, probe: probe, before: before, progress: progress)
            let after = await probe.sample()
            // 4. Without a lifetime every room ends its round at once: the round-end persistence time.
            if lifetime == nil {
                progress("ending \(ready) rounds")
                await endRounds(phase.result.live)
            }
            for room in phase.result.live { room.close() }
            if lifetime != nil {
                progress("\(recorder[.ready]) rooms in role-play over the run, \(recorder[.roundEnd]) rounds ended at the steady rate")
            }
            return try await report(context, ready: ready, setupSeconds: setupSeconds, phase: phase, before: before, after: after)
        }
    }

    /// The timed phase: every peer of every slot's rooms (`runSlot`; without a lifetime, one
    /// room each) sends turns for `duration` seconds, with interval reports when asked, then
    /// the drain; its result is the intervals and the rooms still live.
    static func turnPhase(
        _ context: Context, rooms: [Room?], probe: ServerProbe, before: ServerProbe.Sample, progress: @escaping @Sendable (String) -> Void
    ) async -> BenchHarness.Phase<(intervals: [JSONValue], live: [Room])> {
        let (configuration, recorder) = (context.configuration, context.recorder)
        let steady = configuration.roomLifetime != nil
        _ = await recorder.takeInterval()
        let peers = steady ? 2 * configuration.count : max(2 * rooms.count { $0 != nil }, 1)
        let turnInterval = Double(peers) / Double(configuration.rate)
        return await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
            "t=\(Int(MonotonicClock.seconds(since: start)))s turns sent=\(recorder[.sent]) acked=\(recorder[.acked]) "
                + (steady
                    ? "rooms opened=\(recorder[.ready]) ended=\(recorder[.roundEnd])"
                    : "(\(BenchHarness.perSecond(recorder[.acked], since: start))/s) deliveries=\(recorder[.delivery])")
                + " errors=\(recorder[.errorReply])"
        }) { start -> (intervals: [JSONValue], live: [Room]) in
            let stopAt = start + UInt64(configuration.duration * 1e9)
            let reporter: Task<[JSONValue], Never>? = configuration.reportEvery.map { every in
                Task {
                    await BenchHarness.intervals(
                        every: every, start: start, duration: configuration.duration, recorder: recorder, probe: probe, before: before,
                        progress: progress
                    )
                }
            }
            let live = await runSlots(context, rooms: rooms, start: start, stopAt: stopAt, turnInterval: turnInterval)
            // Steady: the rooms that ended have had their drain; else every delivery is awaited too.
            let deadline = steady ? configuration.duration + 30 : MonotonicClock.seconds(since: start) + configuration.drainTimeout
            try? await BenchHarness.drain(since: start, deadline: deadline) {
                recorder[.acked] >= recorder[.sent] && (steady || recorder[.delivery] >= 2 * recorder[.acked])
            }
            return (await reporter?.value ?? [], live)
        }
    }

    /// Every host sends end_round at once (each answer measured as a round end).
    static func endRounds(_ rooms: [Room]) async {
        await withTaskGroup(of: Void.self) { tasks in
            for room in rooms {
                tasks.addTask { _ = try? await room.host.command("end_round", #"{"client_id":"e"}"#, measured: true).get() }
            }
        }
    }

    /// The report: turns, latencies, errors, CPU and WAL figures, and the summary lines.
    static func report(
        _ context: Context, ready: Int, setupSeconds: Double, phase: BenchHarness.Phase<(intervals: [JSONValue], live: [Room])>,
        before: ServerProbe.Sample, after: ServerProbe.Sample
    ) async throws -> BenchReport {
        let (configuration, recorder, cpu) = (context.configuration, context.recorder, phase.cpu)
        let (sent, acked, deliveries, ended) = (recorder[.sent], recorder[.acked], recorder[.delivery], recorder[.roundEnd])
        let ack = try await recorder.histogram(.main).summary
        let end = try await recorder.histogram(.secondary).summary
        var report = BenchReport()
        report.add([
            "benchmark": "rooms", "url": configuration.realtime.url, "rooms": configuration.count, "rooms_ready": ready,
            "peers": 2 * recorder[.ready], "rate": configuration.rate, "duration": configuration.duration, "users": configuration.users,
            "setup_seconds": setupSeconds, "turns_sent": sent, "turns_acked": acked, "turns_per_second": BenchHarness.rate(acked, configuration.duration),
            "deliveries": deliveries, "expected_deliveries": 2 * acked, "rounds_ended": ended, "intervals": JSONValue.array(phase.result.intervals),
        ])
        report.latency("ack", ack)
        report.latency("round_end", end, ["p50", "p99", "max"])
        let counts = (replies: recorder[.errorReply], order: recorder[.orderViolation], closes: recorder[.unexpectedClose], setup: recorder[.setupFailure])
        let errors = counts.replies + counts.order + counts.closes + counts.setup + max(0, sent - acked)
        let perTurn = cpu.server.flatMap { acked > 0 ? $0 * 1000 / Double(acked) : nil }
        let written = before.walWrittenBytes.flatMap { old in after.walWrittenBytes.map { $0 - old } }
        let walPerTurn = written.flatMap { acked > 0 ? Double($0) / Double(acked) : nil }
        report.add([
            "error_replies": counts.replies, "order_violations": counts.order, "unexpected_closes": counts.closes, "setup_failures": counts.setup,
            "errors": errors, "first_error": recorder.firstError, "server_cpu_ms_per_turn": perTurn, "wal_written_bytes": written,
            "wal_written_bytes_per_turn": walPerTurn, "wal_bytes_after": after.walBytes, "database_bytes_after": after.databaseBytes,
            "server_rss_kib_after": after.rssKiB, "client_cpu_seconds": cpu.client, "server_pid": configuration.serverPID.map { Int($0) },
            "server_cpu_seconds": cpu.server,
        ])
        report.summary.append(
            "rooms \(configuration.realtime.url): \(ready)/\(configuration.count) rooms in role-play (\(2 * ready) peers, \(configuration.users) users) "
                + "after \(fixed(setupSeconds)) s set-up, \(configuration.threads) client threads"
        )
        report.line(
            "turns", "\(acked) acknowledged of \(sent) sent in \(fixed(configuration.duration)) s "
                + "(\(fixed(BenchHarness.rate(acked, configuration.duration), 0))/s, target \(configuration.rate)/s)"
        )
        report.latencyLine(ack, label: "ack latency ms")
        report.line("deliveries", "\(deliveries) of \(2 * acked) expected (both peers)")
        report.line("round end ms", "\(ended) rounds ended \(configuration.roomLifetime == nil ? "at once" : "at the steady rate"): p50 \(fixed(end.p50)), p99 \(fixed(end.p99)), max \(fixed(end.max))")
        report.errors(
            errors, "error replies \(counts.replies), order violations \(counts.order), unexpected closes \(counts.closes), set-up failures \(counts.setup)",
            first: recorder.firstError
        )
        report.line("client CPU", "\(fixed(cpu.client)) s")
        if let server = cpu.server { report.line("server CPU", "\(fixed(server)) s, \(perTurn.map { fixed($0, 3) } ?? "-") ms per turn") }
        func mib(_ bytes: Int?) -> String { bytes.map { fixed(Double($0) / 1_048_576, 1) } ?? "-" }
        if let written {
            report.line(
                "server WAL", "\(mib(written)) MiB written (\(walPerTurn.map { fixed($0 / 1024, 1) } ?? "-") KiB per turn); "
                    + "after: WAL file \(mib(after.walBytes)) MiB, database \(mib(after.databaseBytes)) MiB"
            )
        }
        return report
    }
}
