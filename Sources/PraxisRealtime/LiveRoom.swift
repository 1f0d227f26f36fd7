import Foundation
import NIOCore
import PraxisDomain
import PraxisProtocol
import PraxisRooms
import PraxisStore
import PraxisWebSocket

/// One practice room while it is loaded: its state machine, its members, its timers.
///
/// A room is owned by one event loop: every method runs on `loop` (callers hop with
/// `loop.execute`), so nothing here takes a lock. A command is applied to the state machine
/// at once (so the next command is checked against it), journaled with group commit, and
/// only once durable is it answered and are its events sent to the members, in offset order.
final class LiveRoom: @unchecked Sendable {
    /// A member: one connection's join of the room topic.
    struct Member {
        let id: Int
        let userID: String
        let connection: WebSocketConnection
        let topic: String
        let version: PhoenixMessage.Version
        let joinRef: String?
    }

    /// Where a reply goes.
    struct ReplyTarget {
        let connection: WebSocketConnection
        let topic: String
        let version: PhoenixMessage.Version
        let joinRef: String?
        let ref: String?
    }

    /// An event as sent: name and payload bytes (offset and at included).
    struct SentEvent {
        let offset: Int64
        let name: String
        let payloadJSON: String
    }

    /// What a join read from the journal of the events the room no longer keeps in memory:
    /// those with offsets below `before`.
    /// A join waiting for a journal read: the topic's rule is checked again when it is back.
    struct PendingJoin {
        let member: Member
        let caller: Caller
        let reply: ReplyTarget
    }

    struct JournalRead {
        var before: Int64
        /// The current round's turns (nil: not needed).
        var turns: [RoomEventRecord]?
        /// A resume's missed events (nil: not needed).
        var missed: [RoomEventRecord]?
    }

    let id: String
    let loop: any EventLoop
    weak var registry: RoomRegistry?
    let configuration: RoomConfiguration
    let type: String
    let scheduledAt: Double?

    /// The rules and the latest state: what the next command is checked against.
    var engine: RoomEngine
    /// The state as of the last durable event: what snapshots show.
    var published: RoomState
    var roundIDs: [String?]
    /// The rounds' cases with their briefs (each member sees only its own).
    var briefs: [String: CaseBrief]
    /// The offset of the latest durable `round_ended` or `round_cancelled`: the current
    /// round's transcript is the `turn` events after it.
    var transcriptFrom: Int64
    /// The latest durable events (`configuration.recentEvents` to twice that), for resumes
    /// and snapshots without a read.
    var recent: [SentEvent]
    var nextOffset: Int64
    var publishedOffset: Int64
    var members: [Int: Member] = [:]
    /// Joins waiting for a journal read (a member whose channel closed meanwhile is removed;
    /// one whose user lost access meanwhile is refused when the read is back).
    var joining: [Int: PendingJoin] = [:]
    var away: [String: (until: Double, timer: Scheduled<Void>)] = [:]
    /// Repeats of a command whose first copy is not durable yet: answered with it.
    var waiters: [ClientKey: [ReplyTarget]] = [:]
    var phaseTimer: Scheduled<Void>?
    var noShowTimer: Scheduled<Void>?
    var seenSinceScheduled: Set<String>
    var noShows: Set<String>
    var inFlight = 0
    /// Set once the room left the registry (idle, or its journal failed): rejoin to reload.
    var evicted = false
    /// Set once the room's row was deleted: every later command is answered with that.
    var deleted = false
    /// The feed offset the seat (`engine.state.guestID`) is as of: the database's
    /// `practice_rooms.guest_id` is the one truth, and an older read never moves it back.
    var seatAsOf: Int64
    /// The seat as loaded, when the saved state had another guest: followed at `start`.
    var loadedSeat: String??

