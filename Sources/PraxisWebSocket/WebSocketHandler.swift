import NIOCore
import PraxisLoops

/// The server side of one WebSocket connection, after the upgrade: parses frames as their
/// bytes arrive (`FrameDecoder`), applies RFC 6455's rules (masking, reserved bits and
/// opcodes, fragmentation, UTF-8 checked as the bytes arrive, close handshake, sizes),
/// permessage-deflate, liveness, rate limits and backpressure, and hands complete messages
/// to the application.
///
/// Reads the connection's bytes; writes ready-made frame bytes (see `WebSocketFrameWriter`),
/// so the same bytes can go to many connections.
final class WebSocketHandler: ChannelDuplexHandler, LoopTimerTarget {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let configuration: WebSocketConfiguration
    private let application: any WebSocketApplication
    /// The upgrade request, until the application has seen it (not kept for the connection's life).
    private var request: HTTPRequestHeadBox?
    let connection: WebSocketConnection

    private var decoder = FrameDecoder()
    private var rules: FrameRules
    private var closeMachine = CloseStateMachine()
    private var messageHandler: (any WebSocketMessageHandler)?
    private var context: ChannelHandlerContext?
    private var allocator = ByteBufferAllocator()

    /// The frame whose payload is arriving in pieces (between the decoder's `.start` and `.end`).
    private enum Streaming {
        /// A control frame's payload, collected (at most 125 bytes).
        case control(FrameRules.Opcode, ByteBuffer)
        /// A data frame, its payload going onto `fragments`.
        case data(final: Bool)
        /// A data frame after our close: its payload is dropped.
        case discarded
    }

    private var streaming: Streaming?
    /// The first buffer of a message whose frames arrive in pieces (it grows as they come).
    private static let initialStreamingCapacity = 64 << 10

    /// The data message being reassembled.
    private var fragments: ByteBuffer?
    private var fragmentsCompressed = false
    private var fragmentsText = false
    private var inflater: Inflater?

    private var peerCloseCode: UInt16?
    private var needsFlush = false
    /// Asked the loop's flusher for a flush that has not run yet.
    private var flushRequested = false
    /// The channel's writability, as the pipeline last reported it (no channel load per write).
    private var writable = true
    private var flusher: LoopFlusher?
    private var inRead = false
    private var lastHeard = NIODeadline.now()
    private var tokens: Double
    private var tokensUpdated = NIODeadline.now()
    private var bytesWhileUnwritable = 0

    private var livenessTimer: LoopTimer?
    private var closeTimer: Scheduled<Void>?
    private var slowConsumerTimer: Scheduled<Void>?

    init(
        configuration: WebSocketConfiguration, application: any WebSocketApplication, request: HTTPRequestHeadBox,
        connection: WebSocketConnection
    ) {
        self.configuration = configuration
        self.application = application
        self.request = request
        self.connection = connection
        self.rules = FrameRules(maxMessageBytes: configuration.maxMessageBytes, deflate: connection.deflate != nil)
        self.tokens = Double(configuration.maxMessagesPerSecond)
    }

