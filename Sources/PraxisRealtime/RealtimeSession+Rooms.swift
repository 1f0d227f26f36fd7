import Foundation
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

    /// How many times a join loads a room that left the registry while it was being entered.
    static let roomEnterAttempts = 5

    /// A room join being entered: what the room's loop needs of the session (taken on the
    /// session's loop; the session itself is only touched there).
    private struct RoomEntry: Sendable {
        var message: PhoenixMessage
        var caller: Caller
        var sessionID: String?
        var expiry: Int?
        var resume: Int64?
        /// `sessionNews` when the join began: news heard since means the session is checked again.
        var news: Int
        var connection: WebSocketConnection
        var version: PhoenixMessage.Version
        var session: NIOLoopBound<RealtimeSession>

        var joinRef: String? { message.joinRef ?? message.ref }

        /// Answers the join with an error, from any loop.
        func refuse(_ reason: String) {
            let session = self.session
            let message = self.message
            connection.eventLoop.execute { session.value.reply(message, status: "error", response: .object(["reason": .string(reason)])) }
        }
    }

    /// Loads the room (off the loop), then joins it on the room's loop; a room that left the
    /// registry meanwhile is loaded again, up to `roomEnterAttempts` times.
    func enterRoom(_ message: PhoenixMessage, roomID: String, caller: Caller, sessionID: String?, expiry: Int?, resume: Int64?) {
        let rooms = self.rooms
        let loop = connection.eventLoop
        let entry = RoomEntry(
            message: message, caller: caller, sessionID: sessionID, expiry: expiry, resume: resume, news: sessionNews,
            connection: connection, version: version, session: NIOLoopBound(self, eventLoop: loop)
        )
        Task { await RealtimeSession.enter(entry, roomID: roomID, rooms: rooms) }
    }

    /// Enters the room, loading it again while it left the registry meanwhile.
    private static func enter(_ entry: RoomEntry, roomID: String, rooms: RoomRegistry) async {
        var attempts = 0
        while attempts < roomEnterAttempts {
            attempts += 1
            let outcome = await enterOnce(entry, roomID: roomID, rooms: rooms)
            if case .done = outcome { return }
        }
        entry.refuse("the room could not be loaded: try again")
    }

    private enum EnterOutcome: Sendable {
        case done
        /// The room left the registry while it was being entered: load it again.
        case evicted
    }

    /// One attempt: load the room and its seat (off the loops), then admit on the room's loop.
    private static func enterOnce(_ entry: RoomEntry, roomID: String, rooms: RoomRegistry) async -> EnterOutcome {
        let loaded: (room: LiveRoom?, seat: RoomSeat?)
        do {
            loaded = (try await rooms.room(roomID, on: entry.connection.eventLoop), try await rooms.store.roomSeat(id: roomID))
        } catch {
            entry.refuse("the room could not be loaded: \(error)")
            return .done
        }
        guard let room = loaded.room, let seat = loaded.seat else {
            entry.refuse("room not found")
            return .done
        }
        let memberID = rooms.nextMemberID()
        let admitted = try? await room.loop.submit { () -> Bool in
            guard !room.evicted else { return false }
            admit(entry, to: room, seat: seat, memberID: memberID)
            return true
        }.get()
        return admitted == false ? .evicted : .done
    }

    /// On the room's loop: the caller joins the room when the topic's rule admits it with the
    /// seat as the database says (the room follows a newer read); the channel is recorded on
    /// the session's loop.
    private static func admit(_ entry: RoomEntry, to room: LiveRoom, seat: RoomSeat, memberID: Int) {
        let message = entry.message
        if let denied = room.admission(entry.caller, channel: channelName(message.topic), following: seat) {
            return entry.refuse(denied)
        }
        let joinRef = entry.joinRef
        let record: @Sendable () -> Void = {
            let session = entry.session.value
            guard !session.closed else {
                room.loop.execute { room.remove(memberID: memberID, dropped: true) }
                return
            }
            session.channels[message.topic] = Channel(
                memberID: memberID, joinRef: joinRef, broadcastAck: false, isPrivate: true, room: room, caller: entry.caller,
                sessionID: entry.sessionID
            )
            session.scheduleTokenExpiry(topic: message.topic, expiry: entry.expiry)
            // A session ended while the room was being entered: check again now that the channel is known.
            if session.sessionNews != entry.news { session.recheck(message.topic) }
        }
        let loop = entry.connection.eventLoop
        if loop.inEventLoop { record() } else { loop.execute(record) }
        room.join(
            LiveRoom.Member(
                id: memberID, userID: entry.caller.userID ?? "", connection: entry.connection, topic: message.topic, version: entry.version,
                joinRef: joinRef
            ),
            caller: entry.caller,
            resume: entry.resume,
            reply: LiveRoom.ReplyTarget(connection: entry.connection, topic: message.topic, version: entry.version, joinRef: joinRef, ref: message.ref)
        )
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
