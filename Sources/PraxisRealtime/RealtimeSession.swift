import Foundation
import NIOCore
import PraxisAuth
import PraxisDomain
import PraxisProtocol
import PraxisStore
import PraxisWebSocket
import PraxisLoops

/// One realtime connection: parses Phoenix messages and runs its channels. Lives on the
/// connection's event loop; shared state goes through the hub.
final class RealtimeSession: WebSocketMessageHandler, LoopTimerTarget {
    struct Channel {
        var memberID: Int
        var joinRef: String?
        var broadcastAck: Bool
        var isPrivate: Bool
        /// For a room topic: the member the rooms know it as (`RoomChannels`).
        var room: RoomMember?
        /// Who joined (or last refreshed the token): their rules apply, and their session
        /// must stay open.
        var caller: Caller
        var sessionID: String?

        var userID: String? { caller.userID }
    }

    let connection: WebSocketConnection
    let hub: RealtimeHub
    let rooms: any RoomChannels
    let version: PhoenixMessage.Version
    let apiKey: String
    var channels: [String: Channel] = [:]
    var lastHeard = NIODeadline.now()
    var heartbeatTimer: LoopTimer?
    var tokenTimers: [String: Scheduled<Void>] = [:]
    var closed = false
    /// The session-end listener's id (``SessionEvents``).
    var sessionListener: Int?
    /// Counts session-end news heard: a check that read the store before news arrived is
    /// done again.
    var sessionNews = 0
    /// Per-connection rates (``RealtimeConfiguration``): joins, broadcasts, presence pushes.
    var joinRate: RateBucket
    var messageRate: RateBucket
    var presenceRate: RateBucket

    init(connection: WebSocketConnection, hub: RealtimeHub, rooms: any RoomChannels, version: PhoenixMessage.Version, apiKey: String) {
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
        heartbeatTimer?.cancel()
        for timer in tokenTimers.values { timer.cancel() }
        for channel in channels.values { release(channel) }
        channels = [:]
    }

    /// Leaves a channel's hub membership, or its room (a dropped peer keeps its seat for the grace period).
    func release(_ channel: Channel) {
        if let room = channel.room {
            rooms.remove(room, dropped: true)
        } else {
            hub.remove(channel.memberID)
        }
    }

    // MARK: Dispatch

    func handle(_ message: PhoenixMessage) {
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
            return rooms.command(message.event, payload: message.payload.object ?? [:], from: room, reply: target)
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

    func join(_ message: PhoenixMessage) {
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
    func completeJoin(
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
    func finishJoin(_ message: PhoenixMessage, memberID: Int, bindings: [ChangeBinding], response: [String: JSONValue], plan: RecoveryPlan) {
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
    func afterJoin(_ message: PhoenixMessage, bindings: [ChangeBinding]) {
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
    func startReplay(topic: String, memberID: Int, _ request: ReplayRequest) {
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

    func leave(_ message: PhoenixMessage) {
        guard let channel = channels.removeValue(forKey: message.topic) else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        tokenTimers.removeValue(forKey: message.topic)?.cancel()
        release(channel)
        reply(message, status: "ok", response: .object([:]))
        send(PhoenixMessage(joinRef: channel.joinRef, ref: message.ref, topic: message.topic, event: "phx_close", payload: .object([:])))
    }

    // MARK: Tokens

    /// The caller of a join (its `access_token`, else the connection's API key), once the
    /// connection may take one more channel.
    func joiningCaller(_ message: PhoenixMessage, payload: [String: JSONValue]) throws(RealtimeError) -> (Caller, Int?, String?) {
        let found = try authorise(payload["access_token"]?.string ?? apiKey)
        guard channels[message.topic] != nil || channels.count < hub.configuration.maxChannelsPerConnection else {
            throw RealtimeError.tooManyChannels
        }
        return found
    }

    /// The caller a token stands for, its expiry, and its login session.
    func authorise(_ token: String) throws(RealtimeError) -> (Caller, Int?, String?) {
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

    func accessToken(_ message: PhoenixMessage) {
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
    func checkAccess(
        topic: String, caller: Caller, sessionID: String?, isPrivate: Bool, room: RoomMember?, then continuation: @escaping (String?) -> Void
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
            let loop = self.connection.eventLoop
            let next = NIOLoopBound(continuation, eventLoop: loop)
            self.rooms.admission(of: caller, channel: name, member: room) { denied in loop.execute { next.value(denied) } }
        }
    }

    /// Some of `userID`'s sessions ended (news from the auth side): each of their channels
    /// is checked again at once and closed when its session is over.
    func sessionsEnded(userID: String?) {
        sessionNews += 1
        for (topic, channel) in channels where channel.userID != nil && (userID == nil || channel.userID == userID) { recheck(topic) }
    }

    /// Checks a joined channel again (its session, its topic rule); closes it when denied.
    func recheck(_ topic: String) {
        guard let channel = channels[topic] else { return }
        checkAccess(topic: topic, caller: channel.caller, sessionID: channel.sessionID, isPrivate: channel.isPrivate, room: channel.room) { [self] denied in
            guard let denied, let current = self.channels[topic], current.memberID == channel.memberID else { return }
            self.closeChannel(topic, reason: denied)
        }
    }

    /// For a user token, checks (off the loop) that the user is active and the login session
    /// still open, as the HTTP API does; then continues on the loop.
    func checkUser(_ caller: Caller, sessionID: String?, then continuation: @escaping (Bool) -> Void) {
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
    func scheduleTokenExpiry(topic: String, expiry: Int?) {
        tokenTimers.removeValue(forKey: topic)?.cancel()
        guard let expiry else { return }
        let delay = max(0, Double(expiry) - Date().timeIntervalSince1970)
        tokenTimers[topic] = connection.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay * 1000))) { [weak self] in
            self?.closeChannel(topic, reason: RealtimeError.expiredToken.reason)
        }
    }

    /// Tells the client why (system error), closes the channel (phx_close), leaves it.
    func closeChannel(_ topic: String, reason: String) {
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

    /// The heartbeat check, every quarter of the timeout: an entry in the loop's timers
    /// (``LoopTimers``), not a scheduled task per connection.
    func scheduleHeartbeatCheck() {
        let interval = TimeAmount.milliseconds(Int64(max(0.25, hub.configuration.heartbeatTimeout / 4) * 1000))
        heartbeatTimer = LoopLocal.of(connection.eventLoop).timers.add(self, every: interval, on: connection.eventLoop)
    }

    /// A heartbeat check: closes the connection when the client was silent past the timeout;
    /// false (no more checks) once closed.
    func timerFired() -> Bool {
        guard !closed else { return false }
        if (NIODeadline.now() - lastHeard).nanoseconds > Int64(hub.configuration.heartbeatTimeout * 1_000_000_000) {
            connection.close(code: CloseCode.goingAway, reason: "heartbeat timeout")
            return false
        }
        return true
    }

    // MARK: Writing

    func reply(_ message: PhoenixMessage, status: String, response: JSONValue) {
        send(PhoenixMessage(
            joinRef: message.joinRef, ref: message.ref, topic: message.topic, event: "phx_reply",
            payload: .object(["status": .string(status), "response": response])
        ))
    }

    func push(topic: String, event: String, payload: JSONValue) {
        send(PhoenixMessage(topic: topic, event: event, payload: payload))
    }

    func send(_ message: PhoenixMessage) {
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
