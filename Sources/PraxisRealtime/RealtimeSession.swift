import Foundation
import NIOCore
import PraxisAuth
import PraxisDomain
import PraxisProtocol
import PraxisStore
import PraxisWebSocket

/// One realtime connection: parses Phoenix messages and runs its channels. Lives on the
/// connection's event loop; shared state goes through the hub.
final class RealtimeSession: WebSocketMessageHandler {
    private struct Channel {
        var memberID: Int
        var joinRef: String?
        var broadcastAck: Bool
        var isPrivate: Bool
        /// For a room topic: the room (its member id is `memberID`).
        var room: LiveRoom?
        /// Who joined (or last refreshed the token): their rules apply, and their session
        /// must stay open.
        var caller: Caller
        var sessionID: String?

        var userID: String? { caller.userID }
    }

    private let connection: WebSocketConnection
    private let hub: RealtimeHub
    private let rooms: RoomRegistry
    private let version: PhoenixMessage.Version
    private let apiKey: String
    private var channels: [String: Channel] = [:]
    private var lastHeard = NIODeadline.now()
    private var heartbeatCheck: Scheduled<Void>?
    private var tokenTimers: [String: Scheduled<Void>] = [:]
    private var closed = false
    /// The session-end listener's id (``SessionEvents``).
    private var sessionListener: Int?
    /// Counts session-end news heard: a check that read the store before news arrived is
    /// done again.
    private var sessionNews = 0
    /// Per-connection rates (``RealtimeConfiguration``): joins, broadcasts, presence pushes.
    private var joinRate: RateBucket
    private var messageRate: RateBucket
    private var presenceRate: RateBucket

    init(connection: WebSocketConnection, hub: RealtimeHub, rooms: RoomRegistry, version: PhoenixMessage.Version, apiKey: String) {
        self.connection = connection
        self.hub = hub
        self.rooms = rooms
        self.version = version
        self.apiKey = apiKey
        joinRate = RateBucket(limit: hub.configuration.maxJoinsPerSecond)
        messageRate = RateBucket(limit: hub.configuration.maxMessagesPerSecond)
        presenceRate = RateBucket(limit: hub.configuration.maxPresencePerSecond)
        scheduleHeartbeatCheck()
        let loop = connection.eventLoop
        let me = NIOLoopBound(WeakSession(self), eventLoop: loop)
        sessionListener = hub.tokens.sessionEvents.addListener { userID in
            loop.execute { me.value.session?.sessionsEnded(userID: userID) }
        }
    }

    // MARK: WebSocketMessageHandler

    func received(text: ByteBuffer) {
        lastHeard = .now()
        let message: PhoenixMessage
        do {
            message = try PhoenixMessage.decode(Array(text.readableBytesView), version: version)
        } catch {
            send(PhoenixMessage(topic: "phoenix", event: "phx_error", payload: .object(["reason": .string("malformed message: \(error.reason)")])))
            return
        }
        handle(message)
    }

    func received(binary: ByteBuffer) {
        lastHeard = .now()
        guard version == .v2 else {
            return send(PhoenixMessage(topic: "phoenix", event: "phx_error", payload: .object(["reason": .string("binary messages are not supported")])))
        }
        let push: BinaryBroadcast.Push
        do {
            push = try BinaryBroadcast.decodePush(Array(binary.readableBytesView))
        } catch {
            return send(PhoenixMessage(topic: "phoenix", event: "phx_error", payload: .object(["reason": .string("malformed binary message: \(error.reason)")])))
        }
        binaryBroadcast(push)
    }

    func closed(code: UInt16?) {
        closed = true
        if let sessionListener { hub.tokens.sessionEvents.removeListener(sessionListener) }
        heartbeatCheck?.cancel()
        for timer in tokenTimers.values { timer.cancel() }
        for channel in channels.values { release(channel) }
        channels = [:]
    }

    /// Leaves a channel's hub membership, or its room (a dropped peer keeps its seat for the grace period).
    private func release(_ channel: Channel) {
        if let room = channel.room {
            let memberID = channel.memberID
            room.loop.execute { room.remove(memberID: memberID, dropped: true) }
        } else {
            hub.remove(channel.memberID)
        }
    }

    // MARK: Dispatch

