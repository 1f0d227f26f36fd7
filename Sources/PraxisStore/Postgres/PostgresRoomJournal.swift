import Dispatch
import Metrics
import Synchronization

/// The rooms' write-ahead journal on PostgreSQL, with group commit: SQLite's
/// ``RoomJournal`` with the same guarantees, over a ``PostgresDatabase``.
///
/// Metrics (as SQLite's): `praxis_room_journal_commit_seconds` (each transaction, COMMIT
/// included) and `praxis_room_journal_batch_entries` (entries per transaction).
///
/// Entries from all rooms queue up while a transaction is being written; the next
/// transaction takes all of them (at most `maxBatch`), so one COMMIT covers many turns.
/// Completions run in submission order, on the journal's task (never on an event loop:
/// callers hop back themselves), only after COMMIT: a turn is acknowledged once it is
/// durable. When a batch fails, its entries are retried one by one, each in its own
/// transaction, so only a bad entry fails. Changes of published tables (a round end, an
/// assessment) are logged in the same transaction and published after it commits.
package final class PostgresRoomJournal: RoomJournaling {
    private struct Pending {
        var entry: RoomJournalEntry
        var completion: RoomJournal.Completion
    }

    private struct State {
        var queue = GroupCommitQueue<Pending>()
        /// Callers of `waitUntilWritten` waiting for the journal to be idle.
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let database: PostgresDatabase
    private let state = Mutex(State())
    private let commitTimer = Metrics.Timer(label: "praxis_room_journal_commit_seconds")
    private let batchSize = Recorder(label: "praxis_room_journal_batch_entries")
    /// Most entries in one transaction.
    package let maxBatch: Int
    /// Entries not yet durable beyond which `isFull` is true (callers then refuse new
    /// commands instead of queueing without bound while the database is slow).
    package let maxPending: Int

    /// A journal writing to `database`, at most `maxBatch` entries per transaction (default
    /// 1024), full at `maxPending` entries not yet durable (default 20 000): SQLite's defaults.
    package init(database: PostgresDatabase, maxBatch: Int = 1024, maxPending: Int = 20_000) {
        self.database = database
        self.maxBatch = max(1, maxBatch)
        self.maxPending = maxPending
    }

    /// Whether `maxPending` entries are not durable yet (waiting, or being written).
    package var isFull: Bool {
        state.withLock { $0.queue.notDurable >= maxPending }
    }

    /// Whether entries are waiting or being written.
    package var hasWork: Bool {
        state.withLock { $0.queue.hasWork }
    }

    /// Transactions written and entries they held, since start.
    package var counts: (batches: Int, entries: Int) {
        state.withLock { ($0.queue.batches, $0.queue.items) }
    }

    /// Queues `entry`; `completion` runs once it is committed (or failed), in submission order.
    package func append(_ entry: RoomJournalEntry, completion: @escaping RoomJournal.Completion) {
        let start = state.withLock { $0.queue.append(Pending(entry: entry, completion: completion)) }
        if start { Task { await self.drain() } }
    }

    /// Returns once every entry appended so far is written and its completion has run.
    package func waitUntilWritten() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state -> Bool in
                if !state.queue.hasWork { return true }
                state.idleWaiters.append(done)
                return false
            }
            if idle { done.resume() }
        }
    }

    /// Writes batches until nothing waits; one drain runs at a time (`writing`).
    private func drain() async {
        while true {
            let (batch, idle) = state.withLock { state -> ([Pending], [CheckedContinuation<Void, Never>]) in
                let batch = state.queue.nextBatch(maxBatch: maxBatch)
                guard batch.isEmpty else { return (batch, []) }
                defer { state.idleWaiters = [] }
                return ([], state.idleWaiters)
            }
            if batch.isEmpty {
                for waiter in idle { waiter.resume() }
                return
            }
            await write(batch)
        }
    }

    /// One batch in one transaction; when it fails, each entry alone.
    private func write(_ batch: [Pending]) async {
        do {
            let started = DispatchTime.now().uptimeNanoseconds
            try await database.writeRoomEntries(batch.map(\.entry))
            commitTimer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            batchSize.record(batch.count)
            state.withLock { $0.queue.batchDone() }
            for item in batch { item.completion(.success(())) }
        } catch {
            state.withLock { $0.queue.batchDone() }
            // Find the bad entry: each one alone.
            for item in batch {
                do {
                    try await database.writeRoomEntries([item.entry])
                    item.completion(.success(()))
                } catch {
                    item.completion(.failure(StoreError.database(PostgresError.wrap(error).description)))
                }
            }
        }
    }
}
