/// Decides whether a repeated log line is written now: at most one per `interval` per
/// key, the next one saying how many were held back. Pure: time comes in as a value.
struct LogThrottle {
    let interval: Duration
    private var entries: [String: (last: ContinuousClock.Instant, suppressed: Int)] = [:]

    init(interval: Duration) {
        self.interval = interval
    }

    /// nil: hold this one back. Otherwise write it, noting how many were held back before.
    mutating func admit(_ key: String, now: ContinuousClock.Instant) -> Int? {
        if let entry = entries[key], now - entry.last < interval {
            entries[key] = (entry.last, entry.suppressed + 1)
            return nil
        }
        let suppressed = entries[key]?.suppressed ?? 0
        entries[key] = (now, 0)
        return suppressed
    }
}
