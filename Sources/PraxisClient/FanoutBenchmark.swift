import NIOCore
import NIOPosix
import Synchronization

/// The fan-out benchmark: N subscribers and one publisher on the broadcast endpoint; the
/// publisher sends timestamped messages at a fixed rate; every subscriber counts what it
/// receives and records the latency (receive time − send time, one monotonic clock).
public enum FanoutBenchmark {
    public struct Configuration: Sendable {
        public var target: BenchTarget
        public var subscribers: Int
        /// Messages per second the publisher sends.
        public var rate: Int
        /// Bytes per message.
        public var size: Int
        /// Seconds of publishing.
        public var duration: Double
        /// Client event loops for the subscribers (the publisher has its own).
        public var threads: Int
        /// Connections being opened at once.
        public var connectConcurrency = 200
        /// The server process, for its CPU time.
        public var serverPID: Int32?
        /// After publishing, how long to wait for the last deliveries: as long as the
        /// publishing lasted, at least 10 s.
        public var drainTimeout: Double { max(10, duration) }

        public init(target: BenchTarget, subscribers: Int, rate: Int, size: Int, duration: Double, threads: Int) {
            self.target = target
            self.subscribers = subscribers
            self.rate = rate
            self.size = size
            self.duration = duration
            self.threads = threads
        }
    }

    /// The figures of one run. Rates are per second of the measured phase (publishing
    /// plus the drain); CPU seconds are for that phase too.
    public struct Report: Sendable {
        public var subscribersConnected: Int
        public var connectSeconds: Double
        public var published: Int
        public var publishSeconds: Double
        public var publishRate: Double
        public var deliveries: Int
        public var expectedDeliveries: Int
        public var missing: Int
        public var deliverySeconds: Double
        public var deliveriesPerSecond: Double
        public var latency: LatencySummary
        public var connectFailures: Int
        public var unexpectedCloses: Int
        public var malformedMessages: Int
        public var firstError: String?
        public var clientCPUSeconds: Double
        public var serverCPUSeconds: Double?
        /// Busy CPU seconds of the whole machine (all cores) over the same phase.
        public var machineCPUSeconds: Double?
        /// One entry per subscriber event loop.
        public var loops: [LoopFigures]

        public var errors: Int { connectFailures + unexpectedCloses + malformedMessages }
    }

    /// One client event loop's share.
    public struct LoopFigures: Sendable {
        public var connections: Int
        public var deliveries: Int
        public var latency: LatencySummary
    }

    /// Runs the benchmark; `progress` gets a status line once a second.
    public static func run(_ configuration: Configuration, progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let publisherGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            group.shutdownGracefully { _ in }
            publisherGroup.shutdownGracefully { _ in }
        }
        let recorders = group.makeIterator().map { LoopRecorder(eventLoop: $0) }
        let counters = RunCounters()
        let target = configuration.target
        let totalDeliveries: @Sendable () -> Int = { recorders.total(.delivery) }

        // 1. Subscribers, in bounded batches.
        let (subscribers, connectSeconds) = await BenchHarness.connect(
            count: configuration.subscribers, concurrency: configuration.connectConcurrency, counters: counters, progress: progress
        ) { index in
            let recorder = recorders[index % recorders.count]
            let connection = try await target.connect(group: recorder.eventLoop) { Self.received($0, by: recorder) }
            recorder.count(.connection)
            counters.watch(connection)
            return connection
        }
        progress("connected \(subscribers.count)/\(configuration.subscribers) subscribers in \(formatted(connectSeconds, digits: 1)) s")

        // 2. The publisher, on its own event loop.
        let publisherConnection: WebSocketClientConnection
        do {
            publisherConnection = try await target.connect(group: publisherGroup)
        } catch {
            counters.stopping.store(true, ordering: .relaxed)
            _ = await closeAll(subscribers)
            throw error
        }
        counters.watch(publisherConnection)
        let publisher = Publisher(
            connection: publisherConnection, total: max(1, Int((Double(configuration.rate) * configuration.duration).rounded())),
            rate: configuration.rate, size: configuration.size
        )

