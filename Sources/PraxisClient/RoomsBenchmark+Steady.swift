import NIOCore
import PraxisDomain
import Synchronization

/// Rooms at a steady rate (`BenchConfiguration.roomLifetime`): `rooms` room slots, each running one
/// room after another, every room sending turns for `roomLifetime` seconds, then ending its
/// round and closing its peers while the slot prepares its next, fresh room. The first rooms'
/// lives are staggered (slot s's first room ends at (s + 1)/rooms of a lifetime), so rooms
/// start and end evenly over time, rooms/lifetime a second, instead of all at once.
extension RoomsBenchmark {
    /// Rooms a steady run may use: every slot's rooms over the duration, plus its first.
    static func steadyRoomCount(rooms: Int, duration: Double, lifetime: Double) -> Int {
        rooms * (Int((duration / lifetime).rounded(.up)) + 1)
    }

    /// When slot `slot` of `rooms` ends its first room: `lifetime` × (slot + 1)/rooms seconds
    /// after the start, so that one room of the run ends every lifetime/rooms seconds.
    static func firstEnd(slot: Int, rooms: Int, lifetime: Double) -> Double {
        lifetime * Double(slot + 1) / Double(rooms)
    }

    /// One room of a steady run: its two peers, and whether it has ended (its connections'
    /// closes from then on are expected, while the run's other rooms go on).
    struct SteadyRoom: Sendable {
        var host: RoomPeer
        var guest: RoomPeer
        var ended: Ended

        final class Ended: Sendable {
            let value = Atomic<Bool>(false)
        }

        /// Closes the room's peers, their closes expected.
        func close() {
            ended.value.store(true, ordering: .relaxed)
            host.close()
            guest.close()
        }
    }

    /// What the peers of a steady run share.
    struct SteadyContext: Sendable {
        var configuration: BenchConfiguration
        var ids: [String]
        var users: [(id: String, token: String)]
        var recorder: BenchRecorder
    }

