/// A token bucket: holds at most `limit` tokens and refills `limit` per second, so a sender may
/// burst `limit` events and then keep `limit` per second. Pure value logic: the caller passes the
/// time, and keeps the bucket where its events are serialised (a connection's loop, or a lock).
struct RateBucket: Sendable {
    let limit: Int
    private var tokens: Double
    private var refilled: ContinuousClock.Instant?

    init(limit: Int) {
        self.limit = max(1, limit)
        self.tokens = Double(self.limit)
    }

    /// Tokens available at `now` (refilling first).
    mutating func available(now: ContinuousClock.Instant) -> Double {
        if let refilled {
            let elapsed = now - refilled
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(Double(limit), tokens + seconds * Double(limit))
        }
        refilled = now
        return tokens
    }

    /// Takes `count` tokens when there are that many; false (and nothing taken) otherwise.
    mutating func take(_ count: Int = 1, now: ContinuousClock.Instant = .now) -> Bool {
        guard available(now: now) >= Double(count) else { return false }
        tokens -= Double(count)
        return true
    }
}
