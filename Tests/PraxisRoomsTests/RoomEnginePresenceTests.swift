import PraxisDomain
import Testing

@testable import PraxisRooms

/// Presence, no-shows, timers and briefs as the engine decides them: pure, no I/O, no clock.
@Suite("RoomEngine presence, no-shows, timers, briefs")
struct RoomEnginePresenceTests {
    let host = "host-1"
    let guest = "guest-1"
    let stranger = "guest-2"
    /// Scheduled at 10,000 s; grace 60 s; the sweep looks every 30 s.
    let scheduledAt = 10_000.0
    let summary = RoomCaseSummary(id: "case-1", caseName: "Chest pain", domain: "Clinical", targetProfession: "Medicine", difficultyLevel: "medium")
    let briefs = RoomCaseBriefs(candidate: "You are the doctor.", actor: "You are the patient.")

    func engine(scheduledAt: Double? = nil) -> RoomEngine {
        RoomEngine(
            machine: RoomStateMachine(state: RoomState(hostID: host, guestID: guest)), cases: [:],
            presence: RoomPresence(scheduledAt: scheduledAt, graceSeconds: 60, sweepIntervalSeconds: 30), appliedTurnCount: 0,
            rememberLimit: 4, newRoundID: { "round-id" }
        )
    }

    func request(_ event: String, _ payload: [String: JSONValue]) throws -> RoomRequest {
        try RoomRequest.decode(event: event, payload: payload).get()
    }

    /// The events of the `journal` actions among `actions`, in order.
    func journaled(_ actions: [RoomAction]) -> [RoomEvent] {
        actions.flatMap { action -> [RoomEvent] in
            guard case .journal(let events, _) = action else { return [] }
            return events
        }
    }

    func timerChanges(_ actions: [RoomAction]) -> [RoomTimerChange] {
        actions.compactMap { if case .timer(let change) = $0 { change } else { nil } }
    }

