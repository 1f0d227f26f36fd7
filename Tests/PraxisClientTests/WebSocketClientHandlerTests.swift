import NIOCore
import NIOEmbedded
import NIOWebSocket
import Synchronization
import Testing

@testable import PraxisClient

/// The client's handlers after the upgrade, on an embedded channel.
@Suite("WebSocket client handler")
struct WebSocketClientHandlerTests {
    /// The handlers `WebSocketClient.connect` installs, with what they pass on.
    final class Pipeline {
        /// What the handler passed on, in order.
        final class Received: Sendable {
            let list = Mutex<[(text: String, isText: Bool)]>([])
        }

        let channel = EmbeddedChannel()
        let messages = Received()

        init(maxFrameSize: Int = 1 << 16) throws {
            let handler = WebSocketClientHandler(
                onMessage: { [messages] message in messages.list.withLock { $0.append((String(buffer: message.data), message.isText)) } },
                closed: channel.eventLoop.makePromise()
            )
            try WebSocketClient.addHandlers(handler, maxFrameSize: maxFrameSize, to: channel.pipeline.syncOperations)
            // An embedded channel is inactive until connected: connect it, so a close is seen.
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func receive(_ text: String, opcode: WebSocketOpcode, fin: Bool) throws {
            try channel.writeInbound(WebSocketFrame(fin: fin, opcode: opcode, data: ByteBuffer(string: text)))
        }

        var received: [String] { messages.list.withLock { $0.map(\.text) } }
    }

    @Test("a fragmented message arrives whole, once, with its kind; a whole one as it is")
    func fragments() throws {
        let pipeline = try Pipeline()
        try pipeline.receive("hel", opcode: .text, fin: false)
        try pipeline.receive("lo ", opcode: .continuation, fin: false)
        #expect(pipeline.received.isEmpty)
        try pipeline.receive("world", opcode: .continuation, fin: true)
        try pipeline.receive("bin", opcode: .binary, fin: true)
        #expect(pipeline.received == ["hello world", "bin"])
        #expect(pipeline.messages.list.withLock { $0.map(\.isText) } == [true, false])
        _ = try pipeline.channel.finish()
    }

    @Test("a message over the size bound closes the connection instead of arriving")
    func tooLarge() throws {
        let pipeline = try Pipeline(maxFrameSize: 8)
        #expect(pipeline.channel.isActive)
        try pipeline.receive("12345", opcode: .text, fin: false)
        try pipeline.receive("67890", opcode: .continuation, fin: true)
        #expect(pipeline.received.isEmpty)
        #expect(!pipeline.channel.isActive)
        _ = try? pipeline.channel.finish()
    }
}
