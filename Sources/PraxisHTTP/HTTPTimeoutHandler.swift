import NIOCore
import NIOHTTP1

/// The header, body and keep-alive deadlines of one HTTP connection. Sits at the front of
/// the pipeline (it sees the raw bytes, so it knows when the next request starts) and
/// learns where requests and responses begin and end from `HTTPRequestProgress` events
/// sent by the request handler. On a deadline it answers `408` with a JSON body when part
/// of a request came (written as plain bytes, before the HTTP codec) and closes.
///
/// Removed from the pipeline when the connection upgrades to WebSocket, whose own
/// liveness rules take over.
final class HTTPTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let name = "praxis-http-timeouts"

    private var machine: HTTPTimeoutStateMachine
    private var timer: Scheduled<Void>?
    private let log: ThrottledLogger?
    /// When the first request head is due, if not `headerTimeout` from now: a connection handed
    /// on by `HTTPFastUpgradeHandler` keeps the deadline it was given at the accept.
    private var firstHeadDeadline: NIODeadline?

    init(configuration: HTTPServerConfiguration, log: ThrottledLogger?, firstHeadDeadline: NIODeadline? = nil) {
        self.machine = HTTPTimeoutStateMachine(
            headerTimeout: configuration.headerTimeout, bodyTimeout: configuration.bodyTimeout, idleTimeout: configuration.idleTimeout
        )
        self.log = log
        self.firstHeadDeadline = firstHeadDeadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            perform(machine.connected(), context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        perform(machine.connected(), context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.finished(), context: context)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(machine.bytesReceived(), context: context)
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let progress = event as? HTTPRequestProgress else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch progress {
        case .headReceived: perform(machine.headReceived(), context: context)
        case .requestEnded: perform(machine.requestEnded(), context: context)
        case .responseEnded: perform(machine.responseEnded(), context: context)
        }
        promise?.succeed()
    }

    private func perform(_ action: HTTPTimeoutStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            return
        case .cancelTimer:
            timer?.cancel()
            timer = nil
        case .arm(let phase, let duration):
            timer?.cancel()
            let deadline = firstHeadDeadline ?? context.eventLoop.now + TimeAmount(duration)
            firstHeadDeadline = nil
            timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
                guard let self else { return }
                self.timer = nil
                self.perform(self.machine.timerFired(phase), context: context)
            }
        case .timedOut(let phase, let reply):
            timer?.cancel()
            timer = nil
            let timeout = phase == .header ? machine.headerTimeout : machine.bodyTimeout
            Self.timedOut(phase: phase, timeout: timeout, reply: reply, context: context, log: log)
        }
    }

    /// What a passed deadline does: logs it (unless the connection was idle), answers 408 with
    /// a JSON body when `reply` (part of a request came), and closes the connection.
    static func timedOut(
        phase: HTTPTimeoutStateMachine.Phase, timeout: Duration, reply: Bool, context: ChannelHandlerContext, log: ThrottledLogger?
    ) {
        let peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if phase != .idle {
            log?.log(
                .notice, key: "http-timeout-\(phase.rawValue)",
                "HTTP \(phase.rawValue) timeout: connection closed",
                metadata: ["peer": "\(peer)", "timeout": "\(timeout)"]
            )
        }
        guard reply else {
            context.close(promise: nil)
            return
        }
        let message = phase == .header
            ? "the request head did not arrive within \(timeout)"
            : "the request body did not arrive within \(timeout)"
        let bytes = APIError(.requestTimeout, code: "PGRST408", message: message).response.closingBytes(allocator: context.channel.allocator)
        context.writeAndFlush(NIOAny(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
