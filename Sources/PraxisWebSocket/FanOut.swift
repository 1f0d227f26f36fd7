public import NIOCore

/// Delivers one prepared message to many connections: the message is framed (and
/// compressed) once; the same bytes are written to every connection; there is one hop
/// per event loop, not per connection, and each loop's flusher flushes every connection
/// once per loop pass (``LoopFlusher``), not one task per recipient.
public enum FanOut {
    /// Sends `message` to `connections`. Safe to call from any thread.
    public static func broadcast(_ message: PreparedMessage, to connections: [WebSocketConnection]) {
        var batch = FanOutBatch()
        batch.add(message, to: connections)
        batch.send()
    }

    /// Frames `payload` once (compressing it once only when some recipient negotiated
    /// permessage-deflate) and sends it to `connections`.
    public static func broadcast(text payload: ByteBuffer, binary: Bool = false, to connections: [WebSocketConnection]) {
        guard !connections.isEmpty else { return }
        let compress = connections.contains { $0.compressesByDefault }
        broadcast(PreparedMessage(text: payload, binary: binary, compress: compress), to: connections)
    }

    /// Sends `message` to every connection of `subscribers`: one hop per loop, no regrouping.
    public static func broadcast(_ message: PreparedMessage, to subscribers: SubscriberSet) {
        var batch = FanOutBatch()
        batch.add(message, to: subscribers)
        batch.send()
    }

    /// Frames `payload` once (compressed once when a subscriber negotiated deflate) and sends
    /// it to `subscribers`.
    public static func broadcast(text payload: ByteBuffer, binary: Bool = false, to subscribers: SubscriberSet) {
        guard !subscribers.isEmpty else { return }
        broadcast(PreparedMessage(text: payload, binary: binary, compress: subscribers.compressesAny), to: subscribers)
    }

    /// Writes without flushing: the loop's flusher flushes each connection once at the end
    /// of the pass, so broadcasts already queued on the loop leave in one write.
    static func deliver(_ items: [(PreparedMessage, [WebSocketConnection])]) {
        for (message, connections) in items {
            for connection in connections { connection.send(message) }
        }
    }
}

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

/// The broadcast endpoint (`/ws/broadcast`, with `praxis serve --echo`): every text or
/// binary message from any connection goes to all connections of the endpoint, through
/// the fan-out path. For transport benchmarks and backpressure tests.
public final class BroadcastApplication: WebSocketApplication, @unchecked Sendable {
    private let members = NIOLockedMembers()

    public init() {}

    public func connected(_ connection: WebSocketConnection, request: NIOHTTP1.HTTPRequestHead) -> any WebSocketMessageHandler {
        Member(connection: connection, members: members, id: members.add(connection))
    }

    private final class Member: WebSocketMessageHandler {
        let connection: WebSocketConnection
        let members: NIOLockedMembers
        let id: Int

        init(connection: WebSocketConnection, members: NIOLockedMembers, id: Int) {
            self.connection = connection
            self.members = members
            self.id = id
        }

        func received(text: ByteBuffer) {
            FanOut.broadcast(text: text, to: members.snapshot)
        }

        func received(binary: ByteBuffer) {
            FanOut.broadcast(text: binary, binary: true, to: members.snapshot)
        }

        func closed(code: UInt16?) {
            members.remove(id)
        }
    }
}

public import NIOHTTP1
import Synchronization

/// The connections of the broadcast endpoint, by loop (a snapshot costs a retain per loop).
final class NIOLockedMembers: Sendable {
    private struct State {
        var nextID = 0
        var set = SubscriberSet()
    }

    private let state = Mutex(State())

    func add(_ connection: WebSocketConnection) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.set.insert(connection, id: state.nextID)
            return state.nextID
        }
    }

    func remove(_ id: Int) {
        state.withLock { _ = $0.set.remove(id: id) }
    }

    var snapshot: SubscriberSet { state.withLock { $0.set } }
}
