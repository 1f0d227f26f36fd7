import PostgresNIO

extension PostgresDatabase {
    /// Applies the pending migrations (``PostgresMigrations``), each in its own transaction
    /// under `pg_advisory_xact_lock`: processes migrating at once wait for one another, and
    /// each step is applied once. Returns the names of the steps this call applied.
    @discardableResult
    package func migrate() async throws(PostgresError) -> [String] {
        var applied: [String] = []
        for migration in PostgresMigrations.all {
            if try await apply(migration) { applied.append(migration.name) }
        }
        return applied
    }

    /// ``migrate()``, failing with a clear error if it has not finished within `limit`
    /// (a server that cannot be reached makes the pool retry without end).
    package func migrate(within limit: Duration) async throws(PostgresError) -> [String] {
        do {
            return try await withThrowingTaskGroup(of: [String]?.self) { group in
                group.addTask { try await self.migrate() }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let applied = first else {
                    throw PostgresError(sqlState: nil, message: "\(location): no answer within \(limit) (server down, wrong address, or another migrator holding the lock)")
                }
                return applied
            }
        } catch {
            throw PostgresError.wrap(error)
        }
    }

    /// The applied migrations' names, oldest first (empty on a database never migrated).
    package func appliedMigrations() async throws(PostgresError) -> [String] {
        let exists = try await ownerTextRows("SELECT to_regclass('schema_migrations')::text")
        guard (exists.first?.first ?? nil) != nil else { return [] }
        return try await ownerTextRows("SELECT name FROM schema_migrations ORDER BY version").compactMap { $0.first ?? nil }
    }

    /// Applies one step unless another process already has. True if this call applied it.
    private func apply(_ migration: PostgresMigrations.Migration) async throws(PostgresError) -> Bool {
        let logger = self.logger
        return try await transaction { connection in
            try await Self.run("SELECT pg_advisory_xact_lock(\(PostgresMigrations.lockKey))", on: connection, logger: logger)
            try await Self.run(PostgresQuery(unsafeSQL: PostgresMigrations.schemaMigrationsTable), on: connection, logger: logger)
            let done = try await Self.collect(connection.query(
                "SELECT version::text FROM schema_migrations WHERE version = \(migration.version)", logger: logger
            ))
            if !done.isEmpty { return false }
            for statement in migration.statements {
                do {
                    try await Self.run(PostgresQuery(unsafeSQL: statement), on: connection, logger: logger)
                } catch {
                    let cause = PostgresError.wrap(error)
                    throw PostgresError(
                        sqlState: cause.sqlState,
                        message: "\(migration.name) failed: \(cause.message) in: \(statement.prefix(200))"
                    )
                }
            }
            try await Self.run(
                "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))", on: connection, logger: logger
            )
            return true
        }
    }
}
