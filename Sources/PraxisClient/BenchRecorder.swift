import NIOCore
import Synchronization

/// The recorder of one benchmark run, the same for every scenario: counters of what happened
/// per client event loop (readable from anywhere, relaxed atomics), latency histograms per
/// loop (each touched only on its loop, so recording takes no lock; read merged at the end),
/// the first error, and whether the run has begun closing its connections (so those closes
/// are expected). Connection i records on loop `loop(i)`.
final class BenchRecorder: @unchecked Sendable {
    /// What a recorder counts. Each scenario uses the ones that apply to it.
    enum Event: Int, CaseIterable {
        /// A connection of this loop opened (and, where there is one, joined).
        case connection
        /// A message delivered to a subscriber or peer.
        case delivery
        /// A request the client sent and awaits an answer for (a turn).
        case sent
        /// An answer to a sent request came back ok (a turn's ack).
        case acked
        /// A measured command's answer (end_round).
        case roundEnd
        case malformed
        case orderViolation
        case channelError
        /// A change not made by this run (someone else wrote).
        case foreign
        case errorReply
        /// Of the whole run: connections opened, connections that failed (board: joins
        /// included), and those that ended before the run closed them.
        case opened, connectFailure, unexpectedClose
        /// Board: failed joins; the writer's requests, confirmed inserts and updates, failed writes.
        case joinFailure, request, insert, update, writeFailure
        /// Rooms: rooms in role-play, and rooms whose set-up failed.
        case ready, setupFailure
    }

    /// The histograms a recorder keeps per loop.
    enum Series: Int, CaseIterable {
        /// The scenario's main latency: delivery or ack. Also feeds the interval histogram.
        case main
        /// A second latency (the rooms benchmark's round end).
        case secondary
    }

    /// The client event loops, in the order `loop(_:)` hands them out.
    let eventLoops: [any EventLoop]
    /// `Event.allCases.count` counters per loop.
    private let counts: UnsafeMutablePointer<Atomic<Int>>
    /// Per loop, on that loop only: one histogram per series, then the main series since the
    /// last `takeInterval()`.
    private let histograms: [NIOLoopBoundBox<[LatencyHistogram]>]
    private static let interval = Series.allCases.count
    private let closing = Atomic<Bool>(false)
    /// The first connection failure, and the first other error (a failure is reported first).
    private let errors = Mutex<(failure: String?, other: String?)>((nil, nil))

    init(_ eventLoops: [any EventLoop]) {
        self.eventLoops = eventLoops
        let events = eventLoops.count * Event.allCases.count
        counts = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: events)
        for index in 0..<events { (counts + index).initialize(to: Atomic<Int>(0)) }
        histograms = eventLoops.map {
            NIOLoopBoundBox.makeBoxSendingValue([LatencyHistogram](repeating: LatencyHistogram(), count: Self.interval + 1), eventLoop: $0)
        }
    }

    /// A recorder for every event loop of `group`.
    convenience init(_ group: any EventLoopGroup) {
        self.init(group.makeIterator().map { $0 })
    }

    deinit {
        counts.deinitialize(count: eventLoops.count * Event.allCases.count)
        counts.deallocate()
    }

    /// The loop of connection `index` (the loops in turn).
    func loop(_ index: Int) -> Int { index % eventLoops.count }

    /// How many `event`s were counted so far, on every loop or on `loop`.
    subscript(_ event: Event, loop loop: Int? = nil) -> Int {
        let loops = loop.map { $0...$0 } ?? 0...(eventLoops.count - 1)
        return loops.reduce(0) { $0 + counts[$1 * Event.allCases.count + event.rawValue].load(ordering: .relaxed) }
    }

    /// Counts one `event` (of `loop`, by default the first), from any thread.
    func count(_ event: Event, loop: Int = 0) {
        counts[loop * Event.allCases.count + event.rawValue].wrappingAdd(1, ordering: .relaxed)
    }

    /// Records a latency in `series` and counts `event` (if any); on `eventLoops[loop]`.
    func record(_ event: Event?, latency nanoseconds: UInt64, in series: Series = .main, loop: Int) {
        histograms[loop].value[series.rawValue].record(nanoseconds: nanoseconds)
        if series == .main { histograms[loop].value[Self.interval].record(nanoseconds: nanoseconds) }
        if let event { count(event, loop: loop) }
    }

    /// The histogram of `series`, of `loop` or merged over the loops (each read on its loop).
    func histogram(_ series: Series = .main, loop: Int? = nil) async throws -> LatencyHistogram {
        var merged = LatencyHistogram()
        for index in loop.map({ [$0] }) ?? Array(eventLoops.indices) {
            merged.add(try await eventLoops[index].submit { self.histograms[index].value[series.rawValue] }.get())
        }
        return merged
    }

    /// The main latencies recorded since the last call, merged over the loops (and starts a
    /// new interval); loops that cannot answer are left out.
    func takeInterval() async -> LatencyHistogram {
        var merged = LatencyHistogram()
        for index in eventLoops.indices {
            let part = try? await eventLoops[index].submit {
                defer { self.histograms[index].value[Self.interval] = LatencyHistogram() }
                return self.histograms[index].value[Self.interval]
            }.get()
            if let part { merged.add(part) }
        }
        return merged
    }

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
