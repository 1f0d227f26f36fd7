import GRDB

/// The WAL's size and what the checkpoints did: for `/metrics`, tests and benchmarks.
public struct WALStatus: Sendable, Equatable {
    /// Bytes of the `-wal` file now.
    public var walFileBytes: Int
    /// Bytes of the database file now.
    public var databaseFileBytes: Int
    /// Frames the writer's commits appended to the WAL since the store opened, and their
    /// bytes (frames × (page size + 24)): the write amplification.
    public var framesWritten: Int
    public var bytesWritten: Int
    /// Frames in the WAL after the last commit.
    public var framesInWAL: Int
    /// Background checkpoints since the store opened: passive ones, and RESTART ones (all,
    /// and those that let the WAL start over).
    public var passiveCheckpoints: Int
    public var restartCheckpoints: Int
    public var restartCheckpointsComplete: Int
    /// RESTART checkpoints the writer ran itself after a commit past the maximum.
    public var writerCheckpoints: Int
    /// Checkpoints that failed with an error.
    public var checkpointFailures: Int
    /// Longest a background RESTART held the writer, in seconds.
    public var longestWriterHoldSeconds: Double
}

/// The writer's WAL settings as SQLite reports them.
public struct WALPragmas: Sendable, Equatable {
    public var journalMode: String
    public var journalSizeLimit: Int
    public var autocheckpoint: Int
    public var synchronous: Int
}

extension Store {
    /// The WAL's size and the checkpoints' counts now.
    public func walStatus() -> WALStatus {
        let counts = walMeter.counts
        let checkpoints = checkpointer?.current ?? Checkpointer.Statistics()
        let frameBytes = checkpointer?.frameBytes ?? 4120
        return WALStatus(
            walFileBytes: Checkpointer.fileSize(configuration.path + "-wal"), databaseFileBytes: Checkpointer.fileSize(configuration.path),
            framesWritten: counts.written, bytesWritten: counts.written * frameBytes, framesInWAL: counts.inWAL,
            passiveCheckpoints: checkpoints.passive, restartCheckpoints: checkpoints.restarts,
            restartCheckpointsComplete: checkpoints.restartsComplete, writerCheckpoints: counts.writerCheckpoints,
            checkpointFailures: checkpoints.failures, longestWriterHoldSeconds: checkpoints.longestWriterHold
        )
    }

    /// `journal_mode`, `journal_size_limit`, `wal_autocheckpoint` and `synchronous` of the writer.
    public func walPragmas() throws -> WALPragmas {
        try pool.writeWithoutTransaction { db in
            WALPragmas(
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                journalSizeLimit: try Int.fetchOne(db, sql: "PRAGMA journal_size_limit") ?? 0,
                autocheckpoint: try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? 0,
                synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
    }

    /// Runs one background checkpoint round now and waits for it (no-op without the
    /// background checkpointer).
    public func checkpointRound() {
        checkpointer?.runRound()
    }
}
