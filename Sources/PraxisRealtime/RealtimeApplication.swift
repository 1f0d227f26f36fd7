public import NIOCore
public import Logging
public import PraxisAssessment
public import NIOHTTP1
public import PraxisAuth
import PraxisDomain
import PraxisProtocol
public import PraxisStore
public import PraxisWebSocket
import Synchronization
import Foundation

/// The Phoenix Channels / Supabase Realtime endpoint (`/realtime/v1/websocket`,
/// `/socket/websocket`): heartbeats, channels with postgres_changes, broadcast, presence,
/// token refresh, and Praxis' snapshot and resume by offset.
public final class RealtimeApplication: WebSocketApplication {
    let hub: RealtimeHub
    let rooms: RoomRegistry
    /// The REST broadcast API's server-wide rate (``RealtimeConfiguration/maxAPIBroadcastsPerSecond``).
    let apiRate: Mutex<RateBucket>

    /// - Parameters:
    ///   - epoch: the change log's epoch (`Store.feedEpoch()`).
    ///   - assessor: assesses finished rounds (the heuristic one by default).
    ///   - group: the event loops rooms are owned by when no connection brings them.
    public convenience init(
        store: Store, tokens: TokenIssuer, epoch: String, configuration: RealtimeConfiguration, rooms roomConfiguration: RoomConfiguration = .init(),
        assessor: any Assessor = HeuristicRoundAssessor(), group: any EventLoopGroup, logger: Logger = Logger(label: "praxis.realtime")
    ) {
        self.init(
            database: .sqlite(store), lastBroadcastID: (try? store.lastBroadcastID()) ?? 0, tokens: tokens, epoch: epoch,
            configuration: configuration, rooms: roomConfiguration, assessor: assessor, group: group, logger: logger
        )
    }

    /// Realtime over any opened database (SQLite or PostgreSQL): the feed on its
    /// ``RealtimeStore``, the rooms on its ``RoomStore`` and room journal.
    ///
    /// - Parameter lastBroadcastID: the highest logged broadcast id (`OpenedStore.lastBroadcastID()`).
    package init(
        database: OpenedStore, lastBroadcastID: Int64, tokens: TokenIssuer, epoch: String, configuration: RealtimeConfiguration,
        rooms roomConfiguration: RoomConfiguration = .init(), assessor: any Assessor = HeuristicRoundAssessor(), group: any EventLoopGroup,
        logger: Logger = Logger(label: "praxis.realtime")
    ) {
        hub = RealtimeHub(store: database.realtime, tokens: tokens, epoch: epoch, configuration: configuration)
        apiRate = Mutex(RateBucket(limit: configuration.maxAPIBroadcastsPerSecond))
        hub.resumeBroadcastIDs(after: lastBroadcastID)
        rooms = RoomRegistry(store: database, configuration: roomConfiguration, assessor: assessor, group: group, logger: logger)
        let rooms = self.rooms
        hub.start(observer: { rooms.changed($0) })
        rooms.start()
    }

    /// Stops listening to the store and the room sweep.
    public func stop() {
        hub.stop()
        rooms.stop()
    }

    /// After `stop` and once the connections are closed: waits (at most `rounds` times) until
    /// the room journal has written everything and every loop of `group` has run the work the
    /// journal's completions handed to it, so nothing hops onto a loop after the group stops.
    public func drain(group: any EventLoopGroup, rounds: Int = 20) async {
        await hub.waitUntilDelivered()
        for _ in 0..<rounds {
            await rooms.journal.waitUntilWritten()
            for loop in group.makeIterator() {
                try? await loop.submit {}.get()
            }
            if !rooms.journal.hasWork { return }
        }
    }


    /// The API key (`apikey` query parameter) must be this server's anon or service key;
    /// `vsn` must be 1.0.0 or 2.0.0.
    public func rejection(for request: HTTPRequestHead) -> WebSocketEndpoints.Rejection? {
        let query = Self.query(request.uri)
        guard let apiKey = query["apikey"], let claims = try? hub.tokens.verifyNow(apiKey),
            ["anon", "service_role", "authenticated"].contains(claims.role)
        else {
            return .init(status: .unauthorized, message: "a valid apikey query parameter (this server's anon or service_role key, or a user access token) is required")
        }
        if let vsn = query["vsn"], PhoenixMessage.Version(rawValue: vsn) == nil {
            return .init(status: .badRequest, message: "unsupported vsn \(vsn): use 1.0.0 or 2.0.0")
        }
        return nil
    }

    public func connected(_ connection: WebSocketConnection, request: HTTPRequestHead) -> any WebSocketMessageHandler {
        let query = Self.query(request.uri)
        let version = query["vsn"].flatMap(PhoenixMessage.Version.init(rawValue:)) ?? .v1
        return RealtimeSession(connection: connection, hub: hub, rooms: rooms, version: version, apiKey: query["apikey"] ?? "")
    }

    static func query(_ uri: String) -> [String: String] {
        guard let mark = uri.firstIndex(of: "?") else { return [:] }
        var result: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count == 2 ? (String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[1])) : ""
            result[name] = value
        }
        return result
    }
}
