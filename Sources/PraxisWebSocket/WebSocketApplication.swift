public import NIOCore
public import NIOHTTP1

/// What an endpoint does with a connection's messages. `connected` is called on the
/// connection's event loop once the upgrade is done; the returned handler's methods are
/// called on that loop too.
public protocol WebSocketApplication: Sendable {
    func connected(_ connection: WebSocketConnection, request: HTTPRequestHead) -> any WebSocketMessageHandler
    /// Refuses an upgrade before it happens (e.g. a bad API key: 401). Default: accept.
    func rejection(for request: HTTPRequestHead) -> WebSocketEndpoints.Rejection?
}

extension WebSocketApplication {
    public func rejection(for request: HTTPRequestHead) -> WebSocketEndpoints.Rejection? { nil }
}

/// Receives one connection's complete, validated messages (on its event loop).
public protocol WebSocketMessageHandler: AnyObject {
    /// A text message: valid UTF-8, inflated if it was compressed.
    func received(text: ByteBuffer)
    func received(binary: ByteBuffer)
    /// The connection ended; `code` is the peer's close code when it sent one.
    func closed(code: UInt16?)
}

/// A message framed once, ready to be written to many connections: the plain frame and,
/// when asked for, the permessage-deflate frame (compressed once for everyone).
public struct PreparedMessage: Sendable {
    public let plain: ByteBuffer
    public let compressed: ByteBuffer?
    /// The unframed payload (for connections that need their own compression).
    public let payload: ByteBuffer
    public let isBinary: Bool
    /// Payload size before framing.
    public var payloadBytes: Int { payload.readableBytes }

    /// Frames `payload` as a text (or binary) message; compresses it once when
    /// `compress` is set and it is worth it.
    public init(text payload: ByteBuffer, binary: Bool = false, compress: Bool, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        let opcode: FrameRules.Opcode = binary ? .binary : .text
        plain = WebSocketFrameWriter.frame(opcode: opcode, payload: payload, allocator: allocator)
        self.payload = payload
        isBinary = binary
        if compress, payload.readableBytes >= PreparedMessage.compressionThreshold,
            let deflated = try? DeflateCodec.compress(payload, allocator: allocator)
        {
            compressed = WebSocketFrameWriter.frame(opcode: opcode, payload: deflated, rsv1: true, allocator: allocator)
        } else {
            compressed = nil
        }
    }

    /// Payloads smaller than this are sent uncompressed even on deflate connections.
    public static let compressionThreshold = 64
}

/// The echo endpoint (`/ws/echo`, `praxis serve --echo`): sends every message back as it
/// came, through the same transport, so conformance tools can test the transport alone.
public struct EchoApplication: WebSocketApplication {
    public init() {}

    public func connected(_ connection: WebSocketConnection, request: HTTPRequestHead) -> any WebSocketMessageHandler {
        Echo(connection: connection)
    }

    private final class Echo: WebSocketMessageHandler {
        let connection: WebSocketConnection

        init(connection: WebSocketConnection) {
            self.connection = connection
        }

        func received(text: ByteBuffer) { connection.send(text: text) }
        func received(binary: ByteBuffer) { connection.send(binary: binary) }
        func closed(code: UInt16?) {}
    }
}
