import Foundation
import PraxisDomain
import Testing

@testable import PraxisRooms

// Every legal and illegal transition of the pure room state machine, for each role
// (protocol/room.md "Roles and stages" and "Commands"; design §3).
//
// The matrix is: every reachable situation × every probe command × every actor (host, guest,
// outsider). The expected result comes from `RoomRules`, written from the protocol text, not
// from the machine: either the exact events (and the exact state after them), or the exact
// refusal reason with the state unchanged.

/// Who sends the command.
enum RoomActor: String, CaseIterable, Sendable {
    case host, guest, outsider

    var id: String { rawValue }
}

/// The situations a room can be in when a command arrives.
struct RoomSituation: Sendable, CustomStringConvertible, CustomTestStringConvertible {
    enum Phase: Sendable, Equatable {
        /// Waiting for the round to start: whether a guest is seated, whether the round's case
        /// is chosen, and who said they are ready.
        case waiting(guest: Bool, caseChosen: Bool, ready: Set<RoomActor>)
        case preparation
        case roleplay
        /// Stage 3: complete.
        case complete
    }

    var stage: Int
    var phase: Phase

    /// When probes are sent: inside every timed phase, before its deadline.
    static let now: Double = 1050
    /// Round starts at 1000 (preparation deadline 1180); role-play starts at 1010 (deadline 1310).
    static let roundStart: Double = 1000
    static let roleplayStart: Double = 1010
    static let timing = RoomTiming(preparationSeconds: 180, roleplaySeconds: 300)

    /// Case of round 1 and of round 2.
    static let case1 = "case-1"
    static let case2 = "case-2"

    /// The turns already spoken in the current role-play (one each), by actor: client id and text.
    static let earlierTurns: [RoomActor: (id: String, text: String)] = [
        .host: ("host-old", "Hello there, I am the doctor on the ward."),
        .guest: ("guest-old", "Hi, thank you for seeing me."),
    ]

    var description: String { testDescription }

    var testDescription: String {
        switch phase {
        case .waiting(let guest, let caseChosen, let ready):
            let readyText = ready.isEmpty ? "nobody ready" : ready.map(\.rawValue).sorted().joined(separator: "+") + " ready"
            return "stage \(stage) waiting, \(guest ? "guest seated" : "no guest"), \(caseChosen ? "case chosen" : "no case"), \(readyText)"
        case .preparation: return "stage \(stage) preparation"
        case .roleplay: return "stage \(stage) roleplay"
        case .complete: return "stage 3 complete"
        }
    }

    var hasGuest: Bool {
        if case .waiting(let guest, _, _) = phase { return guest }
        return true
    }

    var phaseName: String {
        switch phase {
        case .waiting: "waiting"
        case .preparation: "preparation"
        case .roleplay: "roleplay"
        case .complete: "ended"
        }
    }

    var caseChosen: Bool {
        switch phase {
        case .waiting(_, let chosen, _): chosen
        default: true
        }
    }

    var readyActors: Set<RoomActor> {
        switch phase {
        case .waiting(_, _, let ready): ready
        default: []
        }
    }

    /// Seqs used before the current round: round 1 of a stage-2 room had two turns.
    var seqsBefore: Int { stage == 2 ? 2 : (stage == 3 ? 4 : 0) }

    /// The seq the actor's earlier turn in this role-play got (host spoke first).
    func earlierSeq(of actor: RoomActor) -> Int { seqsBefore + (actor == .host ? 1 : 2) }

    /// The next seq in this role-play.
    var nextSeq: Int { seqsBefore + (phase == .roleplay ? 3 : 1) }

    /// Every situation worth probing.
    static let all: [RoomSituation] = {
        var all: [RoomSituation] = []
        let readySubsets: [Set<RoomActor>] = [[], [.host], [.guest], [.host, .guest]]
        for caseChosen in [false, true] {
            all.append(RoomSituation(stage: 1, phase: .waiting(guest: false, caseChosen: caseChosen, ready: [])))
        }
        for stage in [1, 2] {
            for caseChosen in [false, true] {
                for ready in readySubsets {
                    all.append(RoomSituation(stage: stage, phase: .waiting(guest: true, caseChosen: caseChosen, ready: ready)))
                }
            }
            all.append(RoomSituation(stage: stage, phase: .preparation))
            all.append(RoomSituation(stage: stage, phase: .roleplay))
        }
        all.append(RoomSituation(stage: 3, phase: .complete))
        return all
    }()

