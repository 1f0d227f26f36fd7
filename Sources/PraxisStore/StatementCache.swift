import GRDB
import GRDBSQLite
import Synchronization

/// Prepared statements of the SQL texts that vary per request (the data API's SELECT,
/// INSERT, UPDATE and DELETE, built by ``SQLBuilder`` for the columns and filters each
/// request names), kept per connection (the writer and each reader), at most `capacity`
/// texts each, the least recently used dropped first (and finalized).
///
/// GRDB's own `cachedStatement` keeps every text it is given for the connection's
/// lifetime: right for the fixed texts, a memory hole for texts that depend on client
/// input. Here the bound holds whatever clients send.
///
/// A statement is used by one caller at a time: each connection runs one job at a time
/// (GRDB serializes them), and each connection has its own cache. After every use the
/// statement is reset (no read snapshot left open) and its bindings cleared (no bound value
/// kept alive); a statement whose use failed is dropped, as GRDB drops its own (a statement
/// whose step failed cannot be reset to a clean state). ``schemaDidChange()`` (called after
/// migrations) empties every cache, each connection's at its next use; a schema changed by
/// another process is caught by SQLite, which prepares a statement again when the schema
/// it was compiled against changed.
final class StatementCaches: Sendable {
    /// Most statements kept per connection; 0: none (every statement prepared for one use).
    let capacity: Int
    private let connections = Mutex<[ObjectIdentifier: ConnectionStatements]>([:])
    /// Bumped by a schema change; a cache of an older generation is emptied at its next use.
    private let generation = Atomic<Int>(0)
    private let preparedCount = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Runs `body` with the prepared statement of `sql` on `db`: the cached one, or one
    /// prepared now and cached. `body` must be done with the statement when it returns
    /// (fetch rows into an array, not a cursor).
    func withStatement<T>(_ db: Database, sql: String, _ body: (Statement) throws -> T) throws -> T {
        guard capacity > 0 else {
            preparedCount.add(1, ordering: .relaxed)
            return try body(db.makeStatement(sql: sql))
        }
        let cache = statements(of: db)
        let (statement, isNew) = try cache.statement(sql, db: db, generation: generation.load(ordering: .acquiring))
        if isNew { preparedCount.add(1, ordering: .relaxed) }
        let result: T
        do {
            result = try body(statement)
        } catch {
            cache.remove(sql)
            throw error
        }
        sqlite3_reset(statement.sqliteStatement)
        sqlite3_clear_bindings(statement.sqliteStatement)
        return result
    }

    /// Empties every connection's cache (each at its next use, on its own thread): the
    /// statements were prepared against the schema before.
    func schemaDidChange() {
        generation.add(1, ordering: .releasing)
    }

    /// Drops every statement (before the connections close: a connection with statements
    /// not finalized refuses to close). Only when no statement is in use.
    func removeAll() {
        connections.withLock { $0.removeAll() }
    }

    /// The rows of the query `sql` (a cached statement).
    func fetchAll(_ db: Database, sql: String, arguments: StatementArguments) throws -> [GRDB.Row] {
        try withStatement(db, sql: sql) { try GRDB.Row.fetchAll($0, arguments: arguments) }
    }

    /// The first row of the query `sql` (a cached statement).
    func fetchOne(_ db: Database, sql: String, arguments: StatementArguments) throws -> GRDB.Row? {
        try withStatement(db, sql: sql) { try GRDB.Row.fetchOne($0, arguments: arguments) }
    }

    /// The integer the query `sql` answers (a cached statement).
    func fetchInt(_ db: Database, sql: String, arguments: StatementArguments) throws -> Int? {
        try withStatement(db, sql: sql) { try Int.fetchOne($0, arguments: arguments) }
    }

    /// Runs the update `sql` (a cached statement).
    func execute(_ db: Database, sql: String, arguments: StatementArguments) throws {
        try withStatement(db, sql: sql) { try $0.execute(arguments: arguments) }
    }

    /// Statements prepared (cache misses, and every statement when the capacity is 0), since start.
    var prepared: Int { preparedCount.load(ordering: .relaxed) }

    /// How many statements each connection's cache holds now.
    var counts: [Int] {
        connections.withLock { $0.values.map { $0.count.load(ordering: .relaxed) } }
    }

    /// The cache of `db`; a new one when the connection is new (or took the place of a
    /// closed one at the same address).
    private func statements(of db: Database) -> ConnectionStatements {
        connections.withLock { caches in
            let id = ObjectIdentifier(db)
            if let cache = caches[id], cache.database === db { return cache }
            let cache = ConnectionStatements(database: db, capacity: capacity)
            caches[id] = cache
            return cache
        }
    }
}

/// One connection's statements. Not locked: only the job holding the connection touches
/// them (GRDB runs one job at a time per connection), except `count`, which is atomic.
private final class ConnectionStatements: @unchecked Sendable {
    weak var database: Database?
    private var lru: LRUCache<String, Statement>
    private var generation = 0
    let count = Atomic<Int>(0)

    init(database: Database, capacity: Int) {
        self.database = database
        self.lru = LRUCache(capacity: capacity)
    }

    /// The cached statement of `sql`, or one prepared now (`isNew`) and cached.
    func statement(_ sql: String, db: Database, generation current: Int) throws -> (Statement, isNew: Bool) {
        if generation != current {
            lru.removeAll()
            generation = current
            count.store(0, ordering: .relaxed)
        }
        if let statement = lru.value(forKey: sql) { return (statement, false) }
        let statement = try db.makeStatement(sql: sql)
        lru.insert(statement, forKey: sql)  // The statement evicted, if any, is finalized here.
        count.store(lru.count, ordering: .relaxed)
        return (statement, true)
    }

    func remove(_ sql: String) {
        lru.removeValue(forKey: sql)
        count.store(lru.count, ordering: .relaxed)
    }
}