    var isOpen: Bool { closeMachine.acceptsData && context != nil }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        writable = context.channel.isWritable
        let local = LoopLocal.of(context.eventLoop)
        flusher = local.flusher
        connection.handler = self
        if let request {
            self.request = nil
            messageHandler = application.connected(connection, request: request.head)
        }
        // The liveness check: one entry in the loop's timers, not a scheduled task per connection.
        livenessTimer = local.timers.add(self, every: .nanoseconds(Int64(configuration.pingInterval * 1_000_000_000)), on: context.eventLoop)
    }

    /// The loop's liveness timer (every `pingInterval`): false once the connection is gone.
    func timerFired() -> Bool {
        guard context != nil else { return false }
        checkLiveness()
        return context != nil
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeMachine.connectionClosed()
        tearDown()
        context.fireChannelInactive()
    }

    private func tearDown() {
        livenessTimer?.cancel()
        livenessTimer = nil
        closeTimer?.cancel()
        slowConsumerTimer?.cancel()
        fragments = nil
        streaming = nil
        inflater = nil
        if let handler = messageHandler {
            messageHandler = nil
            handler.closed(code: peerCloseCode)
        }
        context = nil
        if connection.handler === self { connection.handler = nil }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            initiateClose(code: CloseCode.goingAway, reason: "server shutting down")
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        inRead = true
        while closeMachine.state != .closed, let event = decoder.next(from: &input) {
            switch event {
            case .frame(let header, let payload):
                lastHeard = .now()
                frameArrived(header, payload: payload)
            case .start(let header):
                frameStarted(header)
            case .payload(let bytes):
                payloadArrived(bytes)
            case .end:
                lastHeard = .now()
                frameEnded()
            case .invalid(let reason):
                fail(code: CloseCode.protocolError, reason: reason)
            }
        }
    }

    private func decide(_ header: FrameDecoder.Header) -> FrameRules.Decision {
        rules.frame(
            fin: header.fin, opcode: header.opcode, rsv1: header.rsv1, rsv2: header.rsv2, rsv3: header.rsv3,
            masked: header.maskKey != nil, length: header.length
        )
    }

    /// A whole frame (the fast path: small frames, one read).
    private func frameArrived(_ header: FrameDecoder.Header, payload: MaskedBytes) {
        switch decide(header) {
        case .fail(let code, let reason):
            fail(code: code, reason: reason)
        case .control(let opcode):
            guard spendToken() else { return }
            handleControl(opcode, payload: payload.unmasked(allocator: allocator))
        case .data(let text, let compressed, let final):
            // After our close, data is discarded (§5.5.1).
            guard closeMachine.acceptsData else { return }
            if final, fragments == nil {
                deliverSingleFrame(payload.unmasked(allocator: allocator), text: text, compressed: compressed)
                return
            }
            beginMessageIfNeeded(text: text, compressed: compressed, capacity: payload.count * 2)
            guard appendPayload(payload), final else { return }
            finishMessage()
        }
    }

    /// A frame whose payload arrives in pieces: control frames (at most 125 bytes) are
    /// collected; data goes onto the message's buffer as it comes, text UTF-8-checked.
    private func frameStarted(_ header: FrameDecoder.Header) {
        switch decide(header) {
        case .fail(let code, let reason):
            fail(code: code, reason: reason)
        case .control(let opcode):
            streaming = .control(opcode, allocator.buffer(capacity: header.length))
        case .data(let text, let compressed, let final):
            guard closeMachine.acceptsData else {
                streaming = .discarded
                return
            }
            beginMessageIfNeeded(text: text, compressed: compressed, capacity: min(header.length, Self.initialStreamingCapacity))
            streaming = .data(final: final)
        }
    }

    private func payloadArrived(_ bytes: MaskedBytes) {
        switch streaming {
        case .control(let opcode, var payload):
            streaming = nil  // `payload` stays the buffer's only owner: no copy on write.
            bytes.unmask(appendingTo: &payload)
            streaming = .control(opcode, payload)
        case .data:
            guard closeMachine.acceptsData else {
                streaming = .discarded
                fragments = nil
                return
            }
            _ = appendPayload(bytes)
        case .discarded, nil:
            break
        }
    }

    private func frameEnded() {
        let frame = streaming
        streaming = nil
        switch frame {
        case .control(let opcode, let payload):
            guard spendToken() else { return }
            handleControl(opcode, payload: payload)
        case .data(let final):
            guard final else { return }
            if closeMachine.acceptsData { finishMessage() } else { fragments = nil }
        case .discarded, nil:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inRead = false
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    private func handleControl(_ opcode: FrameRules.Opcode, payload: ByteBuffer) {
        switch opcode {
        case .ping:
            guard closeMachine.acceptsData else { return }
            write(WebSocketFrameWriter.frame(opcode: .pong, payload: payload))
        case .pong:
            break  // Liveness is tracked by `lastHeard`; unsolicited pongs are fine.
        case .close:
            let bytes = payload.getBytes(at: payload.readerIndex, length: payload.readableBytes) ?? []
            let parsed = CloseCode.parse(bytes)
            if case .code(let code, _) = parsed { peerCloseCode = code }
            perform(closeMachine.peerSentClose(parsed))
        default:
            break
        }
    }

    private func deliverSingleFrame(_ payload: ByteBuffer, text: Bool, compressed: Bool) {
        fragmentsText = text
        fragmentsCompressed = compressed
        if text, !compressed {
            let failure = payload.withUnsafeReadableBytes { rules.checkText($0, final: true) }
            if case .fail(let code, let reason) = failure {
                fail(code: code, reason: reason)
                return
            }
        }
        deliver(payload)
    }

    private func beginMessageIfNeeded(text: Bool, compressed: Bool, capacity: Int) {
        guard fragments == nil else { return }
        fragmentsText = text
        fragmentsCompressed = compressed
        fragments = allocator.buffer(capacity: capacity)
    }

    /// Unmasks payload onto the message's buffer; an uncompressed text message's new bytes
    /// are UTF-8-checked there and then. False when that failed the connection.
    private func appendPayload(_ bytes: MaskedBytes) -> Bool {
        guard var message = fragments else { return false }
        fragments = nil  // `message` stays the buffer's only owner: no copy on write.
        let start = message.writerIndex - message.readerIndex
        bytes.unmask(appendingTo: &message)
        if fragmentsText, !fragmentsCompressed {
            let failure = message.withUnsafeReadableBytes { rules.checkText(UnsafeRawBufferPointer(rebasing: $0[start...]), final: false) }
            if case .fail(let code, let reason) = failure {
                fail(code: code, reason: reason)
                return false
            }
        }
        fragments = message
        return true
    }

    /// The message's last frame is complete: a cut-off character fails it, else it is delivered.
    private func finishMessage() {
        guard let message = fragments else { return }
        fragments = nil
        if fragmentsText, !fragmentsCompressed {
            if case .fail(let code, let reason) = rules.checkText(UnsafeRawBufferPointer(start: nil, count: 0), final: true) {
                fail(code: code, reason: reason)
                return
            }
        }
        deliver(message)
    }

    private func deliver(_ message: ByteBuffer) {
        guard spendToken() else { return }
        var message = message
        if fragmentsCompressed {
            let inflater = self.inflater ?? Inflater(resetAfterEachMessage: connection.deflate?.clientNoContextTakeover ?? true)
            self.inflater = inflater
            do {
                message = try inflater.inflate(message, limit: configuration.maxMessageBytes, allocator: allocator)
            } catch .tooLarge {
                fail(code: CloseCode.messageTooBig, reason: "message over \(configuration.maxMessageBytes) bytes once inflated")
                return
            } catch {
                fail(code: CloseCode.invalidPayload, reason: "compressed data is corrupt")
                return
            }
            if fragmentsText {
                let failure = message.withUnsafeReadableBytes { rules.checkText($0, final: true) }
                if case .fail(let code, let reason) = failure {
                    fail(code: code, reason: reason)
                    return
                }
            }
        }
        if fragmentsText {
            messageHandler?.received(text: message)
        } else {
            messageHandler?.received(binary: message)
        }
    }

    /// A token bucket over messages and control frames; an empty bucket closes with 1008.
    private func spendToken() -> Bool {
        let now = NIODeadline.now()
        let rate = Double(configuration.maxMessagesPerSecond)
        tokens = min(rate, tokens + Double((now - tokensUpdated).nanoseconds) / 1e9 * rate)
        tokensUpdated = now
        tokens -= 1
        if tokens < 0 {
            fail(code: CloseCode.policyViolation, reason: "more than \(configuration.maxMessagesPerSecond) messages per second")
            return false
        }
        return true
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Closing

    func initiateClose(code: UInt16, reason: String) {
        perform(closeMachine.close(code: code, reason: reason))
    }

    private func fail(code: UInt16, reason: String) {
        fragments = nil
        streaming = nil
        perform(closeMachine.fail(code: code, reason: reason))
    }

    private func perform(_ action: CloseStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .none:
            return
        case .sendCloseAndWait(let frame):
            context.writeAndFlush(wrapOutboundOut(WebSocketFrameWriter.close(code: frame.code, reason: frame.reason)), promise: nil)
            needsFlush = false
            let timeout = TimeAmount.nanoseconds(Int64(configuration.closeTimeout * 1_000_000_000))
            closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
                guard let self else { return }
                self.perform(self.closeMachine.closeTimedOut())
            }
        case .sendCloseThenDisconnect(let frame):
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrameWriter.close(code: frame.code, reason: frame.reason)), promise: written)
            needsFlush = false
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case .disconnect:
            closeTimer?.cancel()
            context.close(promise: nil)
        }
    }

    // MARK: Liveness

    private func checkLiveness() {
        guard let context, closeMachine.state == .open else { return }
        let silence = NIODeadline.now() - lastHeard
        if silence.nanoseconds >= Int64(configuration.idleTimeout * 1_000_000_000) {
            initiateClose(code: CloseCode.goingAway, reason: "idle timeout")
            return
        }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrameWriter.frame(opcode: .ping, payload: ByteBuffer())), promise: nil)
    }

    // MARK: Writing and backpressure

    /// Sends a prepared message; false when the connection no longer takes data.
    @discardableResult
    func send(_ message: PreparedMessage) -> Bool {
        guard closeMachine.acceptsData, context != nil else { return false }
        guard let deflate = connection.deflate, message.payloadBytes >= PreparedMessage.compressionThreshold else {
            write(message.plain)
            return true
        }
        if deflate.serverMaxWindowBits == 15, let compressed = message.compressed {
            write(compressed)
        } else if let compressed = try? DeflateCodec.compress(message.payload, windowBits: deflate.serverMaxWindowBits) {
            // A smaller window was negotiated: this connection gets its own compression.
            write(WebSocketFrameWriter.frame(opcode: message.isBinary ? .binary : .text, payload: compressed, rsv1: true))
        } else {
            write(message.plain)
        }
        return true
    }

    private func write(_ bytes: ByteBuffer) {
        guard let context else { return }
        if !writable {
            bytesWhileUnwritable += bytes.readableBytes
            if bytesWhileUnwritable > configuration.maxPendingBytes {
                disconnectSlowConsumer()
                return
            }
        }
        context.write(wrapOutboundOut(bytes), promise: nil)
        needsFlush = true
        // Outside a read, the loop's flusher flushes this pass's writes together (one task per loop).
        if !inRead, !flushRequested, let flusher {
            flushRequested = true
            flusher.enqueue(self, on: context.eventLoop)
        }
    }

    /// The loop's flush pass (``LoopFlusher``).
    func flushQueued() {
        flushRequested = false
        flushIfNeeded()
    }

    func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable {
            bytesWhileUnwritable = 0
            slowConsumerTimer?.cancel()
            slowConsumerTimer = nil
        } else if slowConsumerTimer == nil {
            let timeout = TimeAmount.nanoseconds(Int64(configuration.slowConsumerTimeout * 1_000_000_000))
            slowConsumerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
                self?.disconnectSlowConsumer()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    /// A consumer that does not read: best-effort close frame 1008, then TCP close, so its
    /// queue is freed and it cannot delay anyone else.
    private func disconnectSlowConsumer() {
        guard let context else { return }
        _ = closeMachine.fail(code: CloseCode.policyViolation, reason: "slow consumer")
        context.writeAndFlush(wrapOutboundOut(WebSocketFrameWriter.close(code: CloseCode.policyViolation, reason: "slow consumer")), promise: nil)
        context.close(promise: nil)
    }
}

/// The upgrade request's head, boxed so it can be handed across the upgrade closure.
struct HTTPRequestHeadBox: @unchecked Sendable {
    let head: NIOHTTP1.HTTPRequestHead
}

import NIOHTTP1