    private func handle(_ message: PhoenixMessage) {
        if message.topic == "phoenix" {
            if message.event == "heartbeat" {
                reply(message, status: "ok", response: .object([:]))
            } else {
                reply(message, status: "error", response: .object(["reason": .string("unknown event \(message.event) on topic phoenix")]))
            }
            return
        }
        if message.event != "phx_join", message.event != "phx_leave", message.event != "access_token",
            let channel = channels[message.topic], let room = channel.room
        {
            guard message.event != "broadcast", message.event != "presence" else {
                return reply(message, status: "error", response: .object(["reason": .string("room topics carry room commands only")]))
            }
            let target = LiveRoom.ReplyTarget(
                connection: connection, topic: message.topic, version: version, joinRef: message.joinRef, ref: message.ref
            )
            let memberID = channel.memberID
            let event = message.event
            let payload = message.payload.object ?? [:]
            room.loop.execute { room.command(event, payload: payload, memberID: memberID, reply: target) }
            return
        }
        switch message.event {
        case "phx_join":
            guard joinRate.take() else {
                return reply(message, status: "error", response: .object(["reason": .string(RealtimeError.tooManyJoins.reason)]))
            }
            if message.topic.hasPrefix(Self.roomTopicPrefix) { return joinRoom(message) }
            join(message)
        case "phx_leave":
            leave(message)
        case "broadcast":
            broadcast(message)
        case "presence":
            presence(message)
        case "access_token":
            accessToken(message)
        default:
            guard channels[message.topic] != nil else {
                reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
                return
            }
            reply(message, status: "error", response: .object(["reason": .string("unknown event \(message.event)")]))
        }
    }

    // MARK: Join and leave

    private func join(_ message: PhoenixMessage) {
        let payload = message.payload.object ?? [:]
        let config = payload["config"]?.object ?? [:]
        let caller: Caller
        let expiry: Int?
        let sessionID: String?
        let isPrivate = config["private"]?.bool == true
        do throws(RealtimeError) {
            (caller, expiry, sessionID) = try joiningCaller(message, payload: payload)
        } catch {
            return reply(message, status: "error", response: .object(["reason": .string(error.reason)]))
        }
        do throws(AccessDenied) {
            try AccessPolicy.checkTopic(Self.channelName(message.topic), isPrivate: isPrivate, by: caller)
        } catch {
            return reply(message, status: "error", response: .object(["reason": .string(error.message)]))
        }
        do throws(RealtimeError) {
            _ = try ReplayRequest.parse(config, isPrivate: isPrivate)
        } catch {
            return reply(message, status: "error", response: .object(["reason": .string(error.reason)]))
        }
        var bindings: [ChangeBinding] = []
        do {
            if case .array(let entries) = config["postgres_changes"] ?? .null {
                for entry in entries { bindings.append(try ChangeBinding(entry)) }
            }
        } catch {
            return reply(message, status: "error", response: .object(["reason": .string(error.reason)]))
        }
        checkUser(caller, sessionID: sessionID) { [self] allowed in
            guard !self.closed else { return }
            guard allowed else {
                return self.reply(message, status: "error", response: .object(["reason": .string(RealtimeError.signedOut.reason)]))
            }
            self.completeJoin(message, config: config, caller: caller, sessionID: sessionID, expiry: expiry, isPrivate: isPrivate, bindings: bindings)
        }
    }