    /// Drives a fresh room into this situation through legal commands only (so every situation
    /// is reachable), with both peers connected.
    func build() throws -> RoomStateMachine {
        var room = RoomStateMachine(state: RoomState(hostID: RoomActor.host.id, guestID: hasGuest ? RoomActor.guest.id : nil, timing: Self.timing))
        _ = room.arrived(RoomActor.host.id)
        _ = room.arrived(RoomActor.guest.id)
        if stage >= 2 {
            try Self.playRound(&room, round: 1, start: 0, endedBy: .host)
        }
        if stage >= 3 {
            try Self.playRound(&room, round: 2, start: 500, endedBy: .guest)
            return room
        }
        let round = stage
        let caseID = round == 1 ? Self.case1 : Self.case2
        switch phase {
        case .waiting(_, let caseChosen, let ready):
            if caseChosen { try Self.must(&room, .chooseCase(id: caseID), by: .host, at: 900) }
            for actor in ready.sorted(by: { $0.rawValue < $1.rawValue }) { try Self.must(&room, .ready, by: actor, at: 901) }
        case .preparation:
            try Self.startRound(&room, caseID: caseID, at: Self.roundStart)
        case .roleplay:
            try Self.startRound(&room, caseID: caseID, at: Self.roundStart)
            try Self.must(&room, .startRoleplay, by: .guest, at: Self.roleplayStart)
            for actor in [RoomActor.host, .guest] {
                let turn = Self.earlierTurns[actor]!
                try Self.must(&room, .turn(text: turn.text, clientTurnID: turn.id), by: actor, at: Self.roleplayStart + 5)
            }
        case .complete:
            break
        }
        return room
    }

    struct BuildError: Error, CustomStringConvertible {
        var description: String
    }

    static func must(_ room: inout RoomStateMachine, _ command: RoomStateMachine.Command, by actor: RoomActor, at now: Double) throws {
        if case .failure(let error) = room.apply(command, by: actor.id, now: now) {
            throw BuildError(description: "setting up: \(command) by \(actor) refused: \(error.reason)")
        }
    }

    static func startRound(_ room: inout RoomStateMachine, caseID: String, at now: Double) throws {
        try must(&room, .chooseCase(id: caseID), by: .host, at: now)
        try must(&room, .ready, by: .host, at: now)
        try must(&room, .ready, by: .guest, at: now)
        try must(&room, .startRound, by: .host, at: now)
    }

    /// A whole round with one turn each (host first), ended early by a peer.
    static func playRound(_ room: inout RoomStateMachine, round: Int, start: Double, endedBy: RoomActor) throws {
        try startRound(&room, caseID: round == 1 ? case1 : case2, at: start)
        try must(&room, .startRoleplay, by: .host, at: start + 10)
        try must(&room, .turn(text: "Round \(round), host.", clientTurnID: "r\(round)-h"), by: .host, at: start + 11)
        try must(&room, .turn(text: "Round \(round), guest.", clientTurnID: "r\(round)-g"), by: .guest, at: start + 12)
        try must(&room, .endRound, by: endedBy, at: start + 20)
    }
}

