import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import PraxisWebSocket

/// The fan-out path: recipients kept by loop, one task per loop per batch, one flush per
/// connection per loop pass, the same framed bytes for everyone.
@Suite("Fan-out")
struct FanOutTests {
    final class Silent: WebSocketApplication, @unchecked Sendable {
        func connected(_ connection: WebSocketConnection, request: HTTPRequestHead) -> any WebSocketMessageHandler { Handler() }
        final class Handler: WebSocketMessageHandler {
            func received(text: ByteBuffer) {}
            func received(binary: ByteBuffer) {}
            func closed(code: UInt16?) {}
        }
    }

    /// A connection on its own EmbeddedChannel, or on a shared loop's channel.
    struct Peer {
        let channel: EmbeddedChannel
        let connection: WebSocketConnection

        init(loop: EmbeddedEventLoop = EmbeddedEventLoop()) throws {
            channel = EmbeddedChannel(loop: loop)
            connection = WebSocketConnection(eventLoop: loop, deflate: nil, remoteIP: "127.0.0.1")
            try channel.pipeline.syncOperations.addHandler(WebSocketHandler(
                configuration: .init(), application: Silent(),
                request: HTTPRequestHeadBox(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws/broadcast")), connection: connection
            ))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }

        /// The flushed writes since the last call (each is one flush's worth, or one write).
        func outbound() throws -> [ByteBuffer] {
            var out: [ByteBuffer] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out.append(buffer) }
            return out
        }
    }

    @Test func aSubscriberSetKeepsConnectionsByLoopAndRemovesByID() throws {
        let first = EmbeddedEventLoop()
        let second = EmbeddedEventLoop()
        let connections = (0..<5).map { WebSocketConnection(eventLoop: $0 < 3 ? first : second, deflate: nil, remoteIP: "127.0.0.1") }
        var set = SubscriberSet()
        for (id, connection) in connections.enumerated() { set.insert(connection, id: id) }
        #expect(set.count == 5 && set.partitions.count == 2)
        #expect(set.partitions.map(\.connections.count).sorted() == [2, 3])
        #expect(set.remove(id: 0) === connections[0])
        #expect(set.remove(id: 0) == nil)
        #expect(!set.contains(id: 0) && set.contains(id: 1) && set.contains(id: 2))
        // Swap-remove kept every remaining id pointing at its own connection.
        for partition in set.partitions {
            for (slot, id) in partition.ids.enumerated() { #expect(partition.connections[slot] === connections[id]) }
        }
        set.remove(id: 3)
        set.remove(id: 4)
        #expect(set.partitions.count == 1 && set.count == 2)
        #expect(!set.compressesAny)
        let deflating = WebSocketConnection(
            eventLoop: first, deflate: PerMessageDeflate(), remoteIP: "127.0.0.1"
        )
        set.insert(deflating, id: 9)
        #expect(set.compressesAny)
        set.remove(id: 9)
        #expect(!set.compressesAny)
    }

    @Test func aBatchReachesEveryConnectionInOrderFlushedAtTheEndOfThePass() throws {
        let loop = EmbeddedEventLoop()
        let peers = try (0..<3).map { _ in try Peer(loop: loop) }
        var set = SubscriberSet()
        for (id, peer) in peers.enumerated() { set.insert(peer.connection, id: id) }
        var batch = FanOutBatch()
        for text in ["one", "two", "three"] {
            batch.add(PreparedMessage(text: ByteBuffer(string: text), compress: false), to: set)
        }
        batch.send()
        // Written, not yet flushed: the loop's flusher flushes them together at the end of the pass.
        for peer in peers { #expect(try peer.outbound().isEmpty) }
        loop.run()
        let expected: [UInt8] = [0x81, 3] + Array("one".utf8) + [0x81, 3] + Array("two".utf8) + [0x81, 5] + Array("three".utf8)
        for peer in peers {
            let flushed = try peer.outbound()
            #expect(flushed.flatMap { Array($0.readableBytesView) } == expected)
        }
    }

    @Test func aClosedConnectionIsSkipped() throws {
        let loop = EmbeddedEventLoop()
        let open = try Peer(loop: loop)
        let gone = try Peer(loop: loop)
        _ = try gone.channel.close().wait()
        #expect(!gone.connection.isOpen && gone.connection.handler == nil, "teardown drops the handler reference")
        FanOut.broadcast(text: ByteBuffer(string: "hi"), to: [open.connection, gone.connection])
        loop.run()
        #expect(try open.outbound().flatMap { Array($0.readableBytesView) } == [0x81, 2] + Array("hi".utf8))
    }
}
