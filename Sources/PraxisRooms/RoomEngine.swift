package import PraxisDomain

/// A loaded room's rules and memory as a plain value: the state machine, the commands it
/// remembers by client id, the current round's turn count, the cases it knows and their
/// briefs, who is present or away (`RoomPresence`), the no-show check, and which timers
/// run. Its input is a decoded command, a connection that came or went, a timer that
/// fired, or a seat, with the time; its output is typed events and actions for the shell
/// (`LiveRoom`) to perform: journal entries, replies, briefs for one member, timer changes.
/// Pure: no clock, no I/O, no JSON text.
package struct RoomEngine: Sendable {
    /// A command remembered by client id: its fingerprint, and its answer once durable.
    private struct Remembered: Sendable {
        var fingerprint: String
        var reply: JSONValue?
    }

    package internal(set) var machine: RoomStateMachine
    /// Cases of this room's rounds, for `case_chosen` events and snapshots.
    package var cases: [String: RoomCaseSummary]
    /// The briefs of those cases (each member is handed only its own role's).
    package var caseBriefs: [String: RoomCaseBriefs]
    /// Members' connections per user, peers away, and what the no-show check needs.
    package internal(set) var presence: RoomPresence
    /// The timers the shell runs for the room, with when they fire.
    package internal(set) var timers: [RoomTimer: Double] = [:]
    /// How many turns the current round has as applied (some may not be durable yet).
    package private(set) var appliedTurnCount: Int
    private var remembered: [ClientKey: Remembered] = [:]
    private var order: [ClientKey] = []
    private let rememberLimit: Int
    private let newRoundID: @Sendable () -> String

    package init(
        machine: RoomStateMachine, cases: [String: RoomCaseSummary], caseBriefs: [String: RoomCaseBriefs] = [:], presence: RoomPresence,
        appliedTurnCount: Int, rememberLimit: Int, newRoundID: @escaping @Sendable () -> String
    ) {
        self.machine = machine
        self.cases = cases
        self.caseBriefs = caseBriefs
        self.presence = presence
        self.appliedTurnCount = appliedTurnCount
        self.rememberLimit = rememberLimit
        self.newRoundID = newRoundID
    }

    package var state: RoomState { machine.state }

    /// A command remembered across a restart (from the journal), with its stored answer.
    package mutating func restore(_ key: ClientKey, fingerprint: String, reply: JSONValue?) {
        remembered[key] = Remembered(fingerprint: fingerprint, reply: reply)
        order.append(key)
    }

    // MARK: Commands

    /// A member's command at `now`: what to journal and how to answer. Deadlines that passed
    /// are ticked first, as their own journal entry (a refused command does not lose them).
    package mutating func handle(_ request: RoomRequest, from userID: String, now: Double) -> [RoomAction] {
        if case .success(.turn(let text)) = request.command {
            return apply(.turn(text: text, clientTurnID: request.clientID), request: request, key: nil, from: userID, now: now)
        }
        let key = ClientKey(userID: userID, clientID: request.clientID)
        if let earlier = remembered[key] {
            guard earlier.fingerprint == request.fingerprint else {
                return [.refuse("client id \(request.clientID) was already used for a different command")]
            }
            guard case .object(var response)? = earlier.reply else { return [.waitForOriginal(key)] }
            response["repeated"] = .bool(true)
            return [.answer(.object(response))]
        }
        switch request.command {
        case .failure(let error):
            // choose_case checks role and phase before its payload, as it did before a lookup.
            if request.isChooseCase, let refusal = machine.refusalToChooseCase(by: userID) { return [.refuse(refusal.reason)] }
            return [.refuse(error.reason)]
        case .success(.chooseCase(let choice)):
            if let refusal = machine.refusalToChooseCase(by: userID) { return [.refuse(refusal.reason)] }
            return [.lookUpCase(choice, excluding: state.stage == 2 ? state.caseIDs[0] : nil)]
        case .success(let command):
            guard let machineCommand = command.machineCommand else { return [] }
            return apply(machineCommand, request: request, key: key, from: userID, now: now)
        }
    }

    /// The case a `choose_case` looked up was found: apply it (the room may have moved on
    /// meanwhile; the machine checks again).
    package mutating func caseFound(
        _ summary: RoomCaseSummary, briefs: RoomCaseBriefs? = nil, for request: RoomRequest, from userID: String, now: Double
    ) -> [RoomAction] {
        cases[summary.id] = summary
        if let briefs { caseBriefs[summary.id] = briefs }
        let key = ClientKey(userID: userID, clientID: request.clientID)
        return apply(.chooseCase(id: summary.id), request: request, key: key, from: userID, now: now, extra: ["case": summary.json])
    }

    /// The answer to a remembered command is durable: later repeats get it at once.
    package mutating func answered(_ key: ClientKey, reply: JSONValue) {
        remembered[key]?.reply = reply
    }

    private mutating func apply(
        _ command: RoomStateMachine.Command, request: RoomRequest, key: ClientKey?, from userID: String, now: Double,
        extra: [String: JSONValue] = [:]
    ) -> [RoomAction] {
        var actions: [RoomAction] = []
        let ticked = tick(now: now)
        if !ticked.isEmpty { actions.append(.journal(ticked, saveState: true)) }
        let before = machine.state
        switch machine.applyTicked(command, by: userID, now: now) {
        case .failure(let error):
            actions.append(.refuse(error.reason))
        case .success(let events):
            if let key { remember(key, fingerprint: request.fingerprint) }
            var reply = extra
            for case .turn(let seq, _, _, _, _, _, let repeated) in events {
                reply["seq"] = .number(Double(seq))
                reply["repeated"] = .bool(repeated)
            }
            if reply["repeated"] == nil { reply["repeated"] = .bool(false) }
            let changesState = events.contains { if case .turn = $0 { false } else { true } }
            let applied = roomEvents(events, before: before, leftReason: .left, now: now)
            actions.append(.commit(RoomCommit(
                events: applied, saveState: changesState, key: key, fingerprint: request.fingerprint, reply: reply,
                closesChannelsOf: command == .leave ? userID : nil, briefs: applied.contains(where: \.startsRound) ? briefsNow() : []
            )))
        }
        return actions
    }

    private mutating func remember(_ key: ClientKey, fingerprint: String) {
        remembered[key] = Remembered(fingerprint: fingerprint, reply: nil)
        order.append(key)
        if order.count > rememberLimit {
            let forget = order.removeFirst()
            if remembered[forget]?.reply != nil { remembered[forget] = nil }
        }
    }

    // MARK: Time, seats, presence

    /// Deadlines that passed by `now`: the events to journal (with the state).
    package mutating func tick(now: Double) -> [RoomEvent] {
        let before = machine.state
        return roomEvents(machine.tick(now: now), before: before, leftReason: .left, now: now)
    }

    /// The database's seat changed: the events to journal (with the state), none when the
    /// seat is the room's already.
    package mutating func followSeat(_ guestID: String?, now: Double) -> [RoomEvent] {
        let before = machine.state
        return roomEvents(machine.followSeat(guestID), before: before, leftReason: .left, now: now)
    }

    /// A dropped peer's grace ran out: it leaves (`left`, reason `disconnected`).
    package mutating func graceExpired(_ userID: String, now: Double) -> [RoomEvent] {
        let before = machine.state
        guard case .success(let events) = machine.apply(.leave, by: userID, now: now) else { return [] }
        return roomEvents(events, before: before, leftReason: .disconnected, now: now)
    }

    /// The state machine's events as room events, with the room's context (turn counts,
    /// round ids, cases); counts the round's turns.
    mutating func roomEvents(
        _ events: [RoomStateMachine.Event], before: RoomState, leftReason: RoomEvent.LeftReason, now: Double
    ) -> [RoomEvent] {
        var result: [RoomEvent] = []
        for event in events {
            switch event {
            case .ready(let userID): result.append(.ready(userID: userID, round: before.round))
            case .timing(let timing): result.append(.timing(timing))
            case .caseChosen(let round, let caseID): result.append(.caseChosen(round: round, caseID: caseID, summary: cases[caseID]))
            case .phase(let phase, let round): result.append(.phase(round: round, phase: phase))
            case .turn(let seq, let round, let speakerID, let role, let text, let clientTurnID, let repeated):
                guard !repeated else { continue }
                appliedTurnCount += 1
                result.append(.turn(seq: seq, round: round, speakerID: speakerID, role: role, text: text, clientTurnID: clientTurnID))
            case .roundEnded(let round, let reason):
                var duration = 0.0
                if case .roleplay = before.phase, let started = before.phaseStartedAt { duration = max(0, now - started) }
                result.append(.roundEnded(
                    round: round, reason: reason, roundID: newRoundID(), turns: appliedTurnCount, durationSeconds: Int(duration.rounded())
                ))
                appliedTurnCount = 0
            case .stage(let stage): result.append(.stage(stage))
            case .seat(let guestID, let previous): result.append(.seat(guestID: guestID, previousGuestID: previous))
            case .roundCancelled(let round):
                appliedTurnCount = 0
                result.append(.roundCancelled(round: round))
            case .left(let userID, let phase): result.append(.left(userID: userID, phase: phase, reason: leftReason))
            }
        }
        return result
    }
}
