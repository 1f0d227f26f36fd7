public import NIOCore
public import NIOHTTP1

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
