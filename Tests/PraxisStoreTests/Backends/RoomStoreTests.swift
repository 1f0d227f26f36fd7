import Foundation
import PraxisDomain
import PraxisRooms
import Testing

@testable import PraxisStore

// The rooms' reads of the store (RoomStore) after journal writes, on each backend (SQLite,
// PostgreSQL): a loaded room, cases, transcripts, the sweeps.

@Suite("Room store", .timeLimit(.minutes(2)))
struct RoomStoreTests {
    // MARK: (d) loading a room

    @Test(arguments: StoreBackend.available)
    func loadRoomReturnsStateTurnsOffsetsAndCases(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal()
            let (host, guest) = (fixture.host, fixture.guest)

            // Round 1, ended.
            var state = RoomState(hostID: host, guestID: guest)
            state.caseIDs = [fixture.case1, nil]
            let roundID = newID()
            let round1: [RoomJournalEntry] = [
                RoomJournalEntry(roomID: room, events: [event(1, "presence", payload: ["user_id": host, "status": "joined"], at: "2026-01-01T09:59:00.000000Z")]),
                RoomJournalEntry(roomID: room, events: [event(2, "presence", payload: ["user_id": guest, "status": "joined"], at: "2026-01-01T10:01:00.000000Z")]),
                RoomJournalEntry(roomID: room, events: [event(3, "case_chosen", round: 1)], state: stateRecord(state)),
                RoomJournalEntry(roomID: room, events: [turnEvent(4, seq: 1, round: 1, clientID: "a", speaker: host, text: "one")]),
                RoomJournalEntry(roomID: room, events: [turnEvent(5, seq: 2, round: 1, clientID: "b", speaker: guest, text: "two")]),
            ]
            for entry in round1 { #expect(await journal.append(entry).succeeded) }
            state.stage = 2
            #expect(await journal.append(RoomJournalEntry(
                roomID: room, events: [event(6, "round_ended", round: 1), event(7, "stage"), event(8, "phase", round: 2)], state: stateRecord(state),
                roundEnd: RoomRoundRecord(roundID: roundID, round: 1, candidateID: host, caseID: fixture.case1, durationSeconds: 60, newStage: 2)
            )).succeeded)

            // Round 2 (a draft case), mid role-play; turns journaled out of seq order.
            state.caseIDs = [fixture.case1, fixture.draftCase]
            state.phase = .roleplay(deadline: 2_000_000_000)
            state.nextSeq = 6
            let saved = stateRecord(state)
            let round2: [RoomJournalEntry] = [
                RoomJournalEntry(roomID: room, events: [event(9, "case_chosen", round: 2), event(10, "phase", round: 2), event(11, "phase", round: 2)], state: saved),
                RoomJournalEntry(roomID: room, events: [turnEvent(12, seq: 4, round: 2, clientID: "a", speaker: guest, text: "four")]),
                RoomJournalEntry(roomID: room, events: [turnEvent(13, seq: 3, round: 2, clientID: "c", speaker: host, text: "three")]),
                RoomJournalEntry(roomID: room, events: [turnEvent(14, seq: 5, round: 2, clientID: "d", speaker: guest, text: "five")]),
                RoomJournalEntry(roomID: room, events: [event(15, "no_show", payload: ["user_id": host])]),
            ]
            for entry in round2 { #expect(await journal.append(entry).succeeded) }

            let loaded = try #require(try await store.loadRoom(id: room, eventLimit: 5, commandLimit: 1024))
            #expect(loaded.id == room)
            #expect(loaded.hostID == host && loaded.guestID == guest)
            #expect(loaded.type == "Clinical")
            #expect(loaded.datetimeUTC == RoomFixture.scheduled)
            #expect(loaded.stage == 2)
            #expect(loaded.roundIDs == [roundID, nil])
            #expect(sameJSON(loaded.stateJSON, saved.json))
            let decoded = try JSONDecoder().decode(RoomState.self, from: Data(try #require(loaded.stateJSON).utf8))
            #expect(decoded.caseIDs == [fixture.case1, fixture.draftCase])
            #expect(loaded.latestOffset == 15)
            #expect(loaded.recentEvents.map(\.offset) == [11, 12, 13, 14, 15], "the latest events, oldest first")
            #expect(loaded.recentEvents.last?.type == "no_show" && loaded.recentEvents.last?.userID == host)
            #expect(loaded.currentTurns.map(\.seq) == [3, 4, 5], "the current round's turns, in seq order")
            #expect(loaded.currentTurns.map(\.clientID) == ["c", "a", "d"])
            #expect(loaded.currentTurns.allSatisfy { $0.round == 2 && $0.type == "turn" })
            #expect(sameJSON(loaded.currentTurns.first?.payloadJSON, round2[2].events[0].payloadJSON))
            #expect(loaded.currentTurns.first?.at == round2[2].events[0].at, "the event's time as written")
            #expect(loaded.maxSeq == 5)
            #expect(loaded.transcriptFrom == 6)
            #expect(Set(loaded.cases.keys) == [fixture.case1, fixture.draftCase])
            #expect(loaded.cases[fixture.case1]?.candidateBrief == "candidate brief of Chest pain")
            #expect(loaded.cases[fixture.case1]?.actorBrief == "actor brief of Chest pain")
            #expect(loaded.cases[fixture.draftCase]?.caseName == "Draft case")
            #expect(loaded.seenSinceScheduled == [guest], "the host was seen before the scheduled time only")
            #expect(loaded.noShows == [host])
            let latest = try await store.changes(after: 0, limit: 100).latest
            #expect(latest > 0 && loaded.seatAsOf == latest, "the seat is as of the latest change")

            // Choosing a case only offers published ones; a loaded room keeps its draft case.
            #expect(try await store.caseBrief(id: fixture.draftCase) == nil)
            #expect(try await store.caseBrief(id: fixture.case2)?.caseName == "Asthma review")
            #expect(try await store.caseBrief(id: "not-a-case") == nil)
            let seat = try #require(try await store.roomSeat(id: room))
            #expect(seat.hostID == host && seat.guestID == guest)
            #expect(try await store.roomParticipants(id: room)?.guest == guest)
            #expect(try await store.roomParticipants(id: newID()) == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func randomCaseFollowsTheFilters(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            let store = world.store
            let published: Set<String> = [fixture.case1, fixture.case2]
            for _ in 0..<5 {
                let any = try #require(try await store.randomCase(profession: nil, domain: nil, difficulty: nil, excluding: nil))
                #expect(published.contains(any.id), "never the draft")
            }
            #expect(try await store.randomCase(profession: "MEDICINE", domain: "clinical", difficulty: "Medium", excluding: fixture.case1)?.id == fixture.case2)
            #expect(try await store.randomCase(profession: "nursing", domain: nil, difficulty: nil, excluding: nil) == nil)
            #expect(try await store.randomCase(profession: nil, domain: "Communication", difficulty: nil, excluding: nil) == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func loadRoomOfAFreshRoomAMissingRoomAndACompleteRoom(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let fresh = try await fixture.room(world, withGuest: false)

            let loaded = try #require(try await store.loadRoom(id: fresh, eventLimit: 100, commandLimit: 1024))
            #expect(loaded.guestID == nil)
            #expect(loaded.stateJSON == nil)
            #expect(loaded.recentEvents.isEmpty && loaded.currentTurns.isEmpty)
            #expect(loaded.latestOffset == 0 && loaded.maxSeq == 0)
            #expect(loaded.cases.isEmpty && loaded.roundIDs == [nil, nil])
            #expect(try await store.loadRoom(id: newID(), eventLimit: 100, commandLimit: 1024) == nil)

            let complete = try await fixture.room(world, stage: 3)
            let journal = world.journal()
            #expect(await journal.append(RoomJournalEntry(roomID: complete, events: [turnEvent(1, seq: 1, round: 2, clientID: "x", speaker: fixture.guest, text: "late")])).succeeded)
            let done = try #require(try await store.loadRoom(id: complete, eventLimit: 100, commandLimit: 1024))
            #expect(done.stage == 3 && done.currentTurns.isEmpty && done.maxSeq == 1 && done.latestOffset == 1)
        }
    }

    /// The round's row takes its transcript from the journal: the round's turns after its
    /// last cancellation, in offset order, those written in the same transaction included;
    /// loading the room says where the current round's turns begin, and reads of older
    /// events come back in offset order.
    @Test(arguments: StoreBackend.available)
    func aRoundsTranscriptIsItsJournaledTurnsAfterTheLastCancellation(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal()
            let cancelled = [
                turnEvent(1, seq: 1, round: 1, clientID: "h-1", speaker: fixture.host, text: "dropped"),
                event(2, "round_cancelled", round: 1, payload: ["round": 1, "reason": "seat_changed"]),
            ]
            #expect(await journal.append(RoomJournalEntry(roomID: room, events: cancelled)).succeeded)
            let kept = [
                turnEvent(3, seq: 2, round: 1, clientID: "h-1", speaker: fixture.host, text: "Good morning."),
                event(4, "presence", payload: ["user_id": fixture.guest, "status": "joined"]),
                turnEvent(5, seq: 3, round: 1, clientID: "g-1", speaker: fixture.guest, text: "Morning, doctor."),
            ]
            #expect(await journal.append(RoomJournalEntry(roomID: room, events: Array(kept.prefix(2)))).succeeded)
            let loaded = try #require(try await store.loadRoom(id: room, eventLimit: 2, commandLimit: 1024))
            #expect(loaded.transcriptFrom == 2 && loaded.currentTurns.map(\.offset) == [3] && loaded.recentEvents.map(\.offset) == [3, 4])
            #expect(try await store.roomEvents(roomID: room, after: 0, before: 4, limit: 10, turnsOnly: false).map(\.offset) == [1, 2, 3])
            #expect(try await store.roomEvents(roomID: room, after: 2, before: 9, limit: 10, turnsOnly: true).map(\.offset) == [3])
            #expect(try await store.roomEvents(roomID: room, after: 0, before: 9, limit: 2, turnsOnly: false).map(\.offset) == [1, 2])

            let roundID = newID()
            let end = RoomJournalEntry(
                roomID: room, events: [kept[2], event(6, "round_ended", round: 1, payload: ["round_id": roundID])],
                roundEnd: RoomRoundRecord(roundID: roundID, round: 1, candidateID: fixture.host, caseID: fixture.case1, durationSeconds: 60, newStage: 2)
            )
            #expect(await journal.append(end).succeeded)
            let transcript = try #require(try await store.roundTranscript(roundID: roundID))
            #expect(sameJSON(transcript, "[" + [kept[0], kept[2]].map(\.payloadJSON).joined(separator: ",") + "]"))
            #expect(try await store.roundTranscript(roundID: newID()) == nil)
            #expect(try await store.loadRoom(id: room, eventLimit: 10, commandLimit: 1024)?.transcriptFrom == 6)
        }
    }

    // MARK: (f) sweeps

    @Test(arguments: StoreBackend.available)
    func roomsMidRoundAreThoseInPreparationOrRoleplay(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            let journal = world.journal()
            var expected: Set<String> = []
            for phase in ["waiting", "preparation", "roleplay", "ended", nil] {
                let room = try await fixture.room(world)
                if let phase {
                    #expect(await journal.append(RoomJournalEntry(roomID: room, state: RoomStateRecord(phase: phase, json: "{}"))).succeeded)
                }
                if phase == "preparation" || phase == "roleplay" { expected.insert(room) }
            }
            #expect(Set(try await world.store.roomsMidRound()) == expected)
            #expect(expected.count == 2)
        }
    }

    @Test(arguments: StoreBackend.available)
    func roomsDueForTheNoShowCheck(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let journal = world.journal()
            func at(_ time: String) -> String { "2026-01-01T\(time):00.000000Z" }

            let notStarted = try await fixture.room(world, at: at("10:00"))
            let waiting = try await fixture.room(world, at: at("09:30"))
            #expect(await journal.append(RoomJournalEntry(roomID: waiting, events: [event(1, "presence", payload: ["user_id": fixture.host])], state: RoomStateRecord(phase: "waiting", json: "{}"))).succeeded)
            let started = try await fixture.room(world, at: at("10:30"))
            #expect(await journal.append(RoomJournalEntry(roomID: started, state: RoomStateRecord(phase: "preparation", json: "{}"))).succeeded)
            let recorded = try await fixture.room(world, at: at("10:15"))
            #expect(await journal.append(RoomJournalEntry(roomID: recorded, events: [event(1, "no_show", payload: ["user_id": fixture.guest])])).succeeded)
            _ = try await fixture.room(world, at: at("08:59"))
            _ = try await fixture.room(world, at: at("11:01"))
            let roundTwo = try await fixture.room(world, at: at("10:45"), stage: 2)
            #expect(await journal.append(RoomJournalEntry(roomID: roundTwo, state: RoomStateRecord(phase: "waiting", json: "{}"))).succeeded)
            let atFrom = try await fixture.room(world, at: at("09:00"))
            let atTo = try await fixture.room(world, at: at("11:00"))
            let noGuest = try await fixture.room(world, at: at("10:50"), withGuest: false)

            let due = try await store.roomsDueForNoShowCheck(from: at("09:00"), to: at("11:00"))
            #expect(due == [atFrom, waiting, notStarted, noGuest, atTo], "stage 1, in the window (inclusive), not started, no no-show yet; by scheduled time")
            #expect(!due.contains(started) && !due.contains(recorded) && !due.contains(roundTwo))
            #expect(try await store.roomsDueForNoShowCheck(from: at("09:00"), to: at("11:00"), limit: 2) == [atFrom, waiting])
            #expect(try await store.roomsDueForNoShowCheck(from: at("12:00"), to: at("13:00")).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.available)
    func unassessedRoundsAreCompletedRoundsWithoutAssessmentOldestFirst(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            let roomA = try await fixture.room(world)
            let roomB = try await fixture.room(world)
            let roomC = try await fixture.room(world, withGuest: false)
            let (newer, older, assessed, abandoned, inProgress) = (newID(), newID(), newID(), newID(), newID())
            func insert(_ id: String, room: String, round: Int, status: String, assessment: String?, created: String) async throws {
                try await world.execute("""
                    INSERT INTO practice_rounds (id, room_id, round, candidate_id, case_briefs_id, transcript, assessment, status, created_at)
                    VALUES ('\(id)', '\(room)', \(round), '\(fixture.host)', '\(fixture.case1)', '[{"seq":1}]', \(assessment.map { "'\($0)'" } ?? "NULL"),
                        '\(status)', '\(created)')
                    """)
            }
            try await insert(newer, room: roomA, round: 2, status: "completed", assessment: nil, created: "2026-01-02T00:00:00.000000Z")
            try await insert(older, room: roomA, round: 1, status: "completed", assessment: nil, created: "2026-01-01T00:00:00.000000Z")
            try await insert(assessed, room: roomB, round: 1, status: "completed", assessment: "{}", created: "2025-12-01T00:00:00.000000Z")
            try await insert(abandoned, room: roomB, round: 2, status: "abandoned", assessment: nil, created: "2025-12-02T00:00:00.000000Z")
            try await insert(inProgress, room: roomC, round: 1, status: "in_progress", assessment: nil, created: "2025-11-01T00:00:00.000000Z")
            let rounds = try await world.store.unassessedRounds()
            #expect(rounds.map(\.roundID) == [older, newer])
            #expect(rounds.first?.roomID == roomA && rounds.first?.round == 1 && rounds.first?.caseID == fixture.case1)
            #expect(sameJSON(rounds.first?.transcriptJSON, #"[{"seq":1}]"#))
            #expect(try await world.store.unassessedRounds(limit: 1).map(\.roundID) == [older])
        }
    }
}