    /// A checked join: membership, reply, then (for snapshot or resume) the recovery.
    private func completeJoin(
        _ message: PhoenixMessage, config: [String: JSONValue], caller: Caller, sessionID: String?, expiry: Int?, isPrivate: Bool,
        bindings: [ChangeBinding]
    ) {
        if let previous = channels.removeValue(forKey: message.topic) {
            release(previous)  // Rejoining a topic replaces the old membership.
        }
        let broadcastConfig = config["broadcast"]?.object ?? [:]
        var presenceKey = config["presence"]?.object?["key"]?.string ?? ""
        if presenceKey.isEmpty { presenceKey = UUID().uuidString.lowercased() }
        let praxis = config["praxis"]?.object ?? [:]
        let resume = praxis["resume"]?.object
        let wantsSnapshot = praxis["snapshot"]?.bool == true
        let buffering = resume != nil || wantsSnapshot
        let memberID = hub.add(
            connection: connection, topic: message.topic, isPrivate: isPrivate, version: version, caller: caller, bindings: bindings,
            broadcastSelf: broadcastConfig["self"]?.bool == true, presenceKey: presenceKey, buffering: buffering
        )
        channels[message.topic] = Channel(
            memberID: memberID, joinRef: message.joinRef ?? message.ref, broadcastAck: broadcastConfig["ack"]?.bool == true, isPrivate: isPrivate,
            caller: caller, sessionID: sessionID
        )
        scheduleTokenExpiry(topic: message.topic, expiry: expiry)
        let response: [String: JSONValue] = ["postgres_changes": .array(bindings.map(\.replyJSON))]
        guard buffering else {
            reply(message, status: "ok", response: .object(response))
            afterJoin(message, bindings: bindings)
            return
        }
        // Snapshot or resume: read, then reply, then replay, then go live.
        let hub = self.hub
        let loop = connection.eventLoop
        let resumeEpoch = resume?["epoch"]?.string
        let resumeOffset: Int64? = {
            if case .number(let number)? = resume?["offset"] { return Int64(number) }
            return nil
        }()
        let session = NIOLoopBound(self, eventLoop: loop)
        let joinResponse = response
        Task {
            let plan = await RecoveryPlan.make(
                hub: hub, caller: caller, bindings: bindings, resumeEpoch: resumeEpoch, resumeOffset: resumeOffset, wantsSnapshot: wantsSnapshot
            )
            loop.execute {
                session.value.finishJoin(message, memberID: memberID, bindings: bindings, response: joinResponse, plan: plan)
            }
        }
    }

    /// The end of a snapshot or resume join, back on the loop: reply, replay, go live.
    private func finishJoin(_ message: PhoenixMessage, memberID: Int, bindings: [ChangeBinding], response: [String: JSONValue], plan: RecoveryPlan) {
        guard !closed, channels[message.topic]?.memberID == memberID, let member = hub.member(memberID) else { return }
        var response = response
        var praxisReply: [String: JSONValue] = [
            "epoch": .string(hub.epoch), "offset": .number(Double(plan.offset)), "recovered": .bool(plan.recovered),
        ]
        if let rows = plan.snapshot {
            praxisReply["snapshot"] = .array(rows)
            praxisReply["snapshot_truncated"] = .bool(plan.truncated)
        }
        response["praxis"] = .object(praxisReply)
        reply(message, status: "ok", response: .object(response))
        afterJoin(message, bindings: bindings)
        var last = plan.offset
        for change in plan.replay {
            if let bytes = hub.message(for: change, member: member, relations: plan.replayRelations) { connection.send(text: bytes) }
            last = max(last, change.offset)
        }
        let buffered = hub.goLive(memberID, after: last)
        for change in buffered.changes {
            if let bytes = hub.message(for: change, member: member, relations: buffered.relations) { connection.send(text: bytes) }
        }
        connection.flush()
    }

    /// After a join reply: the feed is live ("subscribed"), and the presence state follows.
    private func afterJoin(_ message: PhoenixMessage, bindings: [ChangeBinding]) {
        if !bindings.isEmpty {
            push(topic: message.topic, event: "system", payload: .object([
                "status": .string("ok"), "extension": .string("postgres_changes"), "channel": .string(Self.channelName(message.topic)),
                "message": .string("Subscribed to PostgreSQL"),
            ]))
        }
        // Supabase's replication handshake (`config.broadcast.replication_ready`): the feed is live at join.
        if Self.isTrue(message.payload.object?["config"]?.object?["broadcast"]?.object?["replication_ready"]) {
            push(topic: message.topic, event: "system", payload: .object([
                "status": .string("ok"), "extension": .string("system"), "channel": .string(Self.channelName(message.topic)),
                "message": .string("Replication connection established"),
            ]))
        }
        if let channel = channels[message.topic] {
            push(topic: message.topic, event: "presence_state", payload: hub.presenceState(of: channel.memberID))
            let config = message.payload.object?["config"]?.object ?? [:]
            if let request = try? ReplayRequest.parse(config, isPrivate: channel.isPrivate) {
                startReplay(topic: message.topic, memberID: channel.memberID, request)
            }
        }
    }

