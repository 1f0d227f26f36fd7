import NIOCore
import NIOWebSocket

/// The client side of a connection after the upgrade: passes on messages, answers
/// pings, runs the closing handshake (RFC 6455 §5.5.1, §7) and reports how it ended.
final class WebSocketClientHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum State {
        case open
        /// We sent a close frame and wait for the server's.
        case closeSent
        /// Both close frames were exchanged (either order); the server closes TCP.
        case closed
    }

    private let onMessage: @Sendable (WebSocketClientMessage) -> Void
    let closed: EventLoopPromise<WebSocketCloseResult>
    private var state = State.open
    private var initiatedLocally = false
    private var peerCode: UInt16?
    private var context: ChannelHandlerContext?
    private var dropTimer: Scheduled<Void>?

    /// After both close frames, how long to wait for the server to end TCP before we do.
    static let lingerAfterClose = TimeAmount.seconds(2)

    init(onMessage: @escaping @Sendable (WebSocketClientMessage) -> Void, closed: EventLoopPromise<WebSocketCloseResult>) {
        self.onMessage = onMessage
        self.closed = closed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    private func finish() {
        dropTimer?.cancel()
        dropTimer = nil
        context = nil
        closed.succeed(WebSocketCloseResult(code: peerCode, clean: state == .closed, initiatedLocally: initiatedLocally))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:  // whole messages: NIO's aggregator before this handler joins fragments
            onMessage(WebSocketClientMessage(data: frame.unmaskedData, isText: frame.opcode == .text))
        case .ping:
            guard state == .open else { return }
            send(opcode: .pong, payload: frame.unmaskedData, context: context)
        case .connectionClose:
            var payload = frame.unmaskedData
            peerCode = payload.readInteger(as: UInt16.self)
            switch state {
            case .open:
                // The server started: echo its code, then let it end TCP.
                var reply = context.channel.allocator.buffer(capacity: 2)
                if let peerCode { reply.writeInteger(peerCode) }
                send(opcode: .connectionClose, payload: reply, context: context)
                state = .closed
                scheduleDrop(in: Self.lingerAfterClose)
            case .closeSent:
                state = .closed
                scheduleDrop(in: Self.lingerAfterClose)
            case .closed:
                break
            }
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Sends a close frame with `code`; after `timeout` without the server's, drops TCP.
    func initiateClose(code: UInt16, timeout: TimeAmount) {
        guard let context, state == .open else { return }
        initiatedLocally = true
        state = .closeSent
        var payload = context.channel.allocator.buffer(capacity: 2)
        payload.writeInteger(code)
        send(opcode: .connectionClose, payload: payload, context: context)
        scheduleDrop(in: timeout)
    }

    private func send(opcode: WebSocketOpcode, payload: ByteBuffer, context: ChannelHandlerContext) {
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: payload)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    private func scheduleDrop(in delay: TimeAmount) {
        guard let context else { return }
        dropTimer?.cancel()
        dropTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            self?.context?.close(promise: nil)
        }
    }
}
