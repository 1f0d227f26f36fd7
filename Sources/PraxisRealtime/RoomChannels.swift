import PraxisDomain
import PraxisProtocol
import PraxisWebSocket

/// The rooms as a realtime session sees them: the one interface between `RealtimeSession`
/// (Phoenix channels) and the rooms' shell. `RoomRegistry` is the real one; the session's
/// tests use a double. Every method may be called on any thread and returns at once; what
/// comes back comes through the callbacks (on any thread: the session hops to its loop) or
/// as messages the rooms send on the reply targets themselves (the join's snapshot, a
/// command's reply, the room's events).
protocol RoomChannels: Sendable {
    /// Enters room `join.roomID` (a UUID): loads it, checks the topic's rule with the seat
    /// as stored now, adds the member and answers the join (snapshot, or a reason) on
    /// `join.reply`. `admitted` runs first, once the member is admitted, so the session
    /// records the channel before anything is sent on it; `refused` runs instead when the
    /// join is refused before that (no such room, not its host or guest, a failed load), for
    /// the session to answer.
    func enter(_ join: RoomJoin, admitted: @escaping @Sendable (RoomMember) -> Void, refused: @escaping @Sendable (String) -> Void)

    /// A push on a joined room topic: the room answers on `reply`.
    func command(_ event: String, payload: [String: JSONValue], from member: RoomMember, reply: LiveRoom.ReplyTarget)

    /// The member's channel is gone (`dropped`: its connection or channel closed without a
    /// `leave`, so a participant keeps its seat for the grace period).
    func remove(_ member: RoomMember, dropped: Bool)

    /// Whether `caller` may still hold the member's channel `channel` (`room:<id>`), with
    /// the seat as stored now: nil, or the reason to close it.
    func admission(of caller: Caller, channel: String, member: RoomMember, then: @escaping @Sendable (String?) -> Void)
}

/// A join of a room topic as the session hands it to the rooms.
struct RoomJoin: Sendable {
    var roomID: String
    var caller: Caller
    /// The room offset the client resumes after (nil: a snapshot only).
    var resume: Int64?
    var connection: WebSocketConnection
    var topic: String
    var version: PhoenixMessage.Version
    /// Where the join's answer (and later messages) go.
    var reply: LiveRoom.ReplyTarget
}

/// A joined member of a room, as its session holds it: the session never looks inside.
struct RoomMember: Sendable {
    var roomID: String
    var memberID: Int
    /// The rooms' own handle of the room this member joined (the loaded `LiveRoom`).
    var owner: any AnyObject & Sendable
}