    /// Broadcast replay (`config.broadcast.replay`), after the join reply and `presence_state`:
    /// the logged broadcasts the channel missed, read off the loop, then sent if it is still joined.
    private func startReplay(topic: String, memberID: Int, _ request: ReplayRequest) {
        let hub = self.hub
        let loop = connection.eventLoop
        let session = NIOLoopBound(WeakSession(self), eventLoop: loop)
        Task {
            let messages = await hub.replay(memberID: memberID, request)
            loop.execute {
                guard let current = session.value.session, !current.closed, current.channels[topic]?.memberID == memberID else { return }
                for message in messages { current.connection.send(text: message) }
                current.connection.flush()
            }
        }
    }

    // MARK: Rooms

    static let roomTopicPrefix = "realtime:room:"

    /// Joins a room topic: a signed-in host or guest only; the reply is the room snapshot.
    private func joinRoom(_ message: PhoenixMessage) {
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
    private func enterRoom(_ message: PhoenixMessage, roomID: String, caller: Caller, sessionID: String?, expiry: Int?, resume: Int64?) {
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

    private func leave(_ message: PhoenixMessage) {
        guard let channel = channels.removeValue(forKey: message.topic) else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        tokenTimers.removeValue(forKey: message.topic)?.cancel()
        release(channel)
        reply(message, status: "ok", response: .object([:]))
        send(PhoenixMessage(joinRef: channel.joinRef, ref: message.ref, topic: message.topic, event: "phx_close", payload: .object([:])))
    }

    // MARK: Broadcast and presence

    private func broadcast(_ message: PhoenixMessage) {
        guard let channel = channels[message.topic] else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        guard messageRate.take(), hub.takeServerMessage() else { return closeChannel(message.topic, reason: RealtimeError.tooManyMessages.reason) }
        let payloadJSON = Array(message.payload.jsonString.utf8)
        guard payloadJSON.count <= hub.configuration.maxPayloadBytes else {
            if message.ref != nil { reply(message, status: "error", response: .object(["reason": .string(RealtimeError.payloadTooLarge.reason)])) }
            return
        }
        hub.broadcast(from: channel.memberID, payloadJSON: payloadJSON)
        if channel.broadcastAck, message.ref != nil {
            reply(message, status: "ok", response: .object([:]))
        }
    }

    /// A vsn 2.0.0 `user_broadcast_push`: relayed like a `broadcast` push (same rules, rates and
    /// size limit); a binary payload reaches vsn 2.0.0 members only, a JSON one every member.
    private func binaryBroadcast(_ push: BinaryBroadcast.Push) {
        let message = PhoenixMessage(joinRef: push.joinRef, ref: push.ref, topic: push.topic, event: "broadcast", payload: .object([:]))
        guard let channel = channels[push.topic] else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        guard channel.room == nil else {
            return reply(message, status: "error", response: .object(["reason": .string("room topics carry room commands only")]))
        }
        guard messageRate.take(), hub.takeServerMessage() else { return closeChannel(push.topic, reason: RealtimeError.tooManyMessages.reason) }
        guard push.payload.count <= hub.configuration.maxPayloadBytes else {
            if push.ref != nil { reply(message, status: "error", response: .object(["reason": .string(RealtimeError.payloadTooLarge.reason)])) }
            return
        }
        let payload: BroadcastPayload
        if push.isJSON {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(push.payload)) else {
                return reply(message, status: "error", response: .object(["reason": .string("malformed binary message: the JSON payload does not decode")]))
            }
            payload = .json(Array(value.jsonString.utf8))
        } else {
            payload = .binary(push.payload)
        }
        let echo = hub.member(channel.memberID)?.broadcastSelf == true
        hub.publish(topic: push.topic, isPrivate: channel.isPrivate, event: push.event, payload: payload, except: echo ? nil : channel.memberID)
        if channel.broadcastAck, push.ref != nil {
            reply(message, status: "ok", response: .object([:]))
        }
    }

    private func presence(_ message: PhoenixMessage) {
        guard let channel = channels[message.topic] else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        guard presenceRate.take() else { return closeChannel(message.topic, reason: RealtimeError.tooManyPresence.reason) }
        let payload = message.payload.object ?? [:]
        switch payload["event"]?.string {
        case "track":
            hub.track(channel.memberID, meta: payload["payload"]?.object ?? [:])
            reply(message, status: "ok", response: .object([:]))
        case "untrack":
            hub.untrack(channel.memberID)
            reply(message, status: "ok", response: .object([:]))
        default:
            reply(message, status: "error", response: .object(["reason": .string("presence events are track and untrack")]))
        }
    }

    // MARK: Tokens

    /// The caller of a join (its `access_token`, else the connection's API key), once the
    /// connection may take one more channel.
    private func joiningCaller(_ message: PhoenixMessage, payload: [String: JSONValue]) throws(RealtimeError) -> (Caller, Int?, String?) {
        let found = try authorise(payload["access_token"]?.string ?? apiKey)
        guard channels[message.topic] != nil || channels.count < hub.configuration.maxChannelsPerConnection else {
            throw RealtimeError.tooManyChannels
        }
        return found
    }

    /// The caller a token stands for, its expiry, and its login session.
    private func authorise(_ token: String) throws(RealtimeError) -> (Caller, Int?, String?) {
        let claims: TokenClaims
        do {
            claims = try hub.tokens.verifyNow(token)
        } catch {
            throw error == .expired ? .expiredToken : .invalidToken
        }
        switch claims.role {
        case "anon": return (.anonymous, nil, nil)
        case "service_role": return (.service, nil, nil)
        case "authenticated":
            guard let subject = claims.sub else { throw .invalidToken }
            return (.user(id: subject, isAdmin: false), claims.exp, claims.session_id)
        default: throw .invalidToken
        }
    }

    private func accessToken(_ message: PhoenixMessage) {
        guard let channel = channels[message.topic] else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        guard let token = message.payload.object?["access_token"]?.string else {
            return reply(message, status: "error", response: .object(["reason": .string("access_token is required")]))
        }
        let (caller, expiry, sessionID): (Caller, Int?, String?)
        do throws(RealtimeError) {
            (caller, expiry, sessionID) = try authorise(token)
        } catch {
            return closeChannel(message.topic, reason: error.reason)
        }
        if channel.room != nil, caller.userID == nil || caller.userID != channel.userID {
            return closeChannel(message.topic, reason: "a room channel's token must stay the same user's")
        }
        // The topic's rule again, with the new token (a room's: with its seat as stored now).
        checkAccess(topic: message.topic, caller: caller, sessionID: sessionID, isPrivate: channel.isPrivate, room: channel.room) { [self] denied in
            guard let current = self.channels[message.topic], current.memberID == channel.memberID else { return }
            if let denied { return self.closeChannel(message.topic, reason: denied) }
            self.channels[message.topic]?.caller = caller
            self.channels[message.topic]?.sessionID = sessionID
            if current.room == nil { self.hub.updateCaller(channel.memberID, caller: caller) }
            self.scheduleTokenExpiry(topic: message.topic, expiry: expiry)
            if message.ref != nil { self.reply(message, status: "ok", response: .object([:])) }
        }
    }

    /// Checks (off the loop) that a channel's caller may still have it: a user's session is
    /// open and they are active, and the topic's rule admits them (for a room, with its
    /// seat as stored now). Continues on the loop with the reason to close, or nil.
    private func checkAccess(
        topic: String, caller: Caller, sessionID: String?, isPrivate: Bool, room: LiveRoom?, then continuation: @escaping (String?) -> Void
    ) {
        let name = Self.channelName(topic)
        if room == nil {
            do throws(AccessDenied) {
                try AccessPolicy.checkTopic(name, isPrivate: isPrivate, by: caller)
            } catch {
                return continuation(error.message)
            }
        }
        checkUser(caller, sessionID: sessionID) { [self] allowed in
            guard allowed else { return continuation(RealtimeError.signedOut.reason) }
            guard let room else { return continuation(nil) }
            let store = self.hub.store
            let loop = self.connection.eventLoop
            let next = NIOLoopBound(continuation, eventLoop: loop)
            let roomID = room.id
            Task {
                let seat = try? await store.roomSeat(id: roomID)
                room.loop.execute {
                    let denied = seat.map { room.admission(caller, channel: name, following: $0) } ?? "room not found"
                    loop.execute { next.value(denied) }
                }
            }
        }
    }

    /// Some of `userID`'s sessions ended (news from the auth side): each of their channels
    /// is checked again at once and closed when its session is over.
    private func sessionsEnded(userID: String?) {
        sessionNews += 1
        for (topic, channel) in channels where channel.userID != nil && (userID == nil || channel.userID == userID) { recheck(topic) }
    }

    /// Checks a joined channel again (its session, its topic rule); closes it when denied.
    private func recheck(_ topic: String) {
        guard let channel = channels[topic] else { return }
        checkAccess(topic: topic, caller: channel.caller, sessionID: channel.sessionID, isPrivate: channel.isPrivate, room: channel.room) { [self] denied in
            guard let denied, let current = self.channels[topic], current.memberID == channel.memberID else { return }
            self.closeChannel(topic, reason: denied)
        }
    }

    /// For a user token, checks (off the loop) that the user is active and the login session
    /// still open, as the HTTP API does; then continues on the loop.
    private func checkUser(_ caller: Caller, sessionID: String?, then continuation: @escaping (Bool) -> Void) {
        guard let userID = caller.userID else { return continuation(true) }
        let store = hub.store
        let loop = connection.eventLoop
        let news = sessionNews
        let session = NIOLoopBound(WeakSession(self), eventLoop: loop)
        let next = NIOLoopBound(continuation, eventLoop: loop)
        Task {
            let found = try? await store.user(id: userID, sessionID: sessionID)
            let allowed = found.map { $0.0.isActive && $0.sessionOpen } ?? false
            loop.execute {
                // News of an ended session came while reading: read again.
                if allowed, let current = session.value.session, current.sessionNews != news {
                    return current.checkUser(caller, sessionID: sessionID, then: next.value)
                }
                next.value(allowed)
            }
        }
    }

    /// A user token's expiry closes its channels unless a fresh token arrives first.
    private func scheduleTokenExpiry(topic: String, expiry: Int?) {
        tokenTimers.removeValue(forKey: topic)?.cancel()
        guard let expiry else { return }
        let delay = max(0, Double(expiry) - Date().timeIntervalSince1970)
        tokenTimers[topic] = connection.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay * 1000))) { [weak self] in
            self?.closeChannel(topic, reason: RealtimeError.expiredToken.reason)
        }
    }

    /// Tells the client why (system error), closes the channel (phx_close), leaves it.
    private func closeChannel(_ topic: String, reason: String) {
        guard let channel = channels.removeValue(forKey: topic) else { return }
        tokenTimers.removeValue(forKey: topic)?.cancel()
        release(channel)
        push(topic: topic, event: "system", payload: .object([
            "status": .string("error"), "extension": .string("system"), "channel": .string(Self.channelName(topic)),
            "message": .string(reason),
        ]))
        send(PhoenixMessage(joinRef: channel.joinRef, topic: topic, event: "phx_close", payload: .object([:])))
    }

    // MARK: Liveness

    private func scheduleHeartbeatCheck() {
        let timeout = hub.configuration.heartbeatTimeout
        let interval = TimeAmount.milliseconds(Int64(max(0.25, timeout / 4) * 1000))
        heartbeatCheck = connection.eventLoop.assumeIsolated().scheduleTask(in: interval) { [weak self] in
            guard let self, !self.closed else { return }
            if (NIODeadline.now() - self.lastHeard).nanoseconds > Int64(timeout * 1_000_000_000) {
                self.connection.close(code: CloseCode.goingAway, reason: "heartbeat timeout")
                return
            }
            self.scheduleHeartbeatCheck()
        }
    }

    // MARK: Writing

    private func reply(_ message: PhoenixMessage, status: String, response: JSONValue) {
        send(PhoenixMessage(
            joinRef: message.joinRef, ref: message.ref, topic: message.topic, event: "phx_reply",
            payload: .object(["status": .string(status), "response": response])
        ))
    }

    private func push(topic: String, event: String, payload: JSONValue) {
        send(PhoenixMessage(topic: topic, event: event, payload: payload))
    }

    private func send(_ message: PhoenixMessage) {
        connection.send(text: ByteBuffer(bytes: message.encode(version)))
    }

    /// A flag as Supabase casts it: `true`, or the text `"true"`.
    static func isTrue(_ value: JSONValue?) -> Bool {
        switch value {
        case .bool(let flag)?: flag
        case .string(let text)?: text.lowercased() == "true"
        default: false
        }
    }

    static func channelName(_ topic: String) -> String {
        topic.hasPrefix("realtime:") ? String(topic.dropFirst("realtime:".count)) : topic
    }
}

/// A session held weakly: listeners and reads in flight must not keep a closed connection alive.
private final class WeakSession {
    weak var session: RealtimeSession?

    init(_ session: RealtimeSession) {
        self.session = session
    }
}