    init(loaded: LoadedRoom, loop: any EventLoop, registry: RoomRegistry, configuration: RoomConfiguration) {
        self.id = loaded.id
        self.loop = loop
        self.registry = registry
        self.configuration = configuration
        self.type = loaded.type
        self.scheduledAt = Timestamp.parse(loaded.datetimeUTC)?.timeIntervalSince1970
        var state: RoomState
        var loadedSeat: String??
        if let json = loaded.stateJSON, let saved = try? JSONDecoder().decode(RoomState.self, from: Data(json.utf8)) {
            state = saved
            // The row's seat wins over the saved state's (it changed while the room was not loaded).
            if state.guestID != loaded.guestID { loadedSeat = .some(loaded.guestID) }
        } else {
            state = RoomState(hostID: loaded.hostID, guestID: loaded.guestID, stage: loaded.stage)
        }
        state.present = []
        for event in loaded.currentTurns {
            let payload = Self.parse(event.payloadJSON)
            if let clientID = event.clientID, let seq = event.seq, let speaker = event.userID ?? payload.object?["speaker_id"]?.string {
                state.acceptedTurns[RoomStateMachine.turnKey(speaker: speaker, clientTurnID: clientID)] =
                    AcceptedTurn(seq: seq, text: payload.object?["text"]?.string ?? "")
            }
        }
        state.nextSeq = max(state.nextSeq, loaded.maxSeq + 1)
        let machine = RoomStateMachine(
            state: state, maxTurnCharacters: configuration.maxTurnCharacters,
            timingBounds: configuration.minPhaseSeconds...max(configuration.minPhaseSeconds, configuration.maxPhaseSeconds),
            maxTurnsPerRound: configuration.maxTurnsPerRound
        )
        engine = RoomEngine(
            machine: machine, cases: loaded.cases.mapValues(\.summary), appliedTurnCount: loaded.currentTurns.count,
            rememberLimit: configuration.rememberedCommands, newRoundID: { UUID().uuidString.lowercased() }
        )
        published = state
        roundIDs = loaded.roundIDs
        briefs = loaded.cases
        transcriptFrom = loaded.transcriptFrom
        recent = loaded.recentEvents.map { SentEvent(offset: $0.offset, name: $0.type, payloadJSON: $0.payloadJSON) }
        nextOffset = loaded.latestOffset + 1
        publishedOffset = loaded.latestOffset
        seenSinceScheduled = loaded.seenSinceScheduled
        noShows = loaded.noShows
        seatAsOf = loaded.seatAsOf
        self.loadedSeat = loadedSeat
        for command in loaded.commands {
            engine.restore(
                ClientKey(userID: command.userID, clientID: command.clientID), fingerprint: command.fingerprint,
                reply: Self.parse(command.replyJSON)
            )
        }
    }

    /// Schedules timers that became due (the no-show sweep calls this).
    func checkTimers() {
        scheduleTimers()
    }

    /// Starts the timers of a freshly loaded room (a deadline that passed fires at once).
    func start() {
        if case .some(let guest) = loadedSeat {
            loadedSeat = nil
            applySeat(guest)
        }
        scheduleTimers()
        // Loaded for a timer or a check that turned out not to be needed: leave again soon.
        loop.assumeIsolated().scheduleTask(in: .seconds(5)) { [self] in self.evictIfIdle() }
    }

    // MARK: Members

    /// Why the topic rule of `room:<id>` refuses `caller`, or nil: with the room's seats now,
    /// after following the stored seat read at `seat.asOf` when it is newer than the room's.
    func admission(_ caller: Caller, channel: String, following seat: RoomSeat) -> String? {
        followSeat(seat.guestID, asOf: seat.asOf)
        do throws(AccessDenied) {
            try AccessPolicy.checkTopic(channel, isPrivate: true, by: caller, room: (engine.state.hostID, engine.state.guestID))
            return nil
        } catch {
            return error.message
        }
    }

    /// The database's seat changed (`practice_rooms.guest_id`, through any path: the data
    /// API's update or upsert, the service role) as of feed offset `asOf`: follow it. The
    /// former guest's channels are closed with a `system` message saying why, and their
    /// later commands and joins are refused; a round being played is cancelled.
    func followSeat(_ guestID: String?, asOf: Int64) {
        guard !evicted, asOf > seatAsOf else { return }
        seatAsOf = asOf
        applySeat(guestID)
    }

