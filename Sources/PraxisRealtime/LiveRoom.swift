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
    struct JournalRead {
        var before: Int64
        /// The current round's turns (nil: not needed).
        var turns: [RoomEventRecord]?
        /// A resume's missed events (nil: not needed).
        var missed: [RoomEventRecord]?
    }

    let id: String
    let loop: any EventLoop
    private weak var registry: RoomRegistry?
    private let configuration: RoomConfiguration
    private let type: String
    private let scheduledAt: Double?

    /// The rules and the latest state: what the next command is checked against.
    private var engine: RoomEngine
    /// The state as of the last durable event: what snapshots show.
    private var published: RoomState
    private var roundIDs: [String?]
    /// The rounds' cases with their briefs (each member sees only its own).
    private var briefs: [String: CaseBrief]
    /// The offset of the latest durable `round_ended` or `round_cancelled`: the current
    /// round's transcript is the `turn` events after it.
    private var transcriptFrom: Int64
    /// The latest durable events (`configuration.recentEvents` to twice that), for resumes
    /// and snapshots without a read.
    private var recent: [SentEvent]
    private var nextOffset: Int64
    private var publishedOffset: Int64
    private var members: [Int: Member] = [:]
    /// Joins waiting for a journal read (a member whose channel closed meanwhile is removed).
    private var joining: [Int: Member] = [:]
    private var away: [String: (until: Double, timer: Scheduled<Void>)] = [:]
    /// Repeats of a command whose first copy is not durable yet: answered with it.
    private var waiters: [ClientKey: [ReplyTarget]] = [:]
    private var phaseTimer: Scheduled<Void>?
    private var noShowTimer: Scheduled<Void>?
    private var seenSinceScheduled: Set<String>
    private var noShows: Set<String>
    private var inFlight = 0
    /// Set once the room left the registry (idle, or its journal failed): rejoin to reload.
    private(set) var evicted = false
    /// Set once the room's row was deleted: every later command is answered with that.
    private var deleted = false
    /// The feed offset the seat (`engine.state.guestID`) is as of: the database's
    /// `practice_rooms.guest_id` is the one truth, and an older read never moves it back.
    private var seatAsOf: Int64
    /// The seat as loaded, when the saved state had another guest: followed at `start`.
    private var loadedSeat: String??

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

    private func applySeat(_ guestID: String?) {
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
    func join(_ member: Member, resume: Int64?, reply: ReplyTarget) {
        let oldestKept = recent.first?.offset ?? (publishedOffset + 1)
        // The round's turns before the memory's first event, when there can be any.
        let turnsBefore = engine.appliedTurnCount > 0 && transcriptFrom + 1 < oldestKept
        var missedAfter: Int64?
        if let resume, resume <= publishedOffset, resume < oldestKept - 1, publishedOffset - resume <= Int64(configuration.replayLimit) {
            missedAfter = resume
        }
        guard turnsBefore || missedAfter != nil, let store = registry?.store else {
            return finishJoin(member, resume: resume, reply: reply, read: nil)
        }
        joining[member.id] = member
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
                        return room.join(member, resume: resume, reply: reply)
                    }
                    room.finishJoin(member, resume: resume, reply: reply, read: read)
                }
            }
        }
    }

    /// The second half of `join`, on the loop, with what was read from the journal (if any).
    private func finishJoin(_ member: Member, resume: Int64?, reply: ReplyTarget, read: JournalRead?) {
        if evicted {
            return send(reply: reply, status: "error", response: Self.reason(deleted ? "the room was deleted" : "the room was reloaded: join the room topic again"))
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

    private func graceExpired(_ userID: String) {
        guard away.removeValue(forKey: userID) != nil, !evicted else { return }
        let events = engine.graceExpired(userID, now: Self.now())
        guard !events.isEmpty else { return }
        commit(events, saveState: true, completion: nil)
        evictIfIdle()
    }

    // MARK: Commands

    /// Handles a command from a member; answers exactly once. The push is decoded once, here
    /// (`RoomRequest`); the engine says what to journal and how to answer.
    func command(_ name: String, payload: [String: JSONValue], memberID: Int, reply: ReplyTarget) {
        if deleted { return send(reply: reply, status: "error", response: Self.reason("the room was deleted")) }
        guard !evicted, let member = members[memberID] else {
            return send(reply: reply, status: "error", response: Self.reason("you are not in this room: join the room topic again"))
        }
        if let registry, registry.journal.isFull {
            return send(reply: reply, status: "error", response: Self.reason("the server is busy saving: try again in a moment (nothing was changed)"))
        }
        switch RoomRequest.decode(event: name, payload: payload) {
        case .failure(let error):
            send(reply: reply, status: "error", response: Self.reason(error.reason))
        case .success(let request):
            perform(engine.handle(request, from: member.userID, now: Self.now()), request: request, userID: member.userID, reply: reply)
            scheduleTimers()
        }
    }

    /// Performs the engine's actions for one command, in order.
    private func perform(_ actions: [RoomAction], request: RoomRequest, userID: String, reply: ReplyTarget) {
        for action in actions {
            switch action {
            case .journal(let events, let saveState):
                commit(events, saveState: saveState, completion: nil)
            case .commit(let applied):
                commitCommand(applied, reply: reply)
            case .refuse(let reason):
                send(reply: reply, status: "error", response: Self.reason(reason))
            case .answer(let response):
                send(reply: reply, status: "ok", response: response)
            case .waitForOriginal(let key):
                waiters[key, default: []].append(reply)
            case .lookUpCase(let choice, let excluding):
                lookUpCase(choice, excluding: excluding, request: request, userID: userID, reply: reply)
            }
        }
    }

    /// Journals an applied command; answers once it is durable.
    private func commitCommand(_ applied: RoomCommit, reply: ReplyTarget) {
        var response = applied.reply
        // The reply's offset: the command's last event, or the room's latest when it made none.
        response["offset"] = .number(Double(nextOffset - 1 + Int64(applied.events.count)))
        let answer = JSONValue.object(response)
        let record = applied.key.map {
            RoomCommandRecord(userID: $0.userID, clientID: $0.clientID, fingerprint: applied.fingerprint, replyJSON: answer.jsonString)
        }
        commit(applied.events, saveState: applied.saveState, command: record, failureReply: reply) { [self] _ in
            self.send(reply: reply, status: "ok", response: answer)
            if let key = applied.key { self.answered(key, response: answer) }
            if let leaving = applied.closesChannelsOf { self.closeMembers(of: leaving) }
        }
    }

    /// `choose_case`: looks the case up (off the loop), then hands it to the engine.
    private func lookUpCase(_ choice: RoomCommand.CaseChoice, excluding: String?, request: RoomRequest, userID: String, reply: ReplyTarget) {
        let store = registry?.store
        let roomType = type
        let lookup: @Sendable () async throws -> CaseBrief?
        let isRandom: Bool
        switch choice {
        case .id(let caseID):
            lookup = { try await store?.caseBrief(id: caseID) }
            isRandom = false
        case .random(let profession, let domain, let difficulty):
            lookup = { try await store?.randomCase(profession: profession, domain: domain ?? roomType, difficulty: difficulty, excluding: excluding) }
            isRandom = true
        }
        let room = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        Task {
            let found: Result<CaseBrief?, any Error>
            do { found = .success(try await lookup()) } catch { found = .failure(error) }
            loop.execute { room.value.caseLookedUp(found, isRandom: isRandom, request: request, userID: userID, reply: reply) }
        }
    }

    /// Back on the loop with the case `choose_case` asked for.
    private func caseLookedUp(_ found: Result<CaseBrief?, any Error>, isRandom: Bool, request: RoomRequest, userID: String, reply: ReplyTarget) {
        switch found {
        case .failure(let error):
            send(reply: reply, status: "error", response: Self.reason("the case could not be read: \(error)"))
        case .success(nil):
            send(reply: reply, status: "error", response: Self.reason(
                isRandom ? "no published case matches those filters" : "no published case has that case_id"
            ))
        case .success(let brief?):
            briefs[brief.id] = brief
            guard !evicted else {
                return send(reply: reply, status: "error", response: Self.reason("the room was reloaded: join the room topic again"))
            }
            perform(engine.caseFound(brief.summary, for: request, from: userID, now: Self.now()), request: request, userID: userID, reply: reply)
            scheduleTimers()
        }
    }

    /// A remembered command's answer is durable: repeats that waited for it get it too.
    private func answered(_ key: ClientKey, response: JSONValue) {
        engine.answered(key, reply: response)
        let waiting = waiters.removeValue(forKey: key) ?? []
        guard case .object(var repeated) = response else { return }
        repeated["repeated"] = .bool(true)
        for waiter in waiting { send(reply: waiter, status: "ok", response: .object(repeated)) }
    }

    // MARK: Timers

    private func scheduleTimers() {
        phaseTimer?.cancel()
        phaseTimer = nil
        if !evicted, let deadline = engine.state.phase.deadline {
            let delay = max(0, deadline - Self.now())
            phaseTimer = loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay * 1000) + 1)) { [self] in
                self.phaseTimer = nil
                self.tick()
            }
        }
        if noShowTimer == nil, !evicted, engine.state.noShowChecked != true, engine.state.stage == 1, let scheduledAt {
            let checkAt = scheduledAt + configuration.graceSeconds
            let now = Self.now()
            // Due soon: a timer. Later ones are found by the registry's sweep.
            if now - scheduledAt < 86_400, checkAt - now <= configuration.sweepIntervalSeconds {
                noShowTimer = loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(max(0, checkAt - now) * 1000))) { [self] in
                    self.noShowTimer = nil
                    self.checkNoShows()
                }
            }
        }
    }

    private func tick() {
        guard !evicted else { return }
        let events = engine.tick(now: Self.now())
        if !events.isEmpty { commit(events, saveState: true, completion: nil) }
        scheduleTimers()
        evictIfIdle()
    }

    private func checkNoShows() {
        guard !evicted, engine.state.noShowChecked != true else { return }
        engine.markNoShowChecked()
        var events: [RoomEvent] = []
        if engine.state.stage == 1, engine.state.phase == .waiting, let scheduledAt {
            let present = Set(members.values.map(\.userID))
            for userID in [engine.state.hostID, engine.state.guestID].compactMap({ $0 })
            where !present.contains(userID) && !seenSinceScheduled.contains(userID) && !noShows.contains(userID) {
                noShows.insert(userID)
                events.append(.noShow(userID: userID, scheduledAt: scheduledAt))
            }
        }
        commit(events, saveState: true, completion: nil)
        evictIfIdle()
    }

    // MARK: Journal

    /// What a journal entry publishes once durable.
    private struct Committed {
        var sent: [SentEvent]
        var stateAfter: RoomState
        var roundEnd: RoomRoundRecord?
        /// The offset of the entry's last `round_ended` or `round_cancelled`.
        var transcriptEnd: Int64?
        var startsRound: Bool
    }

    private func presenceEvent(userID: String, status: RoomEvent.PresenceStatus) -> RoomEvent {
        .presence(
            userID: userID, status: status, present: Set(members.values.map(\.userID)).sorted(),
            away: away.sorted { $0.key < $1.key }.map { RoomEvent.Away(userID: $0.key, until: $0.value.until) }
        )
    }

    /// Journals `events` (and the state when asked); once durable, sends them to the
    /// members and calls `completion` with the last offset (the previous one when there
    /// were no events).
    private func commit(
        _ events: [RoomEvent], saveState: Bool, command: RoomCommandRecord? = nil, assessment: RoomAssessmentRecord? = nil,
        failureReply: ReplyTarget? = nil, completion: ((Int64) -> Void)?
    ) {
        guard let registry, !evicted else {
            if let failureReply { send(reply: failureReply, status: "error", response: Self.reason(deleted ? "the room was deleted" : "the room was reloaded: join the room topic again")) }
            return
        }
        let at = Timestamp.now()
        var records: [RoomEventRecord] = []
        var committed = Committed(sent: [], stateAfter: engine.state, startsRound: events.contains(where: \.startsRound))
        for event in events {
            let offset = nextOffset
            nextOffset += 1
            if case .roundEnded(let round, _, let roundID, _, let duration) = event {
                // The round's row gets its transcript from the journal, in the same transaction.
                committed.roundEnd = RoomRoundRecord(
                    roundID: roundID, round: round, candidateID: round == 1 ? engine.state.hostID : (engine.state.guestID ?? ""),
                    caseID: engine.state.caseIDs[round - 1], durationSeconds: duration, newStage: round + 1
                )
            }
            if event.endsTranscript { committed.transcriptEnd = offset }
            let json = event.payload(offset: offset, at: at).jsonString
            let turn = event.turnColumns
            records.append(RoomEventRecord(
                offset: offset, type: event.name, round: event.round, clientID: turn?.clientID, seq: turn?.seq, payloadJSON: json, at: at,
                userID: turn?.userID
            ))
            committed.sent.append(SentEvent(offset: offset, name: event.name, payloadJSON: json))
        }
        var stateRecord: (phase: String, json: String)?
        if saveState, let data = try? JSONEncoder().encode(committed.stateAfter) {
            stateRecord = (committed.stateAfter.phase.name, String(decoding: data, as: UTF8.self))
        }
        var entry = RoomJournalEntry(roomID: id, events: records, state: stateRecord, roundEnd: committed.roundEnd, command: command)
        entry.assessment = assessment
        inFlight += 1
        let room = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        let then = NIOLoopBound(completion, eventLoop: loop)
        let published = committed
        registry.journal.append(entry) { result in
            loop.execute { room.value.durable(result, published, failureReply: failureReply, completion: then.value) }
        }
    }

    /// Back on the loop after the journal wrote (or failed to write) an entry.
    private func durable(_ result: Result<Void, StoreError>, _ committed: Committed, failureReply: ReplyTarget?, completion: ((Int64) -> Void)?) {
        inFlight -= 1
        if case .failure(let error) = result {
            failed(error, reply: failureReply)
            return
        }
        let present = published.present
        published = committed.stateAfter
        published.present = present
        for event in committed.sent {
            publishedOffset = event.offset
            recent.append(event)
        }
        if let end = committed.transcriptEnd { transcriptFrom = end }
        if recent.count > configuration.recentEvents * 2 { recent.removeFirst(recent.count - configuration.recentEvents) }
        if let roundEnd = committed.roundEnd { roundIDs[roundEnd.round - 1] = roundEnd.roundID }
        Self.sendEvents(committed.sent, to: Array(members.values))
        if committed.startsRound { sendBriefs() }
        completion?(publishedOffset)
        if let roundEnd = committed.roundEnd {
            registry?.assess(roomID: id, roundID: roundEnd.roundID, round: roundEnd.round, caseID: roundEnd.caseID)
        }
        evictIfIdle()
    }

    /// A journal write failed: the command it carried gets an error reply at once and the
    /// room stops (no command is applied meanwhile). Whether the room still exists is asked
    /// off the loop: a deleted room (its journal rows had no room to belong to) tells its
    /// members so; otherwise they get `phx_error` and the room reloads on the next join.
    private func failed(_ error: StoreError, reply: ReplyTarget?) {
        if let reply {
            send(reply: reply, status: "error", response: Self.reason(deleted ? "the room was deleted" : "the room could not save this: try again"))
        }
        guard !evicted, !deleted else { return }
        evicted = true
        phaseTimer?.cancel()
        noShowTimer?.cancel()
        for entry in away.values { entry.timer.cancel() }
        registry?.evict(self)
        guard let registry else { return }
        let store = registry.store
        let room = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        let roomID = id
        Task {
            let exists = (try? await store.roomParticipants(id: roomID)) != nil
            loop.execute {
                let room = room.value
                if !exists { return room.roomDeleted() }
                registry.logger.error("room journal write failed; the room is reloaded on the next join", metadata: ["room": "\(roomID)", "error": "\(error)"])
                room.failMembers(reason: "the room could not save this: \(error.message)")
            }
        }
    }

    /// After a failed journal write: waiting commands get an error, members a `phx_error`.
    private func failMembers(reason: String) {
        for waiter in waiters.values.joined() { send(reply: waiter, status: "error", response: Self.reason(reason)) }
        waiters = [:]
        for member in members.values {
            let bytes = PhoenixMessage(joinRef: member.joinRef, topic: member.topic, event: "phx_error", payload: .object(["reason": .string(reason)]))
                .encode(member.version)
            FanOut.broadcast(text: ByteBuffer(bytes: bytes), to: [member.connection])
        }
        members = [:]
    }

    /// Stores a round's assessment and its `assessment` event in one journal entry.
    func storeAssessment(_ record: RoomAssessmentRecord, round: Int, assessor: String, scoreRaw: Int, scoreMax: Int) {
        let event = RoomEvent.assessment(round: round, roundID: record.roundID, assessor: assessor, scoreRaw: scoreRaw, scoreMax: scoreMax)
        commit([event], saveState: false, assessment: record, completion: nil)
    }

    /// Leaves the registry when nothing needs the room in memory.
    private func evictIfIdle() {
        guard !evicted, members.isEmpty, joining.isEmpty, away.isEmpty, inFlight == 0, phaseTimer == nil, noShowTimer == nil else { return }
        evicted = true
        registry?.evict(self)
    }

    /// After `leave` (or when the user lost the seat, with `reason`): the user's channels
    /// on this room are closed.
    private func closeMembers(of userID: String, reason: String? = nil) {
        for member in members.values where member.userID == userID {
            members[member.id] = nil
            if let reason {
                Self.close(member, reason: reason)
            } else {
                let bytes = PhoenixMessage(joinRef: member.joinRef, topic: member.topic, event: "phx_close", payload: .object([:])).encode(member.version)
                FanOut.broadcast(text: ByteBuffer(bytes: bytes), to: [member.connection])
            }
        }
        if !members.values.contains(where: { $0.userID == userID }) {
            published.present.remove(userID)
            commit([presenceEvent(userID: userID, status: .left)], saveState: false, completion: nil)
        }
    }

    // MARK: Snapshot and briefs

    /// The join reply for `userID`: state as of the last durable event, its brief only.
    private func snapshot(for userID: String, transcript: [JSONValue]) -> [String: JSONValue] {
        let state = published
        let caseID = state.round.flatMap { state.caseIDs[$0 - 1] }
        let room: [String: JSONValue] = [
            "id": .string(id), "host_id": .string(state.hostID), "guest_id": state.guestID.map(JSONValue.string) ?? .null,
            "type": .string(type), "stage": .number(Double(state.stage)), "round": Self.number(state.round),
            "phase": .string(state.phase.name), "deadline": RoomEvent.time(state.phase.deadline), "server_time": .string(Timestamp.now()),
            "timing": .object([
                "preparation_seconds": .number(state.timing.preparationSeconds), "roleplay_seconds": .number(state.timing.roleplaySeconds),
            ]),
            "case": caseID.flatMap { engine.cases[$0] }.map(\.json) ?? (caseID.map { .object(["id": .string($0)]) } ?? .null),
            "ready": .array(state.ready.sorted().map(JSONValue.string)),
            "present": .array(Set(members.values.map(\.userID)).sorted().map(JSONValue.string)),
            "away": .array(away.sorted { $0.key < $1.key }.map { RoomEvent.Away(userID: $0.key, until: $0.value.until).json }),
            "round_ids": .object(["1": roundIDs[0].map(JSONValue.string) ?? .null, "2": roundIDs[1].map(JSONValue.string) ?? .null]),
        ]
        return [
            "postgres_changes": .array([]),
            "room": .object(room),
            "you": .string(userID),
            "role": state.role(of: userID).map { .string($0.rawValue) } ?? .null,
            "brief": brief(for: userID, state: state) ?? .null,
            "transcript": .array(transcript),
            "offset": .number(Double(publishedOffset)),
        ]
    }

    /// The brief `userID` may see now: its own role's, from preparation on.
    private func brief(for userID: String, state: RoomState) -> JSONValue? {
        guard let round = state.round, let role = state.role(of: userID) else { return nil }
        switch state.phase {
        case .preparation, .roleplay: break
        default: return nil
        }
        guard let caseID = state.caseIDs[round - 1], let brief = briefs[caseID] else { return nil }
        return .object([
            "round": .number(Double(round)), "role": .string(role.rawValue), "case_id": .string(brief.id), "case_name": .string(brief.caseName),
            "text": .string(role == .candidate ? brief.candidateBrief : brief.actorBrief),
        ])
    }

    /// A round started: each present member gets its own brief, nobody else's.
    private func sendBriefs() {
        for member in members.values {
            guard let brief = brief(for: member.userID, state: published) else { continue }
            let bytes = PhoenixMessage.encode(
                member.version, joinRef: nil, ref: nil, topic: member.topic, event: "broadcast",
                payloadJSON: Array("{\"event\":\"brief\",\"payload\":\(brief.jsonString),\"type\":\"broadcast\"}".utf8)
            )
            FanOut.broadcast(text: ByteBuffer(bytes: bytes), to: [member.connection])
        }
    }

    // MARK: Sending

    /// Closes a member's channel as Supabase Realtime does when access ends: a `system`
    /// message with status error and the reason, then `phx_close`.
    static func close(_ member: Member, reason: String) {
        let channel = member.topic.hasPrefix("realtime:") ? String(member.topic.dropFirst("realtime:".count)) : member.topic
        let system = PhoenixMessage(topic: member.topic, event: "system", payload: .object([
            "status": .string("error"), "extension": .string("system"), "channel": .string(channel), "message": .string(reason),
        ])).encode(member.version)
        let close = PhoenixMessage(joinRef: member.joinRef, topic: member.topic, event: "phx_close", payload: .object([:])).encode(member.version)
        FanOut.broadcast(text: ByteBuffer(bytes: system), to: [member.connection])
        FanOut.broadcast(text: ByteBuffer(bytes: close), to: [member.connection])
    }

    private func send(reply: ReplyTarget, status: String, response: JSONValue) {
        let bytes = PhoenixMessage(
            joinRef: reply.joinRef, ref: reply.ref, topic: reply.topic, event: "phx_reply",
            payload: .object(["status": .string(status), "response": response])
        ).encode(reply.version)
        FanOut.broadcast(text: ByteBuffer(bytes: bytes), to: [reply.connection])
    }

    /// Each event encoded once per topic spelling and protocol version.
    private static func sendEvents(_ events: [SentEvent], to members: [Member]) {
        guard !members.isEmpty else { return }
        struct Key: Hashable {
            var topic: String
            var version: PhoenixMessage.Version
        }
        var groups: [Key: [WebSocketConnection]] = [:]
        for member in members { groups[Key(topic: member.topic, version: member.version), default: []].append(member.connection) }
        for event in events {
            let payload = Array("{\"event\":\"\(event.name)\",\"payload\":\(event.payloadJSON),\"type\":\"broadcast\"}".utf8)
            for (key, connections) in groups {
                let bytes = PhoenixMessage.encode(key.version, joinRef: nil, ref: nil, topic: key.topic, event: "broadcast", payloadJSON: payload)
                FanOut.broadcast(text: ByteBuffer(bytes: bytes), to: connections)
            }
        }
    }

    // MARK: Helpers

    static func now() -> Double { Timestamp.nowSeconds() }

    static func reason(_ text: String) -> JSONValue { .object(["reason": .string(text)]) }

    static func number(_ value: Int?) -> JSONValue { value.map { .number(Double($0)) } ?? .null }

    static func parse(_ json: String) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))) ?? .null
    }
}
