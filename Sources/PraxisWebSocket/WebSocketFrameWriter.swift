public import NIOCore

/// Encodes server frames (never masked) straight into ByteBuffers, so a message can be
/// framed once and the same bytes written to many connections.
public enum WebSocketFrameWriter {
    /// A whole frame: header and payload.
    public static func frame(
        opcode: FrameRules.Opcode, payload: ByteBuffer, fin: Bool = true, rsv1: Bool = false,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: payload.readableBytes + 10)
        writeHeader(opcode: opcode, length: payload.readableBytes, fin: fin, rsv1: rsv1, into: &buffer)
        var payload = payload
        buffer.writeBuffer(&payload)
        return buffer
    }

    /// A close frame with an optional code and reason (the reason is cut to fit 125 bytes).
    public static func close(code: UInt16?, reason: String, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 125)
        if let code {
            payload.writeInteger(code)
            var reasonBytes = Array(reason.utf8.prefix(123))
            // Never cut a character in half.
            while !reasonBytes.isEmpty, !UTF8Validator.isValid(reasonBytes) { reasonBytes.removeLast() }
            payload.writeBytes(reasonBytes)
        }
        return frame(opcode: .close, payload: payload, allocator: allocator)
    }

    static func writeHeader(opcode: FrameRules.Opcode, length: Int, fin: Bool, rsv1: Bool, into buffer: inout ByteBuffer) {
        var first = opcode.rawValue
        if fin { first |= 0x80 }
        if rsv1 { first |= 0x40 }
        buffer.writeInteger(first)
        switch length {
        case 0...125:
            buffer.writeInteger(UInt8(length))
        case 126...0xFFFF:
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }
}
