package import NIOCore
package import NIOHTTP1

extension WebSocketEndpoints {
    /// The headers NIO's `HTTPServerUpgradeHandler` starts a 101 with (`WebSocketUpgrader`
    /// replaces both, so the answer does not depend on how the request spelled them).
    private static let initialResponseHeaders = HTTPHeaders([("connection", "upgrade"), ("upgrade", "websocket")])

    /// For a head the HTTP server read itself (its fast path, which bypasses NIO's HTTP/1.1
    /// pipeline): the bytes of the 101 that NIO's upgrade path would write for it, after the
    /// same checks and reservation (`WebSocketUpgrader.responseHeaders`); nil, with nothing
    /// reserved, when those refuse (the HTTP pipeline then answers the request as ever).
    /// `remoteIP`: the peer's address when the caller has it (else read from `channel`).
    /// Call `installHandler` after writing them.
    package func fastUpgradeResponse(head: HTTPRequestHead, channel: any Channel, remoteIP: String? = nil) -> ByteBuffer? {
        guard
            let headers = WebSocketUpgrader.responseHeaders(
                endpoints: self, channel: channel, head: head, initial: Self.initialResponseHeaders, remoteIP: remoteIP
            )
        else { return nil }
        // As NIO's `HTTPResponseEncoder` writes `HTTPResponseHead(version: .http1_1, status: .switchingProtocols)`;
        // the separators as integers (a static string's write cost 250 instructions, a string's append 340).
        var buffer = channel.allocator.buffer(capacity: 256)
        buffer.writeStaticString("HTTP/1.1 101 Switching Protocols\r\n")
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeInteger(UInt16(0x3A20))  // ": "
            buffer.writeString(value)
            buffer.writeInteger(UInt16(0x0D0A))  // CRLF
        }
        buffer.writeInteger(UInt16(0x0D0A))
        return buffer
    }
}
