import NIOCore
import NIOPosix
import Synchronization

/// Rooms at a steady rate (`Configuration.roomLifetime`): `rooms` room slots, each running one
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

    /// One room of a steady run: its two peers and the counters that watch their connections
    /// (its own, so that closing an ended room is not an unexpected close).
    struct SteadyRoom: Sendable {
        var host: RoomPeer
        var guest: RoomPeer
        var counters: RunCounters
    }

    /// What the peers of a steady run share.
    struct SteadyContext: Sendable {
        var configuration: Configuration
        var ids: [String]
        var users: [(id: String, token: String)]
        var recorders: [LoopRecorder]
        var errors: FirstError
        var setup: RunCounters
        /// Closes of rooms' connections that came before the room ended.
        var unexpectedCloses: RunCounters
        var roundsEnded: RunCounters
    }

    /// Connects and joins room `index` (its id `ids[index]`) in slot `slot` (the slot's
    /// loops and users) and puts it into role-play; nil (counted in `setup`) when that fails.
    static func prepareRoom(_ context: SteadyContext, index: Int, slot: Int) async -> SteadyRoom? {
        let configuration = context.configuration
        let key = configuration.anonKey ?? configuration.serviceKey
        let target = BenchTarget.realtime(host: configuration.host, port: configuration.port, key: key)
        let half = context.users.count / 2
        let text = String(String(repeating: "Can you tell me more about the pain, when it started and what makes it worse? ", count: 4).prefix(configuration.turnSize))
        let recorders = context.recorders
        let host = RoomPeer(recorder: recorders[(2 * slot) % recorders.count], roomID: context.ids[index], name: "h\(index)", text: text, errors: context.errors)
        let guest = RoomPeer(recorder: recorders[(2 * slot + 1) % recorders.count], roomID: context.ids[index], name: "g\(index)", text: text, errors: context.errors)
        let counters = RunCounters()
        do {
            for (peer, token) in [(host, context.users[slot % half].token), (guest, context.users[half + slot % half].token)] {
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
            context.setup.opened.wrappingAdd(1, ordering: .relaxed)
            return SteadyRoom(host: host, guest: guest, counters: counters)
        } catch {
            context.setup.failure(error)
            context.errors.record("room \(index) set-up: \(error)")
            counters.stopping.store(true, ordering: .relaxed)
            host.close()
            guest.close()
            return nil
        }
    }

    /// Ends `room`'s round once its peers have their turns' replies (end_round → ok measured as
    /// the round-end time), then closes its peers.
    static func endRoom(_ room: SteadyRoom, _ context: SteadyContext) async {
        for _ in 0..<2000 {
            let waiting = (try? await room.host.pendingCount().get()) ?? 0
            let guestWaiting = (try? await room.guest.pendingCount().get()) ?? 0
            if waiting + guestWaiting == 0 { break }
            try? await Task.sleep(for: .milliseconds(5))
        }
        if (try? await room.host.command("end_round", #"{"client_id":"e"}"#, measured: true).get()) != nil {
            context.roundsEnded.opened.wrappingAdd(1, ordering: .relaxed)
        }
        context.unexpectedCloses.unexpectedCloses.wrappingAdd(room.counters.unexpectedCloses.load(ordering: .relaxed), ordering: .relaxed)
        room.counters.stopping.store(true, ordering: .relaxed)
        room.host.close()
        room.guest.close()
    }

    /// Slot `slot`'s rooms from `start` until `stopAt`: its first room (already in role-play)
    /// until its staggered end, then fresh rooms of `roomLifetime` seconds. The room still
    /// running at `stopAt` (nil if none) is returned, to be closed with the others.
    static func runSlot(
        _ context: SteadyContext, slot: Int, first: SteadyRoom?, start: UInt64, stopAt: UInt64, turnInterval: Double
    ) async -> SteadyRoom? {
        let rooms = context.configuration.rooms
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
            if let room { await endRoom(room, context) }
            room = await prepareRoom(context, index: next, slot: slot)
            next += rooms
            endAt = MonotonicClock.now() + UInt64(lifetime * 1e9)
        }
    }

    /// The run with `roomLifetime` set: set-up as `run`, the first rooms prepared, then the
    /// slots (`runSlot`) for `duration` seconds; the rooms still running at the end are closed
    /// without ending their round, so every round end measured happened at the steady rate.
    static func runSteady(_ configuration: Configuration, progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let lifetime = configuration.roomLifetime ?? configuration.duration
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        defer { group.shutdownGracefully { _ in } }
        let errors = FirstError()
        let setupStart = MonotonicClock.now()
        var creating = configuration
        creating.rooms = steadyRoomCount(rooms: configuration.rooms, duration: configuration.duration, lifetime: lifetime)
        let (ids, peerUsers) = try await createUsersAndRooms(creating, eventLoop: group.next())
        progress("\(peerUsers.count) users and \(ids.count) rooms created for \(configuration.rooms) slots of \(lifetime) s rooms")
        let recorders = group.makeIterator().map { LoopRecorder(eventLoop: $0) }
        let context = SteadyContext(
            configuration: configuration, ids: ids, users: peerUsers, recorders: recorders, errors: errors, setup: RunCounters(),
            unexpectedCloses: RunCounters(), roundsEnded: RunCounters()
        )
        var firstRooms = [SteadyRoom?](repeating: nil, count: configuration.rooms)
        let prepared = await BenchHarness.bounded(count: configuration.rooms, concurrency: configuration.concurrency) { slot -> (Int, SteadyRoom)? in
            await prepareRoom(context, index: slot, slot: slot).map { (slot, $0) }
        }
        for (slot, room) in prepared { firstRooms[slot] = room }
        let firstReady = firstRooms
        let setupSeconds = MonotonicClock.seconds(since: setupStart)
        progress("\(prepared.count)/\(configuration.rooms) first rooms in role-play after \(formatted(setupSeconds, digits: 1)) s")

        let probe = await ServerProbe.open(host: configuration.host, port: configuration.port, pid: configuration.serverPID, eventLoop: group.next())
        let sampleBefore = await probe.sample()
        _ = await recorders.takeInterval()
        let turnInterval = Double(2 * configuration.rooms) / Double(configuration.rate)
        let sent: @Sendable () -> Int = { recorders.total(.sent) }
        let acked: @Sendable () -> Int = { recorders.total(.acked) }
        let phase = await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
            let elapsed = MonotonicClock.seconds(since: start)
            return "t=\(Int(elapsed))s turns sent=\(sent()) acked=\(acked()) rooms opened=\(context.setup.opened.load(ordering: .relaxed)) "
                + "ended=\(context.roundsEnded.opened.load(ordering: .relaxed)) errors=\(recorders.total(.errorReply))"
        }) { start -> (intervals: [Interval], live: [SteadyRoom]) in
            let stopAt = start + UInt64(configuration.duration * 1e9)
            let reporter: Task<[Interval], Never>? = configuration.reportEvery.map { every in
                Task {
                    await BenchHarness.intervals(every: every, start: start, duration: configuration.duration, recorders: recorders, probe: probe,
                        before: sampleBefore, progress: progress)
                }
            }
            let live = await withTaskGroup(of: SteadyRoom?.self) { slots in
                for slot in 0..<configuration.rooms {
                    let first = firstReady[slot]
                    slots.addTask { await runSlot(context, slot: slot, first: first, start: start, stopAt: stopAt, turnInterval: turnInterval) }
                }
                var live: [SteadyRoom] = []
                for await room in slots { if let room { live.append(room) } }
                return live
            }
            try? await BenchHarness.drain(since: start, deadline: configuration.duration + 30) { acked() >= sent() }
            return (await reporter?.value ?? [], live)
        }
        let sampleAfter = await probe.sample()
        await probe.close()
        for room in phase.result.live {
            context.unexpectedCloses.unexpectedCloses.wrappingAdd(room.counters.unexpectedCloses.load(ordering: .relaxed), ordering: .relaxed)
            room.counters.stopping.store(true, ordering: .relaxed)
            room.host.close()
            room.guest.close()
        }
        let ackHistogram = try await recorders.merged(.main)
        let endHistogram = try await recorders.merged(.secondary)
        let opened = context.setup.opened.load(ordering: .relaxed)
        progress("\(opened) rooms in role-play over the run, \(context.roundsEnded.opened.load(ordering: .relaxed)) rounds ended at the steady rate")
        return Report(
            roomsReady: prepared.count, peersConnected: 2 * opened, setupSeconds: setupSeconds, turnsSent: sent(), turnsAcked: acked(),
            turnSeconds: phase.seconds, turnsPerSecond: BenchHarness.rate(acked(), configuration.duration), ackLatency: ackHistogram.summary,
            deliveries: recorders.total(.delivery), expectedDeliveries: 2 * acked(), roundsEnded: context.roundsEnded.opened.load(ordering: .relaxed),
            roundEndLatency: endHistogram.summary, errorReplies: recorders.total(.errorReply), orderViolations: recorders.total(.orderViolation),
            unexpectedCloses: context.unexpectedCloses.unexpectedCloses.load(ordering: .relaxed), setupFailures: context.setup.failed.load(ordering: .relaxed),
            firstError: errors.text, clientCPUSeconds: phase.cpu.client, serverCPUSeconds: phase.cpu.server, serverBefore: sampleBefore,
            serverAfter: sampleAfter, intervals: phase.result.intervals
        )
    }
}
