import Dispatch
import Foundation
import NIOCore
import PraxisAuth
import PraxisDomain
import PraxisProtocol
import PraxisStore
import PraxisWebSocket
import Synchronization

/// The realtime state shared by all connections: channel members by topic, presence,
/// and the change feed's fan-out. Membership changes take a short lock; committed changes
/// are handled in commit order on one serial queue, decided and encoded once per group of
/// equivalent subscribers (``FeedGroups``), and written with one hop per event loop per batch.
final class RealtimeHub: Sendable {
    struct Member {
        let id: Int
        let connection: WebSocketConnection
        /// The topic as the client names it (on the wire).
        let topic: String
        /// The channel it belongs to: private and public joins of one topic are separate.
        let channel: String
        let version: PhoenixMessage.Version
        var caller: Caller
        let bindings: [ChangeBinding]
        let broadcastSelf: Bool
        let presenceKey: String
        /// While a resume or snapshot is being prepared, changes wait here; nil once live.
        var buffer: [ChangeRecord]?
        /// The last logged broadcast id when it joined: broadcast replay sends logged ones up to
        /// it, the later ones reached it live.
        var replayCut: Int64 = 0
        /// The related-row facts read for the buffered changes (when they were delivered).
        var bufferRelations = RowRelations.none
        /// Its group in the feed while it is live with bindings.
        var feedKey: FeedGroups.Key?
    }

    struct PresenceEntry {
        var memberID: Int
        var meta: [String: JSONValue]
    }

    private struct State {
        var nextID = 1
        var members: [Int: Member] = [:]
        var topics: [String: Set<Int>] = [:]
        /// The live feed subscribers by group, and the buffering ones with bindings.
        var feed = FeedGroups()
        var buffering: Set<Int> = []
        var presence: [String: [String: [PresenceEntry]]] = [:]
        var refCounter = 0
        /// The last id given to a logged (private-channel) broadcast.
        var lastBroadcastID: Int64 = 0
    }

    /// The database as the feed and the channels see it (no SQL, no database types).
    let store: any RealtimeStore
    let tokens: TokenIssuer
    let epoch: String
    let configuration: RealtimeConfiguration
    private let state = Mutex(State())
    /// Broadcast pushes of all connections together (`maxServerMessagesPerSecond`).
    private let serverMessageRate: Mutex<RateBucket>
    private let feedQueue = DispatchQueue(label: "praxis.realtime.feed")
    /// Private-channel broadcasts, for replay.
    let broadcastLog: BroadcastLog

    init(store: any RealtimeStore, tokens: TokenIssuer, epoch: String, configuration: RealtimeConfiguration) {
        self.store = store
        self.tokens = tokens
        self.epoch = epoch
        self.configuration = configuration
        serverMessageRate = Mutex(RateBucket(limit: configuration.maxServerMessagesPerSecond))
        broadcastLog = BroadcastLog(
            store: store, retention: configuration.broadcastLogSize, maxPendingBytes: configuration.broadcastLogMaxPendingBytes
        )
    }

    /// Takes one broadcast push from the server-wide rate; false when all connections together
    /// are over `maxServerMessagesPerSecond` this second.
    func takeServerMessage() -> Bool {
        serverMessageRate.withLock { $0.take() }
    }

    /// Continues broadcast ids after the last logged one (read from the store at start).
    func resumeBroadcastIDs(after lastID: Int64) {
        state.withLock { $0.lastBroadcastID = max($0.lastBroadcastID, lastID) }
        broadcastLog.resume(after: lastID)
    }

    /// Gives a private channel's broadcast the next id and hands it to the log, under the
    /// membership lock, so a member's `replayCut` splits replayed from live exactly.
    private func logBroadcast(_ state: inout State, topic: String, payloadJSON: [UInt8]) {
        state.lastBroadcastID += 1
        broadcastLog.append(
            id: state.lastBroadcastID, topic: topic, payloadJSON: payloadJSON, sentAt: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        )
    }