    @Test("the first connection is joined, a second is silent; the last one dropping is away with a grace timer, coming back is back")
    func joinedAwayBack() {
        var room = engine()
        #expect(room.connected(host, now: 100) == [
            .journal([.presence(userID: host, status: .joined, present: [host], away: [])], saveState: false)
        ])
        #expect(room.connected(host, now: 101).isEmpty, "a second tab of the same user")
        #expect(room.disconnected(host, dropped: true, now: 102).isEmpty, "one tab of two closed")
        #expect(room.disconnected(host, dropped: true, now: 103) == [
            .timer(.set(.grace(userID: host), at: 163)),
            .journal([.presence(userID: host, status: .away, present: [], away: [RoomEvent.Away(userID: host, until: 163)])], saveState: false),
        ])
        #expect(room.hasTimers)
        #expect(room.connected(host, now: 120) == [
            .timer(.cancel(.grace(userID: host))),
            .journal([.presence(userID: host, status: .back, present: [host], away: [])], saveState: false),
        ])
        #expect(room.timers[.grace(userID: host)] == nil)
        #expect(!room.hasTimers)
    }

    @Test("a connection that closed on purpose, or a non-participant's, has left: no grace, no timer")
    func left() {
        var room = engine()
        _ = room.connected(guest, now: 0)
        #expect(room.disconnected(guest, dropped: false, now: 1) == [
            .journal([.presence(userID: guest, status: .left, present: [], away: [])], saveState: false)
        ])
        _ = room.connected(stranger, now: 2)
        #expect(journaled(room.disconnected(stranger, dropped: true, now: 3)).map(\.name) == ["presence"])
        #expect(room.presence.away.isEmpty)
        #expect(!room.hasTimers)
        #expect(room.disconnected(guest, dropped: true, now: 4).isEmpty, "not connected any more")
    }

    @Test("a grace period that runs out leaves the peer as disconnected, journaled with the state; a cancelled one does nothing")
    func graceRunsOut() {
        var room = engine()
        _ = room.connected(guest, now: 0)
        _ = room.disconnected(guest, dropped: true, now: 10)
        let fired = room.timerFired(.grace(userID: guest), now: 70)
        #expect(fired == [.journal([.left(userID: guest, phase: "waiting", reason: .disconnected)], saveState: true)])
        #expect(room.presence.away.isEmpty)
        #expect(room.timerFired(.grace(userID: guest), now: 71).isEmpty, "fired twice")
        #expect(!room.hasTimers)
    }

    @Test("the phase deadline timer follows the phase: set at the start, moved at role-play, cancelled at the round's end")
    func phaseTimer() throws {
        var room = engine()
        #expect(room.timerChanges(now: 0).isEmpty)
        _ = room.handle(try request("ready", ["client_id": .string("r")]), from: host, now: 0)
        _ = room.handle(try request("ready", ["client_id": .string("r")]), from: guest, now: 0)
        let choose = try request("choose_case", ["client_id": .string("c"), "case_id": .string("case-1")])
        _ = room.caseFound(summary, briefs: briefs, for: choose, from: host, now: 0)
        _ = room.handle(try request("start_round", ["client_id": .string("s")]), from: host, now: 1000)
        #expect(room.timerChanges(now: 1000) == [.timer(.set(.phaseDeadline, at: 1180))])
        #expect(room.timerChanges(now: 1001).isEmpty, "unchanged: nothing to do")
        // The deadline fires: role-play, with its own deadline.
        let fired = room.timerFired(.phaseDeadline, now: 1180)
        #expect(journaled(fired) == [.phase(round: 1, phase: .roleplay(deadline: 1480))])
        #expect(timerChanges(fired) == [.set(.phaseDeadline, at: 1480)])
        // Ended early: the deadline timer stops.
        _ = room.handle(try request("end_round", ["client_id": .string("e")]), from: guest, now: 1200)
        #expect(room.timerChanges(now: 1200) == [.timer(.cancel(.phaseDeadline))])
        #expect(!room.hasTimers)
        #expect(room.timerFired(.phaseDeadline, now: 1480).isEmpty, "a cancelled timer that fired late")
    }

    @Test("the no-show check is set once when due within the sweep interval; it records absent peers once")
    func noShows() {
        var room = engine(scheduledAt: scheduledAt)
        #expect(room.timerChanges(now: scheduledAt - 100).isEmpty, "due in 160 s: left to the sweep")
        #expect(room.timerChanges(now: scheduledAt + 40) == [.timer(.set(.noShowCheck, at: scheduledAt + 60))])
        #expect(room.timerChanges(now: scheduledAt + 41).isEmpty, "set once")
        // The host came after the scheduled time and left again: seen, not a no-show.
        _ = room.connected(host, now: scheduledAt + 10)
        _ = room.disconnected(host, dropped: false, now: scheduledAt + 20)
        let fired = room.timerFired(.noShowCheck, now: scheduledAt + 60)
        #expect(fired == [.journal([.noShow(userID: guest, scheduledAt: scheduledAt)], saveState: true)])
        #expect(room.state.noShowChecked == true)
        #expect(room.presence.noShows == [guest])
        #expect(room.checkNoShows().isEmpty, "once per room")
        #expect(room.timerChanges(now: scheduledAt + 61).isEmpty)
    }

    @Test("no no-show check for a room scheduled more than a day ago, none before it was scheduled, none when both came")
    func noNoShows() {
        var old = engine(scheduledAt: scheduledAt)
        #expect(old.timerChanges(now: scheduledAt + 86_400).isEmpty)
        var early = engine(scheduledAt: scheduledAt)
        _ = early.connected(host, now: scheduledAt - 10)
        _ = early.disconnected(host, dropped: false, now: scheduledAt - 5)
        #expect(journaled(early.checkNoShows()) == [.noShow(userID: host, scheduledAt: scheduledAt), .noShow(userID: guest, scheduledAt: scheduledAt)])
        var both = engine(scheduledAt: scheduledAt)
        _ = both.connected(host, now: scheduledAt + 1)
        _ = both.connected(guest, now: scheduledAt + 2)
        #expect(both.checkNoShows() == [.journal([], saveState: true)], "checked (saved with the state), nobody missing")
    }

    @Test("a round's start hands each participant its own role's brief, once durable; nobody else gets one")
    func briefsByRole() throws {
        var room = engine()
        _ = room.handle(try request("ready", ["client_id": .string("r")]), from: host, now: 0)
        _ = room.handle(try request("ready", ["client_id": .string("r")]), from: guest, now: 0)
        let choose = try request("choose_case", ["client_id": .string("c"), "case_id": .string("case-1")])
        let chosen = room.caseFound(summary, briefs: briefs, for: choose, from: host, now: 0)
        #expect(chosen.allSatisfy { if case .commit(let commit) = $0 { commit.briefs.isEmpty } else { true } })
        let actions = room.handle(try request("start_round", ["client_id": .string("s")]), from: host, now: 1000)
        let commits = actions.compactMap { if case .commit(let commit) = $0 { commit } else { nil } }
        #expect(commits.count == 1)
        #expect(commits.first?.briefs == [
            RoomBrief(userID: host, round: 1, role: .candidate, caseID: "case-1", caseName: "Chest pain", text: "You are the doctor."),
            RoomBrief(userID: guest, round: 1, role: .interlocutor, caseID: "case-1", caseName: "Chest pain", text: "You are the patient."),
        ])
        #expect(room.brief(for: stranger, in: room.state) == nil)
        #expect(room.brief(for: guest, in: room.state)?.json == .object([
            "round": .number(1), "role": .string("interlocutor"), "case_id": .string("case-1"), "case_name": .string("Chest pain"),
            "text": .string("You are the patient."),
        ]))
        // Waiting (before the start): no brief for anyone.
        #expect(room.brief(for: host, in: RoomState(hostID: host, guestID: guest)) == nil)
    }

    @Test("a seat change: the former guest's grace stops, its channels close with the reason, it has left, then the seat's events")
    func seatChange() {
        var room = engine()
        _ = room.connected(guest, now: 0)
        _ = room.disconnected(guest, dropped: true, now: 1)
        _ = room.connected(host, now: 2)
        let actions = room.seatChanged(stranger, reason: "gone", now: 3)
        #expect(actions == [
            .timer(.cancel(.grace(userID: guest))),
            .closeChannels(of: guest, reason: "gone"),
            .journal([.presence(userID: guest, status: .left, present: [host], away: [])], saveState: false),
            .journal([.seat(guestID: stranger, previousGuestID: guest)], saveState: true),
        ])
        #expect(!room.hasTimers)
        #expect(room.seatChanged(stranger, reason: "gone", now: 4).isEmpty, "the seat is the room's already")
    }
}
