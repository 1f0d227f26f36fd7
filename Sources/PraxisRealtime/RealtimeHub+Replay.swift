import Foundation
import NIOCore
import PraxisDomain
import PraxisProtocol
import PraxisStore

/// What `config.broadcast.replay` asks for (Supabase: private channels only, `since` in Unix
/// milliseconds, `limit` 1–25).
struct ReplayRequest: Sendable, Equatable {
    static let maxLimit = 25

    var since: Int64
    var limit: Int

    static let invalid = RealtimeError(reason: "UnableToReplayMessages: Replay params are not valid")
    static let publicChannel = RealtimeError(reason: "UnableToReplayMessages: Replay is not allowed for public channels")

    /// The request in a join's `config`, nil when there is none.
    static func parse(_ config: [String: JSONValue], isPrivate: Bool) throws(RealtimeError) -> ReplayRequest? {
        guard let value = config["broadcast"]?.object?["replay"], value != .null else { return nil }
        guard case .object(let replay) = value, case .number(let since)? = replay["since"], since >= 0, since < 1e15,
            since.rounded(.towardZero) == since
        else { throw invalid }
        var limit = maxLimit
        switch replay["limit"] {
        case nil, .null?: break
        case .number(let number)? where number.rounded(.towardZero) == number && abs(number) < 1e9:
            limit = min(max(Int(number), 1), maxLimit)
        default: throw invalid
        }
        guard isPrivate else { throw publicChannel }
        return ReplayRequest(since: Int64(since), limit: limit)
    }
}

extension RealtimeHub {
    /// The logged broadcasts a member missed, as messages for its connection: the newest
    /// `limit` of its topic sent at or after `since` and logged before it joined (the later
    /// ones reached it live), oldest first, each with `meta: {"replayed": true, "id": "<id>"}`.
    func replay(memberID: Int, _ request: ReplayRequest) async -> [ByteBuffer] {
        guard let member = member(memberID) else { return [] }
        await broadcastLog.written(upTo: member.replayCut)
        let records = (try? await store.broadcasts(topic: member.topic, since: request.since, upTo: member.replayCut, limit: request.limit)) ?? []
        return records.compactMap { record in
            guard case .object(var payload)? = try? JSONDecoder().decode(JSONValue.self, from: Data(record.payload.utf8)) else { return nil }
            var meta = payload["meta"]?.object ?? [:]
            meta["replayed"] = .bool(true)
            meta["id"] = .string(String(record.id))
            payload["meta"] = .object(meta)
            return ByteBuffer(bytes: PhoenixMessage(topic: member.topic, event: "broadcast", payload: .object(payload)).encode(member.version))
        }
    }
}
