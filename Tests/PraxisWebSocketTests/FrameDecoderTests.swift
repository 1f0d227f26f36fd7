import NIOCore
import Testing

@testable import PraxisWebSocket

/// The streaming frame parser, fed bytes without I/O: every length encoding, masks, any split
/// of the input (down to one byte per read), and the wire-format errors.
@Suite("FrameDecoder (RFC 6455 §5.2, streaming)")
struct FrameDecoderTests {
    /// An event with its payload unmasked, so events can be compared.
    enum Seen: Equatable {
        case frame(FrameDecoder.Header, [UInt8])
        case start(FrameDecoder.Header)
        case payload([UInt8])
        case end
        case invalid(String)
    }

    /// Feeds `chunks` one read at a time, as the handler does, and records every event.
    func decode(_ chunks: [[UInt8]], decoder: inout FrameDecoder) -> [Seen] {
        var seen: [Seen] = []
        for chunk in chunks {
            var input = ByteBuffer(bytes: chunk)
            while let event = decoder.next(from: &input) {
                switch event {
                case .frame(let header, let payload): seen.append(.frame(header, unmasked(payload)))
                case .start(let header): seen.append(.start(header))
                case .payload(let payload): seen.append(.payload(unmasked(payload)))
                case .end: seen.append(.end)
                case .invalid(let reason): seen.append(.invalid(reason))
                }
            }
            #expect(decoder.hasFailed || input.readableBytes == 0, "a read is consumed whole")
        }
        return seen
    }

    func decode(_ chunks: [[UInt8]]) -> [Seen] {
        var decoder = FrameDecoder()
        return decode(chunks, decoder: &decoder)
    }

    func unmasked(_ bytes: MaskedBytes) -> [UInt8] {
        Array(buffer: bytes.unmasked(allocator: ByteBufferAllocator()))
    }

    /// Whole frames from the events, however the payload came (start, pieces, end).
    func frames(_ seen: [Seen]) -> [(FrameDecoder.Header, [UInt8])] {
        var frames: [(FrameDecoder.Header, [UInt8])] = []
        var open: (FrameDecoder.Header, [UInt8])?
        for event in seen {
            switch event {
            case .frame(let header, let payload):
                #expect(open == nil)
                frames.append((header, payload))
            case .start(let header):
                #expect(open == nil)
                open = (header, [])
            case .payload(let bytes):
                #expect(open != nil && !bytes.isEmpty)
                open?.1 += bytes
            case .end:
                if let done = open { frames.append(done) }
                open = nil
            case .invalid(let reason):
                Issue.record("unexpected invalid: \(reason)")
            }
        }
        #expect(open == nil, "every started frame ended")
        return frames
    }

    func header(_ frame: ClientFrame) -> FrameDecoder.Header {
        FrameDecoder.Header(
            fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3, opcode: frame.opcode, maskKey: frame.maskKey,
            length: frame.payload.count
        )
    }

