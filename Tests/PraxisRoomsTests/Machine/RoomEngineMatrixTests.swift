import PraxisDomain
import Testing

@testable import PraxisRooms

/// The room transition matrix again, through the engine (`RoomEngine.handle`, and
/// `caseFound` for `choose_case`): pure, no I/O. A refusal is the engine's `refuse` with the
/// rules' reason and the state unchanged; an applied command is one `commit` of the rules'
/// events (a repeated turn journals none) with the rules' state after it.
@Suite("Room transition matrix through the engine")
struct RoomEngineMatrixTests {
    func engine(_ machine: RoomStateMachine) -> RoomEngine {
        RoomEngine(
            machine: machine, cases: [:], presence: RoomPresence(scheduledAt: nil, graceSeconds: 60, sweepIntervalSeconds: 30),
            appliedTurnCount: 0, rememberLimit: 8, newRoundID: { "round-id" }
        )
    }

    /// The probe as the edge decodes it (built directly: the matrix probes values, like NaN
    /// timings, that `RoomRequest.decode` refuses on its own).
    func request(_ command: RoomStateMachine.Command) -> RoomRequest {
        let decoded: RoomCommand
        switch command {
        case .ready: decoded = .ready
        case .chooseCase(let id): decoded = .chooseCase(.id(id))
        case .startRound: decoded = .startRound
        case .startRoleplay: decoded = .startRoleplay
        case .setTiming(let timing): decoded = .setTiming(timing)
        case .turn(let text, let clientTurnID): return RoomRequest(command: .success(.turn(text: text)), clientID: clientTurnID, fingerprint: "")
        case .endRound: decoded = .endRound
        case .leave: decoded = .leave
        }
        return RoomRequest(command: .success(decoded), clientID: "probe", fingerprint: "\(command)", isChooseCase: decoded.isChooseCase)
    }

    /// Hands the probe to the engine: `choose_case` is looked up (the case exists) and found.
    func handle(_ command: RoomStateMachine.Command, by actor: RoomActor, in room: inout RoomEngine) -> [RoomAction] {
        let request = request(command)
        let actions = room.handle(request, from: actor.id, now: RoomSituation.now)
        guard case .chooseCase(let id) = command, case .lookUpCase? = actions.last else { return actions }
        let summary = RoomCaseSummary(id: id, caseName: "Case", domain: "Clinical", targetProfession: "Medicine", difficultyLevel: "medium")
        return Array(actions.dropLast()) + room.caseFound(summary, for: request, from: actor.id, now: RoomSituation.now)
    }

    @Test("command × situation × actor, through the engine", arguments: RoomSituation.all, RoomProbe.allCases)
    func transition(situation: RoomSituation, probe: RoomProbe) throws {
        for actor in RoomActor.allCases {
            var room = engine(try situation.build())
            let before = room.state
            let (expected, expectedState) = RoomRules.expected(probe, by: actor, in: situation, before: before)
            let actions = handle(probe.command(by: actor), by: actor, in: &room)
            switch expected {
            case .failure(let refusal):
                let reason = Self.refusalBeforeLookup(probe, by: actor, in: situation)?.reason ?? refusal.reason
                #expect(actions == [.refuse(reason)], "\(actor)")
                #expect(room.state == before, "\(actor): a refused command leaves the room unchanged")
            case .success(let events):
                let commits = actions.compactMap { if case .commit(let commit) = $0 { commit } else { nil } }
                #expect(commits.count == 1 && actions.count == 1, "\(actor): \(actions)")
                let journaled = events.filter { if case .turn(_, _, _, _, _, _, true) = $0 { false } else { true } }
                #expect(commits.first?.events.count == journaled.count, "\(actor): \(commits.first?.events ?? [])")
                #expect(room.state == expectedState, "\(actor): state after the command")
            }
        }
    }
}

extension RoomEngineMatrixTests {
    /// `choose_case` is checked before its case is looked up, in this order: only the host
    /// (an outsider too is told so), not in a complete room, only while waiting. What passes
    /// is refused, if at all, by the rules after the lookup.
    static func refusalBeforeLookup(_ probe: RoomProbe, by actor: RoomActor, in situation: RoomSituation) -> RoomError? {
        guard [.chooseNewCase, .chooseRound1Case, .chooseEmptyCase].contains(probe) else { return nil }
        guard actor == .host else { return .onlyHost("choose the case") }
        guard situation.stage < 3 else { return .roomComplete }
        guard situation.phaseName == "waiting" else { return .wrongPhase(expected: "waiting", actual: situation.phaseName) }
        return nil
    }
}

extension RoomCommand {
    fileprivate var isChooseCase: Bool {
        if case .chooseCase = self { return true }
        return false
    }
}
