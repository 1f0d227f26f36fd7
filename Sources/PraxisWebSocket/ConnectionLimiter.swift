import Synchronization

/// Counts open WebSocket connections, in total and per IP, and refuses new ones past the limits.
public final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perIP: [String: Int] = [:]
    }

    private let maxTotal: Int
    private let maxPerIP: Int
    private let counts = Mutex(Counts())

    public init(maxTotal: Int, maxPerIP: Int) {
        self.maxTotal = maxTotal
        self.maxPerIP = maxPerIP
    }

    /// Reserves a slot for a connection from `ip`; false when a limit is reached.
    public func reserve(ip: String) -> Bool {
        counts.withLock { counts in
            guard counts.total < maxTotal, counts.perIP[ip, default: 0] < maxPerIP else { return false }
            counts.total += 1
            counts.perIP[ip, default: 0] += 1
            return true
        }
    }

    /// Whether a new connection from `ip` would be accepted now.
    public func wouldAccept(ip: String) -> Bool {
        counts.withLock { $0.total < maxTotal && $0.perIP[ip, default: 0] < maxPerIP }
    }

    /// Frees the slot of a closed connection.
    public func release(ip: String) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.perIP[ip, default: 1] - 1
            counts.perIP[ip] = left > 0 ? left : nil
        }
    }

    /// Open connections now.
    public var openConnections: Int { counts.withLock { $0.total } }
}
