public import NIOCore

/// A streaming parser of a client's WebSocket frames (RFC 6455 §5.2), as a plain state machine:
/// fed the bytes of each read, it says where frames begin and end and which bytes are payload,
/// as they arrive. It never buffers payload (only the few bytes of a header split across reads),
/// so a large frame reaches the handler piece by piece and a text frame's UTF-8 can be checked
/// before the frame is complete. A frame whose payload is all in the input comes whole
/// (`.frame`): the fast path, no copy.
///
/// It checks only the wire format; the frame rules (masking, opcodes, sizes) are `FrameRules`'.
public struct FrameDecoder: Sendable {
    /// A frame's header.
    public struct Header: Equatable, Sendable {
        public var fin: Bool
        public var rsv1: Bool
        public var rsv2: Bool
        public var rsv3: Bool
        public var opcode: UInt8
        /// The masking key, its four bytes in wire order (most significant first); nil when unmasked.
        public var maskKey: UInt32?
        /// The payload length.
        public var length: Int

        public init(fin: Bool, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false, opcode: UInt8, maskKey: UInt32?, length: Int) {
            self.fin = fin
            self.rsv1 = rsv1
            self.rsv2 = rsv2
            self.rsv3 = rsv3
            self.opcode = opcode
            self.maskKey = maskKey
            self.length = length
        }
    }

    /// What the next bytes are.
    public enum Event: Sendable {
        /// A whole frame: its header and its payload (still masked).
        case frame(Header, MaskedBytes)
        /// A frame begins whose payload is not all here yet: its payload follows as `.payload`
        /// events, then `.end`.
        case start(Header)
        /// The next bytes of the started frame's payload (still masked).
        case payload(MaskedBytes)
        /// The started frame's payload is complete.
        case end
        /// The bytes are not a WebSocket frame (a protocol error, 1002); the decoder stops.
        case invalid(reason: String)
    }

    private enum State: Sendable {
        case header
        /// In a started frame's payload: the mask, how many payload bytes came before, how many are left.
        case payload(maskKey: UInt32?, offset: Int, remaining: Int)
        case failed
    }

    private var state = State.header
    /// The first bytes of a header split across reads (at most 13).
    private var partialHeader: ByteBuffer?

    public init() {}

    /// Whether the decoder stopped at bytes that are not a frame (it reports nothing more).
    public var hasFailed: Bool {
        if case .failed = state { true } else { false }
    }

    /// The next event from `input` (its bytes are consumed as they are used), or nil when
    /// `input` holds nothing more to report: call again with the next read.
    public mutating func next(from input: inout ByteBuffer) -> Event? {
        switch state {
        case .failed:
            return nil
        case .payload(let maskKey, let offset, let remaining):
            if remaining == 0 {
                state = .header
                return .end
            }
            let count = min(remaining, input.readableBytes)
            guard count > 0, let bytes = input.readSlice(length: count) else { return nil }
            state = .payload(maskKey: maskKey, offset: offset + count, remaining: remaining - count)
            return .payload(MaskedBytes(bytes: bytes, maskKey: maskKey, offset: offset))
        case .header:
            guard let parsed = readHeader(from: &input) else { return nil }
            let header: Header
            switch parsed {
            case .success(let value):
                header = value
            case .failure(let error):
                state = .failed
                return .invalid(reason: error.reason)
            }
            if input.readableBytes >= header.length, let payload = input.readSlice(length: header.length) {
                return .frame(header, MaskedBytes(bytes: payload, maskKey: header.maskKey, offset: 0))
            }
            state = .payload(maskKey: header.maskKey, offset: 0, remaining: header.length)
            return .start(header)
        }
    }

    // MARK: The header

    struct InvalidHeader: Error {
        var reason: String
    }

    /// The header's size, from its second byte.
    static func headerSize(secondByte: UInt8) -> Int {
        let lengthBytes = switch secondByte & 0x7F {
        case 126: 2
        case 127: 8
        default: 0
        }
        return 2 + lengthBytes + (secondByte & 0x80 != 0 ? 4 : 0)
    }

    /// A whole header, read from `input` or completed from it; nil while incomplete.
    private mutating func readHeader(from input: inout ByteBuffer) -> Result<Header, InvalidHeader>? {
        if partialHeader == nil {
            // The fast path: the whole header is in this read.
            let available = input.readableBytes
            guard available > 0 else { return nil }
            if available >= 2, let second = input.getInteger(at: input.readerIndex + 1, as: UInt8.self) {
                let size = Self.headerSize(secondByte: second)
                if available >= size {
                    defer { input.moveReaderIndex(forwardBy: size) }
                    return Self.parseHeader(input, at: input.readerIndex)
                }
            }
            var partial = ByteBuffer()
            partial.reserveCapacity(14)
            partial.writeBuffer(&input)
            partialHeader = partial
            return nil
        }
        guard var partial = partialHeader else { return nil }
        partialHeader = nil
        while input.readableBytes > 0 {
            let size = partial.readableBytes < 2 ? 2 : Self.headerSize(secondByte: partial.getInteger(at: partial.readerIndex + 1)!)
            if partial.readableBytes == size { break }
            var piece = input.readSlice(length: min(size - partial.readableBytes, input.readableBytes))!
            partial.writeBuffer(&piece)
        }
        if partial.readableBytes >= 2, partial.readableBytes == Self.headerSize(secondByte: partial.getInteger(at: partial.readerIndex + 1)!) {
            return Self.parseHeader(partial, at: partial.readerIndex)
        }
        partialHeader = partial
        return nil
    }

    /// Parses a header that is all in `buffer` from `index`.
    static func parseHeader(_ buffer: ByteBuffer, at index: Int) -> Result<Header, InvalidHeader> {
        let first = buffer.getInteger(at: index, as: UInt8.self)!
        let second = buffer.getInteger(at: index + 1, as: UInt8.self)!
        let opcode = first & 0x0F
        var at = index + 2
        var length = Int(second & 0x7F)
        if length >= 126, opcode & 0x08 != 0 {
            // Control frames carry at most 125 bytes, so their length is always the 7-bit form.
            return .failure(InvalidHeader(reason: "control frame over 125 bytes"))
        }
        if length == 126 {
            length = Int(buffer.getInteger(at: at, as: UInt16.self)!)
            at += 2
        } else if length == 127 {
            let long = buffer.getInteger(at: at, as: UInt64.self)!
            guard long >> 63 == 0 else { return .failure(InvalidHeader(reason: "frame length with its most significant bit set")) }
            length = Int(long)
            at += 8
        }
        let maskKey = second & 0x80 != 0 ? buffer.getInteger(at: at, as: UInt32.self)! : nil
        return .success(
            Header(
                fin: first & 0x80 != 0, rsv1: first & 0x40 != 0, rsv2: first & 0x20 != 0, rsv3: first & 0x10 != 0, opcode: opcode,
                maskKey: maskKey, length: length
            )
        )
    }
}
