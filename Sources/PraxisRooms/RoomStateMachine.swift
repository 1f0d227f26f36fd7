package import PraxisDomain

/// The rules of a practice room: every command is checked against the stage, the phase and
/// the sender's role, and either refused with a reason or applied, returning the events both
/// peers see. Timers are ticks with the current time. Pure: no clock, no I/O.
package struct RoomStateMachine: Sendable {
    package private(set) var state: RoomState
    /// Longest turn, in characters.
    package let maxTurnCharacters: Int
    /// The range each phase length may be set to (`setTiming`).
    package let timingBounds: ClosedRange<Double>
    /// Most turns one round accepts (a repeat of an accepted one is always answered).
    package let maxTurnsPerRound: Int

    package init(
        state: RoomState, maxTurnCharacters: Int = 4000, timingBounds: ClosedRange<Double> = RoomTiming.allowedSeconds,
        maxTurnsPerRound: Int = 2000
    ) {
        self.state = state
        self.maxTurnCharacters = maxTurnCharacters
        self.timingBounds = timingBounds
        self.maxTurnsPerRound = maxTurnsPerRound
    }

    /// A command from a peer.
    package enum Command: Sendable, Equatable {
        case ready
        /// The host picks the case of the current round.
        case chooseCase(id: String)
        case startRound
        /// Either peer ends preparation early: role-play starts now, with its full length.
        case startRoleplay
        /// The host sets the round's preparation and role-play lengths (waiting only).
        case setTiming(RoomTiming)
        case turn(text: String, clientTurnID: String)
        case endRound
        case leave
    }

    /// What happened, for both peers (and the store).
    package enum Event: Sendable, Equatable {
        case ready(userID: String)
        case caseChosen(round: Int, caseID: String)
        case timing(RoomTiming)
        case phase(RoomPhase, round: Int)
        /// A turn with its seq. `repeated` is true when the client id was seen before: the
        /// original seq is returned and nothing new is recorded.
        case turn(seq: Int, round: Int, speakerID: String, role: RoomRole, text: String, clientTurnID: String, repeated: Bool)
        /// The round ended: persist its transcript, then move to the next stage.
        case roundEnded(round: Int, reason: EndReason)
        case stage(Int)
        case left(userID: String, phase: String)
        /// The database's guest seat changed (given back, taken, or reassigned by the service
        /// role): the room follows it.
        case seat(guestID: String?, previousGuestID: String?)
        /// The seat changed while the round was being played: the round is dropped, never
        /// persisted (its turns were not all by the room's guest of now), and waits again.
        case roundCancelled(round: Int)
    }

    package enum EndReason: String, Sendable, Equatable {
        case endedByPeer = "ended_by_peer"
        case timeUp = "time_up"
    }

    /// Applies a peer's command at `now`, or says why not (the state is then unchanged, even
    /// by the passing of time: call `tick(now:)` first to apply the deadlines on their own).
    package mutating func apply(_ command: Command, by userID: String, now: Double) -> Result<[Event], RoomError> {
        apply(command, by: userID, now: now, tickFirst: true)
    }

    /// As `apply`, for a caller that has just called `tick(now:)` itself (and kept what it
    /// did, so that a refused command does not lose it): the deadlines are not ticked again.
    package mutating func applyTicked(_ command: Command, by userID: String, now: Double) -> Result<[Event], RoomError> {
        apply(command, by: userID, now: now, tickFirst: false)
    }

    private mutating func apply(_ command: Command, by userID: String, now: Double, tickFirst: Bool) -> Result<[Event], RoomError> {
        let saved = state
        let result = applyChecked(command, by: userID, now: now, tickFirst: tickFirst)
        if case .failure = result { state = saved }
        return result
    }

    /// Why `userID` may not choose the case now, or nil: checked before the case is looked
    /// up (a wrong command is refused without a lookup) and again when it is applied.
    package func refusalToChooseCase(by userID: String) -> RoomError? {
        guard userID == state.hostID else { return .onlyHost("choose the case") }
        guard state.stage < 3 else { return .roomComplete }
        guard state.phase == .waiting else { return .wrongPhase(expected: "waiting", actual: state.phase.name) }
        return nil
    }

    private mutating func applyChecked(_ command: Command, by userID: String, now: Double, tickFirst: Bool) -> Result<[Event], RoomError> {
        guard state.isParticipant(userID) else { return .failure(.notAParticipant) }
        var events = tickFirst ? tick(now: now) : []
        guard state.stage < 3 else {
            if command == .leave {
                state.present.remove(userID)
                return .success(events + [.left(userID: userID, phase: state.phase.name)])
            }
            return .failure(.roomComplete)
        }
        let round = state.stage
        switch command {
        case .ready:
            guard state.phase == .waiting else { return .failure(.wrongPhase(expected: "waiting", actual: state.phase.name)) }
            guard state.guestID != nil else { return .failure(.noGuest) }
            state.ready.insert(userID)
            events.append(.ready(userID: userID))
        case .chooseCase(let id):
            if let refusal = refusalToChooseCase(by: userID) { return .failure(refusal) }
            guard !id.isEmpty else { return .failure(.invalid("the case id is empty")) }
            if round == 2, state.caseIDs[0] == id { return .failure(.invalid("round 2 needs a different case from round 1")) }
            state.caseIDs[round - 1] = id
            events.append(.caseChosen(round: round, caseID: id))
        case .setTiming(let timing):
            guard userID == state.hostID else { return .failure(.onlyHost("set the timing")) }
            guard state.phase == .waiting else { return .failure(.wrongPhase(expected: "waiting", actual: state.phase.name)) }
            let bounds = timingBounds
            guard bounds.contains(timing.preparationSeconds), bounds.contains(timing.roleplaySeconds) else {
                return .failure(.invalid("preparation_seconds and roleplay_seconds must each be \(Self.seconds(bounds.lowerBound)) to \(Self.seconds(bounds.upperBound))"))
            }
            state.timing = timing
            events.append(.timing(timing))
        case .startRound:
            guard state.phase == .waiting else { return .failure(.wrongPhase(expected: "waiting", actual: state.phase.name)) }
            guard let guest = state.guestID else { return .failure(.noGuest) }
            guard state.caseIDs[round - 1] != nil else { return .failure(.invalid("choose a case before starting the round")) }
            guard state.ready.contains(state.hostID), state.ready.contains(guest) else {
                return .failure(.invalid("both peers must be ready"))
            }
            let phase = RoomPhase.preparation(deadline: now + state.timing.preparationSeconds)
            state.phase = phase
            state.phaseStartedAt = now
            events.append(.phase(phase, round: round))
        case .startRoleplay:
            guard case .preparation = state.phase else { return .failure(.wrongPhase(expected: "preparation", actual: state.phase.name)) }
            let phase = RoomPhase.roleplay(deadline: now + state.timing.roleplaySeconds)
            state.phase = phase
            state.phaseStartedAt = now
            events.append(.phase(phase, round: round))
        case .turn(let text, let clientTurnID):
            switch applyTurn(text: text, clientTurnID: clientTurnID, by: userID, round: round) {
            case .failure(let error): return .failure(error)
            case .success(let turn): events.append(turn)
            }
        case .endRound:
            switch state.phase {
            case .preparation, .roleplay:
                events += endRound(reason: .endedByPeer)
            default:
                return .failure(.wrongPhase(expected: "preparation or roleplay", actual: state.phase.name))
            }
        case .leave:
            state.present.remove(userID)
            state.ready.remove(userID)
            events.append(.left(userID: userID, phase: state.phase.name))
        }
        return .success(events)
    }

    /// A turn in role-play: a new one gets the next seq; a repeat of an accepted client id
    /// (with the same text) is answered with its seq, marked repeated.
    private mutating func applyTurn(text: String, clientTurnID: String, by userID: String, round: Int) -> Result<Event, RoomError> {
        guard case .roleplay = state.phase else { return .failure(.wrongPhase(expected: "roleplay", actual: state.phase.name)) }
        guard !clientTurnID.isEmpty, clientTurnID.count <= 128 else { return .failure(.invalid("client_turn_id must be 1 to 128 characters")) }
        guard StoredText.isStorable(text), StoredText.isStorable(clientTurnID) else { return .failure(.invalid(StoredText.refusal)) }
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { return .failure(.invalid("a turn needs text")) }
        guard text.count <= maxTurnCharacters else { return .failure(.invalid("a turn is at most \(maxTurnCharacters) characters")) }
        guard let role = state.role(of: userID) else { return .failure(.notAParticipant) }
        let key = Self.turnKey(speaker: userID, clientTurnID: clientTurnID)
        if let accepted = state.acceptedTurns[key] {
            guard accepted.carries(text) else { return .failure(.invalid("client_turn_id \(clientTurnID) was already used for a different turn")) }
            return .success(.turn(seq: accepted.seq, round: round, speakerID: userID, role: role, text: text, clientTurnID: clientTurnID, repeated: true))
        }
        guard state.acceptedTurns.count < maxTurnsPerRound else { return .failure(.turnLimit(maxTurnsPerRound)) }
        let seq = state.nextSeq
        state.nextSeq += 1
        state.acceptedTurns[key] = AcceptedTurn(seq: seq, text: text)
        return .success(.turn(seq: seq, round: round, speakerID: userID, role: role, text: text, clientTurnID: clientTurnID, repeated: false))
    }

    /// Advances timers: preparation becomes role-play at its deadline, and the round ends
    /// when role-play time is up.
    package mutating func tick(now: Double) -> [Event] {
        var events: [Event] = []
        if case .preparation(let deadline) = state.phase, now >= deadline, let round = state.round {
            let phase = RoomPhase.roleplay(deadline: deadline + state.timing.roleplaySeconds)
            state.phase = phase
            state.phaseStartedAt = deadline
            events.append(.phase(phase, round: round))
        }
        if case .roleplay(let deadline) = state.phase, now >= deadline {
            events += endRound(reason: .timeUp)
        }
        return events
    }

    /// The round is over: record it, swap roles for round 2, or complete the room.
    private mutating func endRound(reason: EndReason) -> [Event] {
        guard let round = state.round else { return [] }
        var events: [Event] = [.phase(.ended, round: round), .roundEnded(round: round, reason: reason)]
        state.stage += 1
        state.ready = []
        state.acceptedTurns = [:]
        state.phaseStartedAt = nil
        state.phase = state.stage == 3 ? .ended : .waiting
        events.append(.stage(state.stage))
        if state.stage == 2 { events.append(.phase(.waiting, round: 2)) }
        return events
    }

    /// The key of an accepted turn: client turn ids are the speaker's own, so both peers may
    /// number their turns alike.
    package static func turnKey(speaker: String, clientTurnID: String) -> String {
        speaker + "\u{0}" + clientTurnID
    }

    static func seconds(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
    }

    /// Follows the database's seat (`practice_rooms.guest_id`, the one truth): the former
    /// guest is no longer present or ready; a round being played is cancelled (not
    /// persisted) and the room waits again. No events when the seat is unchanged.
    package mutating func followSeat(_ guestID: String?) -> [Event] {
        guard guestID != state.guestID, guestID != state.hostID else { return [] }
        let previous = state.guestID
        var events: [Event] = []
        switch state.phase {
        case .preparation, .roleplay:
            if let round = state.round {
                state.phase = .waiting
                state.phaseStartedAt = nil
                state.acceptedTurns = [:]
                events.append(.roundCancelled(round: round))
                events.append(.phase(.waiting, round: round))
            }
        default:
            break
        }
        if let previous {
            state.present.remove(previous)
            state.ready.remove(previous)
        }
        if !events.isEmpty { state.ready = [] }  // A cancelled round is readied again.
        state.guestID = guestID
        events.insert(.seat(guestID: guestID, previousGuestID: previous), at: 0)
        return events
    }

    /// Records that the no-show check was done.
    package mutating func markNoShowChecked() {
        state.noShowChecked = true
    }

    /// A peer connected.
    package mutating func arrived(_ userID: String) -> Bool {
        guard state.isParticipant(userID) else { return false }
        state.present.insert(userID)
        return true
    }
}

/// Why a command was refused; the message is the reply's reason.
package struct RoomError: Error, Sendable, Equatable, CustomStringConvertible {
    package let reason: String

    package static let notAParticipant = RoomError(reason: "only the room's host and guest may do this")
    package static let roomComplete = RoomError(reason: "the room is complete (stage 3) and read-only")
    package static let noGuest = RoomError(reason: "the room has no guest yet")
    package static func onlyHost(_ action: String) -> RoomError { RoomError(reason: "only the host may \(action)") }
    package static func wrongPhase(expected: String, actual: String) -> RoomError {
        RoomError(reason: "not allowed in phase \(actual) (needs \(expected))")
    }
    package static func invalid(_ reason: String) -> RoomError { RoomError(reason: reason) }
    package static func turnLimit(_ limit: Int) -> RoomError {
        RoomError(reason: "this round has reached its limit of \(limit) turns: end the round")
    }

    package var description: String { reason }
}

extension String {
    fileprivate func trimmingWhitespace() -> Substring {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return slice
    }
}
