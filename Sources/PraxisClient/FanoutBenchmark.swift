import NIOCore
import PraxisDomain
import Synchronization

/// The fan-out benchmark: N subscribers and one publisher on the broadcast endpoint; the
/// publisher sends timestamped messages at a fixed rate; every subscriber counts what it
/// receives and records the latency (receive time − send time, one monotonic clock).
public enum FanoutBenchmark {
    /// Runs the benchmark (`count` subscribers on `target`); `progress` gets a status line once
    /// a second. Rates are per second of the measured phase (publishing plus the drain); CPU
    /// seconds are for that phase too.
    public static func run(_ configuration: BenchConfiguration, progress: @escaping @Sendable (String) -> Void) async throws -> BenchReport {
        try await BenchHarness.withLoops(configuration.threads, extra: 1) { group, publisherGroup in
            let recorder = BenchRecorder(group)
            let target = configuration.target
            // 1. Subscribers, in bounded batches.
            let (subscribers, connectSeconds) = await BenchHarness.connect(
                count: configuration.count, concurrency: configuration.concurrency, recorder: recorder, progress: progress
            ) { index in
                let loop = recorder.loop(index)
                return try await target.connect(group: recorder.eventLoops[loop]) { Self.received($0, by: recorder, loop: loop) }
            }
            progress("connected \(subscribers.count)/\(configuration.count) subscribers in \(fixed(connectSeconds, 1)) s")

            // 2. The publisher, on its own event loop.
            let publisherConnection: WebSocketClientConnection
            do {
                publisherConnection = try await target.connect(group: publisherGroup)
            } catch {
                await recorder.closeAll(subscribers)
                throw error
            }
            recorder.watch(publisherConnection)
            let publisher = Publisher(configuration, connection: publisherConnection)

            // 3. Publish, then wait for the deliveries to drain.
            let receivers = subscribers.count
            let phase = try await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
                let published = publisher.published
                let delivered = recorder[.delivery]
                return "t=\(Int(MonotonicClock.seconds(since: start)))s published=\(published) deliveries=\(delivered) "
                    + "(\(BenchHarness.perSecond(delivered, since: start))/s) in-flight=\(published * receivers - delivered) "
                    + "errors=\(recorder[.connectFailure] + recorder[.unexpectedClose])"
            }) { start in
                try await publisher.run(start: start).get()
                let publishSeconds = MonotonicClock.seconds(since: start)
                let expected = publisher.published * receivers
                try await BenchHarness.drain(since: start, deadline: publishSeconds + configuration.drainTimeout) { recorder[.delivery] >= expected }
                return publishSeconds
            }
            let latency = try await recorder.histogram()
            let loops = try await loopFigures(recorder)
            let deliveries = recorder[.delivery]
            await recorder.closeAll(subscribers + [publisherConnection])
            return report(
                configuration, recorder: recorder, phase: phase, receivers: receivers, connectSeconds: connectSeconds, published: publisher.published,
                deliveries: deliveries, latency: latency.summary, loops: loops
            )
        }
    }

    private static func report(
        _ configuration: BenchConfiguration, recorder: BenchRecorder, phase: BenchHarness.Phase<Double>, receivers: Int, connectSeconds: Double,
        published: Int, deliveries: Int, latency: LatencySummary, loops: [(connections: Int, deliveries: Int, p99: Double)]
    ) -> BenchReport {
        let publishSeconds = phase.result
        let errors = (connect: recorder[.connectFailure], closes: recorder[.unexpectedClose], malformed: recorder[.malformed])
        var report = BenchReport()
        report.add([
            "benchmark": "fanout", "url": configuration.target.url, "subscribers": configuration.count, "subscribers_connected": receivers,
            "rate": configuration.rate, "size": configuration.size, "duration": configuration.duration, "threads": configuration.threads,
            "connect_seconds": connectSeconds, "published": published, "publish_seconds": publishSeconds,
            "publish_rate": BenchHarness.rate(published, publishSeconds), "connect_failures": errors.connect,
            "unexpected_closes": errors.closes, "malformed_messages": errors.malformed, "errors": errors.connect + errors.closes + errors.malformed,
            "first_error": recorder.firstError,
        ])
        if configuration.connectionsPerLoop {
            report.fields["loops"] = .array(loops.map { .object(["connections": $0.connections.json, "deliveries": $0.deliveries.json, "latency_p99_ms": $0.p99.json]) })
        }
        report.summary.append(
            "fanout \(configuration.target.url): \(receivers)/\(configuration.count) subscribers, \(configuration.size)-byte messages, "
                + "\(configuration.threads) client threads"
        )
        report.line("published", "\(published) in \(fixed(publishSeconds)) s (\(fixed(BenchHarness.rate(published, publishSeconds), 0))/s, target \(configuration.rate)/s)")
        report.deliveries(deliveries, expected: published * receivers, seconds: phase.seconds, latency: latency)
        report.errors(
            errors.connect + errors.closes + errors.malformed,
            "connect failures \(errors.connect), unexpected closes \(errors.closes), malformed \(errors.malformed)", first: recorder.firstError
        )
        report.cpu(phase.cpu, serverPID: configuration.serverPID, deliveries: deliveries)
        for (index, loop) in loops.enumerated() where configuration.connectionsPerLoop {
            report.line("loop \(index)", "\(loop.connections) connections, \(loop.deliveries) deliveries, p99 \(fixed(loop.p99)) ms")
        }
        return report
    }

    /// Each client event loop's share.
    static func loopFigures(_ recorder: BenchRecorder) async throws -> [(connections: Int, deliveries: Int, p99: Double)] {
        var loops: [(connections: Int, deliveries: Int, p99: Double)] = []
        for loop in recorder.eventLoops.indices {
            loops.append((recorder[.connection, loop: loop], recorder[.delivery, loop: loop], try await recorder.histogram(loop: loop).summary.p99))
        }
        return loops
    }

    /// Each message a subscriber receives, on its loop: the latency from the payload's send time.
    static func received(_ message: WebSocketClientMessage, by recorder: BenchRecorder, loop: Int) {
        let now = MonotonicClock.now()
        guard let sent = BenchPayload.timestamp(of: message.data) else { return recorder.count(.malformed, loop: loop) }
        recorder.record(.delivery, latency: now &- sent, loop: loop)
    }
}

/// Sends the configuration's `total` messages of `size` bytes at `rate` per second from its
/// connection's event loop: a 1 ms tick sends whatever is due (catching up after a late
/// tick), then flushes once.
final class Publisher: @unchecked Sendable {
    private let connection: WebSocketClientConnection
    private let total: Int
    private let rate: Int
    private let size: Int
    private let sentCount = Atomic<Int>(0)
    /// Only on the connection's event loop.
    private var sent = 0

    init(_ configuration: BenchConfiguration, connection: WebSocketClientConnection) {
        self.connection = connection
        (total, rate, size) = (configuration.total, configuration.rate, configuration.size)
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
