import Foundation
import NIOCore
import PraxisDomain
import PraxisProtocol
import PraxisRooms
import PraxisStore
import PraxisWebSocket

/// Timers and the journal: what is committed, and what is published once durable.
extension LiveRoom {
    // MARK: Timers

    func scheduleTimers() {
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

    func tick() {
        guard !evicted else { return }
        let events = engine.tick(now: Self.now())
        if !events.isEmpty { commit(events, saveState: true, completion: nil) }
        scheduleTimers()
        evictIfIdle()
    }

    func checkNoShows() {
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
    struct Committed {
        var sent: [SentEvent]
        var stateAfter: RoomState
        var roundEnd: RoomRoundRecord?
        /// The offset of the entry's last `round_ended` or `round_cancelled`.
        var transcriptEnd: Int64?
        var startsRound: Bool
    }

    func presenceEvent(userID: String, status: RoomEvent.PresenceStatus) -> RoomEvent {
        .presence(
            userID: userID, status: status, present: Set(members.values.map(\.userID)).sorted(),
            away: away.sorted { $0.key < $1.key }.map { RoomEvent.Away(userID: $0.key, until: $0.value.until) }
        )
    }

    /// Journals `events` (and the state when asked); once durable, sends them to the
    /// members and calls `completion` with the last offset (the previous one when there
    /// were no events).
    func commit(
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
    func durable(_ result: Result<Void, StoreError>, _ committed: Committed, failureReply: ReplyTarget?, completion: ((Int64) -> Void)?) {
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
    func failed(_ error: StoreError, reply: ReplyTarget?) {
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
    func failMembers(reason: String) {
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
    func evictIfIdle() {
        guard !evicted, members.isEmpty, joining.isEmpty, away.isEmpty, inFlight == 0, phaseTimer == nil, noShowTimer == nil else { return }
        evicted = true
        registry?.evict(self)
    }

    /// After `leave` (or when the user lost the seat, with `reason`): the user's channels
    /// on this room are closed, and the user's joins still waiting for a journal read are
    /// refused.
    func closeMembers(of userID: String, reason: String? = nil) {
        for pending in joining.values where pending.member.userID == userID {
            joining[pending.member.id] = nil
            send(reply: pending.reply, status: "error", response: Self.reason(reason ?? "you left the room: join the room topic again"))
        }
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
}
