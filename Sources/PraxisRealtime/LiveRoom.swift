import Foundation
import NIOCore
import PraxisDomain
import PraxisProtocol
import PraxisRooms
import PraxisStore
import PraxisWebSocket

/// One practice room while it is loaded: the shell around its engine (`RoomEngine`, pure).
/// The engine decides (commands, presence, no-shows, which timers run, which brief goes to
/// whom); the shell keeps the members' connections, runs the NIO timers the engine asks for
/// and hands them back when they fire, hops to the journal and back, and sends.
///
/// A room is owned by one event loop: every method runs on `loop` (callers hop with
/// `loop.execute`), so nothing here takes a lock. A command is applied to the engine at
/// once (so the next command is checked against it), journaled with group commit, and
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

    /// A join waiting for a journal read: the topic's rule is checked again when it is back.
    struct PendingJoin {
        let member: Member
        let caller: Caller
        let reply: ReplyTarget
    }

    /// What a join read from the journal of the events the room no longer keeps in memory.
    struct JournalRead {
        var read: RoomLog.Read
        /// The current round's turns (nil: not needed).
        var turns: [RoomLog.Entry]?
        /// A resume's missed events (nil: not needed).
        var missed: [RoomLog.Entry]?
    }

    let id: String
    let loop: any EventLoop
    weak var registry: RoomRegistry?
    let configuration: RoomConfiguration
    let type: String

    /// The rules and the latest state: what the next command is checked against.
    var engine: RoomEngine
    /// The state as of the last durable event: what snapshots show.
    var published: RoomState
    var roundIDs: [String?]
    /// The room's offsets and its latest durable events (`configuration.recentEvents` to
    /// twice that), for resumes and snapshots without a read.
    var log: RoomLog
    var members: [Int: Member] = [:]
    /// Joins waiting for a journal read (a member whose channel closed meanwhile is removed;
    /// one whose user lost access meanwhile is refused when the read is back).
    var joining: [Int: PendingJoin] = [:]
    /// Repeats of a command whose first copy is not durable yet: answered with it.
    var waiters: [ClientKey: [ReplyTarget]] = [:]
    /// The NIO timers the engine asked for (`RoomAction.timer`), by what they are for.
    var timers: [RoomTimer: Scheduled<Void>] = [:]
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
        let presence = RoomPresence(
            scheduledAt: Timestamp.parse(loaded.datetimeUTC)?.timeIntervalSince1970, graceSeconds: configuration.graceSeconds,
            sweepIntervalSeconds: configuration.sweepIntervalSeconds, seenSinceScheduled: loaded.seenSinceScheduled, noShows: loaded.noShows
        )
        engine = RoomEngine(
            machine: machine, cases: loaded.cases.mapValues(\.summary), caseBriefs: loaded.cases.mapValues(\.briefs), presence: presence,
            appliedTurnCount: loaded.currentTurns.count, rememberLimit: configuration.rememberedCommands,
            newRoundID: { UUID().uuidString.lowercased() }
        )
        published = state
        roundIDs = loaded.roundIDs
        log = RoomLog(
            recent: loaded.recentEvents.map(\.entry), latestOffset: loaded.latestOffset, transcriptFrom: loaded.transcriptFrom,
            keep: configuration.recentEvents, replayLimit: configuration.replayLimit
        )
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
        let actions = engine.seatChanged(
            guestID, reason: "you are no longer this room's guest: the seat was given back or given to someone else", now: Self.now()
        )
        guard !actions.isEmpty else { return }
        published.guestID = guestID
        perform(actions)
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
        cancelTimers()
        registry?.evict(self)
    }

    /// Adds a member and answers its join with the snapshot; with `resume`, the missed
    /// events follow when there are at most `replayLimit` of them. What the room no longer
    /// keeps in memory (older turns of the round being played, older missed events) is read
    /// from the journal first, off the loop.
    func join(_ member: Member, caller: Caller, resume: Int64?, reply: ReplyTarget) {
        guard let plan = log.read(resume: resume, roundHasTurns: engine.appliedTurnCount > 0), let store = registry?.store else {
            return finishJoin(member, caller: caller, resume: resume, reply: reply, read: nil)
        }
        joining[member.id] = PendingJoin(member: member, caller: caller, reply: reply)
        let room = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        let (roomID, turnLimit, replayLimit) = (id, configuration.maxTurnsPerRound, log.replayLimit)
        Task {
            let read: Result<JournalRead, any Error>
            do {
                var result = JournalRead(read: plan)
                if let after = plan.turnsAfter {
                    result.turns = try await store.roomEvents(roomID: roomID, after: after, before: plan.before, limit: turnLimit, turnsOnly: true)
                        .map(\.entry)
                }
                if let after = plan.missedAfter {
                    result.missed = try await store.roomEvents(
                        roomID: roomID, after: after, before: plan.before, limit: replayLimit, turnsOnly: false
                    ).map(\.entry)
                }
                read = .success(result)
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
                    if room.log.outdates(read.read) { return room.join(member, caller: caller, resume: resume, reply: reply) }
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
        members[member.id] = member
        let transcript = log.transcript(read: read?.read, turns: read?.turns).map { Self.parse($0.payloadJSON) }
        let replay = log.replay(after: resume, read: read?.read, missed: read?.missed)
        scheduleTimers()
        var response = snapshot(for: member.userID, transcript: transcript)
        response["recovered"] = .bool(replay != nil)
        send(reply: reply, status: "ok", response: .object(response))
        for event in replay ?? [] {
            Self.sendEvents([event], to: [member])
        }
        // The user's first connection is journaled as joined (or back), after the snapshot.
        perform(engine.connected(member.userID, now: Self.now()))
    }

    /// Removes a member. When it was the user's last connection, a dropped peer is marked
    /// away for the grace period; one that left is gone.
    func remove(memberID: Int, dropped: Bool) {
        if joining.removeValue(forKey: memberID) != nil { return evictIfIdle() }
        guard let member = members.removeValue(forKey: memberID) else { return }
        perform(engine.disconnected(member.userID, dropped: dropped, now: Self.now()))
        evictIfIdle()
    }
}
