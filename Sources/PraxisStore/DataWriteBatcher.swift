import Dispatch
import GRDB
import Metrics
import Synchronization

/// Group commit for the data API's writes on SQLite.
///
/// Each write (one request's insert, upsert, update or delete) is its own savepoint inside a
/// transaction that holds every write waiting at the time, so one fsync covers many
/// requests: a write that fails rolls back to its savepoint alone, its neighbours go on.
/// Every caller is answered only after the transaction's COMMIT returned, with `synchronous
/// = FULL` after the fsync. When the transaction itself is lost (COMMIT refused, as for a
/// deferred foreign key one write broke, or SQLite rolled it back whole), nothing of it was
/// stored: each of its writes then runs again alone, in its own transaction, so only a bad
/// write fails, as if every write had always had its own transaction.
///
/// Metrics: `praxis_data_commit_seconds` (each transaction, fsync included) and
/// `praxis_data_batch_writes` (writes per transaction).
final class DataWriteBatcher: Sendable {
    /// One queued write: runs it inside its savepoint, then answers its caller.
    private struct Job: Sendable {
        /// Runs the write; keeps its result for `finish`.
        let run: @Sendable (Database) throws -> Void
        /// Answers the caller: the kept result, or the error.
        let finish: @Sendable ((any Error)?) -> Void
    }

    private let pool: DatabasePool
    private let state = Mutex(GroupCommitQueue<Job>())
    private let queue = DispatchQueue(label: "praxis.data.writes")
    private let commitTimer = Metrics.Timer(label: "praxis_data_commit_seconds")
    private let batchSize = Recorder(label: "praxis_data_batch_writes")
    /// Most writes in one transaction (1: each write its own transaction).
    let maxBatch: Int

    init(pool: DatabasePool, maxBatch: Int) {
        self.pool = pool
        self.maxBatch = max(1, maxBatch)
    }

    /// Runs `work` in a savepoint of the next group transaction; returns its result once
    /// that transaction is committed, or throws `work`'s error (its changes rolled back) or
    /// the transaction's.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        EventLoopCheck.check()
        return try await withCheckedThrowingContinuation { continuation in
            let kept = KeptResult<T>()
            let job = Job(
                run: { db in kept.value = try work(db) },
                finish: { error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let value = kept.value {
                        continuation.resume(returning: value)
                    } else {
                        continuation.resume(throwing: DatabaseError(resultCode: .SQLITE_INTERNAL, message: "group commit lost a result"))
                    }
                }
            )
            let start = state.withLock { $0.append(job) }
            if start { queue.async { self.drain() } }
        }
    }

    /// Writes not answered yet: waiting, or in the transaction being written.
    var notDurable: Int {
        state.withLock { $0.notDurable }
    }

    /// Writes in the transaction being written (taken from the queue, not answered yet).
    var inTransaction: Int {
        state.withLock { $0.writingCount }
    }

    /// Transactions written and the writes they held, since start.
    var counts: (batches: Int, writes: Int) {
        state.withLock { ($0.batches, $0.items) }
    }

    private func drain() {
        while true {
            let batch = state.withLock { $0.nextBatch(maxBatch: maxBatch) }
            if batch.isEmpty { return }
            let started = DispatchTime.now().uptimeNanoseconds
            var failures: [(any Error)?] = Array(repeating: nil, count: batch.count)
            do {
                try pool.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        for (index, job) in batch.enumerated() {
                            do {
                                try db.inSavepoint {
                                    try job.run(db)
                                    return .commit
                                }
                            } catch {
                                // SQLite rolled the whole transaction back (a full disk, an I/O error):
                                // every write runs again alone (below).
                                guard db.isInsideTransaction else { throw error }
                                failures[index] = error
                            }
                        }
                        return .commit
                    }
                }
                commitTimer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
                batchSize.record(batch.count)
            } catch {
                // Nothing of the batch was stored: each write again, alone.
                for (index, job) in batch.enumerated() {
                    do {
                        try pool.writeWithoutTransaction { db in
                            try db.inTransaction(.immediate) {
                                try job.run(db)
                                return .commit
                            }
                        }
                        failures[index] = nil
                    } catch {
                        failures[index] = error
                    }
                }
            }
            state.withLock { $0.batchDone() }
            for (job, failure) in zip(batch, failures) { job.finish(failure) }
        }
    }
}

/// A write's result, set on the batcher's queue inside the transaction and read there after
/// it, before the caller is resumed.
private final class KeptResult<T>: @unchecked Sendable {
    var value: T?
}
