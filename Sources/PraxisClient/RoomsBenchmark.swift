import Foundation
import NIOCore
import NIOHTTP1
import PraxisDomain

/// The practice-room benchmark: K rooms, each with its host and guest on their own realtime
/// connection, joined to `realtime:room:<id>`, put into role-play, then both peers send turns
/// at a fixed total rate. Measures the acknowledged-turn latency (send → ok reply, which the
/// server sends only once the turn is durable), turn deliveries to both peers, and at the end
/// the round-end persistence time (end_round → ok, sent by every room at once).
public enum RoomsBenchmark {
    /// Signs up `configuration.users` users (at least 2), gives them profiles and creates the
    /// rooms (room i: host i mod users/2, guest the same of the other half); the rooms' ids and the users.
    static func createUsersAndRooms(
        _ configuration: BenchConfiguration, eventLoop: any EventLoop
    ) async throws -> (ids: [String], users: [(id: String, token: String)]) {
        let http: BenchHTTPConnection
        do {
            http = try await BenchHTTPConnection.connect(host: configuration.target.host, port: configuration.target.port, eventLoop: eventLoop)
        } catch {
            throw BenchError(description: "cannot reach the server at \(configuration.target.host):\(configuration.target.port): \(error)")
        }
        let tag = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
        let userCount = max(2, configuration.users)
        var users: [(id: String, token: String)] = []
        for index in 0..<userCount {
            users.append(try await BenchSetup.signUp(
                http, key: configuration.clientKey, email: "bench-rooms-\(tag)-\(index)@praxis.test",
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
            let answer = try await http.request(method: .POST, uri: "/rest/v1/practice_rooms", headers: service + [("Prefer", "return=minimal")], body: body)
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

    /// Peers: connect, join, and put every room into role-play (host and guest of room i on
    /// alternate loops); rooms whose set-up fails are counted (`setupFailure`) and left out.
    static func prepareRooms(
        _ configuration: BenchConfiguration, ids: [String], peerUsers: [(id: String, token: String)], recorder: BenchRecorder,
        progress: @escaping @Sendable (String) -> Void
    ) async -> [RoomPeer] {
        let target = BenchTarget.realtime(host: configuration.target.host, port: configuration.target.port, key: configuration.clientKey)
        let half = peerUsers.count / 2
        let text = String(repeating: "Can you tell me more about the pain, when it started and what makes it worse? ", count: 4).prefix(configuration.turnSize)
        return await BenchHarness.withProgress(progress, line: { "preparing rooms: \(recorder[.ready])/\(configuration.count) in role-play" }) {
            await BenchHarness.bounded(count: configuration.count, concurrency: configuration.concurrency) { index -> [RoomPeer]? in
                let host = RoomPeer(recorder: recorder.loop(2 * index), roomID: ids[index], name: "h\(index)", text: String(text), errors: recorder)
                let guest = RoomPeer(recorder: recorder.loop(2 * index + 1), roomID: ids[index], name: "g\(index)", text: String(text), errors: recorder)
                do {
                    for (peer, token) in [(host, peerUsers[index % half].token), (guest, peerUsers[half + index % half].token)] {
                        let connection = try await target.connect(group: peer.recorder.eventLoop) { peer.received($0) }
                        recorder.watch(connection)
                        try await peer.join(connection, token: token).get()
                    }
                    try await putIntoRolePlay(host: host, guest: guest)
                    recorder.count(.ready)
                    return [host, guest]
                } catch {
                    recorder.count(.setupFailure)
                    recorder.error("room \(index) set-up: \(error)")
                    host.close()
                    guest.close()
                    return nil
                }
            }.flatMap { $0 }
        }
    }

    /// Runs the benchmark (`count` rooms); `progress` gets a status line once a second.
    public static func run(_ configuration: BenchConfiguration, progress: @escaping @Sendable (String) -> Void) async throws -> BenchReport {
        if configuration.roomLifetime != nil { return try await runSteady(configuration, progress: progress) }
        return try await BenchHarness.withLoops(configuration.threads) { group, _ in
            let setupStart = MonotonicClock.now()
            // 1. Users, profiles and rooms through the HTTP API.
            let (ids, peerUsers) = try await createUsersAndRooms(configuration, eventLoop: group.next())
            progress("\(peerUsers.count) users and \(configuration.count) rooms created")
            // 2. Peers: connect, join, and put every room into role-play.
            let recorder = BenchRecorder(group)
            let peers = await prepareRooms(configuration, ids: ids, peerUsers: peerUsers, recorder: recorder, progress: progress)
            let setupSeconds = MonotonicClock.seconds(since: setupStart)
            progress("\(peers.count / 2)/\(configuration.count) rooms in role-play after \(fixed(setupSeconds, 1)) s")
            // 3. Turns at the total rate, spread evenly over the peers.
            let probe = ServerProbe(host: configuration.target.host, port: configuration.target.port, pid: configuration.serverPID, eventLoop: group.next())
            let before = await probe.sample()
            let phase = await sendTurns(configuration, peers: peers, recorder: recorder, probe: probe, before: before, progress: progress)
            let intervals = await phase.result?.value ?? []
            let after = await probe.sample()
            let (sent, acked, deliveries) = (recorder[.sent], recorder[.acked], recorder[.delivery])
            // 4. Every room ends its round at once: the round-end persistence time.
            progress("ending \(peers.count / 2) rounds")
            let ended = await endRounds(peers)
            let ack = try await recorder.loops.merged(.main).summary
            let end = try await recorder.loops.merged(.secondary).summary
            await recorder.closeAll([])  // the peers' closes are expected from here on
            for peer in peers { peer.close() }
            var report = BenchReport()
            report.add([
                "benchmark": "rooms", "url": configuration.realtime.url, "rooms": configuration.count, "rooms_ready": peers.count / 2,
                "peers": peers.count, "rate": configuration.rate, "duration": configuration.duration, "users": configuration.users,
                "setup_seconds": setupSeconds, "turns_sent": sent, "turns_acked": acked, "turns_per_second": BenchHarness.rate(acked, configuration.duration),
                "deliveries": deliveries, "expected_deliveries": 2 * acked, "rounds_ended": ended, "intervals": JSONValue.array(intervals),
            ])
            report.latency("ack", ack)
            report.latency("round_end", end, ["p50", "p99", "max"])
            summarise(
                &report, configuration, recorder: recorder, turns: (sent, acked, deliveries, ended, peers.count / 2), cpu: phase.cpu, before: before, after: after,
                setupSeconds: setupSeconds, ack: ack, end: end
            )
            return report
        }
    }

    /// Every peer sends turns for `duration` seconds (with interval reports when asked), then
    /// the drain; the phase's result is the task of the interval reports.
    static func sendTurns(
        _ configuration: BenchConfiguration, peers: [RoomPeer], recorder: BenchRecorder, probe: ServerProbe, before: ServerProbe.Sample,
        progress: @escaping @Sendable (String) -> Void
    ) async -> BenchHarness.Phase<Task<[JSONValue], Never>?> {
        _ = await recorder.loops.takeInterval()
        let interval = Double(max(peers.count, 1)) / Double(configuration.rate)
        return await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
            "t=\(Int(MonotonicClock.seconds(since: start)))s turns sent=\(recorder[.sent]) acked=\(recorder[.acked]) "
                + "(\(BenchHarness.perSecond(recorder[.acked], since: start))/s) deliveries=\(recorder[.delivery]) errors=\(recorder[.errorReply])"
        }) { start -> Task<[JSONValue], Never>? in
            let stopAt = start + UInt64(configuration.duration * 1e9)
            for peer in peers { peer.startTurns(interval: interval, until: stopAt) }
            let reporter: Task<[JSONValue], Never>? = configuration.reportEvery.map { every in
                Task {
                    await BenchHarness.intervals(
                        every: every, start: start, duration: configuration.duration, recorders: recorder.loops, probe: probe, before: before,
                        progress: progress
                    )
                }
            }
            try? await Task.sleep(for: .milliseconds(Int64(configuration.duration * 1000)))
            let deadline = MonotonicClock.seconds(since: start) + configuration.drainTimeout
            try? await BenchHarness.drain(since: start, deadline: deadline) {
                recorder[.acked] >= recorder[.sent] && recorder[.delivery] >= 2 * recorder[.acked]
            }
            return reporter
        }
    }

    /// The error, CPU and WAL figures, and the summary lines.
    static func summarise(
        _ report: inout BenchReport, _ configuration: BenchConfiguration, recorder: BenchRecorder,
        turns: (sent: Int, acked: Int, deliveries: Int, ended: Int, ready: Int), cpu: BenchHarness.CPUUsage,
        before: ServerProbe.Sample, after: ServerProbe.Sample, setupSeconds: Double, ack: LatencySummary, end: LatencySummary
    ) {
        let (sent, acked, ready) = (turns.sent, turns.acked, turns.ready)
        let counts = (replies: recorder[.errorReply], order: recorder[.orderViolation], closes: recorder[.unexpectedClose], setup: recorder[.setupFailure])
        let errors = counts.replies + counts.order + counts.closes + counts.setup + max(0, sent - acked)
        let perTurn = cpu.server.flatMap { acked > 0 ? $0 * 1000 / Double(acked) : nil }
        let written = before.walWrittenBytes.flatMap { old in after.walWrittenBytes.map { $0 - old } }
        let walPerTurn = written.flatMap { acked > 0 ? Double($0) / Double(acked) : nil }
        report.add([
            "error_replies": counts.replies, "order_violations": counts.order, "unexpected_closes": counts.closes, "setup_failures": counts.setup,
            "errors": errors, "first_error": recorder.firstError, "server_cpu_ms_per_turn": perTurn, "wal_written_bytes": written,
            "wal_written_bytes_per_turn": walPerTurn, "wal_bytes_after": after.walBytes, "database_bytes_after": after.databaseBytes,
            "server_rss_kib_after": after.rssKiB,
        ])
        report.cpu(cpu, serverPID: configuration.serverPID, machine: false)
        report.summary.append(
            "rooms \(configuration.realtime.url): \(ready)/\(configuration.count) rooms in role-play (\(2 * ready) peers, \(configuration.users) users) "
                + "after \(fixed(setupSeconds)) s set-up, \(configuration.threads) client threads"
        )
        report.line(
            "turns", "\(acked) acknowledged of \(sent) sent in \(fixed(configuration.duration)) s "
                + "(\(fixed(BenchHarness.rate(acked, configuration.duration), 0))/s, target \(configuration.rate)/s)"
        )
        report.latencyLine(ack, label: "ack latency ms")
        report.line("deliveries", "\(turns.deliveries) of \(2 * acked) expected (both peers)")
        report.line("round end ms", "\(turns.ended) rounds ended \(configuration.roomLifetime == nil ? "at once" : "at the steady rate"): p50 \(fixed(end.p50)), p99 \(fixed(end.p99)), max \(fixed(end.max))")
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
    }
}
