import Dispatch
import Foundation
import GRDB
import PraxisDomain
import PraxisRooms
import Synchronization
import Testing

@testable import PraxisStore

// What the room journal and room store tests share: fixtures, events, completions, gates.

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

extension RoomJournaling {
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

    func listen(to store: any RealtimeStore) {
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
