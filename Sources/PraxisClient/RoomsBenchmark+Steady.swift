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

    /// Ends `room`'s round once its peers have their turns' replies (end_round → ok measured as
    /// the round-end time), then closes its peers.
    static func endRoom(_ room: Room) async {
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
    /// until its staggered end, then fresh rooms of `roomLifetime` seconds (without a lifetime,
    /// the first room until `stopAt`). The room still running at `stopAt` (nil if none) is
    /// returned, to be closed with the others.
    static func runSlot(
        _ context: Context, slot: Int, first: Room?, start: UInt64, stopAt: UInt64, turnInterval: Double
    ) async -> Room? {
        let rooms = context.configuration.count
        let lifetime = context.configuration.roomLifetime ?? context.configuration.duration
        var room = first
        var next = slot + rooms
        var endAt = context.configuration.roomLifetime == nil ? stopAt : start + UInt64(firstEnd(slot: slot, rooms: rooms, lifetime: lifetime) * 1e9)
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

    /// Every slot's rooms (`runSlot`) from `start` until `stopAt`, the first rooms `firstRooms`
    /// (by slot); the rooms still live at the end.
    static func runSlots(_ context: Context, rooms firstRooms: [Room?], start: UInt64, stopAt: UInt64, turnInterval: Double) async -> [Room] {
        await withTaskGroup(of: Room?.self) { slots in
            for (slot, first) in firstRooms.enumerated() {
                slots.addTask { await runSlot(context, slot: slot, first: first, start: start, stopAt: stopAt, turnInterval: turnInterval) }
            }
            var live: [Room] = []
            for await room in slots { if let room { live.append(room) } }
            return live
        }
    }
}
