public import NIOCore

/// Connections kept apart by event loop, each under an id the owner chooses (a member id): what
/// a fan-out needs to hop once per loop without regrouping its recipients on every message.
///
/// A value with copy-on-write arrays: handing a snapshot to a delivery in flight costs one
/// retain per loop, not one per connection. Not thread-safe; keep it under the owner's lock.
public struct SubscriberSet: Sendable {
    /// The connections of one event loop.
    struct Partition: Sendable {
        let loop: any EventLoop
        var connections: [WebSocketConnection] = []
        var ids: [Int] = []
        /// Where each id's connection is in `connections` (swap-remove keeps them dense).
        var slots: [Int: Int] = [:]
        /// How many of them negotiated permessage-deflate with the default window.
        var deflating = 0
    }

    private(set) var partitions: [Partition] = []
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Whether some connection would take a compressed frame (then a message is compressed once).
    public var compressesAny: Bool { partitions.contains { $0.deflating > 0 } }

    /// Whether `id` is in the set.
    public func contains(id: Int) -> Bool {
        partitions.contains { $0.slots[id] != nil }
    }

    /// Adds `connection` under `id` (an id already present is replaced).
    public mutating func insert(_ connection: WebSocketConnection, id: Int) {
        remove(id: id)
        let index = partitions.firstIndex { $0.loop === connection.eventLoop } ?? {
            partitions.append(Partition(loop: connection.eventLoop))
            return partitions.count - 1
        }()
        partitions[index].slots[id] = partitions[index].connections.count
        partitions[index].connections.append(connection)
        partitions[index].ids.append(id)
        if connection.compressesByDefault { partitions[index].deflating += 1 }
        count += 1
    }

    /// Removes the connection kept under `id`, if any.
    @discardableResult
    public mutating func remove(id: Int) -> WebSocketConnection? {
        guard let index = partitions.firstIndex(where: { $0.slots[id] != nil }) else { return nil }
        let removed = partitions[index].remove(id: id)
        if partitions[index].connections.isEmpty { partitions.remove(at: index) }
        count -= 1
        return removed
    }

    /// Every connection, loop by loop.
    public var connections: [WebSocketConnection] { partitions.flatMap(\.connections) }
}

extension SubscriberSet.Partition {
    mutating func remove(id: Int) -> WebSocketConnection {
        let slot = slots.removeValue(forKey: id)!
        let removed = connections[slot]
        let last = connections.count - 1
        if slot != last {
            connections[slot] = connections[last]
            ids[slot] = ids[last]
            slots[ids[slot]] = slot
        }
        connections.removeLast()
        ids.removeLast()
        if removed.compressesByDefault { deflating -= 1 }
        return removed
    }
}
