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

    /// Asks the engine which timers the room's state needs now, and runs them.
    func scheduleTimers() {
        guard !evicted else { return }
        perform(engine.timerChanges(now: Self.now()))
    }

    /// Starts or stops a NIO timer as the engine asked; one that fires goes back to it.
    func run(_ change: RoomTimerChange) {
        switch change {
        case .cancel(let timer):
            timers.removeValue(forKey: timer)?.cancel()
        case .set(let timer, let at):
            timers.removeValue(forKey: timer)?.cancel()
            guard !evicted else { return }
            let delay = max(0, at - Self.now())
            timers[timer] = loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay * 1000) + 1)) { [self] in
                self.timers[timer] = nil
                self.fired(timer)
            }
        }
    }

    /// A timer fired: the engine says what it does.
    func fired(_ timer: RoomTimer) {
        guard !evicted else { return }
        perform(engine.timerFired(timer, now: Self.now()))
        evictIfIdle()
    }

    /// Stops every timer (the room leaves memory).
    func cancelTimers() {
        for timer in timers.values { timer.cancel() }
        timers = [:]
    }

    // MARK: Journal

    /// What a journal entry publishes once durable.
    struct Committed {
        var sent: [RoomLog.Entry]
        var stateAfter: RoomState
        var roundEnd: RoomRoundRecord?
        /// The offset of the entry's last `round_ended` or `round_cancelled`.
        var transcriptEnd: Int64?
        /// Briefs to hand out once durable (a round started), each to its user's channels.
        var briefs: [RoomBrief]
    }

    /// Journals `events` (and the state when asked); once durable, sends them to the
    /// members and calls `completion` with the last offset (the previous one when there
    /// were no events).
    func commit(
        _ events: [RoomEvent], saveState: Bool, command: RoomCommandRecord? = nil, assessment: RoomAssessmentRecord? = nil,
        briefs: [RoomBrief] = [], failureReply: ReplyTarget? = nil, completion: ((Int64) -> Void)?
    ) {
        guard let registry, !evicted else {
            if let failureReply { send(reply: failureReply, status: "error", response: Self.reason(deleted ? "the room was deleted" : "the room was reloaded: join the room topic again")) }
            return
        }
        let at = Timestamp.now()
        var records: [RoomEventRecord] = []
        var committed = Committed(sent: [], stateAfter: engine.state, briefs: briefs)
        for event in events {
            let offset = log.reserve()
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
                userID: event.userID
            ))
            committed.sent.append(RoomLog.Entry(offset: offset, name: event.name, payloadJSON: json))
        }
        var stateRecord: RoomStateRecord?
        if saveState, let data = try? JSONEncoder().encode(committed.stateAfter) {
            let state = committed.stateAfter
            stateRecord = RoomStateRecord(phase: state.phase.name, caseIDs: state.caseIDs, json: String(decoding: data, as: UTF8.self))
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
        published = committed.stateAfter
        log.publish(committed.sent, transcriptEnd: committed.transcriptEnd)
        if let roundEnd = committed.roundEnd { roundIDs[roundEnd.round - 1] = roundEnd.roundID }
        Self.sendEvents(committed.sent, to: Array(members.values))
        sendBriefs(committed.briefs)
        completion?(log.publishedOffset)
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
        cancelTimers()
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
        guard !evicted, members.isEmpty, joining.isEmpty, !engine.hasTimers, inFlight == 0 else { return }
        evicted = true
        registry?.evict(self)
    }

    /// After `leave` (or when the user lost the seat, with `reason`): the user's channels
    /// on this room are closed, and the user's joins still waiting for a journal read are
    /// refused. (The engine journals that the user left.)
    func closeChannels(of userID: String, reason: String?) {
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
    }
}

extension RoomEventRecord {
    /// The journaled event as the room's memory holds it.
    var entry: RoomLog.Entry { RoomLog.Entry(offset: offset, name: type, payloadJSON: payloadJSON) }
}
