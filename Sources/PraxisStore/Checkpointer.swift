import Dispatch
import Foundation
import GRDB
import Metrics
import Synchronization

/// Keeps the WAL short, off the writer's commits.
///
/// The writer's automatic checkpoint (which runs inside a commit, and with it the database
/// file's fsync) is turned off. Every `interval`, and as soon as a commit leaves the WAL past
/// the restart size (`WALMeter`), a round runs on this checkpointer's queue:
///
/// 1. `PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own: copies back what no
///    reader still needs, beside the writer and the readers, blocking nobody.
/// 2. When the WAL is still past `restartFrames`: `wal_checkpoint(RESTART)` on the writer's
///    connection, queued like any write. Under continuous commits a passive checkpoint never
///    catches up with the writer, so SQLite never starts the WAL over and it grows without
///    bound (checkpoint starvation, sqlite.org/wal.html). RESTART holds the writer only for
///    the frames committed since the passive pass, the database file's fsync, and at most
///    `readerWait` for readers still on an older snapshot (it then gives up until the next
///    round). After it the next commit writes the WAL from its start, and SQLite cuts the
///    file back to `journal_size_limit`.
///
/// Metrics (the global metrics system): `praxis_db_wal_bytes` (the -wal file's size),
/// `praxis_db_file_bytes`, `praxis_db_wal_frames` (frames in the WAL),
/// `praxis_db_wal_written_bytes_total` (frames the writer appended × frame size),
/// `praxis_db_checkpoint_seconds{mode}`, `praxis_db_checkpoint_writer_hold_seconds` (how
/// long a RESTART kept commits waiting) and `praxis_db_checkpoints_total{mode,result}`.
///
/// `@unchecked`: the timer is only scheduled, resumed and cancelled (thread-safe Dispatch
/// calls); everything else is immutable, atomic or behind a mutex.
final class Checkpointer: @unchecked Sendable {
    /// What the checkpoints did since the store opened.
    struct Statistics: Sendable, Equatable {
        var passive = 0
        /// Passive checkpoints that copied every frame of the WAL.
        var passiveComplete = 0
        var restarts = 0
        /// RESTART checkpoints that left the WAL free to start over.
        var restartsComplete = 0
        var failures = 0
        /// Frames in the WAL after the last checkpoint.
        var lastWALFrames = 0
        /// Longest a RESTART held the writer, in seconds.
        var longestWriterHold = 0.0
    }

    private struct Metric: Sendable {
        let walBytes = Gauge(label: "praxis_db_wal_bytes")
        let fileBytes = Gauge(label: "praxis_db_file_bytes")
        let walFrames = Gauge(label: "praxis_db_wal_frames")
        let written = Counter(label: "praxis_db_wal_written_bytes_total")
        let passiveSeconds = Metrics.Timer(label: "praxis_db_checkpoint_seconds", dimensions: [("mode", "passive")])
        let restartSeconds = Metrics.Timer(label: "praxis_db_checkpoint_seconds", dimensions: [("mode", "restart")])
        let writerHold = Metrics.Timer(label: "praxis_db_checkpoint_writer_hold_seconds")
        let passiveComplete = Counter(label: "praxis_db_checkpoints_total", dimensions: [("mode", "passive"), ("result", "complete")])
        let passivePartial = Counter(label: "praxis_db_checkpoints_total", dimensions: [("mode", "passive"), ("result", "partial")])
        let restartComplete = Counter(label: "praxis_db_checkpoints_total", dimensions: [("mode", "restart"), ("result", "complete")])
        let restartBusy = Counter(label: "praxis_db_checkpoints_total", dimensions: [("mode", "restart"), ("result", "busy")])
        let writerRestart = Counter(label: "praxis_db_checkpoints_total", dimensions: [("mode", "writer_restart"), ("result", "all")])
        let errors = Counter(label: "praxis_db_checkpoints_total", dimensions: [("mode", "any"), ("result", "error")])
    }

    private struct State {
        var started = false
        var stopped = false
        /// Frames written as last published to the counter.
        var publishedWritten = 0
        var publishedWriterCheckpoints = 0
    }

    private let connection: DatabaseQueue
    private let pool: DatabasePool
    private let queue = DispatchQueue(label: "praxis.checkpoint")
    private let timer: any DispatchSourceTimer
    private let path: String
    /// Bytes of one WAL frame (page size + 24).
    let frameBytes: Int
    /// WAL frames past which a round ends with a RESTART; 0: never.
    let restartFrames: Int
    /// `journal_size_limit`: a WAL file larger than this (after one large transaction, say)
    /// is truncated by the next round even when no commit follows; -1: never.
    let journalSizeLimit: Int
    private let readerWaitMilliseconds: Int
    private let busyTimeoutMilliseconds: Int
    private let meter: Mutex<WALMeter?> = Mutex(nil)
    private let state = Mutex(State())
    private let statistics = Mutex(Statistics())
    /// A round is queued (set by `requestRound`, cleared when it starts): commits past the
    /// restart size queue one round, not one each.
    private let roundQueued = Atomic<Bool>(false)
    private let metric = Metric()

