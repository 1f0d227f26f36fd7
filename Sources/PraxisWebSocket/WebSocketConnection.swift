public import NIOCore

/// One upgraded connection, as applications and the fan-out see it.
///
/// Its methods must be called on `eventLoop` (hop with `eventLoop.execute` from elsewhere);
/// it is `Sendable` only so that references can be kept in shared subscriber lists.
public final class WebSocketConnection: @unchecked Sendable {
    public let eventLoop: any EventLoop
    /// The negotiated permessage-deflate parameters, if any.
    public let deflate: PerMessageDeflate?
    /// The peer's IP address.
    public let remoteIP: String
    /// Whether a message compressed once for everyone (the default window) suits this connection.
    let compressesByDefault: Bool
    /// The transport handler while the connection is open. A strong reference (no weak load
    /// per send): the handler sets it when added and clears it when torn down, which also
    /// breaks the cycle handler → application → connection → handler.
    var handler: WebSocketHandler?

    init(eventLoop: any EventLoop, deflate: PerMessageDeflate?, remoteIP: String) {
        self.eventLoop = eventLoop
        self.deflate = deflate
        self.remoteIP = remoteIP
        compressesByDefault = deflate?.serverMaxWindowBits == 15
    }

    /// Sends a text message (compressed when negotiated and worth it). Flushed at the end
    /// of the current read, by `flush()`, or at the end of the event loop's pass.
    public func send(text: ByteBuffer) {
        handler?.send(PreparedMessage(text: text, compress: compressesByDefault))
    }

    public func send(binary: ByteBuffer) {
        handler?.send(PreparedMessage(text: binary, binary: true, compress: compressesByDefault))
    }

    /// Writes an already framed message: the compressed frame to deflate connections that
    /// accept the default window, the plain one to the others. Returns false when the
    /// connection is closing or gone.
    @discardableResult
    public func send(_ message: PreparedMessage) -> Bool {
        guard let handler else { return false }
        return handler.send(message)
    }

    /// Flushes what was written (once per batch, not per message).
    public func flush() {
        handler?.flushIfNeeded()
    }

    /// Starts the closing handshake with `code` (1000 by default).
    public func close(code: UInt16 = CloseCode.normal, reason: String = "") {
        handler?.initiateClose(code: code, reason: reason)
    }

    /// Whether messages can still be sent.
    public var isOpen: Bool { handler?.isOpen ?? false }
}
