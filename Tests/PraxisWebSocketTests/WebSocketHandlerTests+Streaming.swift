import NIOCore
import NIOEmbedded
import Testing

@testable import PraxisWebSocket

/// Frames whose bytes arrive over several reads: checked as they arrive (Autobahn 6.4.3/6.4.4),
/// limits applied at the header, payload collected piece by piece.
extension WebSocketHandlerTests {
    static let kosme = Array("κόσμε".utf8)

    /// Writes `pieces` as separate reads.
    func send(_ channel: EmbeddedChannel, _ pieces: [[UInt8]]) throws {
        for piece in pieces where channel.isActive {
            try channel.writeInbound(ByteBuffer(bytes: piece))
        }
    }

    /// A frame's bytes cut into pieces: the header with the first `cuts[0]` payload bytes, then
    /// the payload up to each next cut, then the rest (when `rest`).
    func pieces(_ frame: ClientFrame, cuts: [Int], rest: Bool = true) -> [[UInt8]] {
        let header = frame.header(length: frame.payload.count).count
        let bytes = frame.bytes
        var pieces: [[UInt8]] = []
        var from = 0
        for cut in cuts {
            pieces.append(Array(bytes[from..<(header + cut)]))
            from = header + cut
        }
        if rest { pieces.append(Array(bytes[from...])) }
        return pieces
    }

    func closeCode(_ frames: [(UInt8, [UInt8])]) -> [UInt8]? {
        frames.first { $0.0 == 0x88 }.map { Array($0.1.prefix(2)) }
    }

    @Test func invalidUTF8InAFramesFirstPieceClosesWith1007BeforeTheRestArrives() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        let frame = ClientFrame(opcode: 0x1, payload: [0x61, 0xFF] + Array(repeating: 0x62, count: 200))
        // The header and the first 10 payload bytes; the other 192 are never sent.
        try send(channel, pieces(frame, cuts: [10], rest: false))
        #expect(closeCode(try written(channel)) == [0x03, 0xEF])
        #expect(!channel.isActive)
        #expect(recorder.texts.isEmpty)
    }

    @Test(arguments: [[0xF4, 0x90, 0x80, 0x80], [0xF4, 0x90]] as [[UInt8]])
    func autobahn6_4_3_and_6_4_4_invalidUTF8InALaterPieceOfTheFrameClosesWith1007AtOnce(bad: [UInt8]) throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        let payload = Self.kosme + [0xF4, 0x90, 0x80, 0x80] + Array("edited".utf8)
        let frame = ClientFrame(opcode: 0x1, payload: payload)
        let chops = pieces(frame, cuts: [Self.kosme.count, Self.kosme.count + bad.count], rest: false)
        try send(channel, [chops[0]])
        #expect(try written(channel).isEmpty, "valid so far: no close")
        #expect(channel.isActive)
        try send(channel, [chops[1]])
        #expect(closeCode(try written(channel)) == [0x03, 0xEF])
        #expect(!channel.isActive)
    }

    @Test func aCharacterSplitAcrossReadsOfAFrameIsNotFailedEarly() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        let frame = ClientFrame(opcode: 0x1, payload: Array("aκb".utf8))
        let split = pieces(frame, cuts: [2])  // "a" and κ's first byte, then κ's second byte and "b"
        try send(channel, [split[0]])
        #expect(try written(channel).isEmpty)
        #expect(channel.isActive && recorder.texts.isEmpty)
        try send(channel, [split[1]])
        #expect(recorder.texts == ["aκb"])
        #expect(try written(channel).map(\.1) == [Array("aκb".utf8)])
    }

    @Test func aFrameEndingInsideACharacterClosesWith1007AtItsEnd() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        let frame = ClientFrame(opcode: 0x1, payload: Self.kosme + [0xE1, 0xBD])
        let split = pieces(frame, cuts: [Self.kosme.count + 1])
        try send(channel, [split[0]])
        #expect(try written(channel).isEmpty && channel.isActive)
        try send(channel, [split[1]])
        #expect(closeCode(try written(channel)) == [0x03, 0xEF])
        #expect(!channel.isActive && recorder.texts.isEmpty)
    }

    @Test func aHeaderAnnouncingMoreThanTheLimitClosesWith1009WithoutThePayload() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder, configuration: WebSocketConfiguration(maxMessageBytes: 1000))
        try send(channel, [ClientFrame(opcode: 0x2, payload: []).header(length: 1001)])
        #expect(closeCode(try written(channel)) == [0x03, 0xF1])
        #expect(!channel.isActive)
    }

    @Test(arguments: [1, 7, 1000])
    func aLargeFrameInPiecesIsDeliveredWhole(pieceSize: Int) throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        let text = String(repeating: "κόσμε 😀 ", count: 400)
        let bytes = ClientFrame(opcode: 0x1, payload: Array(text.utf8)).bytes
        try send(channel, stride(from: 0, to: bytes.count, by: pieceSize).map { Array(bytes[$0..<min($0 + pieceSize, bytes.count)]) })
        #expect(recorder.texts == [text])
    }

    @Test func aFragmentedMessageWithFramesInPiecesAndAPingBetweenIsWhole() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        let first = ClientFrame(opcode: 0x1, payload: Array("κόσμε ".utf8), fin: false)
        let ping = ClientFrame(opcode: 0x9, payload: [1, 2, 3])
        let last = ClientFrame(opcode: 0x0, payload: Array("again".utf8))
        let stream = first.bytes + ping.bytes + last.bytes
        try send(channel, stride(from: 0, to: stream.count, by: 3).map { Array(stream[$0..<min($0 + 3, stream.count)]) })
        #expect(recorder.texts == ["κόσμε again"])
        #expect(try written(channel).map(\.0) == [0x8A, 0x81])
    }

    @Test func aCompressedMessageInPiecesIsInflated() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder, deflate: PerMessageDeflate())
        let text = String(repeating: "compress me in pieces ", count: 80)
        let compressed = Array(buffer: try DeflateCodec.compress(ByteBuffer(string: text)))
        let bytes = ClientFrame(opcode: 0x1, payload: compressed, rsv1: true).bytes
        try send(channel, stride(from: 0, to: bytes.count, by: 5).map { Array(bytes[$0..<min($0 + 5, bytes.count)]) })
        #expect(recorder.texts == [text])
    }

    @Test func afterOurCloseAStreamedDataFrameIsDiscardedAndThePeersCloseEndsIt() throws {
        let recorder = Recorder()
        let channel = try makeChannel(recorder)
        let data = ClientFrame(opcode: 0x1, payload: Array(repeating: 0x61, count: 300))
        let split = pieces(data, cuts: [100])
        try send(channel, [split[0]])
        let handler = try channel.pipeline.syncOperations.handler(type: WebSocketHandler.self)
        handler.initiateClose(code: 1001, reason: "bye")
        #expect(closeCode(try written(channel)) == [0x03, 0xE9])
        try send(channel, [split[1], ClientFrame(opcode: 0x8, payload: [0x03, 0xE9]).bytes])
        #expect(recorder.texts.isEmpty)
        #expect(!channel.isActive)
    }
}
