import NIOCore
import PraxisDomain
import PraxisProtocol
import PraxisStore

/// The rooms behind `RoomChannels`: a join loads the room (again, while it leaves the
/// registry meanwhile), checks the topic's rule and joins on the room's loop; commands and
/// removals hop to the member's room.
extension RoomRegistry: RoomChannels {
    /// How many times a join loads a room that left the registry while it was being entered.
    static let enterAttempts = 5

    func enter(_ join: RoomJoin, admitted: @escaping @Sendable (RoomMember) -> Void, refused: @escaping @Sendable (String) -> Void) {
        Task {
            for _ in 0..<Self.enterAttempts {
                if await enterOnce(join, admitted: admitted, refused: refused) { return }
            }
            refused("the room could not be loaded: try again")
        }
    }

    /// One attempt: load the room and its seat (off the loops), then admit on the room's
    /// loop. False when the room left the registry meanwhile (load it again).
    private func enterOnce(_ join: RoomJoin, admitted: @escaping @Sendable (RoomMember) -> Void, refused: @escaping @Sendable (String) -> Void) async -> Bool {
        let loaded: (room: LiveRoom?, seat: RoomSeat?)
        do {
            loaded = (try await room(join.roomID, on: join.connection.eventLoop), try await store.roomSeat(id: join.roomID))
        } catch {
            refused("the room could not be loaded: \(error)")
            return true
        }
        guard let room = loaded.room, let seat = loaded.seat else {
            refused("room not found")
            return true
        }
        let memberID = nextMemberID()
        let entered = try? await room.loop.submit { () -> Bool in
            guard !room.evicted else { return false }
            if let denied = room.admission(join.caller, channel: RealtimeSession.channelName(join.topic), following: seat) {
                refused(denied)
                return true
            }
            admitted(RoomMember(roomID: join.roomID, memberID: memberID, owner: room))
            room.join(
                LiveRoom.Member(
                    id: memberID, userID: join.caller.userID ?? "", connection: join.connection, topic: join.topic, version: join.version,
                    joinRef: join.reply.joinRef
                ),
                caller: join.caller, resume: join.resume, reply: join.reply
            )
            return true
        }.get()
        return entered != false
    }

    func command(_ event: String, payload: [String: JSONValue], from member: RoomMember, reply: LiveRoom.ReplyTarget) {
        guard let room = member.owner as? LiveRoom else { return }
        let memberID = member.memberID
        room.loop.execute { room.command(event, payload: payload, memberID: memberID, reply: reply) }
    }

    func remove(_ member: RoomMember, dropped: Bool) {
        guard let room = member.owner as? LiveRoom else { return }
        let memberID = member.memberID
        room.loop.execute { room.remove(memberID: memberID, dropped: dropped) }
    }

    func admission(of caller: Caller, channel: String, member: RoomMember, then: @escaping @Sendable (String?) -> Void) {
        guard let room = member.owner as? LiveRoom else { return then("room not found") }
        let store = self.store
        let roomID = member.roomID
        Task {
            let seat = try? await store.roomSeat(id: roomID)
            room.loop.execute { then(seat.map { room.admission(caller, channel: channel, following: $0) } ?? "room not found") }
        }
    }
}
