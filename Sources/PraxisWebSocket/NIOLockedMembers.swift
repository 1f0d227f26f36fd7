import Synchronization

/// The connections of the broadcast endpoint, by loop (a snapshot costs a retain per loop).
final class NIOLockedMembers: Sendable {
    private struct State {
        var nextID = 0
        var set = SubscriberSet()
    }

    private let state = Mutex(State())

    func add(_ connection: WebSocketConnection) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.set.insert(connection, id: state.nextID)
            return state.nextID
        }
    }

    func remove(_ id: Int) {
        state.withLock { _ = $0.set.remove(id: id) }
    }

    var snapshot: SubscriberSet { state.withLock { $0.set } }
}
