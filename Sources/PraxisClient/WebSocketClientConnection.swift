public import NIOCore
import NIOWebSocket

/// An open client connection. Thread-safe: `send` and `close` may be called from anywhere.
public final class WebSocketClientConnection: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<WebSocketClientHandler>
    /// Completes (never fails) when the TCP connection has ended.
    public let closeFuture: EventLoopFuture<WebSocketCloseResult>

    init(channel: any Channel, handler: WebSocketClientHandler) {
        self.channel = channel
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.closeFuture = handler.closed.futureResult
    }

    /// The event loop the connection's callbacks run on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Sends one text message in one masked frame. With `flush: false` the frame waits for
    /// the next `flush()` (to batch several).
    public func send(text: ByteBuffer, flush: Bool = true) {
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: text)
        if flush {
            channel.writeAndFlush(frame, promise: nil)
        } else {
            channel.write(frame, promise: nil)
        }
    }

    public func send(text: String) {
        send(text: channel.allocator.buffer(string: text))
    }

    public func flush() {
        channel.flush()
    }

    /// Starts the closing handshake with `code` without waiting for it.
    public func startClose(code: UInt16 = 1000, timeout: TimeAmount = .seconds(5)) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.initiateClose(code: code, timeout: timeout) }
    }

    /// Drops the TCP connection at once, without a close frame: to the server it looks like
    /// a lost network (the scripted client's `disconnect`).
    public func abort() {
        channel.close(promise: nil)
    }

    /// Closes with the closing handshake (`code`, 1000 by default) and waits until the TCP
    /// connection has ended; after `timeout` without the server's close frame, drops it.
    @discardableResult
    public func close(code: UInt16 = 1000, timeout: TimeAmount = .seconds(5)) async -> WebSocketCloseResult {
        startClose(code: code, timeout: timeout)
        // The future never fails (see WebSocketClientHandler).
        return (try? await closeFuture.get()) ?? WebSocketCloseResult(code: nil, clean: false, initiatedLocally: true)
    }
}