    /// Starts listening to committed changes; `observer` (the rooms) hears them first, in
    /// commit order, on the feed's queue.
    ///
    /// A batch whose access rules consult related rows (rounds, feedback reports) has them
    /// read first on the store's queue; the feed's queue is suspended meanwhile, so later
    /// batches still go out after it, in commit order, and no thread waits for the read.
    func start(observer: (@Sendable ([ChangeRecord]) -> Void)? = nil) {
        store.setChangeListener { [weak self] records in
            guard let self else { return }
            // Hand off at once: the writer queue must not wait for fan-out.
            self.feedQueue.async {
                observer?(records)
                let keys = Self.relationKeys(records)
                if keys.isEmpty { return self.deliver(records, relations: .none) }
                self.feedQueue.suspend()
                let store = self.store
                Task {
                    // A failed read knows no relations: the relational rules are false (fail closed).
                    let relations = (try? await store.relatedRows(keys)) ?? .none
                    self.deliver(records, relations: relations)
                    self.feedQueue.resume()
                }
            }
        }
    }

    /// The related rows the access rules may consult to filter `records`.
    static func relationKeys(_ records: [ChangeRecord]) -> RelationKeys {
        var keys = RelationKeys()
        for change in records {
            keys.formUnion(AccessPolicy.relationKeys(change.table, rows: [change.record, change.oldRecord]))
        }
        return keys
    }

    func stop() {
        store.setChangeListener(nil)
    }