    func payload(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    // 0–125: 7-bit length; 126–65535: 16-bit; above: 64-bit.
    static let lengths = [0, 1, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536, 70001]

    @Test(arguments: lengths)
    func aWholeFrameInOneReadComesWhole(length: Int) {
        let frame = ClientFrame(opcode: 0x2, payload: payload(length))
        #expect(decode([frame.bytes]) == [.frame(header(frame), frame.payload)])
    }

    @Test(arguments: lengths)
    func aFrameByteByByteStartsStreamsAndEnds(length: Int) {
        let frame = ClientFrame(opcode: 0x1, payload: payload(length), fin: false)
        let seen = decode(frame.bytes.map { [$0] })
        if length == 0 {
            // The header's last byte completes the frame: nothing is pending.
            #expect(seen == [.frame(header(frame), [])])
        } else {
            #expect(seen.first == .start(header(frame)))
            #expect(seen.last == .end)
            #expect(seen.count == length + 2, "one payload event per byte")
        }
        let whole = frames(seen)
        #expect(whole.count == 1 && whole.first?.0 == header(frame) && whole.first?.1 == frame.payload)
    }

    @Test(arguments: [[0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [0x01, 0x02, 0x03, 0x04], [0x80, 0x00, 0x7F, 0x55]] as [[UInt8]])
    func masksAreUndoneAtEveryOffset(mask: [UInt8]) {
        // Pieces of 1, 2, 3, 5, 7, 9 … bytes put every payload offset modulo 4 (and 8) at a piece's start.
        let frame = ClientFrame(opcode: 0x2, payload: payload(300), mask: mask)
        var chunks: [[UInt8]] = []
        var rest = ArraySlice(frame.bytes)
        for size in [1, 2, 3, 5, 7, 9, 11, 13, 17, 19, 23].cycled() where !rest.isEmpty {
            chunks.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        let whole = frames(decode(chunks))
        #expect(whole.count == 1 && whole.first?.0.maskKey == frame.maskKey && whole.first?.1 == frame.payload)
    }

    @Test func anUnmaskedFrameIsReportedAsSuch() {
        let frame = ClientFrame(opcode: 0x1, payload: Array("plain".utf8), mask: nil)
        #expect(decode([frame.bytes]) == [.frame(header(frame), Array("plain".utf8))])
        #expect(header(frame).maskKey == nil)
    }

    @Test func headerBitsAreRead() {
        let frame = ClientFrame(opcode: 0xB, payload: [1], fin: false, rsv1: true, rsv2: false, rsv3: true)
        guard case .frame(let parsed, _) = decode([frame.bytes]).first else {
            Issue.record("expected a frame")
            return
        }
        #expect(!parsed.fin && parsed.rsv1 && !parsed.rsv2 && parsed.rsv3 && parsed.opcode == 0xB && parsed.length == 1)
    }

    @Test func manyFramesInOneReadComeInOrder() {
        let sent = [
            ClientFrame(opcode: 0x1, payload: Array("hel".utf8), fin: false), ClientFrame(opcode: 0x9, payload: [9, 8]),
            ClientFrame(opcode: 0x0, payload: Array("lo".utf8)), ClientFrame(opcode: 0x2, payload: []),
            ClientFrame(opcode: 0x8, payload: [0x03, 0xE8]),
        ]
        let seen = decode([sent.flatMap(\.bytes)])
        #expect(seen == sent.map { .frame(header($0), $0.payload) })
    }

    @Test(arguments: 0..<20)
    func anySplitOfAStreamGivesTheSameFrames(seed: Int) {
        var random = SplitMix(seed: UInt64(seed))
        let sent = (0..<8).map { index in
            let opcode: UInt8 = [0x1, 0x2, 0x0, 0x9, 0xA][index % 5]
            // Control frames carry at most 125 bytes.
            let lengths = opcode >= 0x8 ? [0, 3, 125] : [0, 3, 125, 126, 200, 65536 + 3]
            return ClientFrame(
                opcode: opcode, payload: payload(lengths[Int(random.next() % UInt64(lengths.count))]), fin: index % 3 != 0,
                mask: (0..<4).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            )
        }
        let stream = sent.flatMap(\.bytes)
        var chunks: [[UInt8]] = []
        var at = 0
        while at < stream.count {
            let size = Int(random.next() % 40) + 1 == 40 ? Int(random.next() % 100_000) + 1 : Int(random.next() % 20) + 1
            chunks.append(Array(stream[at..<min(at + size, stream.count)]))
            at += size
        }
        let whole = frames(decode(chunks))
        #expect(whole.count == sent.count)
        for (got, frame) in zip(whole, sent) {
            #expect(got.0 == header(frame))
            #expect(got.1 == frame.payload)
        }
    }

    @Test func theWholeFramesPayloadIsASliceOfTheReadNotACopy() {
        let frame = ClientFrame(opcode: 0x2, payload: payload(64))
        var input = ByteBuffer(bytes: frame.bytes)
        let base = input.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        var decoder = FrameDecoder()
        guard case .frame(_, let masked) = decoder.next(from: &input) else {
            Issue.record("expected a whole frame")
            return
        }
        let payloadBase = masked.bytes.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(payloadBase == base + UInt(frame.header(length: 64).count))
    }

    @Test(arguments: [126, 127])
    func aControlFrameWithAnExtendedLengthIsInvalidAndTheDecoderStops(marker: UInt8) {
        var bytes: [UInt8] = [0x89, 0x80 | marker] + (marker == 126 ? [0, 10] : [0, 0, 0, 0, 0, 0, 0, 10]) + [1, 2, 3, 4]
        bytes += Array(repeating: 0, count: 10) + ClientFrame(opcode: 0x1, payload: [0x61]).bytes
        #expect(decode([bytes]) == [.invalid("control frame over 125 bytes")])
        var decoder = FrameDecoder()
        #expect(decode(bytes.map { [$0] }, decoder: &decoder) == [.invalid("control frame over 125 bytes")])
        #expect(decoder.hasFailed)
        #expect(decode([ClientFrame(opcode: 0x1, payload: [0x61]).bytes], decoder: &decoder) == [], "nothing after the failure")
    }

    @Test func aSixtyFourBitLengthWithItsTopBitSetIsInvalid() {
        let bytes: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]
        #expect(decode([bytes]) == [.invalid("frame length with its most significant bit set")])
    }

    @Test func theLargestLengthIsAnnouncedWithoutBufferingAnything() {
        // 2^63 - 1 bytes announced, a few sent: the header is reported at once, the bytes as they come.
        let header: [UInt8] = [0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        let seen = decode([header + [5, 6, 7]])
        #expect(seen == [.start(FrameDecoder.Header(fin: true, opcode: 0x2, maskKey: 0, length: Int.max)), .payload([5, 6, 7])])
    }

    @Test func aLengthJustOverTheSixteenBitFormUsesTheSixtyFourBitForm() {
        let frame = ClientFrame(opcode: 0x2, payload: payload(65536))
        #expect(frame.bytes[1] & 0x7F == 127)
        #expect(decode([frame.bytes]) == [.frame(header(frame), frame.payload)])
    }

    @Test(arguments: 0..<24)
    func unmaskingMatchesByteWiseXORAtEveryOffset(count: Int) {
        let key: [UInt8] = [0xA1, 0x5C, 0x03, 0xEE]
        let maskKey = key.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let source = payload(count)
        for offset in 0..<8 {
            var destination = ByteBuffer(bytes: [0xEE, 0xFF])
            MaskedBytes(bytes: ByteBuffer(bytes: source), maskKey: maskKey, offset: offset).unmask(appendingTo: &destination)
            let expected = [0xEE, 0xFF] + source.enumerated().map { $0.element ^ key[($0.offset + offset) & 3] }
            #expect(Array(buffer: destination) == expected)
        }
    }
}

/// A small seeded generator (SplitMix64), so the random splits are the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array {
    /// The elements, repeated a bounded number of times (enough for the test inputs).
    func cycled(times: Int = 1000) -> [Element] {
        (0..<times).flatMap { _ in self }
    }
}
