import GRDB
import Foundation
import Logging
import Synchronization

/// The embedded SQLite database: one file, WAL, foreign keys on, migrations applied.
///
/// Every call runs on GRDB's own queues, never on a NIO event loop: callers `await` it
/// (a debug build stops when a store call runs on an event loop: `EventLoopCheck`).
/// GRDB is this module's own business: nothing of it is visible outside PraxisStore.
public final class Store: Sendable {
    /// The connection pool (one writer, several WAL readers).
    private let databasePool: DatabasePool
    /// The pool, for every read and write of the store: checks (in a debug build) that the
    /// caller is not on an event loop.
    var pool: DatabasePool {
        EventLoopCheck.check()
        return databasePool
    }
    public let configuration: StoreConfiguration
    /// Who hears committed changes of published tables (the realtime hub). The closure is
    /// boxed: a closure stored directly in a `Mutex` is re-wrapped in a reabstraction thunk
    /// on every `withLock`, so the chain (and each call's cost) grew with every write.
    let changeListener = Mutex<ChangeListenerBox?>(nil)
    /// Runs WAL checkpoints beside the writer (nil when the writer checkpoints itself).
    let checkpointer: Checkpointer?
    /// Counts the frames the writer's commits append to the WAL.
    let walMeter: WALMeter
    /// What the change log keeps (loaded from the log at the first logged write; only the
    /// writer touches it; nil again after a rolled-back write, to be reloaded).
    let changeLogRetention = Mutex<ChangeLogRetention?>(nil)
    /// The data API's writes, group-committed (``DataWriteBatcher``).
    let dataWrites: DataWriteBatcher
    /// The data API's per-request statements, bounded per connection (``StatementCaches``).
    let statements: StatementCaches

    private init(pool: DatabasePool, configuration: StoreConfiguration, checkpointer: Checkpointer?, walMeter: WALMeter) {
        self.databasePool = pool
        self.configuration = configuration
        self.checkpointer = checkpointer
        self.walMeter = walMeter
        self.dataWrites = DataWriteBatcher(pool: pool, maxBatch: configuration.dataWriteMaxBatch)
        self.statements = StatementCaches(capacity: configuration.statementCacheSize)
    }

    /// Stops background checkpoints and closes every connection.
    public func close() throws {
        checkpointer?.stop()
        let meter = walMeter
        pool.writeWithoutTransaction { db in meter.uninstall(from: db) }
        statements.removeAll()
        try pool.close()
    }

    /// Opens (creating if needed) the database file and applies pending migrations.
    ///
    /// A file that exists but is not SQLite is refused and left untouched.
    public static func open(_ configuration: StoreConfiguration, migrate: Bool = true) throws -> Store {
        let path = configuration.path
        try Self.checkIsSQLiteOrEmpty(path: path)

        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(configuration.busyTimeoutSeconds)
        config.maximumReaderCount = configuration.maximumReaderCount
        config.label = "praxis"

        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_NOTADB {
                throw StoreError.notADatabase(path: path)
            }
            throw StoreError.cannotOpen(path: path, reason: error.message ?? "\(error.resultCode)")
        } catch {
            throw StoreError.cannotOpen(path: path, reason: "\(error)")
        }
        // WAL with synchronous=FULL: a committed transaction survives a power cut, so an
        // acknowledged write is never lost. Set on the writer after GRDB opened the pool:
        // GRDB sets NORMAL when it turns WAL on, after any prepareDatabase hook.
        let checkpointer: Checkpointer?
        let meter: WALMeter
        do {
            let pageSize = try pool.writeWithoutTransaction { db -> Int in
                try db.execute(sql: configuration.synchronousFull ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                try db.execute(sql: "PRAGMA journal_size_limit = \(max(-1, configuration.journalSizeLimitBytes))")
                if configuration.checkpointInterval != nil { try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
                return try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
            }
            let frameBytes = pageSize + 24
            if configuration.checkpointInterval != nil {
                do {
                    checkpointer = try Checkpointer(
                        path: path, pool: pool, frameBytes: frameBytes, restartBytes: configuration.walRestartBytes,
                        journalSizeLimit: configuration.journalSizeLimitBytes, readerWait: configuration.checkpointReaderWait, busyTimeout: configuration.busyTimeoutSeconds
                    )
                } catch {
                    throw StoreError.cannotOpen(path: path, reason: "checkpoint connection: \(error)")
                }
            } else {
                checkpointer = nil
            }
            let restartDue: @Sendable () -> Void = { [weak checkpointer] in checkpointer?.requestRound() }
            // SQLite's own threshold, kept by the meter when the writer checkpoints itself.
            let autocheckpoint = checkpointer == nil ? try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? 0 } : 0
            meter = WALMeter(
                autocheckpointFrames: autocheckpoint,
                restartFrames: checkpointer?.restartFrames ?? 0,
                maxFrames: checkpointer == nil ? 0 : configuration.walMaxBytes.map { max(1, $0 / frameBytes) } ?? 0,
                readerWaitMilliseconds: Int32(clamping: Int(configuration.checkpointReaderWait * 1000)),
                busyTimeoutMilliseconds: Int32(clamping: Int(configuration.busyTimeoutSeconds * 1000)),
                onRestartDue: restartDue
            )
            // After `wal_autocheckpoint`, which installs (or removes) SQLite's own WAL hook.
            pool.writeWithoutTransaction { db in meter.install(on: db) }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.cannotOpen(path: path, reason: "\(error)")
        }
        if let interval = configuration.checkpointInterval {
            checkpointer?.start(interval: .milliseconds(Int(interval * 1000)), meter: meter)
        }
        let store = Store(pool: pool, configuration: configuration, checkpointer: checkpointer, walMeter: meter)
        if migrate { try store.migrate() }
        return store
    }

    /// Applies every pending migration. Idempotent. The cached statements of the schema
    /// before are dropped.
    public func migrate() throws {
        defer { statements.schemaDidChange() }
        do {
            try Migrations.migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw StoreError.migrationFailed(error.message ?? "\(error)")
        }
    }

    /// Names of the migrations applied to this database, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try Migrations.migrator.appliedMigrations(db) }
    }

    /// The writer's `PRAGMA synchronous` (2 is FULL, 1 NORMAL).
    public func writerSynchronous() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Whether the database answers a trivial query.
    public func isReachable() async -> Bool {
        do {
            return try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") } == 1
        } catch {
            return false
        }
    }

    /// Refuses a file that exists, is not empty and does not start with SQLite's header.
    private static func checkIsSQLiteOrEmpty(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if header.isEmpty { return }
        if header != Data("SQLite format 3\u{0}".utf8) {
            throw StoreError.notADatabase(path: path)
        }
    }
}