    func applySeat(_ guestID: String?) {
        let before = engine.state
        let events = engine.followSeat(guestID, now: Self.now())
        guard !events.isEmpty else { return }
        published.guestID = guestID
        if events.contains(.roundCancelled(round: before.stage)) {
            phaseTimer?.cancel()
            phaseTimer = nil
        }
        if let previous = before.guestID {
            if let gone = away.removeValue(forKey: previous) { gone.timer.cancel() }
            published.present.remove(previous)
            closeMembers(of: previous, reason: "you are no longer this room's guest: the seat was given back or given to someone else")
        }
        commit(events, saveState: true, completion: nil)
        scheduleTimers()
        evictIfIdle()
    }

    /// The room's row was deleted (by its host between rounds, or by the service role at
    /// any time): members are told (`system` message, then `phx_close`), waiting commands
    /// get an error reply, and so does every later one.
    func roomDeleted() {
        guard !deleted else { return }
        deleted = true
        let reason = "the room was deleted"
        for waiter in waiters.values.joined() { send(reply: waiter, status: "error", response: Self.reason(reason)) }
        waiters = [:]
        for member in members.values { Self.close(member, reason: reason) }
        members = [:]
        guard !evicted else { return }
        evicted = true
        phaseTimer?.cancel()
        noShowTimer?.cancel()
        for entry in away.values { entry.timer.cancel() }
        away = [:]
        registry?.evict(self)
    }

    /// Adds a member and answers its join with the snapshot; with `resume`, the missed
    /// events follow when there are at most `replayLimit` of them. What the room no longer
    /// keeps in memory (older turns of the round being played, older missed events) is read
    /// from the journal first, off the loop.
    func join(_ member: Member, caller: Caller, resume: Int64?, reply: ReplyTarget) {
        let oldestKept = recent.first?.offset ?? (publishedOffset + 1)
        // The round's turns before the memory's first event, when there can be any.
        let turnsBefore = engine.appliedTurnCount > 0 && transcriptFrom + 1 < oldestKept
        var missedAfter: Int64?
        if let resume, resume <= publishedOffset, resume < oldestKept - 1, publishedOffset - resume <= Int64(configuration.replayLimit) {
            missedAfter = resume
        }
        guard turnsBefore || missedAfter != nil, let store = registry?.store else {
            return finishJoin(member, caller: caller, resume: resume, reply: reply, read: nil)
        }
        joining[member.id] = PendingJoin(member: member, caller: caller, reply: reply)
        let room = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        let (roomID, from, limit, replayLimit) = (id, transcriptFrom, configuration.maxTurnsPerRound, configuration.replayLimit)
        Task {
            let read: Result<JournalRead, any Error>
            do {
                let turns = turnsBefore
                    ? try await store.roomEvents(roomID: roomID, after: from, before: oldestKept, limit: limit, turnsOnly: true) : nil
                var missed: [RoomEventRecord]?
                if let missedAfter {
                    missed = try await store.roomEvents(roomID: roomID, after: missedAfter, before: oldestKept, limit: replayLimit, turnsOnly: false)
                }
                read = .success(JournalRead(before: oldestKept, turns: turns, missed: missed))
            } catch {
                read = .failure(error)
            }
            loop.execute {
                let room = room.value
                guard room.joining.removeValue(forKey: member.id) != nil else { return }
                switch read {
                case .failure:
                    room.send(reply: reply, status: "error", response: Self.reason("the room could not be read: join the room topic again"))
                    room.evictIfIdle()
                case .success(let read):
                    // Trimmed past what was read meanwhile (a burst of events): read again.
                    if let first = room.recent.first?.offset, first > read.before {
                        return room.join(member, caller: caller, resume: resume, reply: reply)
                    }
                    room.finishJoin(member, caller: caller, resume: resume, reply: reply, read: read)
                }
            }
        }
    }

