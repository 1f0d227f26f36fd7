package import PraxisDomain

/// What the realtime feed and its channels ask of the database: the boundary PraxisRealtime
/// sees (`RealtimeHub.store`), so that a second database (PostgreSQL, issue 13) can stand
/// behind the same methods without a change there. `Store` is the SQLite implementation.
///
/// Every method runs on the implementation's own threads, never the caller's: callers on an
/// event loop start a task and hop back with the result. Records are typed; no SQL, no
/// database types cross this line.
package protocol RealtimeStore: Sendable {
    /// Sets who hears committed changes of the published tables, in commit order, after
    /// commit (nil: nobody). The listener must hand the records off at once.
    func setChangeListener(_ listener: ChangeListener?)

    /// Up to `limit` changes after `offset`, in order, with the oldest offset still kept and
    /// the latest committed one (for resume).
    func changes(after offset: Int64, limit: Int) async throws -> (changes: [ChangeRecord], oldestRetained: Int64?, latest: Int64)

    /// The rows of `tables` the caller may read (at most `limit` per table), with the feed
    /// offset they are consistent with (for a snapshot join).
    func snapshot(tables: [TableSchema], caller: Caller, limit: Int) async throws
        -> (rows: [(table: TableSchema, row: PraxisDomain.Row)], offset: Int64, truncated: Bool)

    /// The related-row facts the read rules consult for the rows named by `keys`.
    func relatedRows(_ keys: RelationKeys) async throws -> RowRelations

    /// A room's seats as stored now, with the feed offset they are as of (nil: no room).
    func roomSeat(id: String) async throws -> RoomSeat?

    /// The user and whether their login session is still open (nil: no such user).
    func user(id: String, sessionID: String?) async throws -> (UserRecord, sessionOpen: Bool)?

    /// Appends private-channel broadcasts (one transaction), keeping the newest `retention`.
    func appendBroadcasts(_ records: [BroadcastRecord], retention: Int) async throws

    /// The newest `limit` logged broadcasts of `topic` sent at or after `since` (Unix ms) with
    /// an id up to `upTo`, oldest first (broadcast replay).
    func broadcasts(topic: String, since: Int64, upTo: Int64, limit: Int) async throws -> [BroadcastRecord]
}

extension RealtimeStore {
    /// `snapshot` with at most `Store.snapshotRowLimit` rows per table.
    package func snapshot(tables: [TableSchema], caller: Caller) async throws
        -> (rows: [(table: TableSchema, row: PraxisDomain.Row)], offset: Int64, truncated: Bool)
    {
        try await snapshot(tables: tables, caller: caller, limit: Store.snapshotRowLimit)
    }
}

extension Store: RealtimeStore {}
