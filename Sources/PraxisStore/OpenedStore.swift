import Foundation
package import Logging

/// An opened database behind the store boundary, as the server holds it: SQLite's
/// ``Store`` (the embedded default) or a ``PostgresDatabase``. Everything above the store
/// sees the boundary protocols only (``data``, ``auth``, ``settings``, ``realtime``,
/// ``rooms``, ``makeRoomJournal(maxBatch:maxPending:)``); SQLite's own extras (the WAL
/// meter, the checkpointer) stay on ``sqlite``.
package enum OpenedStore: Sendable {
    case sqlite(Store)
    case postgres(PostgresDatabase)

    /// Opens `location`: a SQLite file (``Store/open(_:migrate:)`` with `sqlite`'s settings,
    /// its path replaced), or a PostgreSQL pool migrated first (within `connectTimeout`),
    /// of at most `sqlite.postgresPoolSize` connections, whose change log keeps what `sqlite` says.
    package static func open(
        _ location: DatabaseLocation, sqlite configuration: StoreConfiguration, connectTimeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "praxis.postgres")
    ) async throws -> OpenedStore {
        switch location {
        case .sqlite(let path):
            var configuration = configuration
            configuration.path = path
            let opened = configuration
            return .sqlite(try await Self.offLoop { try Store.open(opened) })
        case .postgres(let postgres):
            let database = PostgresDatabase(
                postgres, maximumConnections: configuration.postgresPoolSize, changeLogMaxEntries: configuration.changeLogMaxEntries, changeLogMaxBytes: configuration.changeLogMaxBytes, logger: logger
            )
            do {
                _ = try await database.migrate(within: connectTimeout)
            } catch {
                await database.close()
                throw error
            }
            return .postgres(database)
        }
    }

    package var data: any DataStore {
        switch self {
        case .sqlite(let store): store
        case .postgres(let database): database
        }
    }

    package var auth: any AuthStore {
        switch self {
        case .sqlite(let store): store
        case .postgres(let database): database
        }
    }

    package var settings: any SettingsStore {
        switch self {
        case .sqlite(let store): store
        case .postgres(let database): database
        }
    }

    package var realtime: any RealtimeStore {
        switch self {
        case .sqlite(let store): store
        case .postgres(let database): database
        }
    }

    package var rooms: any RoomStore {
        switch self {
        case .sqlite(let store): store
        case .postgres(let database): database
        }
    }

    /// SQLite's store, nil on PostgreSQL.
    package var sqlite: Store? {
        if case .sqlite(let store) = self { return store }
        return nil
    }

    /// The location for logs (a PostgreSQL password is never shown).
    package var location: String {
        switch self {
        case .sqlite(let store): store.configuration.path
        case .postgres(let database): database.location
        }
    }

    /// The room journal writing to this database, with group commit of at most `maxBatch`
    /// entries and back-pressure past `maxPending` waiting ones.
    package func makeRoomJournal(maxBatch: Int, maxPending: Int) -> any RoomJournaling {
        switch self {
        case .sqlite(let store): RoomJournal(store: store, maxBatch: maxBatch, maxPending: maxPending)
        case .postgres(let database): PostgresRoomJournal(database: database, maxBatch: maxBatch, maxPending: maxPending)
        }
    }

    /// The feed's epoch (``Store/feedEpoch()``).
    package func feedEpoch() async throws -> String {
        switch self {
        case .sqlite(let store): try await Self.offLoop { try store.feedEpoch() }
        case .postgres(let database): try await database.feedEpoch()
        }
    }

    /// The highest logged broadcast id (0: none).
    package func lastBroadcastID() async throws -> Int64 {
        switch self {
        case .sqlite(let store): try await Self.offLoop { try store.lastBroadcastID() }
        case .postgres(let database): try await database.lastBroadcastID()
        }
    }

    /// Loads the demo data into an empty database (``Store/loadDemoData(hashPassword:)``).
    package func loadDemoData(hashPassword: @Sendable (String) throws -> String) async throws -> DemoSummary {
        switch self {
        case .sqlite(let store): try await store.loadDemoData(hashPassword: hashPassword)
        case .postgres(let database): try await database.loadDemoData(hashPassword: hashPassword)
        }
    }

    /// Closes every connection (SQLite: stops the checkpointer first).
    package func close() async {
        switch self {
        case .sqlite(let store): try? store.close()
        case .postgres(let database): await database.close()
        }
    }

    /// Runs blocking work on a thread of its own (never an event loop).
    private static func offLoop<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }
}