    /// Connects and joins room `index` (its id `ids[index]`) in slot `slot` (the slot's
    /// loops and users) and puts it into role-play; nil (counted as a set-up failure) when that fails.
    static func prepareRoom(_ context: SteadyContext, index: Int, slot: Int) async -> SteadyRoom? {
        let configuration = context.configuration
        let recorder = context.recorder
        let target = BenchTarget.realtime(host: configuration.target.host, port: configuration.target.port, key: configuration.clientKey)
        let half = context.users.count / 2
        let text = String(String(repeating: "Can you tell me more about the pain, when it started and what makes it worse? ", count: 4).prefix(configuration.turnSize))
        let host = RoomPeer(recorder: recorder.loop(2 * slot), roomID: context.ids[index], name: "h\(index)", text: text, errors: recorder)
        let guest = RoomPeer(recorder: recorder.loop(2 * slot + 1), roomID: context.ids[index], name: "g\(index)", text: text, errors: recorder)
        let room = SteadyRoom(host: host, guest: guest, ended: SteadyRoom.Ended())
        do {
            for (peer, token) in [(host, context.users[slot % half].token), (guest, context.users[half + slot % half].token)] {
                let connection = try await target.connect(group: peer.recorder.eventLoop) { peer.received($0) }
                connection.closeFuture.whenComplete { [ended = room.ended] _ in
                    if !ended.value.load(ordering: .relaxed) { recorder.count(.unexpectedClose) }
                }
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

    /// Ends `room`'s round once its peers have their turns' replies (end_round → ok measured as
    /// the round-end time), then closes its peers.
    static func endRoom(_ room: SteadyRoom) async {
        for _ in 0..<2000 {
            let waiting = (try? await room.host.pendingCount().get()) ?? 0
            let guestWaiting = (try? await room.guest.pendingCount().get()) ?? 0
            if waiting + guestWaiting == 0 { break }
            try? await Task.sleep(for: .milliseconds(5))
        }
        _ = try? await room.host.command("end_round", #"{"client_id":"e"}"#, measured: true).get()
        room.close()
    }

    /// Slot `slot`'s rooms from `start` until `stopAt`: its first room (already in role-play)
    /// until its staggered end, then fresh rooms of `roomLifetime` seconds. The room still
    /// running at `stopAt` (nil if none) is returned, to be closed with the others.
    static func runSlot(
        _ context: SteadyContext, slot: Int, first: SteadyRoom?, start: UInt64, stopAt: UInt64, turnInterval: Double
    ) async -> SteadyRoom? {
        let rooms = context.configuration.count
        let lifetime = context.configuration.roomLifetime ?? context.configuration.duration
        var room = first
        var next = slot + rooms
        var endAt = start + UInt64(firstEnd(slot: slot, rooms: rooms, lifetime: lifetime) * 1e9)
        while true {
            let roomEnd = min(endAt, stopAt)
            if let room {
                room.host.startTurns(interval: turnInterval, until: roomEnd)
                room.guest.startTurns(interval: turnInterval, until: roomEnd)
            }
            let now = MonotonicClock.now()
            if roomEnd > now { try? await Task.sleep(for: .nanoseconds(Int64(roomEnd - now))) }
            if roomEnd >= stopAt || next >= context.ids.count { return room }
            if let room { await endRoom(room) }
            room = await prepareRoom(context, index: next, slot: slot)
            next += rooms
            endAt = MonotonicClock.now() + UInt64(lifetime * 1e9)
        }
    }

    /// The run with `roomLifetime` set: set-up as `run`, the first rooms prepared, then the
    /// slots (`runSlot`) for `duration` seconds; the rooms still running at the end are closed
    /// without ending their round, so every round end measured happened at the steady rate.
    static func runSteady(_ configuration: BenchConfiguration, progress: @escaping @Sendable (String) -> Void) async throws -> BenchReport {
        let lifetime = configuration.roomLifetime ?? configuration.duration
        return try await BenchHarness.withLoops(configuration.threads) { group, _ in
            let setupStart = MonotonicClock.now()
            var creating = configuration
            creating.count = steadyRoomCount(rooms: configuration.count, duration: configuration.duration, lifetime: lifetime)
            let (ids, peerUsers) = try await createUsersAndRooms(creating, eventLoop: group.next())
            progress("\(peerUsers.count) users and \(ids.count) rooms created for \(configuration.count) slots of \(lifetime) s rooms")
            let recorder = BenchRecorder(group)
            let context = SteadyContext(configuration: configuration, ids: ids, users: peerUsers, recorder: recorder)
            var firstRooms = [SteadyRoom?](repeating: nil, count: configuration.count)
            let prepared = await BenchHarness.bounded(count: configuration.count, concurrency: configuration.concurrency) { slot -> (Int, SteadyRoom)? in
                await prepareRoom(context, index: slot, slot: slot).map { (slot, $0) }
            }
            for (slot, room) in prepared { firstRooms[slot] = room }
            let setupSeconds = MonotonicClock.seconds(since: setupStart)
            progress("\(prepared.count)/\(configuration.count) first rooms in role-play after \(fixed(setupSeconds, 1)) s")
            let probe = ServerProbe(host: configuration.target.host, port: configuration.target.port, pid: configuration.serverPID, eventLoop: group.next())
            let before = await probe.sample()
            let phase = await steadyPhase(context, firstRooms: firstRooms, probe: probe, before: before, progress: progress)
            let after = await probe.sample()
            await recorder.closeAll([])
            for room in phase.result.live { room.close() }
            let (sent, acked, deliveries, ended) = (recorder[.sent], recorder[.acked], recorder[.delivery], recorder[.roundEnd])
            let ack = try await recorder.loops.merged(.main).summary
            let end = try await recorder.loops.merged(.secondary).summary
            progress("\(recorder[.ready]) rooms in role-play over the run, \(ended) rounds ended at the steady rate")
            var report = BenchReport()
            report.add([
                "benchmark": "rooms", "url": configuration.realtime.url, "rooms": configuration.count, "rooms_ready": prepared.count,
                "peers": 2 * recorder[.ready], "rate": configuration.rate, "duration": configuration.duration, "users": configuration.users,
                "setup_seconds": setupSeconds, "turns_sent": sent, "turns_acked": acked, "turns_per_second": BenchHarness.rate(acked, configuration.duration),
                "deliveries": deliveries, "expected_deliveries": 2 * acked, "rounds_ended": ended, "intervals": JSONValue.array(phase.result.intervals),
            ])
            report.latency("ack", ack)
            report.latency("round_end", end, ["p50", "p99", "max"])
            summarise(
                &report, configuration, recorder: recorder, turns: (sent, acked, deliveries, ended, prepared.count), cpu: phase.cpu, before: before,
                after: after, setupSeconds: setupSeconds, ack: ack, end: end
            )
            return report
        }
    }

    /// The timed phase of a steady run: every slot's rooms for `duration` seconds (with
    /// interval reports when asked), then the drain; its result is the intervals and the rooms still live.
    static func steadyPhase(
        _ context: SteadyContext, firstRooms: [SteadyRoom?], probe: ServerProbe, before: ServerProbe.Sample, progress: @escaping @Sendable (String) -> Void
    ) async -> BenchHarness.Phase<(intervals: [JSONValue], live: [SteadyRoom])> {
        let (configuration, recorder) = (context.configuration, context.recorder)
        _ = await recorder.loops.takeInterval()
        let turnInterval = Double(2 * configuration.count) / Double(configuration.rate)
        return await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
            "t=\(Int(MonotonicClock.seconds(since: start)))s turns sent=\(recorder[.sent]) acked=\(recorder[.acked]) rooms opened=\(recorder[.ready]) "
                + "ended=\(recorder[.roundEnd]) errors=\(recorder[.errorReply])"
        }) { start -> (intervals: [JSONValue], live: [SteadyRoom]) in
            let stopAt = start + UInt64(configuration.duration * 1e9)
            let reporter: Task<[JSONValue], Never>? = configuration.reportEvery.map { every in
                Task {
                    await BenchHarness.intervals(
                        every: every, start: start, duration: configuration.duration, recorders: recorder.loops, probe: probe, before: before,
                        progress: progress
                    )
                }
            }
            let live = await withTaskGroup(of: SteadyRoom?.self) { slots in
                for slot in 0..<configuration.count {
                    let first = firstRooms[slot]
                    slots.addTask { await runSlot(context, slot: slot, first: first, start: start, stopAt: stopAt, turnInterval: turnInterval) }
                }
                var live: [SteadyRoom] = []
                for await room in slots { if let room { live.append(room) } }
                return live
            }
            try? await BenchHarness.drain(since: start, deadline: configuration.duration + 30) { recorder[.acked] >= recorder[.sent] }
            return (await reporter?.value ?? [], live)
        }
    }
}
