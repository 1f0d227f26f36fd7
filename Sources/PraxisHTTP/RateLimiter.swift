import Synchronization
import Foundation

/// Counts events per key in a sliding window and says when a key is over its limit.
/// Memory is bounded: keys whose events have all expired are dropped, and at most
/// `maxKeys` keys are tracked (the oldest are forgotten first).
final class RateLimiter: Sendable {
    private struct State {
        var events: [String: [ContinuousClock.Instant]] = [:]
    }

    private let limit: Int
    private let window: Duration
    private let maxKeys: Int
    private let state = Mutex(State())

    init(limit: Int, window: Duration = .seconds(60), maxKeys: Int = 100_000) {
        self.limit = limit
        self.window = window
        self.maxKeys = maxKeys
    }

    /// Seconds until `key` may try again, or nil when it is under its limit.
    func retryAfter(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { state in
            let recent = (state.events[key] ?? []).filter { now - $0 < window }
            state.events[key] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            let wait = window - (now - oldest)
            return max(1, Int(wait.components.seconds) + 1)
        }
    }

    /// Records one event for `key`.
    func record(_ key: String, now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            var recent = (state.events[key] ?? []).filter { now - $0 < window }
            recent.append(now)
            if recent.count > limit { recent.removeFirst(recent.count - limit) }
            state.events[key] = recent
            if state.events.count > maxKeys {
                state.events = state.events.filter { $0.value.contains { now - $0 < window } }
            }
        }
    }

    /// Forgets `key` (after a successful sign-in).
    func reset(_ key: String) {
        _ = state.withLock { state in state.events.removeValue(forKey: key) }
    }
}
