import Synchronization

/// In-process news that login sessions ended: the auth side posts (sign-out in any scope,
/// a reused refresh token, a user deleted or disabled), the realtime side listens and
/// re-checks the channels of that user at once instead of waiting for their tokens to expire.
///
/// Listeners run on the poster's task: they must only hop (to an event loop, a queue), never block.
public final class SessionEvents: Sendable {
    /// Called with the user whose sessions ended, or nil when it is not known whose (then
    /// every user's channels are checked again).
    public typealias Listener = @Sendable (_ userID: String?) -> Void

    private struct State {
        var nextID = 0
        var listeners: [Int: Listener] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds a listener; returns its id for ``removeListener(_:)``.
    @discardableResult
    public func addListener(_ listener: @escaping Listener) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.listeners[state.nextID] = listener
            return state.nextID
        }
    }

    public func removeListener(_ id: Int) {
        _ = state.withLock { $0.listeners.removeValue(forKey: id) }
    }

    /// Some (or all) of `userID`'s sessions ended, or the user is gone or changed: tokens of
    /// theirs must be checked again (nil: anyone's).
    public func sessionsEnded(userID: String?) {
        let listeners = state.withLock { Array($0.listeners.values) }
        for listener in listeners { listener(userID) }
    }
}
