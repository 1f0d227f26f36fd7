import CompressNIO
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// Compression and decompression of permessage-deflate payloads (compress-nio over zlib).
public enum DeflateCodec {
    /// The four bytes a sync flush ends with, removed on send and added back on receive.
    static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// Compresses one message on its own (no context kept between messages, as
    /// `server_no_context_takeover` promises). Uses a compressor per thread.
    public static func compress(_ payload: ByteBuffer, windowBits: Int = 15, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        let compressor = try Compressors.current(windowBits: windowBits)
        try compressor.reset()
        var input = payload
        var output = allocator.buffer(capacity: compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        if output.readableBytes >= 4, output.getBytes(at: output.writerIndex - 4, length: 4) == tail {
            output.moveWriterIndex(to: output.writerIndex - 4)
        }
        if output.readableBytes == 0 {
            output.writeInteger(UInt8(0))  // An empty message compresses to a single 0x00 block.
        }
        return output
    }

    /// Per-thread compressors, by window size: deflate state is large (~256 KiB), so it
    /// is shared by every connection of an event loop rather than kept per connection.
    private final class Compressors {
        // Each thread sees only its own value, so no state is shared between threads.
        nonisolated(unsafe) private static let perThread = ThreadSpecificVariable<Compressors>()
        private var byWindow: [Int: ZlibCompressor] = [:]

        static func current(windowBits: Int) throws -> ZlibCompressor {
            let compressors: Compressors
            if let existing = perThread.currentValue {
                compressors = existing
            } else {
                compressors = Compressors()
                perThread.currentValue = compressors
            }
            if let compressor = compressors.byWindow[windowBits] { return compressor }
            let compressor = try ZlibCompressor(
                algorithm: .deflate, configuration: ZlibConfiguration(windowSize: Int32(windowBits), compressionLevel: 6, memoryLevel: 8)
            )
            compressors.byWindow[windowBits] = compressor
            return compressor
        }
    }
}

/// Inflates a connection's compressed messages, bounded by the message limit.
final class Inflater {
    private var decompressor: ZlibDecompressor?
    private let resetAfterEachMessage: Bool

    init(resetAfterEachMessage: Bool) {
        self.resetAfterEachMessage = resetAfterEachMessage
    }

    enum Failure: Error {
        case tooLarge
        case corrupt
    }

    /// The inflated message, or a failure (too large: 1009; corrupt: 1007).
    func inflate(_ compressed: ByteBuffer, limit: Int, allocator: ByteBufferAllocator) throws(Failure) -> ByteBuffer {
        do {
            let decompressor = try self.decompressor ?? ZlibDecompressor(algorithm: .deflate, windowSize: 15)
            self.decompressor = decompressor
            var input = compressed
            input.writeBytes(DeflateCodec.tail)
            var output = allocator.buffer(capacity: min(max(compressed.readableBytes * 4, 1024), limit + 1))
            while true {
                if output.writableBytes == 0 {
                    guard output.readableBytes <= limit else { throw Failure.tooLarge }
                    output.reserveCapacity(minimumWritableBytes: min(max(output.capacity, 1024), limit + 1 - output.readableBytes + 1))
                }
                let before = (input.readableBytes, output.readableBytes)
                do {
                    try decompressor.inflate(from: &input, to: &output)
                    if input.readableBytes == 0 { break }
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    // Output full: grow it and go on.
                } catch let error as CompressNIOError where error == .inputBufferOverflow {
                    break
                }
                // The end of a deflate stream (BFINAL) stops progress: what is left is not ours to inflate.
                if before == (input.readableBytes, output.readableBytes), output.writableBytes > 0 { break }
                guard output.readableBytes <= limit else { throw Failure.tooLarge }
            }
            guard output.readableBytes <= limit else { throw Failure.tooLarge }
            if resetAfterEachMessage {
                self.decompressor = nil
            }
            return output
        } catch let failure as Failure {
            decompressor = nil
            throw failure
        } catch {
            decompressor = nil
            throw .corrupt
        }
    }
}
