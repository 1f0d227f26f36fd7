import NIOCore

/// A client's frame as its wire bytes (RFC 6455 §5.2), for feeding the server's decoder.
struct ClientFrame {
    var opcode: UInt8
    var payload: [UInt8]
    var fin = true
    var rsv1 = false
    var rsv2 = false
    var rsv3 = false
    /// The masking key; nil sends the frame unmasked.
    var mask: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D]

    /// The mask key as `FrameDecoder.Header` holds it.
    var maskKey: UInt32? { mask.map { $0.reduce(0) { $0 << 8 | UInt32($1) } } }

    /// The header alone, for a payload of `length` bytes (announced, maybe never sent).
    func header(length: Int) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | opcode]
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        if length <= 125 {
            bytes.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            bytes.append(maskBit | 126)
            bytes += [UInt8(length >> 8), UInt8(length & 0xFF)]
        } else {
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(length) >> (8 * UInt64($0))) }
        }
        return bytes + (mask ?? [])
    }

    /// The payload as sent: masked with `mask`.
    var maskedPayload: [UInt8] {
        guard let mask else { return payload }
        return payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    }

    /// The whole frame.
    var bytes: [UInt8] { header(length: payload.count) + maskedPayload }

    var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }
}