        // 3. Publish, then wait for the deliveries to drain.
        let receivers = subscribers.count
        let phase = try await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
            let published = publisher.published
            let delivered = totalDeliveries()
            let elapsed = MonotonicClock.seconds(since: start)
            let errors = counters.failed.load(ordering: .relaxed) + counters.unexpectedCloses.load(ordering: .relaxed)
            return "t=\(Int(elapsed))s published=\(published) deliveries=\(delivered) (\(Int(Double(delivered) / max(elapsed, 0.001)))/s) "
                + "in-flight=\(published * receivers - delivered) errors=\(errors)"
        }) { start in
            try await publisher.run(start: start).get()
            let publishSeconds = MonotonicClock.seconds(since: start)
            let expected = publisher.published * receivers
            try await BenchHarness.drain(since: start, deadline: publishSeconds + configuration.drainTimeout) { totalDeliveries() >= expected }
            return publishSeconds
        }
        let publishSeconds = phase.result
        let deliverySeconds = phase.seconds

        // 4. Merge the per-loop histograms, then close everything.
        let (merged, loops) = try await loopFigures(recorders)
        let deliveries = totalDeliveries()
        let expected = publisher.published * receivers
        counters.stopping.store(true, ordering: .relaxed)
        _ = await closeAll(subscribers + [publisherConnection])

        return Report(
            subscribersConnected: receivers, connectSeconds: connectSeconds, published: publisher.published,
            publishSeconds: publishSeconds, publishRate: BenchHarness.rate(publisher.published, publishSeconds),
            deliveries: deliveries, expectedDeliveries: expected, missing: max(expected - deliveries, 0),
            deliverySeconds: deliverySeconds, deliveriesPerSecond: BenchHarness.rate(deliveries, deliverySeconds),
            latency: merged.summary, connectFailures: counters.failed.load(ordering: .relaxed),
            unexpectedCloses: counters.unexpectedCloses.load(ordering: .relaxed),
            malformedMessages: recorders.total(.malformed), firstError: counters.firstError,
            clientCPUSeconds: phase.cpu.client, serverCPUSeconds: phase.cpu.server, machineCPUSeconds: phase.cpu.machine, loops: loops
        )
    }

    /// The recorders' delivery latencies merged, and each one's share.
    static func loopFigures(_ recorders: [LoopRecorder]) async throws -> (LatencyHistogram, [LoopFigures]) {
        var merged = LatencyHistogram()
        var loops: [LoopFigures] = []
        for recorder in recorders {
            let histogram = try await recorder.histogram()
            merged.add(histogram)
            loops.append(LoopFigures(connections: recorder[.connection], deliveries: recorder[.delivery], latency: histogram.summary))
        }
        return (merged, loops)
    }

    /// Each message a subscriber receives, on its loop: the latency from the payload's send time.
    static func received(_ message: WebSocketClientMessage, by recorder: LoopRecorder) {
        let now = MonotonicClock.now()
        guard let sent = BenchPayload.timestamp(of: message.data) else { return recorder.count(.malformed) }
        recorder.record(.delivery, latency: now &- sent)
    }
}

/// Sends `total` messages at `rate` per second from its connection's event loop: a 1 ms
/// tick sends whatever is due (catching up after a late tick), then flushes once.
final class Publisher: @unchecked Sendable {
    private let connection: WebSocketClientConnection
    private let total: Int
    private let rate: Int
    private let size: Int
    private let sentCount = Atomic<Int>(0)
    /// Only on the connection's event loop.
    private var sent = 0

    init(connection: WebSocketClientConnection, total: Int, rate: Int, size: Int) {
        self.connection = connection
        self.total = total
        self.rate = rate
        self.size = size
    }

    /// Messages sent so far.
    var published: Int { sentCount.load(ordering: .relaxed) }

    /// Starts publishing; the future completes when all `total` messages were written.
    func run(start: UInt64) -> EventLoopFuture<Void> {
        let loop = connection.eventLoop
        let done = loop.makePromise(of: Void.self)
        let allocator = ByteBufferAllocator()
        loop.execute {
            loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
                let elapsed = Double(MonotonicClock.now() &- start) / 1e9
                let due = min(self.total, Int(elapsed * Double(self.rate)) + 1)
                guard due > self.sent else { return }
                while self.sent < due {
                    self.connection.send(text: BenchPayload.make(timestamp: MonotonicClock.now(), size: self.size, allocator: allocator), flush: false)
                    self.sent += 1
                }
                self.connection.flush()
                self.sentCount.store(self.sent, ordering: .relaxed)
                if self.sent >= self.total {
                    task.cancel()
                    done.succeed()
                }
            }
        }
        return done.futureResult
    }
}
