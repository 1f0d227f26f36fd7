import Dispatch
import GRDB
import Metrics
import Synchronization
import PraxisDomain

/// The rooms' write-ahead journal with group commit.
///
/// Metrics: `praxis_room_journal_commit_seconds` (each transaction, fsync included) and
/// `praxis_room_journal_batch_entries` (entries per transaction).
///
/// Entries from all rooms queue up while a transaction is being written; the next
/// transaction takes all of them at once, so one fsync covers many turns. Completions run
/// in submission order, on the journal's queue, after the commit (never on an event loop:
/// callers hop back themselves). When a batch fails, its entries are retried one by one, so
/// only a bad entry fails.
public final class RoomJournal: Sendable {
    public typealias Completion = @Sendable (Result<Void, StoreError>) -> Void

    private struct Pending {
        var entry: RoomJournalEntry
        var completion: Completion
    }

    private let store: Store
    private let state = Mutex(GroupCommitQueue<Pending>())
    private let commitTimer = Metrics.Timer(label: "praxis_room_journal_commit_seconds")
    private let batchSize = Recorder(label: "praxis_room_journal_batch_entries")
    private let queue = DispatchQueue(label: "praxis.room.journal")
    /// Most entries in one transaction.
    public let maxBatch: Int
    /// Entries waiting to be written beyond which `isFull` is true (callers then refuse new
    /// commands instead of queueing without bound while the disk is slow).
    public let maxPending: Int

    public init(store: Store, maxBatch: Int = 1024, maxPending: Int = 20_000) {
        self.store = store
        self.maxBatch = maxBatch
        self.maxPending = maxPending
    }

    /// Whether `maxPending` entries are not durable yet (waiting, or being written): new
    /// commands should be refused for now.
    public var isFull: Bool {
        state.withLock { $0.notDurable >= maxPending }
    }

    /// Queues `entry`; `completion` runs once it is durable (or failed).
    public func append(_ entry: RoomJournalEntry, completion: @escaping Completion) {
        let start = state.withLock { $0.append(Pending(entry: entry, completion: completion)) }
        if start { queue.async { self.drain() } }
    }

    /// Whether entries are waiting or being written.
    public var hasWork: Bool {
        state.withLock { $0.hasWork }
    }

    /// Returns once every entry appended so far is written and its completion has run
    /// (graceful shutdown waits for this before the event loops the completions hop to stop).
    public func waitUntilWritten() async {
        while true {
            // The journal's queue is serial: this runs after the drain in progress, if any.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in queue.async { done.resume() } }
            if !state.withLock({ $0.hasWork }) { return }
        }
    }

    /// Transactions written and entries they held, since start.
    public var counts: (batches: Int, entries: Int) {
        state.withLock { ($0.batches, $0.items) }
    }

    private func drain() {
        while true {
            let batch = state.withLock { $0.nextBatch(maxBatch: maxBatch) }
            if batch.isEmpty { return }
            do {
                let started = DispatchTime.now().uptimeNanoseconds
                try write(batch.map(\.entry))
                commitTimer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
                batchSize.record(batch.count)
                state.withLock { $0.batchDone() }
                for item in batch { item.completion(.success(())) }
            } catch {
                state.withLock { $0.batchDone() }
                // Find the bad entry: each one alone.
                for item in batch {
                    do {
                        try write([item.entry])
                        item.completion(.success(()))
                    } catch {
                        item.completion(.failure(StoreError.wrap(error)))
                    }
                }
            }
        }
    }

    private func write(_ entries: [RoomJournalEntry]) throws {
        try store.pool.write { db in
            let collector = ChangeCollector()
            var lastState: [String: RoomStateRecord] = [:]
            for entry in entries {
                for event in entry.events {
                    try db.cachedStatement(sql: """
                            INSERT INTO room_events (room_id, "offset", type, round, client_id, user_id, seq, payload, at)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """).execute(arguments: [entry.roomID, event.offset, event.type, event.round, event.clientID, event.userID, event.seq, event.payloadJSON, event.at])
                }
                if let command = entry.command {
                    try db.cachedStatement(sql: """
                            INSERT OR IGNORE INTO room_commands (room_id, user_id, client_id, fingerprint, reply)
                            VALUES (?, ?, ?, ?, ?)
                            """).execute(arguments: [entry.roomID, command.userID, command.clientID, command.fingerprint, command.replyJSON])
                }
                if let round = entry.roundEnd {
                    try store.persistRound(db, roomID: entry.roomID, round: round, collector: collector)
                }
                if let assessment = entry.assessment {
                    _ = try Store.writeAssessment(
                        db, roundID: assessment.roundID, assessmentJSON: assessment.assessmentJSON, report: assessment.report, collector: collector
                    )
                }
                if let state = entry.state { lastState[entry.roomID] = state }
            }
            let now = PraxisDomainTimestamp.now()
            for (roomID, state) in lastState {
                try db.cachedStatement(sql: """
                        INSERT INTO room_runtime (room_id, phase, state, round1_case_id, round2_case_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (room_id) DO UPDATE SET phase = excluded.phase, state = excluded.state,
                            round1_case_id = excluded.round1_case_id, round2_case_id = excluded.round2_case_id, updated_at = excluded.updated_at
                        """).execute(arguments: [roomID, state.phase, state.json, state.caseIDs.first ?? nil, state.caseIDs.dropFirst().first ?? nil, now])
            }
            store.publishAfterCommit(db, collector)
        }
    }
}

typealias PraxisDomainTimestamp = PraxisDomain.Timestamp
