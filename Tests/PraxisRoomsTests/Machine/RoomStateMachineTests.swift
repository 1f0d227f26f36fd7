import PraxisDomain
import Testing

@testable import PraxisRooms

@Suite("RoomStateMachine")
struct RoomStateMachineTests {
    let host = "host"
    let guest = "guest"
    let stranger = "stranger"

    func machine(timing: RoomTiming = RoomTiming(preparationSeconds: 180, roleplaySeconds: 300)) -> RoomStateMachine {
        RoomStateMachine(state: RoomState(hostID: host, guestID: guest, timing: timing))
    }

    @discardableResult
    func ok(_ machine: inout RoomStateMachine, _ command: RoomStateMachine.Command, by user: String, at now: Double = 0) -> [RoomStateMachine.Event] {
        switch machine.apply(command, by: user, now: now) {
        case .success(let events): return events
        case .failure(let error):
            Issue.record("\(command) by \(user) refused: \(error.reason)")
            return []
        }
    }

    func refused(_ machine: inout RoomStateMachine, _ command: RoomStateMachine.Command, by user: String, at now: Double = 0) -> RoomError? {
        let before = machine.state
        guard case .failure(let error) = machine.apply(command, by: user, now: now) else {
            Issue.record("\(command) by \(user) should be refused")
            return nil
        }
        #expect(machine.state == before, "a refused command leaves the state unchanged")
        return error
    }

    /// Stage 1 up to role-play at t = 180.
    func inRoleplay() -> RoomStateMachine {
        var room = machine()
        ok(&room, .chooseCase(id: "case-1"), by: host)
        ok(&room, .ready, by: host)
        ok(&room, .ready, by: guest)
        ok(&room, .startRound, by: guest, at: 0)
        _ = room.tick(now: 180)
        return room
    }

    @Test func round1HostIsCandidateGuestIsInterlocutor() {
        let room = machine()
        #expect(room.state.role(of: host) == .candidate)
        #expect(room.state.role(of: guest) == .interlocutor)
        #expect(room.state.role(of: stranger) == nil)
    }

    @Test func aWholeRoomSwapsRolesAndCompletes() {
        var room = inRoleplay()
        #expect(room.state.phase == .roleplay(deadline: 480))
        let turn = ok(&room, .turn(text: "Hello, I'm the doctor.", clientTurnID: "t1"), by: host, at: 200)
        #expect(turn == [.turn(seq: 1, round: 1, speakerID: host, role: .candidate, text: "Hello, I'm the doctor.", clientTurnID: "t1", repeated: false)])
        let ended = ok(&room, .endRound, by: guest, at: 250)
        #expect(ended == [.phase(.ended, round: 1), .roundEnded(round: 1, reason: .endedByPeer), .stage(2), .phase(.waiting, round: 2)])
        #expect(room.state.stage == 2)
        #expect(room.state.role(of: guest) == .candidate)
        #expect(room.state.role(of: host) == .interlocutor)
        #expect(refused(&room, .chooseCase(id: "case-1"), by: host)?.reason.contains("different case") == true)
        ok(&room, .chooseCase(id: "case-2"), by: host)
        ok(&room, .ready, by: host)
        ok(&room, .ready, by: guest)
        ok(&room, .startRound, by: host, at: 300)
        _ = room.tick(now: 480)
        let second = ok(&room, .turn(text: "Hi, what brings you in?", clientTurnID: "t1"), by: guest, at: 490)
        #expect(second.first == .turn(seq: 2, round: 2, speakerID: guest, role: .candidate, text: "Hi, what brings you in?", clientTurnID: "t1", repeated: false))
        let timeUp = room.tick(now: 780)
        #expect(timeUp == [.phase(.ended, round: 2), .roundEnded(round: 2, reason: .timeUp), .stage(3)])
        #expect(room.state.stage == 3 && room.state.round == nil)
        #expect(refused(&room, .ready, by: host) == .roomComplete)
        #expect(refused(&room, .turn(text: "x", clientTurnID: "z"), by: guest) == .roomComplete)
    }

    @Test func deadlinesAreAbsolute() {
        var room = machine(timing: RoomTiming(preparationSeconds: 60, roleplaySeconds: 120))
        ok(&room, .chooseCase(id: "c"), by: host)
        ok(&room, .ready, by: host)
        ok(&room, .ready, by: guest)
        let started = ok(&room, .startRound, by: host, at: 1000)
        #expect(started == [.phase(.preparation(deadline: 1060), round: 1)])
        #expect(room.tick(now: 1059).isEmpty)
        #expect(room.tick(now: 1060) == [.phase(.roleplay(deadline: 1180), round: 1)])
    }

    @Test func strangersAreRefusedEverything() {
        var room = machine()
        for command in [RoomStateMachine.Command.ready, .startRound, .chooseCase(id: "c"), .turn(text: "x", clientTurnID: "1"), .endRound, .leave] {
            #expect(refused(&room, command, by: stranger) == .notAParticipant)
        }
    }

    @Test func onlyTheHostChoosesTheCase() {
        var room = machine()
        #expect(refused(&room, .chooseCase(id: "c"), by: guest) == .onlyHost("choose the case"))
    }

    @Test func startNeedsACaseAndBothReady() {
        var room = machine()
        #expect(refused(&room, .startRound, by: host)?.reason.contains("choose a case") == true)
        ok(&room, .chooseCase(id: "c"), by: host)
        #expect(refused(&room, .startRound, by: host)?.reason.contains("ready") == true)
        ok(&room, .ready, by: host)
        #expect(refused(&room, .startRound, by: host)?.reason.contains("ready") == true)
    }

