import PraxisDomain
import Testing

@testable import PraxisRooms

@Suite("RoomEngine")
struct RoomEngineTests {
    let host = "host-1"
    let guest = "guest-1"
    let summary = RoomCaseSummary(id: "case-1", caseName: "Chest pain", domain: "Clinical", targetProfession: "Medicine", difficultyLevel: "medium")

    func engine() -> RoomEngine {
        RoomEngine(
            machine: RoomStateMachine(state: RoomState(hostID: host, guestID: guest)), cases: [:],
            presence: RoomPresence(scheduledAt: nil, graceSeconds: 60, sweepIntervalSeconds: 30), appliedTurnCount: 0, rememberLimit: 4,
            newRoundID: { "round-id" }
        )
    }

    func request(_ event: String, _ payload: [String: JSONValue]) throws -> RoomRequest {
        try RoomRequest.decode(event: event, payload: payload).get()
    }

    /// The one commit among `actions`, or a failed expectation.
    func commit(_ actions: [RoomAction], sourceLocation: SourceLocation = #_sourceLocation) -> RoomCommit? {
        let commits = actions.compactMap { if case .commit(let commit) = $0 { commit } else { nil } }
        #expect(commits.count == 1, "actions: \(actions)", sourceLocation: sourceLocation)
        return commits.first
    }

    /// Ready, case chosen, round started, role-play started at `now`.
    func playing(at now: Double) throws -> RoomEngine {
        var room = engine()
        _ = room.handle(try request("ready", ["client_id": .string("r")]), from: host, now: now)
        _ = room.handle(try request("ready", ["client_id": .string("r")]), from: guest, now: now)
        let choose = try request("choose_case", ["client_id": .string("c"), "case_id": .string("case-1")])
        #expect(room.handle(choose, from: host, now: now) == [.lookUpCase(.id("case-1"), excluding: nil)])
        _ = room.caseFound(summary, for: choose, from: host, now: now)
        _ = room.handle(try request("start_round", ["client_id": .string("s")]), from: host, now: now)
        _ = room.handle(try request("start_roleplay", ["client_id": .string("p")]), from: guest, now: now)
        return room
    }

    @Test("a command is journaled with its record; a repeat waits, then gets the same answer; other content is refused")
    func idempotency() throws {
        var room = engine()
        let ready = try request("ready", ["client_id": .string("c-1")])
        let applied = try #require(commit(room.handle(ready, from: host, now: 0)))
        #expect(applied.events == [.ready(userID: host, round: 1)])
        #expect(applied.key == ClientKey(userID: host, clientID: "c-1"))
        #expect(applied.reply == ["repeated": .bool(false)])
        #expect(applied.saveState)
        #expect(room.handle(ready, from: host, now: 1) == [.waitForOriginal(ClientKey(userID: host, clientID: "c-1"))])
        room.answered(ClientKey(userID: host, clientID: "c-1"), reply: .object(["offset": .number(3), "repeated": .bool(false)]))
        #expect(room.handle(ready, from: host, now: 2) == [.answer(.object(["offset": .number(3), "repeated": .bool(true)]))])
        let other = try request("end_round", ["client_id": .string("c-1")])
        #expect(room.handle(other, from: host, now: 3) == [.refuse("client id c-1 was already used for a different command")])
        // The guest's c-1 is its own.
        #expect(commit(room.handle(ready, from: guest, now: 4))?.events == [.ready(userID: guest, round: 1)])
    }

    @Test("choose_case is checked before the lookup with the machine's own rule, and its reply carries the case")
    func chooseCase() throws {
        var room = engine()
        let choose = try request("choose_case", ["client_id": .string("c"), "case_id": .string("case-1")])
        #expect(room.handle(choose, from: guest, now: 0) == [.refuse("only the host may choose the case")])
        let malformed = try request("choose_case", ["client_id": .string("m")])
        #expect(room.handle(malformed, from: guest, now: 0) == [.refuse("only the host may choose the case")])
        #expect(room.handle(malformed, from: host, now: 0) == [.refuse("choose_case needs case_id (a string) or random (an object of filters)")])
        #expect(room.handle(choose, from: host, now: 0) == [.lookUpCase(.id("case-1"), excluding: nil)])
        let applied = try #require(commit(room.caseFound(summary, for: choose, from: host, now: 0)))
        #expect(applied.events == [.caseChosen(round: 1, caseID: "case-1", summary: summary)])
        #expect(applied.reply["case"] == summary.json)
    }

