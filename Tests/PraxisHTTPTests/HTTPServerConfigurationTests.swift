import NIOCore
import Testing

@testable import PraxisHTTP

@Suite("HTTP server configuration: the receive buffer")
struct HTTPServerConfigurationTests {
    @Test("a connection's first read buffer is 512 bytes unless set; sizes are powers of two within 64...65536")
    func receiveBuffer() {
        #expect(HTTPServerConfiguration().receiveAllocator.nextBufferSize() == 512)
        #expect(HTTPServerConfiguration(readBufferBytes: 4096).receiveAllocator.nextBufferSize() == 4096)
        #expect(HTTPServerConfiguration(readBufferBytes: 1000).receiveAllocator.nextBufferSize() == 512)
        #expect(HTTPServerConfiguration(readBufferBytes: 1).receiveAllocator.nextBufferSize() == 64)
        #expect(HTTPServerConfiguration(readBufferBytes: 1 << 20).receiveAllocator.nextBufferSize() == 65536)
    }

    @Test("reads that fill the buffer make the next one larger, up to 64 KiB")
    func receiveBufferGrows() {
        var allocator = HTTPServerConfiguration(readBufferBytes: 512).receiveAllocator
        for _ in 0..<10 { _ = allocator.record(actualReadBytes: allocator.nextBufferSize() ?? 0) }
        #expect(allocator.nextBufferSize() == 65536)
    }
}
