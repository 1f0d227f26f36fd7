public import NIOCore

/// Delivers one prepared message to many connections: the message is framed (and
/// compressed) once; the same bytes are written to every connection; there is one hop
/// per event loop, not per connection, and one flush per connection per loop pass.
public enum FanOut {
    /// Sends `message` to `connections`. Safe to call from any thread.
    public static func broadcast(_ message: PreparedMessage, to connections: [WebSocketConnection]) {
        var groups: [ObjectIdentifier: (loop: any EventLoop, connections: [WebSocketConnection])] = [:]
        for connection in connections {
            groups[ObjectIdentifier(connection.eventLoop), default: (connection.eventLoop, [])].connections.append(connection)
        }
        for (_, group) in groups {
            let recipients = group.connections
            if group.loop.inEventLoop {
                deliver(message, to: recipients)
            } else {
                group.loop.execute { deliver(message, to: recipients) }
            }
        }
    }

    /// Frames `payload` once (compressing it once only when some recipient negotiated
    /// permessage-deflate) and sends it to `connections`.
    public static func broadcast(text payload: ByteBuffer, binary: Bool = false, to connections: [WebSocketConnection]) {
        guard !connections.isEmpty else { return }
        let compress = connections.contains { $0.deflate?.serverMaxWindowBits == 15 }
        broadcast(PreparedMessage(text: payload, binary: binary, compress: compress), to: connections)
    }

    /// Writes without flushing: each connection flushes once at the end of the event-loop
    /// pass, so broadcasts already queued on the loop leave in one write.
    private static func deliver(_ message: PreparedMessage, to connections: [WebSocketConnection]) {
        for connection in connections { connection.send(message) }
    }
}

/// The broadcast endpoint (`/ws/broadcast`, with `praxis serve --echo`): every text or
/// binary message from any connection goes to all connections of the endpoint, through
/// the fan-out path. For transport benchmarks and backpressure tests.
public final class BroadcastApplication: WebSocketApplication, @unchecked Sendable {
    private let members = NIOLockedMembers()

    public init() {}

    public func connected(_ connection: WebSocketConnection, request: NIOHTTP1.HTTPRequestHead) -> any WebSocketMessageHandler {
        members.add(connection)
        return Member(connection: connection, members: members)
    }

    private final class Member: WebSocketMessageHandler {
        let connection: WebSocketConnection
        let members: NIOLockedMembers

        init(connection: WebSocketConnection, members: NIOLockedMembers) {
            self.connection = connection
            self.members = members
        }

        func received(text: ByteBuffer) {
            FanOut.broadcast(text: text, to: members.snapshot)
        }

        func received(binary: ByteBuffer) {
            FanOut.broadcast(text: binary, binary: true, to: members.snapshot)
        }

        func closed(code: UInt16?) {
            members.remove(connection)
        }
    }
}

public import NIOHTTP1
import Synchronization

/// The connections of the broadcast endpoint.
final class NIOLockedMembers: Sendable {
    private let connections = Mutex<[ObjectIdentifier: WebSocketConnection]>([:])

    func add(_ connection: WebSocketConnection) {
        connections.withLock { $0[ObjectIdentifier(connection)] = connection }
    }

    func remove(_ connection: WebSocketConnection) {
        _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    var snapshot: [WebSocketConnection] { connections.withLock { Array($0.values) } }
}
