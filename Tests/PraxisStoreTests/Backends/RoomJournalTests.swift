import Foundation
import PraxisDomain
import PraxisRooms
import Testing

@testable import PraxisStore

// The room journal (group commit, round persistence, one bad entry failing alone, command
// idempotency) and the room reads of the store, on each backend (SQLite, PostgreSQL).

@Suite("Room journal", .timeLimit(.minutes(2)))
struct RoomJournalTests {
    // MARK: (a) group commit

    @Test(arguments: StoreBackend.available)
    func manyConcurrentAppendsAreAllDurableInOrder(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            var rooms: [String] = []
            for _ in 0..<5 { rooms.append(try await fixture.room(world)) }
            let perRoom = 100
            let journal = world.journal()
            let completions = JournalCompletions(expected: rooms.count * perRoom)

            await withTaskGroup(of: Void.self) { group in
                for room in rooms {
                    group.addTask {
                        for i in 1...perRoom {
                            let entry = RoomJournalEntry(
                                roomID: room,
                                events: [turnEvent(Int64(i), seq: i, round: 1, clientID: "c-\(i)", speaker: fixture.host, text: "turn \(i) of \(room)")],
                                state: RoomStateRecord(phase: "roleplay", json: jsonText(["n": i]))
                            )
                            journal.append(entry, completion: completions.completion(room: room, offset: Int64(i)))
                        }
                    }
                }
            }
            await completions.wait()

            #expect(completions.results.values.allSatisfy { if case .success = $0 { true } else { false } })
            for room in rooms {
                #expect(completions.order[room] == (1...perRoom).map(Int64.init), "completions run in submission order")
            }
            let counts = journal.counts
            #expect(counts.entries == rooms.count * perRoom)
            #expect(counts.batches > 0 && counts.batches <= counts.entries)

            for room in rooms {
                let events = try await store.roomEvents(roomID: room, after: 0, before: .max, limit: 1000, turnsOnly: false)
                #expect(events.count == perRoom)
                for (index, event) in events.enumerated() {
                    let i = index + 1
                    #expect(event.offset == Int64(i))
                    #expect(event.seq == i)
                    #expect(event.clientID == "c-\(i)")
                    #expect(event.payloadJSON.contains("turn \(i) of \(room)"))
                }
                let saved = try await world.texts("SELECT CAST(phase AS TEXT), CAST(state AS TEXT) FROM room_runtime WHERE room_id = '\(room)'")
                #expect(saved.first?[0] == "roleplay")
                #expect(sameJSON(saved.first?[1], jsonText(["n": perRoom])), "the room's last state wins")
            }
        }
    }

    @Test(arguments: StoreBackend.available)
    func entriesQueuedBehindAWriteCommitTogether(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            var rooms: [String] = []
            for _ in 0..<4 { rooms.append(try await fixture.room(world)) }
            let perRoom = 125
            let journal = world.journal()
            let completions = JournalCompletions(expected: rooms.count * perRoom)
            let gate = try await world.holdWriter()

            await withTaskGroup(of: Void.self) { group in
                for room in rooms {
                    group.addTask {
                        for i in 1...perRoom {
                            let entry = RoomJournalEntry(
                                roomID: room, events: [turnEvent(Int64(i), seq: i, round: 1, clientID: "c-\(i)", speaker: fixture.guest, text: "t\(i)")]
                            )
                            journal.append(entry, completion: completions.completion(room: room, offset: Int64(i)))
                        }
                    }
                }
            }
            // Nothing can be durable while the writer is held.
            #expect(completions.results.isEmpty)
            gate.open()
            await completions.wait()

            #expect(completions.results.count == 500)
            #expect(completions.results.values.allSatisfy { if case .success = $0 { true } else { false } })
            let counts = journal.counts
            #expect(counts.entries == 500)
            // The first transaction took what was queued when it started (it then waited for the
            // writer); everything queued meanwhile went into the next one.
            #expect(counts.batches < counts.entries, "group commit: fewer transactions than entries")
            #expect(counts.batches <= 2)
            #expect(try await world.count("room_events") == 500)
            for room in rooms {
                #expect(completions.order[room] == (1...perRoom).map(Int64.init))
            }
        }
    }

    @Test(arguments: StoreBackend.available)
    func theQueueSaysWhenItIsFull(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal(maxPending: 3)
            let completions = JournalCompletions(expected: 4)
            let gate = try await world.holdWriter()
            #expect(!journal.isFull)
            for i in 1...4 {
                let entry = RoomJournalEntry(
                    roomID: room, events: [turnEvent(Int64(i), seq: i, round: 1, clientID: "c-\(i)", speaker: fixture.guest, text: "t\(i)")]
                )
                journal.append(entry, completion: completions.completion(room: room, offset: Int64(i)))
            }
            // Four entries are not durable (some may be taken into the waiting transaction).
            #expect(journal.isFull)
            #expect(journal.hasWork)
            gate.open()
            await completions.wait()
            await journal.waitUntilWritten()
            #expect(!journal.isFull && !journal.hasWork)
            #expect(completions.results.values.allSatisfy { if case .success = $0 { true } else { false } })
        }
    }

    /// A turn is acknowledged only once committed: while the transaction waits, no
    /// completion has run and a reader sees none of the entries.
    @Test(arguments: StoreBackend.available)
    func completionsRunOnlyAfterCommit(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal()
            let completions = JournalCompletions(expected: 3)
            let gate = try await world.holdWriter()
            for i in 1...3 {
                let entry = RoomJournalEntry(
                    roomID: room, events: [turnEvent(Int64(i), seq: i, round: 1, clientID: "c-\(i)", speaker: fixture.host, text: "t\(i)")]
                )
                journal.append(entry, completion: completions.completion(room: room, offset: Int64(i)))
            }
            #expect(try await eventually { journal.counts.batches >= 1 })
            #expect(completions.results.isEmpty, "nothing acknowledged before COMMIT")
            #expect(try await world.store.roomEvents(roomID: room, after: 0, before: .max, limit: 10, turnsOnly: false).isEmpty)
            gate.open()
            await completions.wait()
            #expect(completions.order[room] == [1, 2, 3])
            let stored = try await world.store.roomEvents(roomID: room, after: 0, before: .max, limit: 10, turnsOnly: false)
            #expect(stored.map(\.offset) == [1, 2, 3], "every acknowledged entry is there")
        }
    }

    // MARK: (b) round end

    @Test(arguments: StoreBackend.available)
    func aRoundEndWritesTheRoundAndMovesTheRoomInOneTransaction(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let heard = HeardChanges()
            heard.listen(to: store)
            let journal = world.journal()

            var state = RoomState(hostID: fixture.host, guestID: fixture.guest)
            state.caseIDs = [fixture.case1, nil]
            state.phase = .roleplay(deadline: 1000)
            let turns = [
                turnEvent(1, seq: 1, round: 1, clientID: "h-1", speaker: fixture.host, text: "Hello, I'm Dr Lee."),
                turnEvent(2, seq: 2, round: 1, clientID: "g-1", speaker: fixture.guest, text: "Hello doctor."),
            ]
            #expect(await journal.append(RoomJournalEntry(roomID: room, events: turns, state: stateRecord(state))).succeeded)
            #expect(heard.all.isEmpty, "turns alone change no published table")

            let roundID = newID()
            let transcript = "[" + turns.map(\.payloadJSON).joined(separator: ",") + "]"
            state.stage = 2
            state.phase = .waiting
            let end = RoomJournalEntry(
                roomID: room,
                events: [
                    event(3, "phase", round: 1, payload: ["phase": "ended"]),
                    event(4, "round_ended", round: 1, payload: ["round_id": roundID, "reason": "ended_by_peer"]),
                    event(5, "stage", payload: ["stage": 2]),
                ],
                state: stateRecord(state),
                roundEnd: RoomRoundRecord(
                    roundID: roundID, round: 1, candidateID: fixture.host, caseID: fixture.case1, durationSeconds: 123, newStage: 2
                )
            )
            #expect(await journal.append(end).succeeded)

            let round = try #require(try await world.storedRow("practice_rounds", id: roundID))
            #expect(round["room_id"] == .text(room))
            #expect(round["round"] == .integer(1))
            #expect(round["candidate_id"] == .text(fixture.host))
            #expect(round["case_briefs_id"] == .text(fixture.case1))
            #expect(sameJSON(round["transcript"]?.textValue, transcript))
            #expect(round["status"] == .text("completed"))
            #expect(round["duration_seconds"] == .integer(123))
            #expect(round["assessment"] == .null)
            let roomAfter = try #require(try await world.storedRow("practice_rooms", id: room))
            #expect(roomAfter["first_round_id"] == .text(roundID))
            #expect(roomAfter["second_round_id"] == .null)
            #expect(roomAfter["stage"] == .integer(2))
            #expect(try await world.text("SELECT CAST(phase AS TEXT) FROM room_runtime WHERE room_id = '\(room)'") == "waiting")
            #expect(try await store.roundTranscript(roundID: roundID).map { sameJSON($0, transcript) } == true)

            // The listener heard both changes, after the commit, with the new stage.
            let changes = heard.all
            let insert = changes.first { $0.table == "practice_rounds" && $0.kind == .insert }
            #expect(insert?.record?["id"] == .text(roundID))
            #expect(insert?.record?["status"] == .text("completed"))
            #expect(insert?.record?["room_id"] == .text(room))
            let update = changes.first { $0.table == "practice_rooms" && $0.kind == .update }
            #expect(update?.record?["id"] == .text(room))
            #expect(update?.record?["stage"] == .integer(2))
            #expect(update?.record?["first_round_id"] == .text(roundID))
            #expect(update?.oldRecord?["stage"] == .integer(1))
            #expect(update?.oldRecord?["first_round_id"] == .null)
            #expect(changes.count == 2)
            if let insert, let update { #expect(insert.offset < update.offset) }
            // The same changes are in the change log, for subscribers that resume.
            let logged = try await store.changes(after: 0, limit: 10).changes
            #expect(logged.map(\.table) == ["practice_rounds", "practice_rooms"])
            #expect(logged.map(\.offset) == changes.map(\.offset))

            // Round 2 ends the room: second_round_id and stage 3.
            let secondID = newID()
            let second = RoomJournalEntry(
                roomID: room,
                events: [event(6, "round_ended", round: 2, payload: ["round_id": secondID]), event(7, "stage", payload: ["stage": 3])],
                roundEnd: RoomRoundRecord(
                    roundID: secondID, round: 2, candidateID: fixture.guest, caseID: fixture.case2, durationSeconds: 0, newStage: 3
                )
            )
            #expect(await journal.append(second).succeeded)
            let doneRow = try #require(try await world.storedRow("practice_rooms", id: room))
            #expect(doneRow["first_round_id"] == .text(roundID))
            #expect(doneRow["second_round_id"] == .text(secondID))
            #expect(doneRow["stage"] == .integer(3))
            let last = heard.all.last { $0.table == "practice_rooms" }
            #expect(last?.record?["stage"] == .integer(3))
            #expect(last?.record?["second_round_id"] == .text(secondID))
            #expect(try await store.roundTranscript(roundID: secondID) .map { sameJSON($0, "[]") } == true, "a round without turns")
        }
    }

    /// A round end and its assessment publish each row as stored after the change (the
    /// touch trigger's `updated_at` included), and its old record as stored before.
    @Test(arguments: StoreBackend.available)
    func aRoundEndsChangesCarryTheRowsAsStored(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let roomBefore = try #require(try await world.storedRow("practice_rooms", id: room))
            let heard = HeardChanges()
            heard.listen(to: store)
            let journal = world.journal()
            let roundID = newID()
            let turn = turnEvent(1, seq: 1, round: 1, clientID: "h-1", speaker: fixture.host, text: "How can I help?")
            #expect(await journal.append(RoomJournalEntry(
                roomID: room, events: [turn, event(2, "round_ended", round: 1, payload: ["round_id": roundID])],
                roundEnd: RoomRoundRecord(roundID: roundID, round: 1, candidateID: fixture.host, caseID: fixture.case1, durationSeconds: 61, newStage: 2)
            )).succeeded)
            let roundAfterEnd = try #require(try await world.storedRow("practice_rounds", id: roundID))
            let roomAfterEnd = try #require(try await world.storedRow("practice_rooms", id: room))
            let ended = heard.all
            #expect(ended.map(\.table) == ["practice_rounds", "practice_rooms"])
            #expect(ended.first?.record == roundAfterEnd)
            #expect(ended.first?.oldRecord == nil)
            #expect(ended.last?.record == roomAfterEnd)
            #expect(ended.last?.oldRecord == roomBefore)

            var entry = RoomJournalEntry(roomID: room, events: [event(3, "assessment", round: 1, payload: ["round_id": roundID])])
            let report = FeedbackReportRecord(transcriptText: "t", summary: "s", scoreRaw: 3, strengths: "[]", areasForImprovement: "[]")
            entry.assessment = RoomAssessmentRecord(roundID: roundID, assessmentJSON: jsonText(["mark": "B"]), report: report)
            #expect(await journal.append(entry).succeeded)
            let roundAssessed = try #require(try await world.storedRow("practice_rounds", id: roundID))
            let assessed = try #require(heard.all.dropFirst(2).first)
            #expect(heard.all.count == 3)
            #expect(assessed.kind == .update)
            #expect(assessed.record == roundAssessed)
            #expect(assessed.oldRecord == roundAfterEnd)
            let logged = try await store.changes(after: 0, limit: 10).changes
            #expect(logged == heard.all, "the log holds what the live feed heard")
        }
    }

    @Test(arguments: StoreBackend.available)
    func aRoundEndThatCannotBeWrittenWritesNothingOfItsEntry(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal()
            let heard = HeardChanges()
            heard.listen(to: world.store)
            let before = try await world.storedRow("practice_rooms", id: room)

            // The round's case does not exist: the practice_rounds insert fails.
            let entry = RoomJournalEntry(
                roomID: room,
                events: [event(1, "round_ended", round: 1), event(2, "stage", payload: ["stage": 2])],
                state: RoomStateRecord(phase: "waiting", json: jsonText(["stage": 2])),
                roundEnd: RoomRoundRecord(
                    roundID: newID(), round: 1, candidateID: fixture.host, caseID: newID(), durationSeconds: 5, newStage: 2
                )
            )
            guard case .failure = await journal.append(entry) else {
                Issue.record("a round with a missing case must fail")
                return
            }
            #expect(try await world.count("room_events") == 0)
            #expect(try await world.count("practice_rounds") == 0)
            #expect(try await world.count("room_runtime") == 0)
            #expect(try await world.storedRow("practice_rooms", id: room) == before)
            #expect(heard.all.isEmpty)
            #expect(try await world.store.changes(after: 0, limit: 10).changes.isEmpty, "nothing logged")
        }
    }

    // MARK: (c) one bad entry fails alone

    @Test(arguments: StoreBackend.available)
    func aBadEntryFailsAloneInItsBatch(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let other = try await fixture.room(world)
            let journal = world.journal()
            let completions = JournalCompletions(expected: 6)
            let gate = try await world.holdWriter()

            // A first entry takes the first transaction, which waits for the writer ...
            journal.append(RoomJournalEntry(roomID: other, events: [event(1, "ready")]), completion: completions.completion(room: other, offset: 1, label: "primer"))
            #expect(try await eventually { journal.counts.batches == 1 })
            // ... so these five queue up and are written as one batch.
            let missingRoom = newID()
            let entries: [(String, RoomJournalEntry)] = [
                ("good-1", RoomJournalEntry(roomID: room, events: [event(1, "ready", payload: ["n": 1])], state: RoomStateRecord(phase: "waiting", json: jsonText(["mark": "good-1"])))),
                ("duplicate-offset", RoomJournalEntry(roomID: room, events: [event(2, "ready", payload: ["bad": 2]), event(1, "ready", payload: ["bad": 1])], state: RoomStateRecord(phase: "waiting", json: jsonText(["mark": "bad"])))),
                ("good-2", RoomJournalEntry(roomID: room, events: [event(2, "ready", payload: ["n": 2])], state: RoomStateRecord(phase: "waiting", json: jsonText(["mark": "good-2"])))),
                ("missing-room", RoomJournalEntry(roomID: missingRoom, events: [event(1, "ready")], state: RoomStateRecord(phase: "waiting", json: "{}"))),
                ("good-3", RoomJournalEntry(roomID: room, events: [event(3, "ready", payload: ["n": 3])], state: RoomStateRecord(phase: "waiting", json: jsonText(["mark": "good-3"])))),
            ]
            for (index, (label, entry)) in entries.enumerated() {
                journal.append(entry, completion: completions.completion(room: "batch", offset: Int64(index), label: label))
            }
            gate.open()
            await completions.wait()

            let results = completions.results
            func succeeded(_ label: String) -> Bool { if case .success? = results[label] { true } else { false } }
            func failed(_ label: String) -> Bool { if case .failure? = results[label] { true } else { false } }
            #expect(succeeded("primer"))
            #expect(succeeded("good-1") && succeeded("good-2") && succeeded("good-3"))
            #expect(failed("duplicate-offset"))
            #expect(failed("missing-room"))
            #expect(journal.counts.batches == 2, "the five went into one transaction")
            #expect(journal.counts.entries == 6)
            #expect(completions.order["batch"] == [0, 1, 2, 3, 4], "completions in submission order")

            let events = try await world.store.roomEvents(roomID: room, after: 0, before: .max, limit: 10, turnsOnly: false)
            #expect(events.map(\.offset) == [1, 2, 3])
            #expect(events.allSatisfy { !$0.payloadJSON.contains("bad") }, "nothing of the bad entry was written")
            #expect(try await world.count("room_events WHERE room_id = '\(missingRoom)'") == 0)
            let runtime = try await world.text("SELECT CAST(state AS TEXT) FROM room_runtime WHERE room_id = '\(room)'")
            #expect(sameJSON(runtime, jsonText(["mark": "good-3"])))
        }
    }

    // MARK: (c2) command idempotency

    /// A command's reply is kept once per room, user and client id (a retry, even after a
    /// restart, gets the first answer); a loaded room holds them.
    @Test(arguments: StoreBackend.available)
    func commandRepliesAreKeptOncePerRoomUserAndClientID(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal()
            func command(_ client: String, _ reply: [String: Any], user: String? = nil) -> RoomCommandRecord {
                RoomCommandRecord(userID: user ?? fixture.host, clientID: client, fingerprint: "ready|{}", replyJSON: jsonText(reply))
            }
            let completions = JournalCompletions(expected: 4)
            // One batch: the same key twice (the second is ignored), and two more commands.
            let gate = try await world.holdWriter()
            let appended: [RoomJournalEntry] = [
                RoomJournalEntry(roomID: room, events: [event(1, "ready")], command: command("c-1", ["n": 1])),
                RoomJournalEntry(roomID: room, events: [event(2, "ready")], command: command("c-1", ["n": 99])),
                RoomJournalEntry(roomID: room, events: [event(3, "ready")], command: command("c-2", ["n": 2])),
                RoomJournalEntry(roomID: room, events: [event(4, "ready")], command: command("c-1", ["n": 3], user: fixture.guest)),
            ]
            for (index, entry) in appended.enumerated() {
                journal.append(entry, completion: completions.completion(room: room, offset: Int64(index)))
            }
            gate.open()
            await completions.wait()
            #expect(completions.results.values.allSatisfy { $0.succeeded })
            // A retry in a later transaction is ignored too.
            #expect(await journal.append(RoomJournalEntry(roomID: room, events: [event(5, "ready")], command: command("c-2", ["n": 98]))).succeeded)

            let loaded = try #require(try await world.store.loadRoom(id: room, eventLimit: 10, commandLimit: 10))
            #expect(loaded.commands.count == 3)
            let replies = Dictionary(loaded.commands.map { ("\($0.userID)/\($0.clientID)", $0.replyJSON) }, uniquingKeysWith: { first, _ in first })
            #expect(sameJSON(replies["\(fixture.host)/c-1"], jsonText(["n": 1])), "the first reply is kept")
            #expect(sameJSON(replies["\(fixture.host)/c-2"], jsonText(["n": 2])))
            #expect(sameJSON(replies["\(fixture.guest)/c-1"], jsonText(["n": 3])), "the key is per user")
            #expect(loaded.commands.allSatisfy { $0.fingerprint == "ready|{}" })
            #expect(try await world.count("room_commands") == 3)
        }
    }

    // MARK: (e) assessments

    @Test(arguments: StoreBackend.available)
    func saveAssessmentStoresOnceAndReportsTheSecondTime(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal()
            let roundID = newID()
            #expect(await journal.append(RoomJournalEntry(
                roomID: room, events: [event(1, "round_ended", round: 1)],
                roundEnd: RoomRoundRecord(roundID: roundID, round: 1, candidateID: fixture.host, caseID: fixture.case1, durationSeconds: 200, newStage: 2)
            )).succeeded)
            #expect(try await store.unassessedRounds().map(\.roundID) == [roundID])
            let heard = HeardChanges()
            heard.listen(to: store)

            let assessment = jsonText(["assessor": "heuristic-v1", "score_raw": 9, "score_max": 15])
            let report = FeedbackReportRecord(transcriptText: "host: hello", summary: "Good start.", scoreRaw: 9, strengths: "Rapport", areasForImprovement: "Structure")
            #expect(try await world.saveAssessment(roundID: roundID, assessmentJSON: assessment, report: report))
            let second = FeedbackReportRecord(transcriptText: "other", summary: "Other.", scoreRaw: 1, strengths: "-", areasForImprovement: "-")
            #expect(try await world.saveAssessment(roundID: roundID, assessmentJSON: jsonText(["assessor": "again"]), report: second) == false)
            #expect(try await world.saveAssessment(roundID: newID(), assessmentJSON: assessment, report: report) == false, "no such round")

            let stored = try await world.text("SELECT CAST(assessment AS TEXT) FROM practice_rounds WHERE id = '\(roundID)'")
            #expect(sameJSON(stored, assessment))
            let reports = try await world.texts("""
                SELECT CAST(session_id AS TEXT), transcript, ai_summary, CAST(score_raw AS TEXT), strengths, areas_for_improvement FROM feedback_reports
                """)
            #expect(reports.count == 1)
            #expect(reports.first == [roundID, "host: hello", "Good start.", "9", "Rapport", "Structure"])
            #expect(try await store.unassessedRounds().isEmpty)

            let changes = heard.all
            #expect(changes.count == 1, "one UPDATE of the round; nothing for the refused second save")
            #expect(changes.first?.table == "practice_rounds" && changes.first?.kind == .update)
            #expect(sameJSON(changes.first?.record?["assessment"]?.textValue, assessment))
            #expect(changes.first?.oldRecord?["assessment"] == .null)
        }
    }

    /// The rooms store an assessment through the journal, with its event: the same write,
    /// once, group-committed with the turns.
    @Test(arguments: StoreBackend.available)
    func anAssessmentJournaledWithItsEventIsStoredOnce(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal()
            let roundID = newID()
            #expect(await journal.append(RoomJournalEntry(
                roomID: room, events: [event(1, "round_ended", round: 1)],
                roundEnd: RoomRoundRecord(roundID: roundID, round: 1, candidateID: fixture.host, caseID: fixture.case1, durationSeconds: 20, newStage: 2)
            )).succeeded)
            let heard = HeardChanges()
            heard.listen(to: store)
            let report = FeedbackReportRecord(transcriptText: "t", summary: "s", scoreRaw: 4, strengths: "[]", areasForImprovement: "[]")
            for (offset, mark) in [(Int64(2), "first"), (3, "second")] {
                var entry = RoomJournalEntry(roomID: room, events: [event(offset, "assessment", round: 1, payload: ["round_id": roundID])])
                entry.assessment = RoomAssessmentRecord(roundID: roundID, assessmentJSON: jsonText(["mark": mark]), report: report)
                #expect(await journal.append(entry).succeeded, "a second assessment is left out, not an error")
            }
            #expect(sameJSON(try await world.text("SELECT CAST(assessment AS TEXT) FROM practice_rounds WHERE id = '\(roundID)'"), jsonText(["mark": "first"])))
            #expect(try await world.count("feedback_reports") == 1)
            #expect(try await store.roomEvents(roomID: room, after: 0, before: .max, limit: 10, turnsOnly: false).map(\.type) == ["round_ended", "assessment", "assessment"])
            #expect(heard.all.map(\.table) == ["practice_rounds"])
            #expect(try await store.unassessedRounds().isEmpty)
        }
    }

    /// An assessment leaves the round's transcript alone: its change is logged with the
    /// transcript once (in `record`), its `old_record` only the columns it changed; read back
    /// from the log (a resume), the old row is whole again, as the live feed heard it.
    @Test("an UPDATE's old record is logged as its changed columns and read back whole", arguments: StoreBackend.available)
    func anUpdatesOldRecordIsLoggedAsItsChangedColumns(backend: StoreBackend) async throws {
        try await backend.withRooms { world in
            let store = world.store
            let fixture = try await RoomFixture.make(world)
            let room = try await fixture.room(world)
            let journal = world.journal()
            let roundID = newID()
            let text = String(repeating: "Tell me \"more\".\n", count: 40)
            let turn = turnEvent(1, seq: 1, round: 1, clientID: "c1", speaker: fixture.host, text: text)
            #expect(await journal.append(RoomJournalEntry(
                roomID: room, events: [turn, event(2, "round_ended", round: 1)],
                roundEnd: RoomRoundRecord(roundID: roundID, round: 1, candidateID: fixture.host, caseID: fixture.case1, durationSeconds: 20, newStage: 2)
            )).succeeded)
            let heard = HeardChanges()
            heard.listen(to: store)
            var entry = RoomJournalEntry(roomID: room, events: [event(3, "assessment", round: 1, payload: ["round_id": roundID])])
            let report = FeedbackReportRecord(transcriptText: "t", summary: "s", scoreRaw: 4, strengths: "[]", areasForImprovement: "[]")
            entry.assessment = RoomAssessmentRecord(roundID: roundID, assessmentJSON: jsonText(["mark": "first"]), report: report)
            #expect(await journal.append(entry).succeeded)

            let live = try #require(heard.all.first { $0.table == "practice_rounds" && $0.kind == .update })
            let transcript = try #require(live.record?["transcript"])
            guard case .text(let transcriptText) = transcript else { Issue.record("no transcript"); return }
            #expect(transcriptText.contains("Tell me"))
            #expect(live.oldRecord?["transcript"] == transcript, "the live feed has the whole old row")
            #expect(live.oldRecord?["assessment"] == .null && live.record?["assessment"] != .null)
            let stored = try #require(try await world.texts("""
                SELECT CAST(old_record AS TEXT), CAST(old_record_changes_only AS TEXT) FROM realtime_changes
                WHERE table_name = 'practice_rounds' AND type = 'UPDATE'
                """).first)
            let oldKeys = try #require(JSONSerialization.jsonObject(with: Data((stored[0] ?? "").utf8)) as? [String: Any]).keys
            #expect(oldKeys.contains("assessment") && !oldKeys.contains("transcript") && !oldKeys.contains("id"))
            #expect(["1", "true"].contains(stored[1]))
            let logged = try await store.changes(after: 0, limit: 100).changes.first { $0.offset == live.offset }
            #expect(logged == live, "read back from the log: the same change, its old row whole")
        }
    }
}
