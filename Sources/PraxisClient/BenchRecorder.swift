import NIOCore
import Synchronization

/// The recorder of one run: a `LoopRecorder` per client event loop (counters and latency
/// histograms), the first error, and whether the run has begun closing its connections (so
/// those closes are expected).
final class BenchRecorder: Sendable {
    let loops: [LoopRecorder]
    private let closing = Atomic<Bool>(false)
    /// The first connection failure, and the first other error (a failure is reported first).
    private let errors = Mutex<(failure: String?, other: String?)>((nil, nil))

    init(_ group: any EventLoopGroup) {
        loops = group.makeIterator().map { LoopRecorder(eventLoop: $0) }
    }

    /// The recorder of connection `index` (the loops in turn).
    func loop(_ index: Int) -> LoopRecorder { loops[index % loops.count] }

    /// The total of `event` over the loops.
    subscript(_ event: LoopRecorder.Event) -> Int { loops.total(event) }

    /// Counts an event of the whole run, from any thread.
    func count(_ event: LoopRecorder.Event) { loops[0].count(event) }

    var firstError: String? { errors.withLock { $0.failure ?? $0.other } }

    /// Keeps `text` if it is the first error.
    func error(_ text: @autoclosure () -> String) {
        errors.withLock { if $0.other == nil { $0.other = text() } }
    }

    /// Counts a connection that could not be opened (or joined), and keeps its error.
    func failure(_ error: any Error) {
        count(.connectFailure)
        errors.withLock { if $0.failure == nil { $0.failure = String(describing: error) } }
    }

    /// Counts the connection's end as unexpected when it comes before `closeAll`.
    func watch(_ connection: WebSocketClientConnection) {
        connection.closeFuture.whenComplete { _ in
            if !self.closing.load(ordering: .relaxed) { self.count(.unexpectedClose) }
        }
    }

    /// From now on closes are expected: closes `connections` with the closing handshake and
    /// waits until each has ended (each bounded by its close timeout).
    @discardableResult
    func closeAll(_ connections: [WebSocketClientConnection]) async -> (clean: Int, unclean: Int) {
        closing.store(true, ordering: .relaxed)
        for connection in connections { connection.startClose() }
        var clean = 0
        for connection in connections {
            if let result = try? await connection.closeFuture.get(), result.clean { clean += 1 }
        }
        return (clean, connections.count - clean)
    }
}