    /// The second half of `join`, on the loop, with what was read from the journal (if any).
    /// The topic's rule is asked again here: the seat may have changed during the read.
    func finishJoin(_ member: Member, caller: Caller, resume: Int64?, reply: ReplyTarget, read: JournalRead?) {
        if evicted {
            return send(reply: reply, status: "error", response: Self.reason(deleted ? "the room was deleted" : "the room was reloaded: join the room topic again"))
        }
        do throws(AccessDenied) {
            try AccessPolicy.checkTopic(Self.channel(of: member.topic), isPrivate: true, by: caller, room: (engine.state.hostID, engine.state.guestID))
        } catch {
            send(reply: reply, status: "error", response: Self.reason(error.message))
            return evictIfIdle()
        }
        let wasPresent = members.values.contains { $0.userID == member.userID }
        members[member.id] = member
        engine.arrived(member.userID)
        published.present.insert(member.userID)
        // Events of memory come after what was read (the read stops where memory began).
        let memoryAfter = (read?.before ?? 0) - 1
        var transcript: [JSONValue] = []
        for event in read?.turns ?? [] where event.offset > transcriptFrom { transcript.append(Self.parse(event.payloadJSON)) }
        for event in recent where event.name == "turn" && event.offset > max(transcriptFrom, memoryAfter) {
            transcript.append(Self.parse(event.payloadJSON))
        }
        var replay: [SentEvent]?
        if let resume, resume <= publishedOffset {
            let oldestKept = recent.first?.offset ?? (publishedOffset + 1)
            if resume >= oldestKept - 1 {
                replay = recent.filter { $0.offset > resume }
            } else if let missed = read?.missed {
                replay = missed.filter { $0.offset > resume }.map { SentEvent(offset: $0.offset, name: $0.type, payloadJSON: $0.payloadJSON) }
                    + recent.filter { $0.offset > max(resume, memoryAfter) }
            }
        }
        scheduleTimers()
        var response = snapshot(for: member.userID, transcript: transcript)
        response["recovered"] = .bool(replay != nil)
        send(reply: reply, status: "ok", response: .object(response))
        for event in replay ?? [] {
            Self.sendEvents([event], to: [member])
        }
        guard !wasPresent else { return }
        let now = Self.now()
        if let scheduledAt, now >= scheduledAt { seenSinceScheduled.insert(member.userID) }
        let status: RoomEvent.PresenceStatus
        if let gone = away.removeValue(forKey: member.userID) {
            gone.timer.cancel()
            status = .back
        } else {
            status = .joined
        }
        commit([presenceEvent(userID: member.userID, status: status)], saveState: false, completion: nil)
    }

    /// Removes a member. When it was the user's last connection, a dropped peer is marked
    /// away for the grace period; one that left is gone.
    func remove(memberID: Int, dropped: Bool) {
        if joining.removeValue(forKey: memberID) != nil { return evictIfIdle() }
        guard let member = members.removeValue(forKey: memberID) else { return }
        let stillHere = members.values.contains { $0.userID == member.userID }
        if !stillHere {
            published.present.remove(member.userID)
            if dropped, engine.state.isParticipant(member.userID) {
                let until = Self.now() + configuration.graceSeconds
                let userID = member.userID
                let timer = loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(configuration.graceSeconds * 1000))) { [self] in
                    self.graceExpired(userID)
                }
                away[member.userID] = (until, timer)
                commit([presenceEvent(userID: member.userID, status: .away)], saveState: false, completion: nil)
            } else {
                commit([presenceEvent(userID: member.userID, status: .left)], saveState: false, completion: nil)
            }
        }
        evictIfIdle()
    }

    func graceExpired(_ userID: String) {
        guard away.removeValue(forKey: userID) != nil, !evicted else { return }
        let events = engine.graceExpired(userID, now: Self.now())
        guard !events.isEmpty else { return }
        commit(events, saveState: true, completion: nil)
        evictIfIdle()
    }
}