/// One command, as probed in every situation. Turn probes that repeat a client id use the
/// actor's own earlier turn (the outsider borrows the host's).
enum RoomProbe: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case ready
    case chooseNewCase
    case chooseRound1Case
    case chooseEmptyCase
    case setTimingInBounds
    case setTimingAtBounds
    case setTimingPreparationTooShort
    case setTimingRoleplayTooLong
    case setTimingNotANumber
    case startRound
    case startRoleplay
    case turnValid
    case turnAtLengthLimit
    case turnEmpty
    case turnWhitespace
    case turnOversized
    case turnEmptyClientID
    case turnClientIDAtLimit
    case turnClientIDTooLong
    case turnRepeatedSameText
    case turnRepeatedDifferentText
    case endRound
    case leave

    var testDescription: String { rawValue }

    static let newCase = "case-new"
    static let validText = "What brings you in today?"
    static let inBounds = RoomTiming(preparationSeconds: 60, roleplaySeconds: 120)
    static let atBounds = RoomTiming(preparationSeconds: 30, roleplaySeconds: 1800)
    static let tooShort = RoomTiming(preparationSeconds: 29, roleplaySeconds: 300)
    static let tooLong = RoomTiming(preparationSeconds: 180, roleplaySeconds: 1801)
    static let notANumber = RoomTiming(preparationSeconds: .nan, roleplaySeconds: 300)

    func command(by actor: RoomActor) -> RoomStateMachine.Command {
        let own = RoomSituation.earlierTurns[actor == .guest ? .guest : .host]!
        switch self {
        case .ready: return .ready
        case .chooseNewCase: return .chooseCase(id: Self.newCase)
        case .chooseRound1Case: return .chooseCase(id: RoomSituation.case1)
        case .chooseEmptyCase: return .chooseCase(id: "")
        case .setTimingInBounds: return .setTiming(Self.inBounds)
        case .setTimingAtBounds: return .setTiming(Self.atBounds)
        case .setTimingPreparationTooShort: return .setTiming(Self.tooShort)
        case .setTimingRoleplayTooLong: return .setTiming(Self.tooLong)
        case .setTimingNotANumber: return .setTiming(Self.notANumber)
        case .startRound: return .startRound
        case .startRoleplay: return .startRoleplay
        case .turnValid: return .turn(text: Self.validText, clientTurnID: "\(actor.id)-new")
        case .turnAtLengthLimit: return .turn(text: String(repeating: "a", count: 4000), clientTurnID: "\(actor.id)-long")
        case .turnEmpty: return .turn(text: "", clientTurnID: "\(actor.id)-empty")
        case .turnWhitespace: return .turn(text: "  \n\t \u{00A0} ", clientTurnID: "\(actor.id)-blank")
        case .turnOversized: return .turn(text: String(repeating: "a", count: 4001), clientTurnID: "\(actor.id)-huge")
        case .turnEmptyClientID: return .turn(text: Self.validText, clientTurnID: "")
        case .turnClientIDAtLimit: return .turn(text: Self.validText, clientTurnID: String(repeating: "c", count: 128))
        case .turnClientIDTooLong: return .turn(text: Self.validText, clientTurnID: String(repeating: "c", count: 129))
        case .turnRepeatedSameText: return .turn(text: own.text, clientTurnID: own.id)
        case .turnRepeatedDifferentText: return .turn(text: "Something else entirely.", clientTurnID: own.id)
        case .endRound: return .endRound
        case .leave: return .leave
        }
    }
}

/// The room rules of protocol/room.md, as an oracle: what a command should do.
enum RoomRules {
    typealias Event = RoomStateMachine.Event

    static let timingBoundsReason = "preparation_seconds and roleplay_seconds must each be 30 to 1800"

    /// The expected result of `probe` by `actor` in `situation` at `RoomSituation.now`, and the
    /// state after it (the state before, for a refusal).
    static func expected(_ probe: RoomProbe, by actor: RoomActor, in situation: RoomSituation, before: RoomState) -> (Result<[Event], RoomError>, RoomState) {
        var after = before
        let result = outcome(probe, by: actor, in: situation, state: &after)
        if case .failure = result { return (result, before) }
        return (result, after)
    }

