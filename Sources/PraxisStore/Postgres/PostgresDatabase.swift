package import Logging
import NIOSSL
import PostgresNIO
package import PraxisDomain

/// A PostgreSQL database the store works on: a postgres-nio connection pool, the
/// migrations, and API statements run under the caller's role and claims.
///
/// Every call is async and runs on the pool's event loops; none blocks a thread.
/// Call ``close()`` when done (it ends the pool's background task).
package final class PostgresDatabase: Sendable {
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    /// The location with the password left out.
    package let location: String
    /// The change log's listener, retention and publishing order (`PostgresDatabase+Changes`).
    let changeLog: PostgresChangeLog

    /// Opens a pool to `location`; connections are made on first use. The change log keeps
    /// at most `changeLogMaxEntries` changes and `changeLogMaxBytes` bytes of records
    /// (defaults as SQLite's, ``StoreConfiguration/Defaults``).
    package init(
        _ location: PostgresLocation, maximumConnections: Int = StoreConfiguration.Defaults.postgresPoolSize,
        changeLogMaxEntries: Int = StoreConfiguration.Defaults.changeLogMaxEntries,
        changeLogMaxBytes: Int = StoreConfiguration.Defaults.changeLogMaxBytes,
        logger: Logger = Logger(label: "praxis.postgres")
    ) {
        let tls: PostgresClient.Configuration.TLS
        switch location.sslMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user,
            password: location.password, database: location.database, tls: tls
        )
        configuration.options.maximumConnections = maximumConnections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.location = location.redacted
        self.changeLog = PostgresChangeLog(maxEntries: changeLogMaxEntries, maxBytes: changeLogMaxBytes)
        self.runner = Task { await client.run() }
    }

    /// Closes the pool.
    package func close() async {
        runner.cancel()
        _ = await runner.value
    }

    /// Runs `body` on one connection inside a transaction (rolled back if it throws).
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws(PostgresError) -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch {
            throw PostgresError.wrap(error)
        }
    }

    /// Runs `body` in a transaction under the caller's role with the caller's claims, as
    /// Supabase's PostgREST does: `SET LOCAL ROLE anon|authenticated|service_role`, then
    /// `request.jwt.claims` (and the room link a request names, for private rooms) as
    /// transaction-local settings. Both end with the transaction.
    func withCaller<Result: Sendable>(
        _ caller: Caller, roomLink: String? = nil, _ body: (PostgresConnection) async throws -> Result
    ) async throws(PostgresError) -> Result {
        let logger = self.logger
        return try await transaction { connection in
            try await Self.become(caller, roomLink: roomLink, on: connection, logger: logger)
            return try await body(connection)
        }
    }

    /// Inside an open transaction: the caller's role and claims until it ends.
    static func become(_ caller: Caller, roomLink: String?, on connection: PostgresConnection, logger: Logger) async throws {
        try await run(PostgresQuery(unsafeSQL: "SET LOCAL ROLE \(role(of: caller))"), on: connection, logger: logger)
        try await run(
            "SELECT set_config('request.jwt.claims', \(claims(of: caller)), true), set_config('praxis.room_link', \(roomLink ?? ""), true)",
            on: connection, logger: logger
        )
    }

    /// Runs one statement under `caller` in a transaction that is always rolled back, and
    /// returns its rows as text or the error PostgreSQL gave: what the statement would do.
    /// With `afterwards`, that statement's rows are returned instead, run as the owner (the
    /// caller's role reset) after the first one, in the same transaction: what the first
    /// one changed, whatever the caller may see afterwards.
    package func trial(
        as caller: Caller, roomLink: String? = nil, _ sql: String, _ binds: [String?] = [], afterwards: String? = nil
    ) async -> Result<[[String?]], PostgresError> {
        let logger = self.logger
        do {
            return try await client.withConnection { connection in
                try await Self.run("BEGIN", on: connection, logger: logger)
                let result: Result<[[String?]], PostgresError>
                do {
                    try await Self.become(caller, roomLink: roomLink, on: connection, logger: logger)
                    let rows = try await Self.collect(connection.query(Self.query(sql, binds), logger: logger))
                    if let afterwards {
                        try await Self.run("RESET ROLE", on: connection, logger: logger)
                        result = .success(try await Self.collect(connection.query(Self.query(afterwards, []), logger: logger)))
                    } else {
                        result = .success(rows)
                    }
                } catch {
                    result = .failure(PostgresError.wrap(error))
                }
                try await Self.run("ROLLBACK", on: connection, logger: logger)
                return result
            }
        } catch {
            return .failure(PostgresError.wrap(error))
        }
    }

    /// The database role an API request runs under.
    package static func role(of caller: Caller) -> String {
        switch caller {
        case .anonymous: "anon"
        case .user: "authenticated"
        case .service: "service_role"
        }
    }

    /// The claims `auth.uid()`/`auth.role()`/`auth.jwt()` read, as JSON.
    package static func claims(of caller: Caller) -> String {
        let role = role(of: caller)
        guard let id = caller.userID else { return #"{"role":"\#(role)"}"# }
        return #"{"sub":\#(jsonString(id)),"role":"\#(role)"}"#
    }
}

extension PostgresDatabase {
    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Runs one statement under `caller` (see ``withCaller(_:roomLink:_:)``) and returns every
    /// column of every row as text (NULL as nil). For tests and tools; cast non-text columns
    /// with `::text` in the statement.
    package func textRows(
        as caller: Caller, roomLink: String? = nil, _ sql: String, _ binds: [String?] = []
    ) async throws(PostgresError) -> [[String?]] {
        let logger = self.logger
        return try await withCaller(caller, roomLink: roomLink) { connection in
            try await Self.collect(connection.query(Self.query(sql, binds), logger: logger))
        }
    }

    /// Runs one statement as the connecting user (the owner or `praxis_server`), in its own
    /// transaction, and returns its rows as text.
    package func ownerTextRows(_ sql: String, _ binds: [String?] = []) async throws(PostgresError) -> [[String?]] {
        let logger = self.logger
        return try await transaction { connection in
            try await Self.collect(connection.query(Self.query(sql, binds), logger: logger))
        }
    }

    static func query(_ sql: String, _ binds: [String?]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            if let value { bindings.append(value) } else { bindings.appendNull() }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    /// Runs a statement and reads its rows to the end.
    static func run(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws {
        for try await _ in try await connection.query(query, logger: logger) {}
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [[String?]] {
        var result: [[String?]] = []
        for try await row in rows {
            var values: [String?] = []
            for cell in row {
                values.append(try cell.decode(String?.self))
            }
            result.append(values)
        }
        return result
    }
}
