/// The access rules of realtime topics (broadcast and presence; Supabase's row-level rules
/// on `realtime.messages`, where read = receive and insert = send): one rule per topic
/// name, checked when a channel is joined and again on every `access_token` refresh (a
/// refresh that loses access closes the channel).
///
/// | topic (without `realtime:`) | who may join (receive and send) |
/// |---|---|
/// | `room:<room id>` | the room's host and its guest as `practice_rooms.guest_id` says now (the room engine's channel) |
/// | `user:<user id>` | that user only, public or private join alike |
/// | `board`, `board:<anything>` | everyone with the API key; a private join needs a signed-in user |
/// | any other name, public (`config.private` false) | everyone with the API key (Supabase's public channels) |
/// | any other name, private (`config.private` true) | nobody: no rule admits it |
///
/// The service role passes every rule. Public and private joins of one name are separate
/// channels (as in Supabase), so a public join never hears a private channel's messages.
/// postgres_changes on any channel stay under the table rules of ``readable(_:by:roomLink:)``.
extension AccessPolicy {
    /// What a topic name is, for its rule.
    public enum Topic: Sendable, Equatable {
        /// A practice room's channel (`room:<id>`).
        case room(id: String)
        /// A user's own channel (`user:<id>`).
        case user(id: String)
        /// The public board (`board`, `board:<name>`).
        case board
        /// Anything else.
        case other(String)

        /// Parses a channel name (the topic without `realtime:`).
        public init(_ name: String) {
            if name.hasPrefix("room:") {
                self = .room(id: String(name.dropFirst("room:".count)))
            } else if name.hasPrefix("user:") {
                self = .user(id: String(name.dropFirst("user:".count)))
            } else if name == "board" || name.hasPrefix("board:") {
                self = .board
            } else {
                self = .other(name)
            }
        }
    }

    /// Checks that `caller` may join (receive and send on) the channel `name`.
    ///
    /// - Parameters:
    ///   - isPrivate: the join's `config.private`, as Supabase's clients send it.
    ///   - room: for `room:<id>`, its host and guest as stored now (nil: no such room).
    public static func checkTopic(
        _ name: String, isPrivate: Bool, by caller: Caller, room: (host: String, guest: String?)? = nil
    ) throws(AccessDenied) {
        if caller.isService { return }
        switch Topic(name) {
        case .room:
            guard let me = caller.userID else { throw AccessDenied("unauthorized: room channels need a signed-in user") }
            guard let room else { throw AccessDenied("room not found") }
            guard me == room.host || (room.guest != nil && me == room.guest) else {
                throw AccessDenied("only the room's host and guest may join this room")
            }
        case .user(let id):
            guard let me = caller.userID else { throw AccessDenied("unauthorized: user:\(id) is that user's own channel: sign in") }
            guard me == id else { throw AccessDenied("unauthorized: user:\(id) is another user's channel") }
        case .board:
            if isPrivate, caller.userID == nil {
                throw AccessDenied("unauthorized: private channels need a signed-in user (send the user's access_token)")
            }
        case .other(let other):
            if isPrivate {
                throw AccessDenied("unauthorized: no rule admits the private channel \(other) (private topics: room:<id>, user:<id>, board)")
            }
        }
    }
}