    private static func outcome(_ probe: RoomProbe, by actor: RoomActor, in situation: RoomSituation, state: inout RoomState) -> Result<[Event], RoomError> {
        let now = RoomSituation.now
        let user = actor.id
        // Only the host and a seated guest are members.
        let isMember = actor == .host || (actor == .guest && situation.hasGuest)
        guard isMember else { return .failure(.notAParticipant) }
        // Stage 3 is read-only; leaving is always allowed.
        guard situation.stage < 3 else {
            if probe == .leave {
                state.present.remove(user)
                return .success([.left(userID: user, phase: "ended")])
            }
            return .failure(.roomComplete)
        }
        let round = situation.stage
        let phase = situation.phaseName
        let isHost = actor == .host
        let candidate: RoomActor = round == 1 ? .host : .guest
        let role: RoomRole = actor == candidate ? .candidate : .interlocutor
        let waiting = phase == "waiting"

        switch probe {
        case .ready:
            guard waiting else { return .failure(.wrongPhase(expected: "waiting", actual: phase)) }
            guard situation.hasGuest else { return .failure(.noGuest) }
            state.ready.insert(user)
            return .success([.ready(userID: user)])

        case .chooseNewCase, .chooseRound1Case, .chooseEmptyCase:
            guard isHost else { return .failure(.onlyHost("choose the case")) }
            guard waiting else { return .failure(.wrongPhase(expected: "waiting", actual: phase)) }
            let id: String
            switch probe {
            case .chooseNewCase: id = RoomProbe.newCase
            case .chooseRound1Case: id = RoomSituation.case1
            default: id = ""
            }
            guard !id.isEmpty else { return .failure(.invalid("the case id is empty")) }
            if round == 2, id == RoomSituation.case1 { return .failure(.invalid("round 2 needs a different case from round 1")) }
            state.caseIDs[round - 1] = id
            return .success([.caseChosen(round: round, caseID: id)])

        case .setTimingInBounds, .setTimingAtBounds, .setTimingPreparationTooShort, .setTimingRoleplayTooLong, .setTimingNotANumber:
            guard isHost else { return .failure(.onlyHost("set the timing")) }
            guard waiting else { return .failure(.wrongPhase(expected: "waiting", actual: phase)) }
            let timing: RoomTiming
            switch probe {
            case .setTimingInBounds: timing = RoomProbe.inBounds
            case .setTimingAtBounds: timing = RoomProbe.atBounds
            default: return .failure(.invalid(timingBoundsReason))
            }
            state.timing = timing
            return .success([.timing(timing)])

        case .startRound:
            guard waiting else { return .failure(.wrongPhase(expected: "waiting", actual: phase)) }
            guard situation.hasGuest else { return .failure(.noGuest) }
            guard situation.caseChosen else { return .failure(.invalid("choose a case before starting the round")) }
            guard situation.readyActors == [.host, .guest] else { return .failure(.invalid("both peers must be ready")) }
            let preparation = RoomPhase.preparation(deadline: now + RoomSituation.timing.preparationSeconds)
            state.phase = preparation
            state.phaseStartedAt = now
            return .success([.phase(preparation, round: round)])

        case .startRoleplay:
            guard phase == "preparation" else { return .failure(.wrongPhase(expected: "preparation", actual: phase)) }
            let roleplay = RoomPhase.roleplay(deadline: now + RoomSituation.timing.roleplaySeconds)
            state.phase = roleplay
            state.phaseStartedAt = now
            return .success([.phase(roleplay, round: round)])

        case .turnValid, .turnAtLengthLimit, .turnEmpty, .turnWhitespace, .turnOversized, .turnEmptyClientID, .turnClientIDAtLimit,
            .turnClientIDTooLong, .turnRepeatedSameText, .turnRepeatedDifferentText:
            guard phase == "roleplay" else { return .failure(.wrongPhase(expected: "roleplay", actual: phase)) }
            guard case .turn(let text, let clientTurnID) = probe.command(by: actor) else { fatalError("not a turn probe") }
            switch probe {
            case .turnEmptyClientID, .turnClientIDTooLong:
                return .failure(.invalid("client_turn_id must be 1 to 128 characters"))
            case .turnEmpty, .turnWhitespace:
                return .failure(.invalid("a turn needs text"))
            case .turnOversized:
                return .failure(.invalid("a turn is at most 4000 characters"))
            case .turnRepeatedSameText:
                // The original result, marked repeated; nothing new is recorded.
                return .success([.turn(
                    seq: situation.earlierSeq(of: actor), round: round, speakerID: user, role: role, text: text, clientTurnID: clientTurnID, repeated: true
                )])
            case .turnRepeatedDifferentText:
                return .failure(.invalid("client_turn_id \(clientTurnID) was already used for a different turn"))
            default:
                let seq = situation.nextSeq
                state.nextSeq = seq + 1
                state.acceptedTurns[RoomStateMachine.turnKey(speaker: user, clientTurnID: clientTurnID)] = AcceptedTurn(seq: seq, text: text)
                return .success([.turn(seq: seq, round: round, speakerID: user, role: role, text: text, clientTurnID: clientTurnID, repeated: false)])
            }

        case .endRound:
            guard phase == "preparation" || phase == "roleplay" else {
                return .failure(.wrongPhase(expected: "preparation or roleplay", actual: phase))
            }
            state.stage = round + 1
            state.ready = []
            state.acceptedTurns = [:]
            state.phaseStartedAt = nil
            state.phase = round == 2 ? .ended : .waiting
            var events: [Event] = [.phase(.ended, round: round), .roundEnded(round: round, reason: .endedByPeer), .stage(round + 1)]
            if round == 1 { events.append(.phase(.waiting, round: 2)) }
            return .success(events)

        case .leave:
            state.present.remove(user)
            state.ready.remove(user)
            return .success([.left(userID: user, phase: phase)])
        }
    }
}

@Suite("Room transition matrix")
struct RoomTransitionMatrixTests {
    @Test("every situation is reachable and as described")
    func situationsAreReachable() throws {
        #expect(RoomSituation.all.count == 23)
        for situation in RoomSituation.all {
            let state = try situation.build().state
            #expect(state.stage == situation.stage, "\(situation)")
            #expect(state.phase.name == situation.phaseName, "\(situation)")
            #expect((state.guestID != nil) == situation.hasGuest, "\(situation)")
            switch situation.phase {
            case .waiting: #expect(state.ready == Set(situation.readyActors.map(\.id)), "\(situation)")
            case .preparation, .roleplay: #expect(state.ready == [RoomActor.host.id, RoomActor.guest.id], "both stay ready during the round: \(situation)")
            case .complete: #expect(state.ready.isEmpty, "\(situation)")
            }
            #expect(state.nextSeq == situation.nextSeq, "\(situation)")
            if let round = state.round {
                #expect((state.caseIDs[round - 1] != nil) == situation.caseChosen, "\(situation)")
            }
        }
    }