    init(
        path: String, pool: DatabasePool, frameBytes: Int, restartBytes: Int?, journalSizeLimit: Int, readerWait: Double, busyTimeout: Double
    ) throws {
        var configuration = Configuration()
        configuration.label = "praxis.checkpoint"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.pool = pool
        self.path = path
        self.frameBytes = frameBytes
        restartFrames = restartBytes.map { max(1, $0 / frameBytes) } ?? 0
        self.journalSizeLimit = journalSizeLimit
        readerWaitMilliseconds = max(0, Int(readerWait * 1000))
        busyTimeoutMilliseconds = Int(busyTimeout * 1000)
        timer = DispatchSource.makeTimerSource(queue: queue)
    }

    /// Starts the rounds every `interval`; `meter` (if any) is read for the frames written.
    func start(interval: DispatchTimeInterval, meter: WALMeter?) {
        self.meter.withLock { $0 = meter }
        guard state.withLock({ state -> Bool in
            defer { state.started = true }
            return !state.started && !state.stopped
        }) else { return }
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.round() }
        timer.resume()
    }

    /// Asks for a round now (from the writer's WAL hook: cheap, and at most one queued).
    func requestRound() {
        guard !roundQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async { [weak self] in
            guard let self else { return }
            self.roundQueued.store(false, ordering: .releasing)
            self.round()
        }
    }

    /// What the checkpoints did so far.
    var current: Statistics { statistics.withLock { $0 } }

    /// Runs one round now, on the checkpointer's queue, and waits for it (tests).
    func runRound() {
        queue.sync { round() }
    }

    /// Stops checkpointing and closes the connection (waits for a round under way).
    func stop() {
        let started = state.withLock { state -> Bool in
            state.stopped = true
            // A timer never resumed must be resumed before it is released.
            defer { state.started = true }
            return state.started
        }
        if !started { timer.resume() }
        timer.cancel()
        queue.sync {}
        try? connection.close()
    }

    deinit {
        if !state.withLock({ $0.started }) { timer.resume() }
        timer.cancel()
    }

    /// Passive first; RESTART (on the writer) when the WAL is still long. On `queue`.
    private func round() {
        guard !state.withLock({ $0.stopped }) else { return }
        var frames = 0
        do {
            let started = DispatchTime.now().uptimeNanoseconds
            let result = try connection.writeWithoutTransaction { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") }
            metric.passiveSeconds.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            let log: Int = result?[1] ?? -1
            let done: Int = result?[2] ?? -1
            frames = max(log, 0)
            let complete = log >= 0 && done == log
            (complete ? metric.passiveComplete : metric.passivePartial).increment()
            statistics.withLock {
                $0.passive += 1
                if complete { $0.passiveComplete += 1 }
                $0.lastWALFrames = frames
            }
            // SQLite cuts the file back to journal_size_limit only at the first commit after
            // the WAL started over: an idle server would keep a large file. TRUNCATE does it now.
            let oversized = journalSizeLimit >= 0 && Self.fileSize(path + "-wal") > journalSizeLimit
            if (restartFrames > 0 && log >= restartFrames) || oversized { frames = try restart(truncate: oversized) }
        } catch {
            metric.errors.increment()
            statistics.withLock { $0.failures += 1 }
        }
        publish(frames: frames)
    }

    /// `wal_checkpoint(RESTART)` (or TRUNCATE) on the writer's connection; returns the
    /// frames left in the WAL.
    private func restart(truncate: Bool) throws -> Int {
        let queued = DispatchTime.now().uptimeNanoseconds
        let (busy, log, hold) = try pool.writeWithoutTransaction { db -> (Int, Int, UInt64) in
            let held = DispatchTime.now().uptimeNanoseconds
            try db.execute(sql: "PRAGMA busy_timeout = \(readerWaitMilliseconds)")
            defer { try? db.execute(sql: "PRAGMA busy_timeout = \(busyTimeoutMilliseconds)") }
            let row = try Row.fetchOne(db, sql: truncate ? "PRAGMA wal_checkpoint(TRUNCATE)" : "PRAGMA wal_checkpoint(RESTART)")
            return (row?[0] ?? 1, row?[1] ?? -1, DispatchTime.now().uptimeNanoseconds - held)
        }
        let ended = DispatchTime.now().uptimeNanoseconds
        metric.restartSeconds.recordNanoseconds(Int64(ended - queued))
        metric.writerHold.recordNanoseconds(Int64(hold))
        (busy == 0 ? metric.restartComplete : metric.restartBusy).increment()
        statistics.withLock {
            $0.restarts += 1
            if busy == 0 { $0.restartsComplete += 1 }
            $0.lastWALFrames = max(log, 0)
            $0.longestWriterHold = max($0.longestWriterHold, Double(hold) / 1e9)
        }
        return max(log, 0)
    }

    /// Updates the gauges and counters.
    private func publish(frames: Int) {
        metric.walFrames.record(frames)
        metric.walBytes.record(Self.fileSize(path + "-wal"))
        metric.fileBytes.record(Self.fileSize(path))
        guard let counts = meter.withLock({ $0?.counts }) else { return }
        let (newFrames, newWriter) = state.withLock { state -> (Int, Int) in
            defer {
                state.publishedWritten = counts.written
                state.publishedWriterCheckpoints = counts.writerCheckpoints
            }
            return (counts.written - state.publishedWritten, counts.writerCheckpoints - state.publishedWriterCheckpoints)
        }
        if newFrames > 0 { metric.written.increment(by: Int64(newFrames * frameBytes)) }
        if newWriter > 0 { metric.writerRestart.increment(by: Int64(newWriter)) }
    }

    /// Size of a file in bytes; 0 when it does not exist.
    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}
