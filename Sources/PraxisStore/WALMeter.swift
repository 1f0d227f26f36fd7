import GRDB
import GRDBSQLite
import Synchronization

/// Watches the writer's commits through `sqlite3_wal_hook`: counts the WAL frames they
/// append (the write amplification: `praxis_db_wal_written_bytes_total`), asks the
/// background checkpointer for a round as soon as a commit leaves the WAL past the restart
/// size (instead of at its next tick), and, as a safety net, makes the writer itself run a
/// RESTART checkpoint after a commit that leaves the WAL past the hard maximum (the
/// background checkpointer fell behind, e.g. starved of CPU).
///
/// The hook runs on the writer's thread right after each commit; it does atomic adds only,
/// unless the WAL is past the maximum. Installing a WAL hook replaces SQLite's automatic
/// checkpoint (which is itself a WAL hook), so with `autocheckpointFrames` > 0 the meter
/// runs SQLite's own passive checkpoint at that size, as SQLite would.
final class WALMeter: Sendable {
    /// Frames appended by the writer's commits since the store opened.
    private let written = Atomic<Int>(0)
    /// Frames in the WAL after the last commit (SQLite's count; it starts over at a restart).
    private let current = Atomic<Int>(0)
    /// Checkpoints the writer ran itself because the WAL passed `maxFrames`.
    private let writerCheckpoints = Atomic<Int>(0)
    /// Of those, the ones that could not restart the WAL (readers still on it).
    private let writerCheckpointsBusy = Atomic<Int>(0)
    /// SQLite's passive autocheckpoint threshold when there is no background checkpointer; 0: none.
    let autocheckpointFrames: Int
    /// Frames past which the background checkpointer is asked for a round now; 0: never.
    let restartFrames: Int
    /// Frames past which the writer checkpoints (RESTART) itself; 0: never.
    let maxFrames: Int
    /// How long the writer's own RESTART waits for readers (milliseconds), and the writer's
    /// usual busy timeout, put back afterwards.
    let readerWaitMilliseconds: Int32
    let busyTimeoutMilliseconds: Int32
    /// Called (on the writer's thread) when a commit leaves the WAL past `restartFrames`.
    let onRestartDue: @Sendable () -> Void

    init(
        autocheckpointFrames: Int, restartFrames: Int, maxFrames: Int, readerWaitMilliseconds: Int32, busyTimeoutMilliseconds: Int32,
        onRestartDue: @escaping @Sendable () -> Void
    ) {
        self.autocheckpointFrames = autocheckpointFrames
        self.restartFrames = restartFrames
        self.maxFrames = maxFrames
        self.readerWaitMilliseconds = readerWaitMilliseconds
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.onRestartDue = onRestartDue
    }

    /// Frames appended since the store opened, frames in the WAL now, and the writer's own
    /// checkpoints (all, and those that found readers still on the WAL).
    var counts: (written: Int, inWAL: Int, writerCheckpoints: Int, writerCheckpointsBusy: Int) {
        (
            written.load(ordering: .relaxed), current.load(ordering: .relaxed), writerCheckpoints.load(ordering: .relaxed),
            writerCheckpointsBusy.load(ordering: .relaxed)
        )
    }

    /// Whether the hook is installed (it retains the meter).
    private let installed = Atomic<Bool>(false)

    /// Installs the hook on the writer connection (call on the writer's queue). The meter
    /// is retained by the connection until `uninstall`.
    func install(on db: Database) {
        guard !installed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let context = Unmanaged.passRetained(self).toOpaque()
        sqlite3_wal_hook(db.sqliteConnection, { context, connection, name, frames in
            guard let context else { return SQLITE_OK }
            Unmanaged<WALMeter>.fromOpaque(context).takeUnretainedValue().committed(connection, name, frames: Int(frames))
            return SQLITE_OK
        }, context)
    }

    /// Removes the hook and releases the meter (call on the writer's queue).
    func uninstall(from db: Database) {
        guard installed.exchange(false, ordering: .acquiringAndReleasing) else { return }
        sqlite3_wal_hook(db.sqliteConnection, nil, nil)
        Unmanaged.passUnretained(self).release()
    }

    /// After each commit: `frames` are in the WAL now.
    fileprivate func committed(_ connection: OpaquePointer?, _ name: UnsafePointer<CChar>?, frames: Int) {
        let before = current.exchange(frames, ordering: .relaxed)
        // A smaller count means the WAL started over with this commit: all of it is new.
        written.wrappingAdd(frames >= before ? frames - before : frames, ordering: .relaxed)
        if autocheckpointFrames > 0, frames >= autocheckpointFrames {
            sqlite3_wal_checkpoint(connection, name)
            return
        }
        if maxFrames > 0, frames >= maxFrames {
            writerCheckpoints.wrappingAdd(1, ordering: .relaxed)
            sqlite3_busy_timeout(connection, readerWaitMilliseconds)
            var log: Int32 = -1
            var done: Int32 = -1
            let code = sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_RESTART, &log, &done)
            sqlite3_busy_timeout(connection, busyTimeoutMilliseconds)
            if code != SQLITE_OK { writerCheckpointsBusy.wrappingAdd(1, ordering: .relaxed) }
            return
        }
        if restartFrames > 0, frames >= restartFrames { onRestartDue() }
    }
}
