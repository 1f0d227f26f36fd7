public import NIOCore

/// Payload bytes as a client sent them (masked, RFC 6455 §5.3): a slice of the read, the
/// masking key and the bytes' position in their frame's payload (where the mask's cycle is).
/// Unmasking copies them once, into a new buffer or onto the end of a message's buffer.
public struct MaskedBytes: Sendable {
    /// The bytes, masked.
    public var bytes: ByteBuffer
    /// The frame's masking key (wire order, most significant byte first); nil: not masked.
    public var maskKey: UInt32?
    /// How many bytes of the frame's payload came before these.
    public var offset: Int

    public init(bytes: ByteBuffer, maskKey: UInt32?, offset: Int) {
        self.bytes = bytes
        self.maskKey = maskKey
        self.offset = offset
    }

    public var count: Int { bytes.readableBytes }

    /// The bytes unmasked, in a buffer of their own.
    public func unmasked(allocator: ByteBufferAllocator) -> ByteBuffer {
        guard maskKey != nil else { return bytes }
        var buffer = allocator.buffer(capacity: count)
        unmask(appendingTo: &buffer)
        return buffer
    }

    /// Writes the bytes, unmasked, at the end of `destination`.
    public func unmask(appendingTo destination: inout ByteBuffer) {
        let count = self.count
        guard count > 0 else { return }
        guard let maskKey else {
            var copy = bytes
            destination.writeBuffer(&copy)
            return
        }
        let offset = self.offset
        destination.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
            bytes.withUnsafeReadableBytes { source in
                Self.unmask(source, into: target, maskKey: maskKey, offset: offset)
            }
            return count
        }
    }

    /// XORs `source` with the key's bytes from `offset` on, into `target`: eight bytes at a time.
    static func unmask(_ source: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer, maskKey: UInt32, offset: Int) {
        precondition(target.count >= source.count)
        @inline(__always) func keyByte(_ index: Int) -> UInt8 {
            UInt8(truncatingIfNeeded: maskKey >> (24 - 8 * UInt32(index & 3)))
        }
        var pattern: UInt64 = 0
        withUnsafeMutableBytes(of: &pattern) { bytes in
            for index in 0..<8 { bytes[index] = keyByte(offset + index) }
        }
        let count = source.count
        var index = 0
        while index + 8 <= count {
            let word = source.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            target.storeBytes(of: word ^ pattern, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < count {
            target[index] = source[index] ^ keyByte(offset + index)
            index += 1
        }
    }
}