    @Test("command × situation, for host, guest and outsider", arguments: RoomSituation.all, RoomProbe.allCases)
    func transition(situation: RoomSituation, probe: RoomProbe) throws {
        for actor in RoomActor.allCases {
            var room = try situation.build()
            let before = room.state
            let command = probe.command(by: actor)
            let (expected, expectedState) = RoomRules.expected(probe, by: actor, in: situation, before: before)
            let actual = room.apply(command, by: actor.id, now: RoomSituation.now)
            switch (expected, actual) {
            case (.success(let want), .success(let got)):
                #expect(got == want, "\(actor): events")
                #expect(room.state == expectedState, "\(actor): state after the command")
            case (.failure(let want), .failure(let got)):
                #expect(got.reason == want.reason, "\(actor): refusal reason")
                #expect(room.state == before, "\(actor): a refused command leaves the room unchanged")
            case (.success(let want), .failure(let got)):
                Issue.record("\(actor): expected \(want), refused: \(got.reason)")
            case (.failure(let want), .success(let got)):
                Issue.record("\(actor): expected refusal \"\(want.reason)\", got \(got)")
                #expect(room.state == before, "\(actor): state changed by a command that should be refused")
            }
        }
    }

    /// The whole matrix in one place: how many transitions are legal, per actor.
    @Test func matrixCoversEveryActorWithLegalAndIllegalTransitions() throws {
        var legal: [RoomActor: Int] = [:]
        var illegal: [RoomActor: Int] = [:]
        for situation in RoomSituation.all {
            for probe in RoomProbe.allCases {
                for actor in RoomActor.allCases {
                    let before = try situation.build().state
                    switch RoomRules.expected(probe, by: actor, in: situation, before: before).0 {
                    case .success: legal[actor, default: 0] += 1
                    case .failure: illegal[actor, default: 0] += 1
                    }
                }
            }
        }
        #expect(legal[.outsider, default: 0] == 0)
        #expect(legal[.host, default: 0] > 0 && illegal[.host, default: 0] > 0)
        #expect(legal[.guest, default: 0] > 0 && illegal[.guest, default: 0] > 0)
        #expect(illegal[.outsider, default: 0] == RoomSituation.all.count * RoomProbe.allCases.count)
    }
}

@Suite("Room timers, rounds and state")
struct RoomTimersAndRoundsTests {
    let host = RoomActor.host.id
    let guest = RoomActor.guest.id
    typealias Event = RoomStateMachine.Event

    func ok(_ room: inout RoomStateMachine, _ command: RoomStateMachine.Command, by user: String, at now: Double) -> [Event] {
        switch room.apply(command, by: user, now: now) {
        case .success(let events): return events
        case .failure(let error):
            Issue.record("\(command) by \(user) refused: \(error.reason)")
            return []
        }
    }

    func inPreparation(at start: Double = 1000, timing: RoomTiming = RoomTiming(preparationSeconds: 180, roleplaySeconds: 300)) -> RoomStateMachine {
        var room = RoomStateMachine(state: RoomState(hostID: host, guestID: guest, timing: timing))
        _ = ok(&room, .chooseCase(id: "case-1"), by: host, at: start)
        _ = ok(&room, .ready, by: host, at: start)
        _ = ok(&room, .ready, by: guest, at: start)
        _ = ok(&room, .startRound, by: guest, at: start)
        return room
    }

    @Test func tickMovesPreparationToRoleplayExactlyAtItsDeadline() {
        var room = inPreparation()
        #expect(room.state.phase == .preparation(deadline: 1180))
        #expect(room.state.phaseStartedAt == 1000)
        #expect(room.tick(now: 1179.999).isEmpty)
        #expect(room.state.phase == .preparation(deadline: 1180))
        // The role-play deadline counts from the preparation deadline, not from the tick.
        #expect(room.tick(now: 1180) == [.phase(.roleplay(deadline: 1480), round: 1)])
        #expect(room.state.phase == .roleplay(deadline: 1480))
        #expect(room.state.phaseStartedAt == 1180)
        #expect(room.tick(now: 1181).isEmpty)
    }

    @Test func aLateTickStillUsesTheAbsoluteDeadlines() {
        var room = inPreparation()
        #expect(room.tick(now: 1200) == [.phase(.roleplay(deadline: 1480), round: 1)])
        #expect(room.state.phaseStartedAt == 1180)
    }