    @Test func aRoomWithoutGuestCannotStart() {
        var room = RoomStateMachine(state: RoomState(hostID: host, guestID: nil))
        #expect(refused(&room, .ready, by: host) == .noGuest)
    }

    @Test func turnsOnlyInRoleplay() {
        var room = machine()
        #expect(refused(&room, .turn(text: "early", clientTurnID: "1"), by: host) == .wrongPhase(expected: "roleplay", actual: "waiting"))
        ok(&room, .chooseCase(id: "c"), by: host)
        ok(&room, .ready, by: host)
        ok(&room, .ready, by: guest)
        ok(&room, .startRound, by: host)
        #expect(refused(&room, .turn(text: "reading", clientTurnID: "1"), by: host, at: 10) == .wrongPhase(expected: "roleplay", actual: "preparation"))
    }

    @Test(arguments: ["", "   \n", String(repeating: "x", count: 4001)])
    func badTurnTextIsRefused(text: String) {
        var room = inRoleplay()
        #expect(refused(&room, .turn(text: text, clientTurnID: "1"), by: host, at: 200) != nil)
    }

    /// A NUL would be cut where the text is stored (the report's transcript): refused whole.
    @Test func turnsAndTurnIDsWithANULAreRefused() {
        var room = inRoleplay()
        #expect(refused(&room, .turn(text: "before\u{0}after", clientTurnID: "1"), by: host, at: 200) == .invalid(StoredText.refusal))
        #expect(refused(&room, .turn(text: "fine", clientTurnID: "a\u{0}b"), by: host, at: 200) == .invalid(StoredText.refusal))
    }

    @Test func repeatedClientTurnIDsAreIdempotent() {
        var room = inRoleplay()
        ok(&room, .turn(text: "first", clientTurnID: "a"), by: host, at: 200)
        let again = ok(&room, .turn(text: "first", clientTurnID: "a"), by: host, at: 201)
        #expect(again == [.turn(seq: 1, round: 1, speakerID: host, role: .candidate, text: "first", clientTurnID: "a", repeated: true)])
        let next = ok(&room, .turn(text: "reply", clientTurnID: "b"), by: guest, at: 202)
        #expect(next.first == .turn(seq: 2, round: 1, speakerID: guest, role: .interlocutor, text: "reply", clientTurnID: "b", repeated: false))
    }

    /// A round takes at most `maxTurnsPerRound` turns (memory and the transcript stay bounded
    /// however fast a peer sends); a repeat of an accepted turn is still answered, and the
    /// next round starts counting again.
    @Test func aRoundTakesAtMostItsTurnLimit() {
        var room = inRoleplay()
        room = RoomStateMachine(state: room.state, maxTurnsPerRound: 3)
        for turn in 1...3 { ok(&room, .turn(text: "turn \(turn)", clientTurnID: "t\(turn)"), by: turn == 2 ? guest : host, at: 200) }
        #expect(refused(&room, .turn(text: "one more", clientTurnID: "t4"), by: guest, at: 201) == .turnLimit(3))
        #expect(RoomError.turnLimit(3).reason == "this round has reached its limit of 3 turns: end the round")
        let again = ok(&room, .turn(text: "turn 1", clientTurnID: "t1"), by: host, at: 202)
        #expect(again.first == .turn(seq: 1, round: 1, speakerID: host, role: .candidate, text: "turn 1", clientTurnID: "t1", repeated: true))
        #expect(refused(&room, .turn(text: "other text", clientTurnID: "t1"), by: host, at: 202) != nil)
        ok(&room, .endRound, by: host, at: 203)
        #expect(room.state.stage == 2 && room.state.acceptedTurns.isEmpty)
    }

    @Test func endRoundOnlyWhileTimed() {
        var room = machine()
        #expect(refused(&room, .endRound, by: host) == .wrongPhase(expected: "preparation or roleplay", actual: "waiting"))
    }

    @Test func readyAndChooseOnlyWhileWaiting() {
        var room = inRoleplay()
        #expect(refused(&room, .ready, by: host, at: 200) == .wrongPhase(expected: "waiting", actual: "roleplay"))
        #expect(refused(&room, .chooseCase(id: "x"), by: host, at: 200) == .wrongPhase(expected: "waiting", actual: "roleplay"))
        #expect(refused(&room, .startRound, by: host, at: 200) == .wrongPhase(expected: "waiting", actual: "roleplay"))
    }

    @Test func leavingIsRecordedAndClearsReadiness() {
        var room = machine()
        ok(&room, .ready, by: guest)
        let arrived = room.arrived(guest)
        #expect(arrived)
        let left = ok(&room, .leave, by: guest)
        #expect(left == [.left(userID: guest, phase: "waiting")])
        #expect(!room.state.ready.contains(guest) && !room.state.present.contains(guest))
        let strangerArrived = room.arrived(stranger)
        #expect(!strangerArrived)
    }

    @Test func seqIncreasesAcrossRounds() {
        var room = inRoleplay()
        ok(&room, .turn(text: "one", clientTurnID: "a"), by: host, at: 200)
        ok(&room, .endRound, by: host, at: 210)
        ok(&room, .chooseCase(id: "c2"), by: host)
        ok(&room, .ready, by: host)
        ok(&room, .ready, by: guest)
        ok(&room, .startRound, by: host, at: 300)
        _ = room.tick(now: 480)
        let turn = ok(&room, .turn(text: "two", clientTurnID: "a"), by: guest, at: 490)
        #expect(turn.first == .turn(seq: 2, round: 2, speakerID: guest, role: .candidate, text: "two", clientTurnID: "a", repeated: false))
    }
}
