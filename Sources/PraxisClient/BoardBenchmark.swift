import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The realtime board benchmark: N realtime connections join `realtime:board` with a
/// postgres_changes binding on `practice_rooms`; a writer makes room changes through the
/// data API (INSERT a public room, then PATCH it, alternately) at a fixed rate; every
/// subscriber counts the changes it receives, checks that their offsets increase, and
/// records change-to-delivery latency: receive time − the send time of the HTTP request
/// that made the change (one monotonic clock, one process).
public enum BoardBenchmark {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The service_role key: the writer's key, and the realtime key when there is no anon key.
        public var serviceKey: String
        /// The anon key: subscribers connect and join with it (anonymous callers, under the
        /// access rules). Without it they use the service key.
        public var anonKey: String?
        public var subscribers: Int
        /// Room changes per second the writer makes.
        public var rate: Int
        /// Seconds of writing.
        public var duration: Double
        /// Client event loops for the subscribers (the writer has its own).
        public var threads: Int
        /// Subscribers connecting and joining at once.
        public var connectConcurrency = 200
        /// Keep-alive HTTP connections of the writer.
        public var writerConnections = 16
        /// Most data-API requests in flight at once, over all the writer's connections.
        public var maxInFlight = 256
        /// Seconds between a subscriber's heartbeats.
        public var heartbeatInterval = 20.0
        /// Bound on one subscriber's join (phx_reply and the `system` subscribed message).
        public var joinTimeout = 15.0
        /// The server process, for its CPU time.
        public var serverPID: Int32?
        /// After writing, how long to wait for the last deliveries (and the last answers):
        /// as long as the writing lasted, at least 10 s.
        public var drainTimeout: Double { max(10, duration) }

        public static let topic = "realtime:board"

        public init(host: String, port: Int, serviceKey: String, anonKey: String?, subscribers: Int, rate: Int, duration: Double, threads: Int) {
            self.host = host
            self.port = port
            self.serviceKey = serviceKey
            self.anonKey = anonKey
            self.subscribers = subscribers
            self.rate = rate
            self.duration = duration
            self.threads = threads
        }

        /// `ws://host:port/realtime/v1/websocket`, for reports (keys left out).
        public var realtimeURL: String { BenchTarget.realtime(host: host, port: port).url }