    @Test func tickEndsTheRoundAtTheRoleplayDeadlineWithTimeUp() {
        var room = inPreparation()
        _ = ok(&room, .startRoleplay, by: host, at: 1100)
        #expect(room.state.phase == .roleplay(deadline: 1400))
        _ = ok(&room, .turn(text: "Hello.", clientTurnID: "t1"), by: host, at: 1200)
        #expect(room.tick(now: 1399).isEmpty)
        let ended = room.tick(now: 1400)
        #expect(ended == [.phase(.ended, round: 1), .roundEnded(round: 1, reason: .timeUp), .stage(2), .phase(.waiting, round: 2)])
        #expect(room.state.stage == 2 && room.state.phase == .waiting)
        #expect(room.state.ready.isEmpty && room.state.acceptedTurns.isEmpty && room.state.phaseStartedAt == nil)
        #expect(room.state.caseIDs == ["case-1", nil])
        #expect(room.state.nextSeq == 2)
        #expect(room.tick(now: 5000).isEmpty, "nothing is timed while waiting")
    }

    @Test func aTickPastBothDeadlinesRunsPreparationAndRoleplayOutInOrder() {
        var room = inPreparation()
        let events = room.tick(now: 10_000)
        #expect(events == [
            .phase(.roleplay(deadline: 1480), round: 1),
            .phase(.ended, round: 1), .roundEnded(round: 1, reason: .timeUp), .stage(2), .phase(.waiting, round: 2),
        ])
    }

    @Test func aCommandAfterADeadlineCarriesTheTimerEventsFirst() {
        var room = inPreparation()
        let events = ok(&room, .turn(text: "Good morning.", clientTurnID: "t1"), by: host, at: 1190)
        #expect(events == [
            .phase(.roleplay(deadline: 1480), round: 1),
            .turn(seq: 1, round: 1, speakerID: host, role: .candidate, text: "Good morning.", clientTurnID: "t1", repeated: false),
        ])
    }

    /// apply's contract: "or says why not (the state is then unchanged)". A command refused
    /// after a deadline passed must not leave the room moved on with the timer's events lost.
    @Test func aCommandRefusedAfterADeadlineLeavesTheStateUnchanged() {
        var room = inPreparation()
        let before = room.state
        // Preparation is over at 1180 and role-play at 1480: at 1500 the round has ended.
        let result = room.apply(.turn(text: "Too late?", clientTurnID: "t1"), by: host, now: 1500)
        guard case .failure = result else {
            Issue.record("a turn after the round's end should be refused, got \(result)")
            return
        }
        #expect(room.state == before, "refused, yet the state moved from \(before.phase.name) stage \(before.stage) to \(room.state.phase.name) stage \(room.state.stage) and the round_ended events were dropped")
    }

    @Test func tickDoesNothingInStageThree() {
        var room = RoomStateMachine(state: RoomState(hostID: host, guestID: guest, stage: 3))
        #expect(room.state.phase == .ended && room.state.round == nil)
        #expect(room.tick(now: 1e12).isEmpty)
    }

    @Test func roundTwoSwapsRolesAndSeqContinues() throws {
        var room = try RoomSituation(stage: 2, phase: .roleplay).build()
        #expect(room.state.candidateID == guest && room.state.interlocutorID == host)
        #expect(room.state.role(of: guest) == .candidate && room.state.role(of: host) == .interlocutor)
        #expect(room.state.role(of: "outsider") == nil)
        // Round 1 had seqs 1, 2; round 2 host-old 3, guest-old 4.
        let byGuest = ok(&room, .turn(text: "I'm the doctor now.", clientTurnID: "r2-x"), by: guest, at: 1060)
        #expect(byGuest == [.turn(seq: 5, round: 2, speakerID: guest, role: .candidate, text: "I'm the doctor now.", clientTurnID: "r2-x", repeated: false)])
        let byHost = ok(&room, .turn(text: "I'm the patient.", clientTurnID: "r2-y"), by: host, at: 1061)
        #expect(byHost == [.turn(seq: 6, round: 2, speakerID: host, role: .interlocutor, text: "I'm the patient.", clientTurnID: "r2-y", repeated: false)])
        #expect(room.state.nextSeq == 7)
    }

    @Test func round1ClientTurnIDsMayBeReusedInRound2() throws {
        var room = try RoomSituation(stage: 2, phase: .roleplay).build()
        // "r1-h" was the host's client id in round 1 (seq 1); in round 2 it is new.
        let events = ok(&room, .turn(text: "Round 1, host.", clientTurnID: "r1-h"), by: host, at: 1060)
        #expect(events == [.turn(seq: 5, round: 2, speakerID: host, role: .interlocutor, text: "Round 1, host.", clientTurnID: "r1-h", repeated: false)])
    }

    @Test func roundTwoRefusesTheRoundOneCaseButTakesAnother() throws {
        var room = try RoomSituation(stage: 2, phase: .waiting(guest: true, caseChosen: false, ready: [])).build()
        let before = room.state
        #expect(room.apply(.chooseCase(id: "case-1"), by: host, now: 1050) == .failure(.invalid("round 2 needs a different case from round 1")))
        #expect(room.state == before)
        #expect(ok(&room, .chooseCase(id: "case-2"), by: host, at: 1050) == [.caseChosen(round: 2, caseID: "case-2")])
        #expect(room.state.caseIDs == ["case-1", "case-2"])
    }

    @Test func theWholeRoomEndsInStageThreeWithEverythingRefusedButLeave() throws {
        var room = try RoomSituation(stage: 2, phase: .preparation).build()
        let events = ok(&room, .endRound, by: guest, at: 1060)
        #expect(events == [.phase(.ended, round: 2), .roundEnded(round: 2, reason: .endedByPeer), .stage(3)])
        #expect(room.state.stage == 3 && room.state.phase == .ended && room.state.round == nil)
        #expect(room.state.candidateID == nil && room.state.interlocutorID == nil && room.state.role(of: host) == nil)
        #expect(room.apply(.ready, by: guest, now: 1070) == .failure(.roomComplete))
        #expect(room.apply(.leave, by: host, now: 1070) == .success([.left(userID: host, phase: "ended")]))
    }

    @Test func aTurnIDUsedByTheOtherPeerIsNotTheOtherPeersRepeat() throws {
        // The host said "Hello there…" with client id host-old (seq 1). The guest sending a turn
        // with that client id is not a repeat of the guest's own command: answering it
        // "repeated" would acknowledge a turn that was never recorded, under the guest's name,
        // with the host's seq.
        var room = try RoomSituation(stage: 1, phase: .roleplay).build()
        let hostTurn = RoomSituation.earlierTurns[.host]!
        let result = room.apply(.turn(text: hostTurn.text, clientTurnID: hostTurn.id), by: guest, now: 1050)
        if case .success(let events) = result {
            for case .turn(let seq, _, let speaker, _, _, _, let repeated) in events {
                #expect(!(repeated && speaker == guest), "the guest's turn was acknowledged as a repeat of seq \(seq) (the host's turn) and not recorded")
            }
        }
    }

    @Test func customTimingBoundsAreUsedAndNamedInTheReason() {
        var room = RoomStateMachine(state: RoomState(hostID: host, guestID: guest), timingBounds: 0.5...60)
        #expect(room.apply(.setTiming(RoomTiming(preparationSeconds: 0.5, roleplaySeconds: 60)), by: host, now: 0)
            == .success([.timing(RoomTiming(preparationSeconds: 0.5, roleplaySeconds: 60))]))
        #expect(room.apply(.setTiming(RoomTiming(preparationSeconds: 61, roleplaySeconds: 60)), by: host, now: 0)
            == .failure(.invalid("preparation_seconds and roleplay_seconds must each be 0.5 to 60")))
        #expect(room.apply(.setTiming(RoomTiming(preparationSeconds: .infinity, roleplaySeconds: 60)), by: host, now: 0)
            == .failure(.invalid("preparation_seconds and roleplay_seconds must each be 0.5 to 60")))
    }

    @Test func setTimingChangesTheNextRoundsDeadlines() {
        var room = RoomStateMachine(state: RoomState(hostID: host, guestID: guest))
        _ = ok(&room, .setTiming(RoomTiming(preparationSeconds: 30, roleplaySeconds: 45.5)), by: host, at: 0)
        _ = ok(&room, .chooseCase(id: "c"), by: host, at: 0)
        _ = ok(&room, .ready, by: host, at: 0)
        _ = ok(&room, .ready, by: guest, at: 0)
        #expect(ok(&room, .startRound, by: host, at: 100) == [.phase(.preparation(deadline: 130), round: 1)])
        #expect(room.tick(now: 130) == [.phase(.roleplay(deadline: 175.5), round: 1)])
    }

    @Test func turnLengthCountsCharactersNotBytes() throws {
        var room = try RoomSituation(stage: 1, phase: .roleplay).build()
        let text = String(repeating: "é", count: 4000)  // 8,000 UTF-8 bytes
        #expect(text.utf8.count == 8000)
        guard case .success = room.apply(.turn(text: text, clientTurnID: "accents"), by: host, now: 1050) else {
            Issue.record("4000 characters must pass")
            return
        }
    }

    @Test func followSeatSeatsAndUnseatsAsTheDatabaseSays() {
        var room = RoomStateMachine(state: RoomState(hostID: host, guestID: nil))
        #expect(room.followSeat(host) == [], "the host cannot be their own guest")
        #expect(room.state.guestID == nil)
        #expect(room.apply(.ready, by: guest, now: 0) == .failure(.notAParticipant))
        #expect(room.followSeat(guest) == [.seat(guestID: guest, previousGuestID: nil)])
        #expect(room.state.guestID == guest)
        #expect(room.followSeat(guest) == [], "the same seat again changes nothing")
        #expect(room.apply(.ready, by: guest, now: 0) == .success([.ready(userID: guest)]))
        // Given back: the former guest is out, and not ready any more.
        #expect(room.followSeat(nil) == [.seat(guestID: nil, previousGuestID: guest)])
        #expect(room.state.guestID == nil && !room.state.ready.contains(guest))
        #expect(room.apply(.ready, by: guest, now: 0) == .failure(.notAParticipant))
        #expect(room.followSeat("someone-else") == [.seat(guestID: "someone-else", previousGuestID: nil)])
        #expect(room.apply(.ready, by: "someone-else", now: 0) == .success([.ready(userID: "someone-else")]))
    }

    @Test func aSeatChangeMidRoundCancelsTheRound() throws {
        for phase in [RoomSituation.Phase.preparation, .roleplay] {
            var room = try RoomSituation(stage: 1, phase: phase).build()
            let events = room.followSeat("newcomer")
            #expect(events == [
                .seat(guestID: "newcomer", previousGuestID: guest), .roundCancelled(round: 1), .phase(.waiting, round: 1),
            ])
            #expect(room.state.phase == .waiting && room.state.stage == 1 && room.state.ready.isEmpty && room.state.acceptedTurns.isEmpty)
            #expect(room.apply(.turn(text: "still here?", clientTurnID: "late"), by: guest, now: RoomSituation.now) == .failure(.notAParticipant))
            #expect(room.apply(.endRound, by: host, now: RoomSituation.now) == .failure(.wrongPhase(expected: "preparation or roleplay", actual: "waiting")))
        }
    }

    @Test func markNoShowChecked() {
        var room = RoomStateMachine(state: RoomState(hostID: host, guestID: guest))
        #expect(room.state.noShowChecked == nil)
        room.markNoShowChecked()
        #expect(room.state.noShowChecked == true)
        room.markNoShowChecked()
        #expect(room.state.noShowChecked == true)
    }

    @Test func arrivedOnlyForMembers() {
        var room = RoomStateMachine(state: RoomState(hostID: host, guestID: nil))
        let hostArrived = room.arrived(host)
        let strangerArrived = room.arrived(guest)
        #expect(hostArrived)
        #expect(!strangerArrived)
        #expect(room.state.present == [host])
    }

    @Test func stateCodableRoundTripDropsAcceptedTurns() throws {
        var room = try RoomSituation(stage: 2, phase: .roleplay).build()
        room.markNoShowChecked()
        let state = room.state
        #expect(!state.acceptedTurns.isEmpty)
        let data = try JSONEncoder().encode(state)
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["acceptedTurns"] == nil, "accepted turns are rebuilt from the journal, not saved")
        #expect(Set(object.keys) == ["stage", "phase", "hostID", "guestID", "present", "ready", "caseIDs", "timing", "nextSeq", "phaseStartedAt", "noShowChecked"])
        let decoded = try JSONDecoder().decode(RoomState.self, from: data)
        var expected = state
        expected.acceptedTurns = [:]
        #expect(decoded == expected)
        #expect(decoded.phase == .roleplay(deadline: 1310))
        #expect(decoded.noShowChecked == true)
    }

    @Test(arguments: RoomSituation.all)
    func everySituationRoundTripsThroughJSON(situation: RoomSituation) throws {
        var state = try situation.build().state
        let decoded = try JSONDecoder().decode(RoomState.self, from: JSONEncoder().encode(state))
        state.acceptedTurns = [:]
        #expect(decoded == state)
    }

    @Test func stateSavedBeforeOptionalFieldsStillDecodes() throws {
        // A state without phaseStartedAt / noShowChecked / guestID (older or minimal JSON).
        let json = #"{"stage":1,"phase":{"waiting":{}},"hostID":"h","present":[],"ready":[],"caseIDs":[null,null],"timing":{"preparationSeconds":180,"roleplaySeconds":300},"nextSeq":1}"#
        let decoded = try JSONDecoder().decode(RoomState.self, from: Data(json.utf8))
        #expect(decoded == RoomState(hostID: "h", guestID: nil))
    }
}
