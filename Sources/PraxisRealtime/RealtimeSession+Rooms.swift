import NIOCore
import PraxisAuth
import PraxisDomain
import PraxisProtocol
import PraxisStore
import PraxisWebSocket

/// Room topics (`realtime:room:<id>`): joins go to the room shell, commands to the room.
extension RealtimeSession {
    // MARK: Rooms

    static let roomTopicPrefix = "realtime:room:"

    /// Joins a room topic: a signed-in host or guest only; the reply is the room snapshot.
    func joinRoom(_ message: PhoenixMessage) {
        let payload = message.payload.object ?? [:]
        let config = payload["config"]?.object ?? [:]
        let caller: Caller
        let expiry: Int?
        let sessionID: String?
        do throws(RealtimeError) {
            (caller, expiry, sessionID) = try joiningCaller(message, payload: payload)
            guard caller.userID != nil else { throw RealtimeError(reason: "unauthorized: room channels need a signed-in user") }
        } catch {
            return reply(message, status: "error", response: .object(["reason": .string(error.reason)]))
        }
        let roomID = String(message.topic.dropFirst(Self.roomTopicPrefix.count))
        guard Self.isUUID(roomID) else {
            return reply(message, status: "error", response: .object(["reason": .string("room not found")]))
        }
        var resume: Int64?
        if case .number(let offset)? = config["praxis"]?.object?["resume"]?.object?["offset"] { resume = Int64(offset) }
        checkUser(caller, sessionID: sessionID) { [self] allowed in
            guard !self.closed else { return }
            guard allowed else {
                return self.reply(message, status: "error", response: .object(["reason": .string(RealtimeError.signedOut.reason)]))
            }
            if let previous = self.channels.removeValue(forKey: message.topic) { self.release(previous) }
            self.enterRoom(message, roomID: roomID, caller: caller, sessionID: sessionID, expiry: expiry, resume: resume)
        }
    }

    /// Hands the join to the rooms (`RoomChannels`): once admitted, the channel is recorded
    /// on the session's loop (or the member removed again when the session closed
    /// meanwhile); a refusal is answered here.
    func enterRoom(_ message: PhoenixMessage, roomID: String, caller: Caller, sessionID: String?, expiry: Int?, resume: Int64?) {
        let rooms = self.rooms
        let loop = connection.eventLoop
        let session = NIOLoopBound(self, eventLoop: loop)
        let news = sessionNews
        let joinRef = message.joinRef ?? message.ref
        let join = RoomJoin(
            roomID: roomID, caller: caller, resume: resume, connection: connection, topic: message.topic, version: version,
            reply: LiveRoom.ReplyTarget(connection: connection, topic: message.topic, version: version, joinRef: joinRef, ref: message.ref)
        )
        let admitted: @Sendable (RoomMember) -> Void = { member in
            let record: @Sendable () -> Void = {
                let session = session.value
                guard !session.closed else { return rooms.remove(member, dropped: true) }
                session.channels[message.topic] = Channel(
                    memberID: member.memberID, joinRef: joinRef, broadcastAck: false, isPrivate: true, room: member, caller: caller,
                    sessionID: sessionID
                )
                session.scheduleTokenExpiry(topic: message.topic, expiry: expiry)
                // A session ended while the room was being entered: check again now that the channel is known.
                if session.sessionNews != news { session.recheck(message.topic) }
            }
            if loop.inEventLoop { record() } else { loop.execute(record) }
        }
        rooms.enter(join, admitted: admitted) { reason in
            loop.execute { session.value.reply(message, status: "error", response: .object(["reason": .string(reason)])) }
        }
    }

    static func isUUID(_ text: String) -> Bool {
        guard text.utf8.count == 36 else { return false }
        for (index, byte) in text.utf8.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte) else { return false }
            }
        }
        return true
    }
}