    @Test("deadlines that passed are ticked once, as their own entry, also when the command is refused")
    func ticksOnce() throws {
        var room = try playing(at: 1000)
        // Role-play lasts 300 s: at 1400 the round is over; a turn is refused, the end is journaled.
        let turn = try request("turn", ["client_turn_id": .string("t-1"), "text": .string("Too late?")])
        let actions = room.handle(turn, from: host, now: 1400)
        #expect(actions == [
            .journal([
                .phase(round: 1, phase: .ended),
                // Measured to when the room noticed, as before the engine.
                .roundEnded(round: 1, reason: .timeUp, roundID: "round-id", turns: 0, durationSeconds: 400),
                .stage(2), .phase(round: 2, phase: .waiting),
            ], saveState: true),
            .refuse("not allowed in phase waiting (needs roleplay)"),
        ])
        #expect(room.state.stage == 2)
        #expect(room.tick(now: 1500).isEmpty)
    }

    @Test("turns are counted into round_ended; a repeated turn is answered with its seq and journals nothing")
    func turns() throws {
        var room = try playing(at: 1000)
        let first = try request("turn", ["client_turn_id": .string("t-1"), "text": .string("Hello")])
        let applied = try #require(commit(room.handle(first, from: host, now: 1010)))
        #expect(applied.events == [.turn(seq: 1, round: 1, speakerID: host, role: .candidate, text: "Hello", clientTurnID: "t-1")])
        #expect(applied.key == nil)
        #expect(!applied.saveState)
        #expect(applied.reply == ["seq": .number(1), "repeated": .bool(false)])
        let repeated = try #require(commit(room.handle(first, from: host, now: 1011)))
        #expect(repeated.events.isEmpty)
        #expect(repeated.reply == ["seq": .number(1), "repeated": .bool(true)])
        _ = room.handle(try request("turn", ["client_turn_id": .string("t-1"), "text": .string("Hi")]), from: guest, now: 1020)
        #expect(room.appliedTurnCount == 2)
        let end = try #require(commit(room.handle(try request("end_round", ["client_id": .string("e")]), from: guest, now: 1100)))
        #expect(end.events.contains(.roundEnded(round: 1, reason: .endedByPeer, roundID: "round-id", turns: 2, durationSeconds: 100)))
        #expect(room.appliedTurnCount == 0)
    }

    @Test("leave closes the sender's channels once answered; grace expiry leaves as disconnected")
    func leaving() throws {
        var room = engine()
        let leave = try #require(commit(room.handle(try request("leave", ["client_id": .string("l")]), from: guest, now: 0)))
        #expect(leave.closesChannelsOf == guest)
        #expect(leave.events == [.left(userID: guest, phase: "waiting", reason: .left)])
        #expect(room.graceExpired(host, now: 1) == [.left(userID: host, phase: "waiting", reason: .disconnected)])
    }

    @Test("a seat change mid-round cancels the round and resets its turn count")
    func seat() throws {
        var room = try playing(at: 1000)
        _ = room.handle(try request("turn", ["client_turn_id": .string("t-1"), "text": .string("Hello")]), from: host, now: 1010)
        let events = room.followSeat("guest-2", now: 1020)
        #expect(events == [
            .seat(guestID: "guest-2", previousGuestID: guest), .roundCancelled(round: 1), .phase(round: 1, phase: .waiting),
        ])
        #expect(room.appliedTurnCount == 0)
        #expect(room.followSeat("guest-2", now: 1030).isEmpty)
    }
}

@Suite("RoomEvent")
struct RoomEventTests {
    @Test("events encode their payload fields, offset and at in one place")
    func encodes() {
        let turn = RoomEvent.turn(seq: 3, round: 1, speakerID: "u", role: .candidate, text: "Hello", clientTurnID: "t-3")
        #expect(turn.name == "turn")
        #expect(turn.round == 1)
        #expect(turn.turnColumns?.seq == 3)
        #expect(turn.payload(offset: 14, at: "T") == .object([
            "seq": .number(3), "round": .number(1), "speaker_id": .string("u"), "role": .string("candidate"), "text": .string("Hello"),
            "client_turn_id": .string("t-3"), "offset": .number(14), "at": .string("T"),
        ]))
        let started = RoomEvent.phase(round: 1, phase: .preparation(deadline: 0))
        #expect(started.startsRound)
        #expect(started.fields["deadline"] == .string("1970-01-01T00:00:00.000000Z"))
        #expect(!RoomEvent.phase(round: 1, phase: .roleplay(deadline: 0)).startsRound)
        #expect(RoomEvent.ready(userID: "u", round: 1).round == nil)
        #expect(RoomEvent.left(userID: "u", phase: "roleplay", reason: .disconnected).fields["early"] == .bool(true))
        #expect(RoomEvent.seat(guestID: nil, previousGuestID: "g").fields["reason"] == .string("seat_given_back"))
        #expect(RoomEvent.roundCancelled(round: 2).endsTranscript)
    }
}