    /// Returns once the change batches handed to the feed queue so far are delivered.
    func waitUntilDelivered() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in feedQueue.async { done.resume() } }
    }

    // MARK: Membership

    func add(
        connection: WebSocketConnection, topic: String, isPrivate: Bool, version: PhoenixMessage.Version, caller: Caller,
        bindings: [ChangeBinding], broadcastSelf: Bool, presenceKey: String, buffering: Bool
    ) -> Int {
        let channel = Self.channel(topic: topic, isPrivate: isPrivate)
        return state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            var member = Member(
                id: id, connection: connection, topic: topic, channel: channel, version: version, caller: caller, bindings: bindings,
                broadcastSelf: broadcastSelf, presenceKey: presenceKey, buffer: buffering ? [] : nil, replayCut: state.lastBroadcastID
            )
            if buffering {
                if !bindings.isEmpty { state.buffering.insert(id) }
            } else {
                member.feedKey = Self.joinFeed(&state, member)
            }
            state.members[id] = member
            state.topics[channel, default: []].insert(id)
            return id
        }
    }

    /// Puts a live member in its feed group (none without bindings).
    private static func joinFeed(_ state: inout State, _ member: Member) -> FeedGroups.Key? {
        state.feed.insert(
            memberID: member.id, connection: member.connection, topic: member.topic, version: member.version, caller: member.caller,
            bindings: member.bindings
        )
    }

    /// The hub's key for a topic: a private channel never shares members with a public one.
    static func channel(topic: String, isPrivate: Bool) -> String {
        isPrivate ? "private\u{0}" + topic : topic
    }

    /// Removes a member; its presence leaves (the others get a diff).
    func remove(_ id: Int) {
        let leave: (topic: String, key: String, metas: [[String: JSONValue]])? = state.withLock { state in
            guard let member = state.members.removeValue(forKey: id) else { return nil }
            if let key = member.feedKey { state.feed.remove(memberID: id, key: key) }
            state.buffering.remove(id)
            state.topics[member.channel]?.remove(id)
            if state.topics[member.channel]?.isEmpty == true { state.topics[member.channel] = nil }
            return Self.untrack(&state, member: member)
        }
        if let leave {
            sendPresenceDiff(channel: leave.topic, joins: [:], leaves: [leave.key: leave.metas])
        }
    }

    /// A new token's caller: the member's rules change, so it moves to that caller's feed group.
    func updateCaller(_ id: Int, caller: Caller) {
        state.withLock { state in
            guard var member = state.members[id] else { return }
            member.caller = caller
            if let key = member.feedKey {
                state.feed.remove(memberID: id, key: key)
                member.feedKey = Self.joinFeed(&state, member)
            }
            state.members[id] = member
        }
    }

    /// Ends buffering: returns the buffered changes after `offset`, with the related-row
    /// facts read for them; later changes flow live.
    func goLive(_ id: Int, after offset: Int64) -> (changes: [ChangeRecord], relations: RowRelations) {
        state.withLock { state in
            guard var member = state.members[id] else { return ([], .none) }
            let buffered = member.buffer ?? []
            let relations = member.bufferRelations
            member.buffer = nil
            member.bufferRelations = .none
            if state.buffering.remove(id) != nil { member.feedKey = Self.joinFeed(&state, member) }
            state.members[id] = member
            return (buffered.filter { $0.offset > offset }, relations)
        }
    }

    func member(_ id: Int) -> Member? { state.withLock { $0.members[id] } }

    // MARK: Broadcast

    /// Relays a broadcast to the topic's members (the sender too when it asked for `self`).
    func broadcast(from sender: Int, payload: JSONValue) {
        broadcast(from: sender, payloadJSON: Array(payload.jsonString.utf8))
    }

    /// The same with the payload already encoded.
    func broadcast(from sender: Int, payloadJSON: [UInt8]) {
        let recipients = state.withLock { state -> [Member] in
            guard let member = state.members[sender] else { return [] }
            let channel = member.channel
            // A private channel's key is not its topic (channel(topic:isPrivate:)): log it for replay.
            if channel != member.topic { logBroadcast(&state, topic: member.topic, payloadJSON: payloadJSON) }
            return (state.topics[channel] ?? []).compactMap { id in
                guard let member = state.members[id], id != sender || member.broadcastSelf else { return nil }
                return member
            }
        }
        send(event: "broadcast", payloadJSON: payloadJSON, to: recipients)
    }

    /// Relays a broadcast that comes from no channel (the REST API, a binary push) to the members
    /// of a channel, `except` one: a JSON payload as a text `broadcast` to every member (encoded
    /// once per topic and version); a binary one as a vsn 2.0.0 `user_broadcast` frame to the
    /// vsn 2.0.0 members only (v1 members never receive binary payloads).
    func publish(topic: String, isPrivate: Bool, event: String, payload: BroadcastPayload, except: Int? = nil) {
        let channel = Self.channel(topic: topic, isPrivate: isPrivate)
        var envelope: [UInt8] = []
        if case .json(let json) = payload { envelope = BroadcastPayload.envelope(event: event, payloadJSON: json) }
        let recipients = state.withLock { state in
            if isPrivate, case .json = payload { logBroadcast(&state, topic: topic, payloadJSON: envelope) }
            return (state.topics[channel] ?? []).compactMap { id in id == except ? nil : state.members[id] }
        }
        switch payload {
        case .json:
            send(event: "broadcast", payloadJSON: envelope, to: recipients)
        case .binary(let bytes):
            var byTopic: [String: [WebSocketConnection]] = [:]
            for member in recipients where member.version == .v2 { byTopic[member.topic, default: []].append(member.connection) }
            for (topic, connections) in byTopic {
                guard let frame = BinaryBroadcast.encodeUserBroadcast(topic: topic, event: event, payload: bytes, json: false) else { continue }
                FanOut.broadcast(text: ByteBuffer(bytes: frame), binary: true, to: connections)
            }
        }
    }

    // MARK: Presence

    func presenceState(of member: Int) -> JSONValue {
        state.withLock { state in
            guard let channel = state.members[member]?.channel else { return .object([:]) }
            return Self.presenceJSON(state.presence[channel] ?? [:])
        }
    }

    /// Tracks (or re-tracks) `meta` for a member; everyone on the topic gets the diff.
    func track(_ id: Int, meta: [String: JSONValue]) {
        let diff: (topic: String, key: String, join: [String: JSONValue], leave: [[String: JSONValue]]?)? = state.withLock { state in
            guard let member = state.members[id] else { return nil }
            let previous = Self.untrack(&state, member: member)
            state.refCounter += 1
            var entry = meta
            entry["phx_ref"] = .string("\(epoch.prefix(8))-\(state.refCounter)")
            if let old = previous?.metas.first?["phx_ref"] { entry["phx_ref_prev"] = old }
            state.presence[member.channel, default: [:]][member.presenceKey, default: []].append(PresenceEntry(memberID: id, meta: entry))
            return (member.channel, member.presenceKey, entry, previous?.metas)
        }
        guard let diff else { return }
        sendPresenceDiff(
            channel: diff.topic, joins: [diff.key: [diff.join]], leaves: diff.leave.map { [diff.key: $0] } ?? [:]
        )
    }

    func untrack(_ id: Int) {
        let leave: (topic: String, key: String, metas: [[String: JSONValue]])? = state.withLock { state in
            guard let member = state.members[id] else { return nil }
            return Self.untrack(&state, member: member)
        }
        if let leave { sendPresenceDiff(channel: leave.topic, joins: [:], leaves: [leave.key: leave.metas]) }
    }

    private static func untrack(_ state: inout State, member: Member) -> (topic: String, key: String, metas: [[String: JSONValue]])? {
        guard var entries = state.presence[member.channel]?[member.presenceKey] else { return nil }
        let mine = entries.filter { $0.memberID == member.id }
        guard !mine.isEmpty else { return nil }
        entries.removeAll { $0.memberID == member.id }
        state.presence[member.channel]?[member.presenceKey] = entries.isEmpty ? nil : entries
        if state.presence[member.channel]?.isEmpty == true { state.presence[member.channel] = nil }
        return (member.channel, member.presenceKey, mine.map(\.meta))
    }

    private static func presenceJSON(_ byKey: [String: [PresenceEntry]]) -> JSONValue {
        .object(byKey.mapValues { entries in .object(["metas": .array(entries.map { .object($0.meta) })]) })
    }

    private func sendPresenceDiff(channel: String, joins: [String: [[String: JSONValue]]], leaves: [String: [[String: JSONValue]]]) {
        func side(_ map: [String: [[String: JSONValue]]]) -> JSONValue {
            .object(map.mapValues { .object(["metas": .array($0.map { JSONValue.object($0) })]) })
        }
        let payload = JSONValue.object(["joins": side(joins), "leaves": side(leaves)])
        let recipients = state.withLock { state in (state.topics[channel] ?? []).compactMap { state.members[$0] } }
        send(event: "presence_diff", payloadJSON: Array(payload.jsonString.utf8), to: recipients)
    }

    // MARK: Sending

    /// One encoding per topic and protocol version; one hop per event loop.
    private func send(event: String, payloadJSON: [UInt8], to recipients: [Member]) {
        struct Key: Hashable {
            var topic: String
            var version: PhoenixMessage.Version
        }
        var groups: [Key: [WebSocketConnection]] = [:]
        for member in recipients { groups[Key(topic: member.topic, version: member.version), default: []].append(member.connection) }
        var batch = FanOutBatch()
        for (key, connections) in groups {
            let bytes = PhoenixMessage.encode(key.version, joinRef: nil, ref: nil, topic: key.topic, event: event, payloadJSON: payloadJSON)
            let compress = connections.contains { $0.deflate?.serverMaxWindowBits == 15 }
            batch.add(PreparedMessage(text: ByteBuffer(bytes: bytes), compress: compress), to: connections)
        }
        batch.send()
    }

    // MARK: The change feed

    /// Delivers committed changes, in order, to every member who may see them, judging
    /// relational rules by `facts` (read for these changes beforehand): decided and encoded
    /// once per group of equivalent subscribers, sent with one hop per event loop for the batch.
    private func deliver(_ records: [ChangeRecord], relations facts: RowRelations) {
        let relations = facts.relations
        var batch = FanOutBatch()
        for change in records {
            guard let table = Catalog.table(change.table) else { continue }
            let groups = state.withLock { state -> [FeedGroups.Group] in
                for id in state.buffering where state.members[id]?.bindings.contains(where: { $0.table.name == change.table }) == true {
                    state.members[id]?.buffer?.append(change)
                    state.members[id]?.bufferRelations.merge(facts)
                }
                return state.feed.groups(on: change.table)
            }
            guard !groups.isEmpty else { continue }
            let deliveries = FeedGroups.plan(
                change, table: table, groups: groups, relations: relations, epoch: epoch, maxRecordBytes: configuration.maxChangeRecordBytes
            )
            for delivery in deliveries {
                let compress = delivery.groups.contains { $0.subscribers.compressesAny }
                let message = PreparedMessage(text: ByteBuffer(bytes: delivery.message), compress: compress)
                for group in delivery.groups { batch.add(message, to: group.subscribers) }
            }
        }
        batch.send()
    }

    /// The encoded message of one change for one member (resume replay), or nil when the
    /// member may not see it or no binding matches. `relations` are the related-row facts
    /// read for the change beforehand (`RecoveryPlan`, `goLive`).
    func message(for change: ChangeRecord, member: Member, relations: RowRelations) -> ByteBuffer? {
        guard let table = Catalog.table(change.table) else { return nil }
        let ids = ChangeFeed.matchingIDs(member.bindings, change: change)
        guard !ids.isEmpty else { return nil }
        let (visible, oldVisible) = ChangeFeed.visibility(change, caller: member.caller, relations: relations.relations)
        guard visible else { return nil }
        let data = ChangeFeed.dataJSON(
            change, table: table, epoch: epoch, fullOldRecord: oldVisible, maxRecordBytes: configuration.maxChangeRecordBytes
        )
        return ByteBuffer(bytes: PhoenixMessage.encode(
            member.version, joinRef: nil, ref: nil, topic: member.topic, event: "postgres_changes",
            payloadJSON: ChangeFeed.payloadJSON(ids: ids, data: data)
        ))
    }
}
