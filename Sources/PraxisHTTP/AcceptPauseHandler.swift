import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// On the listening channel: when `accept` fails for want of descriptors or memory (EMFILE,
/// ENFILE, ENOBUFS, ENOMEM), stops reading (autoRead off, which takes the listener out of the
/// poll set) for `pause`, then resumes. Logs it, at most once per interval.
///
/// Why not NIO's `AcceptBackoffHandler`: it delays the next `read()`, but after a failed accept
/// the server channel's read is still pending (NIOPosix clears `readPending` only when an accept
/// succeeds), so the listener stays registered with epoll; the connection waiting in the
/// backlog keeps it readable (level-triggered) and the loop wakes, fails `accept4` with EMFILE
/// and wakes again, thousands of times a second: a whole core for nothing.
final class AcceptPauseHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let pause: TimeAmount
    private let log: ThrottledLogger?
    private var resume: Scheduled<Void>?

    init(pause: TimeAmount, log: ThrottledLogger?) {
        self.pause = pause
        self.log = log
    }

    /// The accept errors that mean "no descriptor or memory now", worth waiting out.
    static func isExhaustion(_ error: any Error) -> Bool {
        guard let error = error as? IOError else { return false }
        return [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errnoCode)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard Self.isExhaustion(error) else {
            context.fireErrorCaught(error)
            return
        }
        log?.log(
            .warning, key: "accept-exhausted",
            "accept failed (\(error)); pausing accepts for \(pause.nanoseconds / 1_000_000) ms",
            metadata: ["open_file_limit": "\(OpenFileLimit.current)"]
        )
        guard resume == nil, let options = context.channel.syncOptions else { return }
        try? options.setOption(.autoRead, value: false)
        resume = context.eventLoop.assumeIsolated().scheduleTask(in: pause) { [weak self] in
            self?.resume = nil
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
    }
}
