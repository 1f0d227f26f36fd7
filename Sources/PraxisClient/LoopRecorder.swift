import NIOCore
import Synchronization

/// One client event loop's share of a benchmark, the same for every scenario: counters of
/// what happened (readable from anywhere, relaxed atomics) and latency histograms (touched
/// only on `eventLoop`, so recording takes no lock; a run merges them at the end).
final class LoopRecorder: @unchecked Sendable {
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
        /// Of the whole run (counted on the first loop): connections opened, connections
        /// that failed (board: joins included), and those that ended before the run closed them.
        case opened, connectFailure, unexpectedClose
        /// Board: failed joins; the writer's requests, confirmed inserts and updates, failed writes.
        case joinFailure, request, insert, update, writeFailure
        /// Rooms: rooms in role-play, and rooms whose set-up failed.
        case ready, setupFailure
    }

    /// The histograms a recorder keeps.
    enum Series: Int, CaseIterable {
        /// The scenario's main latency: delivery or ack. Also feeds the interval histogram.
        case main
        /// A second latency (the rooms benchmark's round end).
        case secondary
    }

    let eventLoop: any EventLoop
    private let counts: UnsafeMutablePointer<Atomic<Int>>
    /// Only on `eventLoop`.
    private var histograms = [LatencyHistogram](repeating: LatencyHistogram(), count: Series.allCases.count)
    /// The main series since the last `takeInterval()`, only on `eventLoop`.
    private var interval = LatencyHistogram()

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        counts = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: Event.allCases.count)
        for index in Event.allCases.indices { (counts + index).initialize(to: Atomic<Int>(0)) }
    }

    deinit {
        counts.deinitialize(count: Event.allCases.count)
        counts.deallocate()
    }

    /// How many `event`s were counted so far.
    subscript(_ event: Event) -> Int { counts[event.rawValue].load(ordering: .relaxed) }

    /// Counts one `event`, from any thread.
    func count(_ event: Event) {
        counts[event.rawValue].wrappingAdd(1, ordering: .relaxed)
    }

    /// Records a latency in `series` and counts `event` (if any); on `eventLoop`.
    func record(_ event: Event?, latency nanoseconds: UInt64, in series: Series = .main) {
        histograms[series.rawValue].record(nanoseconds: nanoseconds)
        if series == .main { interval.record(nanoseconds: nanoseconds) }
        if let event { count(event) }
    }

    /// A copy of the histogram of `series`, taken on the loop.
    func histogram(_ series: Series = .main) async throws -> LatencyHistogram {
        try await eventLoop.submit { self.histograms[series.rawValue] }.get()
    }

    /// The main latencies recorded since the last call (and starts a new interval).
    func takeInterval() async throws -> LatencyHistogram {
        try await eventLoop.submit {
            defer { self.interval = LatencyHistogram() }
            return self.interval
        }.get()
    }
}

extension [LoopRecorder] {
    /// The sum of `event` over the recorders.
    func total(_ event: LoopRecorder.Event) -> Int { reduce(0) { $0 + $1[event] } }

    /// The recorders' histograms of `series`, merged.
    func merged(_ series: LoopRecorder.Series = .main) async throws -> LatencyHistogram {
        var merged = LatencyHistogram()
        for recorder in self { merged.add(try await recorder.histogram(series)) }
        return merged
    }

    /// The recorders' intervals, merged (recorders that cannot answer are left out).
    func takeInterval() async -> LatencyHistogram {
        var merged = LatencyHistogram()
        for recorder in self {
            if let part = try? await recorder.takeInterval() { merged.add(part) }
        }
        return merged
    }
}
