import PraxisDomain
import PraxisProtocol
import PraxisStore
import PraxisWebSocket

/// The live `postgres_changes` subscribers, grouped by everything that decides what a change
/// sends them: the caller as the access rules see it (its whole ``Caller`` value: role, user id,
/// admin flag), the bindings (table, event, filter, in join order: the ids sent), the topic
/// and the protocol version (the envelope). Members of one group get the same answer to
/// every change, so a change is decided once per group and encoded once per distinct
/// message, and each group's connections are already split by event loop.
///
/// A plain value kept under the hub's lock. Members that are buffering (resume or snapshot
/// in progress) are not here; they join their group when they go live.
struct FeedGroups {
    struct Key: Hashable {
        var topic: String
        var version: PhoenixMessage.Version
        var caller: Caller
        /// The bindings by their full text (event, schema, table, filter), not their 31-bit ids.
        var bindings: [String]

        init(topic: String, version: PhoenixMessage.Version, caller: Caller, bindings: [ChangeBinding]) {
            self.topic = topic
            self.version = version
            self.caller = caller
            self.bindings = bindings.map(\.text)
        }
    }

    struct Group {
        let key: Key
        let bindings: [ChangeBinding]
        var subscribers = SubscriberSet()
    }

    private(set) var groups: [Key: Group] = [:]
    /// The groups with a binding on each table.
    private var byTable: [String: Set<Key>] = [:]

    /// Adds a live member to its group; returns the group's key (nil without bindings).
    mutating func insert(
        memberID: Int, connection: WebSocketConnection, topic: String, version: PhoenixMessage.Version, caller: Caller,
        bindings: [ChangeBinding]
    ) -> Key? {
        guard !bindings.isEmpty else { return nil }
        let key = Key(topic: topic, version: version, caller: caller, bindings: bindings)
        if groups[key] == nil {
            groups[key] = Group(key: key, bindings: bindings)
            for table in Set(bindings.map(\.table.name)) { byTable[table, default: []].insert(key) }
        }
        groups[key]!.subscribers.insert(connection, id: memberID)
        return key
    }

    /// Removes a member from the group of `key`; an emptied group goes.
    mutating func remove(memberID: Int, key: Key) {
        guard groups[key]?.subscribers.remove(id: memberID) != nil, groups[key]!.subscribers.isEmpty else { return }
        let group = groups.removeValue(forKey: key)!
        for table in Set(group.bindings.map(\.table.name)) {
            byTable[table]?.remove(key)
            if byTable[table]?.isEmpty == true { byTable[table] = nil }
        }
    }

    /// The groups a change on `table` may concern.
    func groups(on table: String) -> [Group] {
        (byTable[table] ?? []).compactMap { groups[$0] }
    }

    var subscriberCount: Int { groups.values.reduce(0) { $0 + $1.subscribers.count } }
}

extension FeedGroups {
    /// One encoded message of a change and the groups that get it.
    struct Delivery {
        let message: [UInt8]
        var groups: [Group]
    }

    /// What `change` sends to `groups`: for each group the bindings that match (once per
    /// group) and whether its caller may see the row and the old row (once per caller, under
    /// the table's read rules with `relations`); each distinct message (topic, version, ids,
    /// old-row variant) encoded once. Groups that get nothing are left out.
    static func plan(
        _ change: ChangeRecord, table: TableSchema, groups: [Group], relations: RowPredicate.Relations, epoch: String,
        maxRecordBytes: Int
    ) -> [Delivery] {
        struct MessageKey: Hashable {
            var topic: String
            var version: PhoenixMessage.Version
            var ids: [Int]
            var fullOld: Bool
        }
        var visibility: [Caller: (visible: Bool, oldVisible: Bool)] = [:]
        var data: [Bool: [UInt8]] = [:]
        var index: [MessageKey: Int] = [:]
        var deliveries: [Delivery] = []
        for group in groups {
            let ids = ChangeFeed.matchingIDs(group.bindings, change: change)
            guard !ids.isEmpty else { continue }
            let seen = visibility[group.key.caller] ?? ChangeFeed.visibility(change, caller: group.key.caller, relations: relations)
            visibility[group.key.caller] = seen
            guard seen.visible else { continue }
            let key = MessageKey(topic: group.key.topic, version: group.key.version, ids: ids, fullOld: seen.oldVisible)
            if let at = index[key] {
                deliveries[at].groups.append(group)
                continue
            }
            let body = data[seen.oldVisible] ?? ChangeFeed.dataJSON(
                change, table: table, epoch: epoch, fullOldRecord: seen.oldVisible, maxRecordBytes: maxRecordBytes
            )
            data[seen.oldVisible] = body
            let message = PhoenixMessage.encode(
                key.version, joinRef: nil, ref: nil, topic: key.topic, event: "postgres_changes",
                payloadJSON: ChangeFeed.payloadJSON(ids: ids, data: body)
            )
            index[key] = deliveries.count
            deliveries.append(Delivery(message: message, groups: [group]))
        }
        return deliveries
    }
}
