import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOWebSocket
import Testing

@testable import PraxisWebSocket

/// The transport handler driven by the bytes of client frames on an EmbeddedChannel.
@Suite("WebSocketHandler")
struct WebSocketHandlerTests {
    final class Recorder: WebSocketApplication, @unchecked Sendable {
        var texts: [String] = []
        var closedWith: [UInt16?] = []

        func connected(_ connection: WebSocketConnection, request: HTTPRequestHead) -> any WebSocketMessageHandler {
            Handler(recorder: self, connection: connection)
        }

        final class Handler: WebSocketMessageHandler {
            let recorder: Recorder
            let connection: WebSocketConnection
            init(recorder: Recorder, connection: WebSocketConnection) {
                self.recorder = recorder
                self.connection = connection
            }
            func received(text: ByteBuffer) {
                recorder.texts.append(String(buffer: text))
                connection.send(text: text)
            }
            func received(binary: ByteBuffer) {}
            func closed(code: UInt16?) { recorder.closedWith.append(code) }
        }
    }

    func makeChannel(_ recorder: Recorder, configuration: WebSocketConfiguration = .init(), deflate: PerMessageDeflate? = nil) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let connection = WebSocketConnection(eventLoop: channel.eventLoop, deflate: deflate, remoteIP: "127.0.0.1")
        try channel.pipeline.syncOperations.addHandler(
            WebSocketHandler(
                configuration: configuration, application: recorder,
                request: HTTPRequestHeadBox(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws/echo")), connection: connection
            )
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        #expect(channel.isActive)
        return channel
    }

    func frame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, masked: Bool = true, rsv1: Bool = false) -> ByteBuffer {
        ClientFrame(opcode: UInt8(webSocketOpcode: opcode), payload: bytes, fin: fin, rsv1: rsv1, mask: masked ? [1, 2, 3, 4] : nil).buffer
    }

    /// The frames the server wrote: (opcode byte, payload).
    func written(_ channel: EmbeddedChannel) throws -> [(UInt8, [UInt8])] {
        var frames: [(UInt8, [UInt8])] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            while buffer.readableBytes > 0 {
                let first = buffer.readInteger(as: UInt8.self)!
                var length = Int(buffer.readInteger(as: UInt8.self)! & 0x7F)
                if length == 126 { length = Int(buffer.readInteger(as: UInt16.self)!) }
                if length == 127 { length = Int(buffer.readInteger(as: UInt64.self)!) }
                frames.append((first, buffer.readBytes(length: length)!))
            }
        }
        return frames
    }

    @Test func echoesATextMessageUnmasked() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        try channel.writeInbound(frame(.text, Array("hi there".utf8)))
        let frames = try written(channel)
        #expect(frames.count == 1)
        #expect(frames[0].0 == 0x81)
        #expect(frames[0].1 == Array("hi there".utf8))
        #expect(recorder.texts == ["hi there"])
    }

    @Test func section5_5_2_pingIsAnsweredWithTheSamePayload() throws {
        let channel = try makeChannel(Recorder())
        try channel.writeInbound(frame(.ping, [9, 8, 7]))
        let frames = try written(channel)
        #expect(frames.count == 1 && frames[0].0 == 0x8A && frames[0].1 == [9, 8, 7])
    }

    @Test func section5_1_unmaskedFrameClosesWith1002() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        try channel.writeInbound(frame(.text, Array("x".utf8), masked: false))
        let frames = try written(channel)
        #expect(frames.first?.0 == 0x88)
        #expect(Array(frames.first!.1.prefix(2)) == [0x03, 0xEA])
        #expect(!channel.isActive)
        #expect(recorder.texts.isEmpty)
    }

    @Test func section8_1_invalidUTF8ClosesWith1007BeforeTheLastFragment() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        try channel.writeInbound(frame(.text, [0x61, 0xFF], fin: false))
        let frames = try written(channel)
        #expect(Array(frames.first!.1.prefix(2)) == [0x03, 0xEF])
        #expect(!channel.isActive)
    }

    @Test func section7_1_2_closeIsEchoedAndTheConnectionEnds() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        try channel.writeInbound(frame(.connectionClose, [0x03, 0xE8] + Array("bye".utf8)))
        let frames = try written(channel)
        #expect(frames.count == 1 && frames[0].0 == 0x88 && frames[0].1 == [0x03, 0xE8])
        #expect(!channel.isActive)
        #expect(recorder.closedWith == [1000])
    }

    @Test func fragmentsAreReassembled() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        try channel.writeInbound(frame(.text, Array("hel".utf8), fin: false))
        try channel.writeInbound(frame(.ping, []))
        try channel.writeInbound(frame(.continuation, Array("lo".utf8)))
        #expect(recorder.texts == ["hello"])
        let frames = try written(channel)
        #expect(frames.map(\.0) == [0x8A, 0x81])
    }

    @Test func section10_4_tooManyMessagesCloseWith1008() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder, configuration: WebSocketConfiguration(maxMessagesPerSecond: 5))
        for _ in 0..<10 where channel.isActive {
            try channel.writeInbound(frame(.text, Array("x".utf8)))
        }
        let close = try written(channel).first { $0.0 == 0x88 }
        #expect(close.map { Array($0.1.prefix(2)) } == [0x03, 0xF0])
        #expect(recorder.texts.count == 5)
    }

    @Test func rfc7692_compressedMessagesAreInflated() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder, deflate: PerMessageDeflate())
        let text = String(repeating: "compress me ", count: 50)
        let compressed = try DeflateCodec.compress(ByteBuffer(string: text))
        try channel.writeInbound(frame(.text, Array(buffer: compressed), rsv1: true))
        #expect(recorder.texts == [text])
        // The echo goes back compressed (RSV1 set).
        let frames = try written(channel)
        #expect(frames.first?.0 == 0xC1)
    }
}
