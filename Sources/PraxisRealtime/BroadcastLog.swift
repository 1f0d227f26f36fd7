import PraxisStore
import Synchronization

/// The durable, bounded log of private-channel broadcasts (what `config.broadcast.replay`
/// reads): records are handed over at fan-out, in id order, and written in batches off the
/// event loops, one transaction per batch; the store keeps the newest `retention`.
final class BroadcastLog: Sendable {
    /// A record as handed over under the hub's lock: the bytes are only converted when written.
    private struct Pending {
        var id: Int64
        var topic: String
        var payloadJSON: [UInt8]
        var sentAt: Int64
    }

    private struct State {
        var pending: [Pending] = []
        var pendingBytes = 0
        var writing = false
        /// Every record with an id up to this one is written (or failed to be).
        var written: Int64 = 0
        var waiters: [(id: Int64, done: CheckedContinuation<Void, Never>)] = []
    }

    private let store: any RealtimeStore
    private let retention: Int
    private let maxPendingBytes: Int
    private let state = Mutex(State())

    /// - Parameter maxPendingBytes: payload bytes waiting for the disk beyond which the oldest
    ///   waiting records are dropped from the log (live delivery is not affected).
    init(store: any RealtimeStore, retention: Int, maxPendingBytes: Int) {
        self.store = store
        self.retention = retention
        self.maxPendingBytes = maxPendingBytes
    }

    /// Ids given before a restart count as written.
    func resume(after lastID: Int64) {
        state.withLock { $0.written = max($0.written, lastID) }
    }

    /// Queues a record (cheap: called under the hub's membership lock); a writer task runs
    /// while there is work.
    func append(id: Int64, topic: String, payloadJSON: [UInt8], sentAt: Int64) {
        let start = state.withLock { state -> Bool in
            state.pending.append(Pending(id: id, topic: topic, payloadJSON: payloadJSON, sentAt: sentAt))
            state.pendingBytes += payloadJSON.count
            // The disk is behind: forget the oldest waiting ones (never the newest, so `written` still reaches every id).
            while state.pendingBytes > maxPendingBytes, state.pending.count > 1 {
                state.pendingBytes -= state.pending.removeFirst().payloadJSON.count
            }
            if state.writing { return false }
            state.writing = true
            return true
        }
        if start { Task { await self.drain() } }
    }

    /// Returns once every record with an id up to `id` is written (ids are given without gaps,
    /// and each given id is appended right after its fan-out).
    func written(upTo id: Int64) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.written >= id { return true }
                state.waiters.append((id, done))
                return false
            }
            if now { done.resume() }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let batch = state.pending
                state.pending = []
                state.pendingBytes = 0
                if batch.isEmpty { state.writing = false }
                return batch
            }
            guard let last = batch.last?.id else { return }
            // A failed write loses the batch from replay only; live delivery already happened.
            let records = batch.map {
                BroadcastRecord(id: $0.id, topic: $0.topic, payload: String(decoding: $0.payloadJSON, as: UTF8.self), sentAt: $0.sentAt)
            }
            try? await store.appendBroadcasts(records, retention: retention)
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.written = max(state.written, last)
                let written = state.written
                let done = state.waiters.filter { $0.id <= written }.map(\.done)
                state.waiters.removeAll { $0.id <= written }
                return done
            }
            for waiter in ready { waiter.resume() }
        }
    }
}
