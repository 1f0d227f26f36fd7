public import NIOCore

/// Several messages for several recipient lists, sent with one hop per event loop in all:
/// each loop gets its share in the order the messages were added, so a connection receives
/// them in that order.
public struct FanOutBatch {
    private var loops: [(loop: any EventLoop, items: [(PreparedMessage, [WebSocketConnection])])] = []

    public init() {}

    public var isEmpty: Bool { loops.isEmpty }

    /// Adds `message` for `subscribers` (their per-loop lists are shared, not copied).
    public mutating func add(_ message: PreparedMessage, to subscribers: SubscriberSet) {
        for partition in subscribers.partitions { append(message, partition.connections, on: partition.loop) }
    }

    /// Adds `message` for `connections`, grouped here by loop.
    public mutating func add(_ message: PreparedMessage, to connections: [WebSocketConnection]) {
        guard let first = connections.first else { return }
        if connections.allSatisfy({ $0.eventLoop === first.eventLoop }) {
            return append(message, connections, on: first.eventLoop)
        }
        var byLoop: [(loop: any EventLoop, connections: [WebSocketConnection])] = []
        for connection in connections {
            if let index = byLoop.firstIndex(where: { $0.loop === connection.eventLoop }) {
                byLoop[index].connections.append(connection)
            } else {
                byLoop.append((connection.eventLoop, [connection]))
            }
        }
        for group in byLoop { append(message, group.connections, on: group.loop) }
    }

    private mutating func append(_ message: PreparedMessage, _ connections: [WebSocketConnection], on loop: any EventLoop) {
        guard !connections.isEmpty else { return }
        if let index = loops.firstIndex(where: { $0.loop === loop }) {
            loops[index].items.append((message, connections))
        } else {
            loops.append((loop, [(message, connections)]))
        }
    }

    /// Delivers everything added: inline on the calling loop, one task on each other loop.
    /// Safe to call from any thread.
    public func send() {
        for (loop, items) in loops {
            if loop.inEventLoop {
                FanOut.deliver(items)
            } else {
                loop.execute { FanOut.deliver(items) }
            }
        }
    }
}