        var subscriberKey: String { anonKey ?? serviceKey }
    }

    /// The figures of one run. Rates are per second of the measured phase (writing plus
    /// the drain); CPU seconds are for that phase too.
    public struct Report: Sendable {
        public var subscribersConnected: Int
        /// Connecting and joining every subscriber.
        public var connectSeconds: Double
        /// Changes the data API confirmed (INSERT 201, PATCH 204 of one row).
        public var changes: Int
        public var inserts: Int
        public var updates: Int
        /// Requests the writer sent.
        public var requests: Int
        /// From the first request to the last answer.
        public var changeSeconds: Double
        public var changeRate: Double
        /// Round trip of the data-API requests (send to answer).
        public var writeLatency: LatencySummary
        public var deliveries: Int
        public var expectedDeliveries: Int
        public var missing: Int
        /// Deliveries beyond the expected (changes the writer did not see confirmed).
        public var extra: Int
        public var deliverySeconds: Double
        public var deliveriesPerSecond: Double
        public var latency: LatencySummary
        public var connectFailures: Int
        public var joinFailures: Int
        public var unexpectedCloses: Int
        public var malformedMessages: Int
        public var orderViolations: Int
        public var channelErrors: Int
        public var writeFailures: Int
        public var unansweredRequests: Int
        /// postgres_changes of rooms this run did not make (someone else wrote); not errors.
        public var foreignChanges: Int
        public var firstError: String?
        public var clientCPUSeconds: Double
        public var serverCPUSeconds: Double?
        public var machineCPUSeconds: Double?

        /// Connect failures include the join failures.
        public var errors: Int {
            connectFailures + unexpectedCloses + malformedMessages + orderViolations + channelErrors + writeFailures + unansweredRequests
        }
    }

    /// Runs the benchmark; `progress` gets a status line once a second.
    public static func run(_ configuration: Configuration, progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let writerGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            group.shutdownGracefully { _ in }
            writerGroup.shutdownGracefully { _ in }
        }
        let writerLoop = writerGroup.next()
        let total = max(1, Int((Double(configuration.rate) * configuration.duration).rounded()))
        let book = BoardRoomBook(capacity: total)
        let errors = FirstError()

        // 1. The host's profile, through the data API; then the writer's connections.
        let (http, hostID) = try await openWriter(configuration, eventLoop: writerLoop, tag: book.runTag)
        progress("host profile \(hostID) created; \(http.count) writer connections open")

        // 2. Subscribers: connect, join, wait for "subscribed"; in bounded batches.
        let recorders = group.makeIterator().map { LoopRecorder(eventLoop: $0) }
        let counters = RunCounters()
        // Only its `failed` is used: subscribers whose join failed (also counted in `counters`).
        let joinFailures = RunCounters()
        let totalDeliveries: @Sendable () -> Int = { recorders.total(.delivery) }
        let (subscribers, connectSeconds) = await joinSubscribers(
            configuration, recorders: recorders, counters: counters, joinFailures: joinFailures, book: book, errors: errors, progress: progress
        )
        progress("\(subscribers.count)/\(configuration.subscribers) subscribers joined \(Configuration.topic) in \(formatted(connectSeconds, digits: 1)) s")

        // 3. Write, then wait for the deliveries to drain.
        let writer = BoardWriter(
            connections: http, book: book, hostID: hostID, serviceKey: configuration.serviceKey, rate: configuration.rate,
            duration: configuration.duration, total: total, maxInFlight: configuration.maxInFlight,
            answerTimeout: configuration.drainTimeout, errors: errors
        )
        let receivers = subscribers.count
        let phase = try await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
            let changes = writer.changes
            let delivered = totalDeliveries()
            let elapsed = MonotonicClock.seconds(since: start)
            let errorCount = counters.failed.load(ordering: .relaxed) + counters.unexpectedCloses.load(ordering: .relaxed)
                + recorders.total(.malformed) + recorders.total(.orderViolation) + recorders.total(.channelError) + writer.failures
            return "t=\(Int(elapsed))s changes=\(changes) (\(Int(Double(changes) / max(elapsed, 0.001)))/s) http-in-flight=\(writer.inFlightNow) "
                + "deliveries=\(delivered) (\(Int(Double(delivered) / max(elapsed, 0.001)))/s) pending=\(changes * receivers - delivered) errors=\(errorCount)"
        }) { start in
            try await writer.run(start: start).get()
            let expected = writer.changes * receivers
            let deadline = MonotonicClock.seconds(since: start) + configuration.drainTimeout
            try await BenchHarness.drain(since: start, deadline: deadline) { totalDeliveries() >= expected }
        }
        let deliverySeconds = phase.seconds

        // 4. Merge the per-loop histograms, then close everything.
        let merged = try await recorders.merged()
        let writeLatency = try await writer.histogram()
        let deliveries = totalDeliveries()
        let changes = writer.changes
        let expected = changes * receivers
        counters.stopping.store(true, ordering: .relaxed)
        _ = await closeAll(subscribers)
        for connection in http { await connection.close() }

        let changeSeconds = writer.seconds
        return Report(
            subscribersConnected: receivers, connectSeconds: connectSeconds, changes: changes, inserts: writer.inserts, updates: writer.updates,
            requests: writer.requests, changeSeconds: changeSeconds, changeRate: BenchHarness.rate(changes, changeSeconds),
            writeLatency: writeLatency.summary, deliveries: deliveries, expectedDeliveries: expected,
            missing: max(expected - deliveries, 0), extra: max(deliveries - expected, 0), deliverySeconds: deliverySeconds,
            deliveriesPerSecond: BenchHarness.rate(deliveries, deliverySeconds), latency: merged.summary,
            connectFailures: counters.failed.load(ordering: .relaxed), joinFailures: joinFailures.failed.load(ordering: .relaxed),
            unexpectedCloses: counters.unexpectedCloses.load(ordering: .relaxed),
            malformedMessages: recorders.total(.malformed), orderViolations: recorders.total(.orderViolation),
            channelErrors: recorders.total(.channelError), writeFailures: writer.failures,
            unansweredRequests: writer.unanswered, foreignChanges: recorders.total(.foreign),
            firstError: counters.firstError ?? errors.text, clientCPUSeconds: phase.cpu.client, serverCPUSeconds: phase.cpu.server, machineCPUSeconds: phase.cpu.machine
        )
    }

    /// The writer's keep-alive connections to the data API, and the host profile its rooms belong to.
    static func openWriter(
        _ configuration: Configuration, eventLoop writerLoop: any EventLoop, tag: String
    ) async throws -> (http: [BenchHTTPConnection], hostID: String) {
        var http: [BenchHTTPConnection] = []
        do {
            let setup = try await BenchHTTPConnection.connect(host: configuration.host, port: configuration.port, eventLoop: writerLoop)
            http.append(setup)
        } catch {
            throw BenchError(description: "cannot reach the data API at \(configuration.host):\(configuration.port): \(error)")
        }
        do {
            let hostID = try await createHost(http[0], serviceKey: configuration.serviceKey, tag: tag)
            while http.count < configuration.writerConnections {
                http.append(try await BenchHTTPConnection.connect(host: configuration.host, port: configuration.port, eventLoop: writerLoop))
            }
            return (http, hostID)
        } catch {
            for connection in http { await connection.close() }
            throw error
        }
    }

    /// Subscribers: connect, join, wait for "subscribed"; in bounded batches.
    static func joinSubscribers(
        _ configuration: Configuration, recorders: [LoopRecorder], counters: RunCounters, joinFailures: RunCounters, book: BoardRoomBook,
        errors: FirstError, progress: @escaping @Sendable (String) -> Void
    ) async -> (connections: [WebSocketClientConnection], seconds: Double) {
        let target = BenchTarget.realtime(host: configuration.host, port: configuration.port, key: configuration.subscriberKey)
        let joinText = BoardSubscriber.joinMessage(topic: Configuration.topic, accessToken: configuration.subscriberKey)
        return await BenchHarness.connect(
            count: configuration.subscribers, concurrency: configuration.connectConcurrency, counters: counters, progress: progress,
            verb: "joining", state: "subscribed"
        ) { index in
            let recorder = recorders[index % recorders.count]
            let subscriber = BoardSubscriber(recorder: recorder, book: book, topic: Configuration.topic, errors: errors)
            let connection = try await target.connect(group: recorder.eventLoop) { subscriber.received($0) }
            do {
                try await subscriber.join(
                    connection, text: joinText, heartbeatInterval: configuration.heartbeatInterval, timeout: configuration.joinTimeout
                ).get()
            } catch {
                joinFailures.failed.wrappingAdd(1, ordering: .relaxed)
                await connection.close()
                throw error
            }
            recorder.count(.connection)
            counters.watch(connection)
            return connection
        }
    }

    /// Signs up one user (the service key serves as apikey) and gives it a profile; returns its id.
    static func createHost(_ http: BenchHTTPConnection, serviceKey: String, tag: String) async throws -> String {
        let userID: String
        do {
            userID = try await BenchSetup.signUp(http, key: serviceKey, email: "bench-host-\(tag)@praxis.test", password: "bench-\(tag)-password").id
        } catch {
            throw BenchError(description: "\(error)")
        }
        let profile = try await http.request(
            method: .POST, uri: "/rest/v1/profiles",
            headers: [("apikey", serviceKey), ("Authorization", "Bearer \(serviceKey)"), ("Prefer", "return=minimal")],
            body: #"{"user_id":"\#(userID)","first_name":"Bench","last_name":"Host","training_level":"Benchmark"}"#
        )
        guard profile.status == 201 else { throw BenchError(description: "creating the host's profile failed: \(profile.summary)") }
        return userID
    }
}
