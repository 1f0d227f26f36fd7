public import Logging
import Synchronization

/// A logger for events an attacker can repeat at will (refused connections, timeouts,
/// descriptor exhaustion): one line per kind per interval, with the count held back.
public final class ThrottledLogger: Sendable {
    private let logger: Logger
    private let throttle: Mutex<LogThrottle>

    public init(logger: Logger, interval: Duration = .seconds(10)) {
        self.logger = logger
        self.throttle = Mutex(LogThrottle(interval: interval))
    }

    /// Logs `message` at `level` unless a line of the same `key` was logged within the interval.
    public func log(_ level: Logger.Level, key: String, _ message: @autoclosure () -> String, metadata: Logger.Metadata = [:]) {
        guard logger.logLevel <= level else { return }
        guard let suppressed = throttle.withLock({ $0.admit(key, now: .now) }) else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.log(level: level, "\(message())", metadata: metadata)
    }
}
