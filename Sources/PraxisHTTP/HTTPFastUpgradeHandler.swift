import NIOCore
import NIOHTTP1
import PraxisLoops

/// The first handler of each connection when the server has an `HTTPFastUpgrader`: holds the
/// first bytes until the request head is complete, and when that head is a plain HTTP/1.1
/// `GET` (`PlainHeadParser`) the upgrader accepts, writes the upgrader's response, installs
/// its handlers and leaves, passing them whatever came after the head. NIO's HTTP/1.1 pipeline
/// and upgrade handler are never added then (their set-up and removal were most of the CPU of
/// an accepted WebSocket).
///
/// In every other case (another request, a refused upgrade, a head not of the plain form, from
/// its first byte that is off, or more than `maxHeadBytes` of head) it installs the HTTP
/// pipeline and hands it the bytes as they came, so those requests are answered as without it. The header timeout holds from
/// the accept on either way: here, and in the `HTTPTimeoutHandler` it hands on to.
final class HTTPFastUpgradeHandler: ChannelInboundHandler, RemovableChannelHandler, LoopTimerTarget {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Adds the HTTP pipeline at the end of a connection's pipeline: its first head is due at
    /// the deadline (nil: `headerTimeout` from now); the closure is for a completed upgrade.
    /// One per server.
    typealias HTTPPipeline = @Sendable (ChannelPipeline.SynchronousOperations, NIODeadline?, @escaping @Sendable () -> Void) throws -> Void

    static let name = "praxis-first-head"
    /// The most bytes held for a head; a longer one goes to NIO's parser (which allows 80 KiB of
    /// header fields and answers 431 past that).
    static let maxHeadBytes = 8192

    private enum State {
        case awaitingHead
        /// The header timeout passed: the connection is closing.
        case timedOut
        /// Handed on (upgraded or to the HTTP pipeline): leaving the pipeline.
        case leaving
    }

    private let upgrader: any HTTPFastUpgrader
    /// The peer's address (found once, at the accept).
    private let remoteIP: String
    private let headerTimeout: Duration
    private let log: ThrottledLogger?
    private let httpPipeline: HTTPPipeline
    private let upgraded: @Sendable () -> Void

    private var state = State.awaitingHead
    /// The bytes received so far; then, when leaving, the bytes the next handlers get.
    private var received: ByteBuffer?
    /// Reads `received` as it grows.
    private var parser = PlainHeadParser()
    private var deadline: NIODeadline?
    /// The header timeout: an entry of the loop's timers (one scheduled task per loop for all
    /// its connections' header timeouts, not one per connection).
    private let timers: LoopTimers
    private var timer: LoopTimer?
    /// Set while the handler is in the pipeline (for the timer, which calls without one).
    private var context: ChannelHandlerContext?

    /// `timers`: the per-loop timers of the loop the connection is on.
    init(
        upgrader: any HTTPFastUpgrader, remoteIP: String, headerTimeout: Duration, timers: LoopTimers, log: ThrottledLogger?,
        httpPipeline: @escaping HTTPPipeline, upgraded: @escaping @Sendable () -> Void
    ) {
        self.upgrader = upgrader
        self.timers = timers
        self.remoteIP = remoteIP
        self.headerTimeout = headerTimeout
        self.log = log
        self.httpPipeline = httpPipeline
        self.upgraded = upgraded
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armTimer(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    /// Passes on the bytes after the head (upgraded) or all of them (to the HTTP pipeline),
    /// then leaves; the channel's read-complete that follows goes to the new handlers.
    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        cancelTimer()
        if let bytes = received {
            received = nil
            if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
        }
        context.leavePipeline(removalToken: removalToken)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Shutting down with no request yet: close now, as the HTTP pipeline does when idle.
        if event is ChannelShouldQuiesceEvent, case .awaitingHead = state {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .awaitingHead: break
        case .timedOut: return
        case .leaving:
            context.fireChannelRead(data)
            return
        }
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        let progress = received!.withUnsafeReadableBytes { parser.read($0) }
        switch progress {
        case .incomplete:
            if received!.readableBytes > Self.maxHeadBytes { handOn(context: context) }
        case .notPlain:
            handOn(context: context)
        case .complete(let length):
            let head = parser.head
            guard length <= Self.maxHeadBytes, let response = upgrader.upgradeResponse(head: head, channel: context.channel, remoteIP: remoteIP) else {
                handOn(context: context)
                return
            }
            upgrade(context: context, head: head, response: response, headLength: length)
        }
    }

    /// The upgrader accepted: its response, then its handlers, then this handler leaves.
    private func upgrade(context: ChannelHandlerContext, head: HTTPRequestHead, response: ByteBuffer, headLength: Int) {
        state = .leaving
        cancelTimer()
        received!.moveReaderIndex(forwardBy: headLength)
        context.writeAndFlush(NIOAny(response), promise: nil)
        // A failed write closed the connection: nothing to install.
        guard context.channel.isActive else { return }
        upgraded()
        do {
            try upgrader.install(head: head, channel: context.channel, remoteIP: remoteIP)
        } catch {
            context.close(promise: nil)
            return
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Not for the fast path: the HTTP pipeline takes the connection and every byte so far.
    private func handOn(context: ChannelHandlerContext) {
        state = .leaving
        cancelTimer()
        let due = deadline ?? context.eventLoop.now + TimeAmount(headerTimeout)
        do {
            try httpPipeline(context.pipeline.syncOperations, due, upgraded)
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: The header timeout

    private func armTimer(context: ChannelHandlerContext) {
        guard deadline == nil, case .awaitingHead = state else { return }
        let timeout = TimeAmount(headerTimeout)
        deadline = context.eventLoop.now + timeout
        timer = timers.add(self, every: timeout, on: context.eventLoop)
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    /// The header timeout passed (once: false ends the entry).
    func timerFired() -> Bool {
        if let context { headTimedOut(context: context) }
        return false
    }

    /// As `HTTPTimeoutHandler` at its header deadline: 408 when part of a head came, and close.
    private func headTimedOut(context: ChannelHandlerContext) {
        timer = nil
        guard case .awaitingHead = state else { return }
        state = .timedOut
        let started = received != nil
        received = nil
        HTTPTimeoutHandler.timedOut(phase: .header, timeout: headerTimeout, reply: started, context: context, log: log)
    }
}
