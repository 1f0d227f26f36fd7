import NIOCore
import NIOHTTP1

extension HTTPResponse {
    /// The response as HTTP/1.1 bytes with `Connection: close`, for the handlers that answer
    /// outside the HTTP codec (a timeout before any head, a refused connection).
    func closingBytes(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 160 + body.readableBytes)
        buffer.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n")
        for (name, value) in headers where name.lowercased() != "content-length" && name.lowercased() != "connection" {
            buffer.writeString("\(name): \(value)\r\n")
        }
        buffer.writeString("Content-Length: \(body.readableBytes)\r\nConnection: close\r\n\r\n")
        var body = self.body
        buffer.writeBuffer(&body)
        return buffer
    }
}
