import Dispatch
import Foundation
import GRDB
import PraxisDomain
import PraxisRooms
import Synchronization
import Testing

@testable import PraxisStore

// The room journal (group commit, round persistence, one bad entry failing alone) and the
// room reads of the store, on a real SQLite file.

/// Users, cases and rooms for the journal tests.
struct RoomFixture {
    var host: String
    var guest: String
    /// Published cases.
    var case1: String
    var case2: String
    /// A draft case (not offered by choose_case, but a room that chose it still loads it).
    var draftCase: String

    static let scheduled = "2026-01-01T10:00:00.000000Z"

    static func make(_ store: Store) throws -> RoomFixture {
        try store.pool.write { db in
            let host = try insertUser(db, email: "host-\(newID())@b.test")
            let guest = try insertUser(db, email: "guest-\(newID())@b.test")
            return RoomFixture(
                host: host, guest: guest,
                case1: try insertCase(db, name: "Chest pain"),
                case2: try insertCase(db, name: "Asthma review"),
                draftCase: try insertCase(db, name: "Draft case", status: "draft")
            )
        }
    }

    static func insertCase(_ db: Database, name: String, status: String = "published") throws -> String {
        let id = newID()
        try db.execute(
            sql: """
                INSERT INTO case_briefs (id, category, condition, case_name, case_name_internal, domain, candidate_brief,
                    actor_brief, target_profession, clinical_area, difficulty_level, status)
                VALUES (?, 'cat', 'cond', ?, ?, 'Clinical', ?, ?, 'medicine', 'GP', 'medium', ?)
                """,
            arguments: [id, name, "\(name) \(id)", "candidate brief of \(name)", "actor brief of \(name)", status]
        )
        return id
    }

    /// A room hosted by the host (with the guest seated unless told otherwise).
    @discardableResult
    func room(_ store: Store, at scheduled: String = RoomFixture.scheduled, withGuest: Bool = true, stage: Int = 1) throws -> String {
        let id = newID()
        try store.pool.write { db in
            try db.execute(
                sql: "INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, stage) VALUES (?, ?, ?, ?, 'Clinical', ?, ?)",
                arguments: [id, host, withGuest ? guest : nil, scheduled, "https://rooms.test/\(id)", stage]
            )
        }
        return id
    }
}

/// JSON text of an object (sorted keys, so it compares as text).
func jsonText(_ object: [String: Any]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

func event(_ offset: Int64, _ type: String, round: Int? = nil, clientID: String? = nil, seq: Int? = nil, payload: [String: Any] = [:], at: String? = nil) -> RoomEventRecord {
    let at = at ?? PraxisDomain.Timestamp.now()
    var payload = payload
    payload["offset"] = offset
    payload["at"] = at
    // The user an event is about is a column of its own (as the room shell writes it).
    let userID = payload["user_id"] as? String
    return RoomEventRecord(
        offset: offset, type: type, round: round, clientID: clientID, seq: seq, payloadJSON: jsonText(payload), at: at, userID: userID
    )
}

func turnEvent(_ offset: Int64, seq: Int, round: Int, clientID: String, speaker: String, text: String) -> RoomEventRecord {
    event(offset, "turn", round: round, clientID: clientID, seq: seq, payload: [
        "seq": seq, "round": round, "speaker_id": speaker, "text": text, "client_turn_id": clientID,
    ])
}

/// A room state as the engine saves it.
func stateRecord(_ state: RoomState) -> RoomStateRecord {
    RoomStateRecord(phase: state.phase.name, caseIDs: state.caseIDs, json: String(decoding: try! JSONEncoder().encode(state), as: UTF8.self))
}

extension Result where Success == Void {
    var succeeded: Bool {
        if case .success = self { return true }
        return false
    }
}

extension RoomJournal {
    /// Appends and waits until the entry is durable (or failed).
    func append(_ entry: RoomJournalEntry) async -> Result<Void, StoreError> {
        await withCheckedContinuation { continuation in
            append(entry) { continuation.resume(returning: $0) }
        }
    }
}

/// Completions of many appends: the order they ran in per room, and a wait for all of them.
final class JournalCompletions: Sendable {
    private struct State {
        var expected: Int
        var done = 0
        var order: [String: [Int64]] = [:]
        var results: [String: Result<Void, StoreError>] = [:]
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>

    init(expected: Int) {
        state = Mutex(State(expected: expected))
    }

    /// A completion for the entry `label`, recording it under `room`/`offset`.
    func completion(room: String, offset: Int64, label: String? = nil) -> RoomJournal.Completion {
        { result in
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.order[room, default: []].append(offset)
                state.results[label ?? "\(room)#\(offset)"] = result
                state.done += 1
                guard state.done == state.expected else { return nil }
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state -> Bool in
                if state.done >= state.expected { return true }
                state.waiter = continuation
                return false
            }
            if finished { continuation.resume() }
        }
    }

    var order: [String: [Int64]] { state.withLock { $0.order } }
    var results: [String: Result<Void, StoreError>] { state.withLock { $0.results } }
}

/// Holds the database's writer (a write transaction that waits), so journal entries queue up
/// behind it: the way to make group commit observable without timing anything.
final class WriterGate: @unchecked Sendable {
    private let release = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Returns once the writer is held.
    func hold(_ store: Store) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                _ = try? store.pool.write { _ in
                    continuation.resume()
                    self.release.wait()
                }
                self.finished.signal()
            }
        }
    }

    func open() {
        release.signal()
    }
}

/// What the change listener heard.
final class HeardChanges: Sendable {
    private let records = Mutex<[ChangeRecord]>([])

    func listen(to store: Store) {
        store.setChangeListener { changes in self.records.withLock { $0 += changes } }
    }

    var all: [ChangeRecord] { records.withLock { $0 } }
}

/// Polls `condition` for up to about 10 s (for a state the test itself causes).
func eventually(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<1000 {
        if condition() { return true }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
    return condition()
}

@Suite("Room journal", .timeLimit(.minutes(2)))
struct RoomJournalTests {
    // MARK: (a) group commit

    @Test func manyConcurrentAppendsAreAllDurableInOrder() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let rooms = try (0..<5).map { _ in try fixture.room(store) }
        let perRoom = 100
        let journal = RoomJournal(store: store)
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
            let rows = try store.pool.read { db in
                try GRDB.Row.fetchAll(db, sql: #"SELECT "offset", seq, client_id, payload FROM room_events WHERE room_id = ? ORDER BY "offset""#, arguments: [room])
            }
            #expect(rows.count == perRoom)
            for (index, row) in rows.enumerated() {
                let i = index + 1
                #expect(row["offset"] as Int64 == Int64(i))
                #expect(row["seq"] as Int == i)
                #expect(row["client_id"] as String == "c-\(i)")
                #expect((row["payload"] as String).contains("turn \(i) of \(room)"))
            }
            let saved = try store.pool.read { db in
                try GRDB.Row.fetchOne(db, sql: "SELECT phase, state FROM room_runtime WHERE room_id = ?", arguments: [room])
            }
            #expect(saved.map { $0["phase"] as String } == "roleplay")
            #expect(saved.map { $0["state"] as String } == jsonText(["n": perRoom]), "the room's last state wins")
        }
    }

    @Test func entriesQueuedBehindAWriteCommitTogether() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let rooms = try (0..<4).map { _ in try fixture.room(store) }
        let perRoom = 125
        let journal = RoomJournal(store: store)
        let completions = JournalCompletions(expected: rooms.count * perRoom)
        let gate = WriterGate()
        await gate.hold(store)

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
        let stored = try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM room_events")! }
        #expect(stored == 500)
        for room in rooms {
            #expect(completions.order[room] == (1...perRoom).map(Int64.init))
        }
    }

    @Test func theQueueSaysWhenItIsFull() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let room = try fixture.room(store)
        let journal = RoomJournal(store: store, maxPending: 3)
        let completions = JournalCompletions(expected: 4)
        let gate = WriterGate()
        await gate.hold(store)
        #expect(!journal.isFull)
        for i in 1...4 {
            let entry = RoomJournalEntry(
                roomID: room, events: [turnEvent(Int64(i), seq: i, round: 1, clientID: "c-\(i)", speaker: fixture.guest, text: "t\(i)")]
            )
            journal.append(entry, completion: completions.completion(room: room, offset: Int64(i)))
        }
        // Four entries are not durable (some may be taken into the waiting transaction).
        #expect(journal.isFull)
        gate.open()
        await completions.wait()
        #expect(!journal.isFull)
        #expect(completions.results.values.allSatisfy { if case .success = $0 { true } else { false } })
    }

    // MARK: (b) round end

    @Test func aRoundEndWritesTheRoundAndMovesTheRoomInOneTransaction() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let room = try fixture.room(store)
        let heard = HeardChanges()
        heard.listen(to: store)
        let journal = RoomJournal(store: store)

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

        let (roundRow, roomRow, runtime) = try store.pool.read { db in
            (
                try GRDB.Row.fetchOne(db, sql: "SELECT * FROM practice_rounds WHERE id = ?", arguments: [roundID]),
                try GRDB.Row.fetchOne(db, sql: "SELECT * FROM practice_rooms WHERE id = ?", arguments: [room]),
                try GRDB.Row.fetchOne(db, sql: "SELECT phase, state FROM room_runtime WHERE room_id = ?", arguments: [room])
            )
        }
        let round = try #require(roundRow)
        #expect(round["room_id"] as String == room)
        #expect(round["round"] as Int == 1)
        #expect(round["candidate_id"] as String == fixture.host)
        #expect(round["case_briefs_id"] as String? == fixture.case1)
        #expect(round["transcript"] as String == transcript)
        #expect(round["status"] as String == "completed")
        #expect(round["duration_seconds"] as Int? == 123)
        #expect(round["assessment"] as String? == nil)
        let roomAfter = try #require(roomRow)
        #expect(roomAfter["first_round_id"] as String? == roundID)
        #expect(roomAfter["second_round_id"] as String? == nil)
        #expect(roomAfter["stage"] as Int == 2)
        #expect(runtime.map { $0["phase"] as String } == "waiting")

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
        let done = try store.pool.read { db in
            try GRDB.Row.fetchOne(db, sql: "SELECT first_round_id, second_round_id, stage FROM practice_rooms WHERE id = ?", arguments: [room])
        }
        let doneRow = try #require(done)
        #expect(doneRow["first_round_id"] as String? == roundID)
        #expect(doneRow["second_round_id"] as String? == secondID)
        #expect(doneRow["stage"] as Int == 3)
        let last = heard.all.last { $0.table == "practice_rooms" }
        #expect(last?.record?["stage"] == .integer(3))
        #expect(last?.record?["second_round_id"] == .text(secondID))
    }

    @Test func aRoundEndThatCannotBeWrittenWritesNothingOfItsEntry() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let room = try fixture.room(store)
        let journal = RoomJournal(store: store)
        let heard = HeardChanges()
        heard.listen(to: store)
        let before = try store.pool.read { db in try GRDB.Row.fetchOne(db, sql: "SELECT * FROM practice_rooms WHERE id = ?", arguments: [room]) }

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
        let (events, rounds, runtime, after) = try store.pool.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM room_events")!,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM practice_rounds")!,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM room_runtime")!,
                try GRDB.Row.fetchOne(db, sql: "SELECT * FROM practice_rooms WHERE id = ?", arguments: [room])
            )
        }
        #expect(events == 0 && rounds == 0 && runtime == 0)
        #expect(after == before)
        #expect(heard.all.isEmpty)
    }

    // MARK: (c) one bad entry fails alone

    @Test func aBadEntryFailsAloneInItsBatch() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let room = try fixture.room(store)
        let other = try fixture.room(store)
        let journal = RoomJournal(store: store)
        let completions = JournalCompletions(expected: 6)
        let gate = WriterGate()
        await gate.hold(store)

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

        let rows = try store.pool.read { db in
            try GRDB.Row.fetchAll(db, sql: #"SELECT "offset", payload FROM room_events WHERE room_id = ? ORDER BY "offset""#, arguments: [room])
        }
        #expect(rows.map { $0["offset"] as Int64 } == [1, 2, 3])
        #expect(rows.allSatisfy { !($0["payload"] as String).contains("bad") }, "nothing of the bad entry was written")
        let (missing, runtime) = try await store.pool.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM room_events WHERE room_id = ?", arguments: [missingRoom])!,
                try String.fetchOne(db, sql: "SELECT state FROM room_runtime WHERE room_id = ?", arguments: [room])
            )
        }
        #expect(missing == 0)
        #expect(runtime == jsonText(["mark": "good-3"]))
    }

    // MARK: (d) loading a room

    @Test func loadRoomReturnsStateTurnsOffsetsAndCases() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let room = try fixture.room(store)
        let journal = RoomJournal(store: store)
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

        let loaded = try #require(try await store.loadRoom(id: room, eventLimit: 5))
        #expect(loaded.id == room)
        #expect(loaded.hostID == host && loaded.guestID == guest)
        #expect(loaded.type == "Clinical")
        #expect(loaded.datetimeUTC == RoomFixture.scheduled)
        #expect(loaded.stage == 2)
        #expect(loaded.roundIDs == [roundID, nil])
        #expect(loaded.stateJSON == saved.json)
        let decoded = try JSONDecoder().decode(RoomState.self, from: Data(try #require(loaded.stateJSON).utf8))
        #expect(decoded.caseIDs == [fixture.case1, fixture.draftCase])
        #expect(loaded.latestOffset == 15)
        #expect(loaded.recentEvents.map(\.offset) == [11, 12, 13, 14, 15], "the latest events, oldest first")
        #expect(loaded.currentTurns.map(\.seq) == [3, 4, 5], "the current round's turns, in seq order")
        #expect(loaded.currentTurns.map(\.clientID) == ["c", "a", "d"])
        #expect(loaded.currentTurns.allSatisfy { $0.round == 2 && $0.type == "turn" })
        #expect(loaded.currentTurns.first?.payloadJSON == round2[2].events[0].payloadJSON)
        #expect(loaded.maxSeq == 5)
        #expect(Set(loaded.cases.keys) == [fixture.case1, fixture.draftCase])
        #expect(loaded.cases[fixture.case1]?.candidateBrief == "candidate brief of Chest pain")
        #expect(loaded.cases[fixture.case1]?.actorBrief == "actor brief of Chest pain")
        #expect(loaded.cases[fixture.draftCase]?.caseName == "Draft case")
        #expect(loaded.seenSinceScheduled == [guest], "the host was seen before the scheduled time only")
        #expect(loaded.noShows == [host])

        // Choosing a case only offers published ones; a loaded room keeps its draft case.
        #expect(try await store.caseBrief(id: fixture.draftCase) == nil)
        #expect(try await store.caseBrief(id: fixture.case2)?.caseName == "Asthma review")
    }

    @Test func loadRoomOfAFreshRoomAMissingRoomAndACompleteRoom() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let fresh = try fixture.room(store, withGuest: false)

        let loaded = try #require(try await store.loadRoom(id: fresh, eventLimit: 100))
        #expect(loaded.guestID == nil)
        #expect(loaded.stateJSON == nil)
        #expect(loaded.recentEvents.isEmpty && loaded.currentTurns.isEmpty)
        #expect(loaded.latestOffset == 0 && loaded.maxSeq == 0)
        #expect(loaded.cases.isEmpty && loaded.roundIDs == [nil, nil])
        #expect(try await store.loadRoom(id: newID(), eventLimit: 100) == nil)

        let complete = try fixture.room(store, stage: 3)
        let journal = RoomJournal(store: store)
        #expect(await journal.append(RoomJournalEntry(roomID: complete, events: [turnEvent(1, seq: 1, round: 2, clientID: "x", speaker: fixture.guest, text: "late")])).succeeded)
        let done = try #require(try await store.loadRoom(id: complete, eventLimit: 100))
        #expect(done.stage == 3 && done.currentTurns.isEmpty && done.maxSeq == 1 && done.latestOffset == 1)
    }

    /// The round's row takes its transcript from the journal: the round's turns after its
    /// last cancellation, in offset order, those written in the same transaction included;
    /// loading the room says where the current round's turns begin, and reads of older
    /// events come back in offset order.
    @Test func aRoundsTranscriptIsItsJournaledTurnsAfterTheLastCancellation() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let room = try fixture.room(store)
        let journal = RoomJournal(store: store)
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
        let loaded = try #require(try await store.loadRoom(id: room, eventLimit: 2))
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
        #expect(transcript == "[" + [kept[0], kept[2]].map(\.payloadJSON).joined(separator: ",") + "]")
        #expect(try await store.roundTranscript(roundID: newID()) == nil)
        #expect(try await store.loadRoom(id: room, eventLimit: 10)?.transcriptFrom == 6)
    }

    // MARK: (e) assessments

    @Test func saveAssessmentStoresOnceAndReportsTheSecondTime() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let room = try fixture.room(store)
        let journal = RoomJournal(store: store)
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
        #expect(try await store.saveAssessment(roundID: roundID, assessmentJSON: assessment, report: report))
        let second = FeedbackReportRecord(transcriptText: "other", summary: "Other.", scoreRaw: 1, strengths: "-", areasForImprovement: "-")
        #expect(try await store.saveAssessment(roundID: roundID, assessmentJSON: jsonText(["assessor": "again"]), report: second) == false)
        #expect(try await store.saveAssessment(roundID: newID(), assessmentJSON: assessment, report: report) == false, "no such round")

        let (stored, reports) = try store.pool.read { db in
            (
                try String.fetchOne(db, sql: "SELECT assessment FROM practice_rounds WHERE id = ?", arguments: [roundID]),
                try GRDB.Row.fetchAll(db, sql: "SELECT * FROM feedback_reports")
            )
        }
        #expect(stored == assessment)
        #expect(reports.count == 1)
        let row = try #require(reports.first)
        #expect(row["session_id"] as String == roundID)
        #expect(row["transcript"] as String == "host: hello")
        #expect(row["ai_summary"] as String == "Good start.")
        #expect(row["score_raw"] as Int == 9)
        #expect(row["strengths"] as String == "Rapport")
        #expect(row["areas_for_improvement"] as String == "Structure")
        #expect(try await store.unassessedRounds().isEmpty)

        let changes = heard.all
        #expect(changes.count == 1, "one UPDATE of the round; nothing for the refused second save")
        #expect(changes.first?.table == "practice_rounds" && changes.first?.kind == .update)
        #expect(changes.first?.record?["assessment"] == .text(assessment))
        #expect(changes.first?.oldRecord?["assessment"] == .null)
    }

    // MARK: (f) sweeps

    @Test func roomsMidRoundAreThoseInPreparationOrRoleplay() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let journal = RoomJournal(store: store)
        var expected: Set<String> = []
        for phase in ["waiting", "preparation", "roleplay", "ended", nil] {
            let room = try fixture.room(store)
            if let phase {
                #expect(await journal.append(RoomJournalEntry(roomID: room, state: RoomStateRecord(phase: phase, json: "{}"))).succeeded)
            }
            if phase == "preparation" || phase == "roleplay" { expected.insert(room) }
        }
        #expect(Set(try await store.roomsMidRound()) == expected)
        #expect(expected.count == 2)
    }

    @Test func roomsDueForTheNoShowCheck() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let journal = RoomJournal(store: store)
        func at(_ time: String) -> String { "2026-01-01T\(time):00.000000Z" }

        let notStarted = try fixture.room(store, at: at("10:00"))
        let waiting = try fixture.room(store, at: at("09:30"))
        #expect(await journal.append(RoomJournalEntry(roomID: waiting, events: [event(1, "presence", payload: ["user_id": fixture.host])], state: RoomStateRecord(phase: "waiting", json: "{}"))).succeeded)
        let started = try fixture.room(store, at: at("10:30"))
        #expect(await journal.append(RoomJournalEntry(roomID: started, state: RoomStateRecord(phase: "preparation", json: "{}"))).succeeded)
        let recorded = try fixture.room(store, at: at("10:15"))
        #expect(await journal.append(RoomJournalEntry(roomID: recorded, events: [event(1, "no_show", payload: ["user_id": fixture.guest])])).succeeded)
        let tooEarly = try fixture.room(store, at: at("08:59"))
        let tooLate = try fixture.room(store, at: at("11:01"))
        let roundTwo = try fixture.room(store, at: at("10:45"), stage: 2)
        #expect(await journal.append(RoomJournalEntry(roomID: roundTwo, state: RoomStateRecord(phase: "waiting", json: "{}"))).succeeded)
        let atFrom = try fixture.room(store, at: at("09:00"))
        let atTo = try fixture.room(store, at: at("11:00"))
        let noGuest = try fixture.room(store, at: at("10:50"), withGuest: false)
        _ = (tooEarly, tooLate)

        let due = try await store.roomsDueForNoShowCheck(from: at("09:00"), to: at("11:00"))
        #expect(due == [atFrom, waiting, notStarted, noGuest, atTo], "stage 1, in the window (inclusive), not started, no no-show yet; by scheduled time")
        #expect(!due.contains(started) && !due.contains(recorded) && !due.contains(roundTwo))
        #expect(try await store.roomsDueForNoShowCheck(from: at("09:00"), to: at("11:00"), limit: 2) == [atFrom, waiting])
        #expect(try await store.roomsDueForNoShowCheck(from: at("12:00"), to: at("13:00")).isEmpty)
    }

    @Test func unassessedRoundsAreCompletedRoundsWithoutAssessmentOldestFirst() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let fixture = try RoomFixture.make(store)
        let roomA = try fixture.room(store)
        let roomB = try fixture.room(store)
        let (newer, older, assessed, abandoned, inProgress) = (newID(), newID(), newID(), newID(), newID())
        try await store.pool.write { db in
            func insert(_ id: String, room: String, round: Int, status: String, assessment: String?, created: String) throws {
                try db.execute(
                    sql: """
                        INSERT INTO practice_rounds (id, room_id, round, candidate_id, case_briefs_id, transcript, assessment, status, created_at)
                        VALUES (?, ?, ?, ?, ?, '[{"seq":1}]', ?, ?, ?)
                        """,
                    arguments: [id, room, round, fixture.host, fixture.case1, assessment, status, created]
                )
            }
            try insert(newer, room: roomA, round: 2, status: "completed", assessment: nil, created: "2026-01-02T00:00:00.000000Z")
            try insert(older, room: roomA, round: 1, status: "completed", assessment: nil, created: "2026-01-01T00:00:00.000000Z")
            try insert(assessed, room: roomB, round: 1, status: "completed", assessment: "{}", created: "2025-12-01T00:00:00.000000Z")
            try insert(abandoned, room: roomB, round: 2, status: "abandoned", assessment: nil, created: "2025-12-02T00:00:00.000000Z")
            let roomC = newID()
            try db.execute(
                sql: "INSERT INTO practice_rooms (id, host_id, datetime_utc, type, room_url) VALUES (?, ?, '2026-01-01T00:00:00.000000Z', 'Clinical', ?)",
                arguments: [roomC, fixture.host, "https://rooms.test/\(roomC)"]
            )
            try insert(inProgress, room: roomC, round: 1, status: "in_progress", assessment: nil, created: "2025-11-01T00:00:00.000000Z")
        }
        let rounds = try await store.unassessedRounds()
        #expect(rounds.map(\.roundID) == [older, newer])
        #expect(rounds.first?.roomID == roomA && rounds.first?.round == 1 && rounds.first?.caseID == fixture.case1)
        #expect(rounds.first?.transcriptJSON == #"[{"seq":1}]"#)
        #expect(try await store.unassessedRounds(limit: 1).map(\.roundID) == [older])
    }
}
