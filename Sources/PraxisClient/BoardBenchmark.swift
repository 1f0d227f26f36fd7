import NIOCore
import NIOHTTP1
import PraxisDomain

/// The realtime board benchmark: N realtime connections join `realtime:board` with a
/// postgres_changes binding on `practice_rooms`; a writer makes room changes through the
/// data API (INSERT a public room, then PATCH it, alternately) at a fixed rate; every
/// subscriber counts the changes it receives, checks that their offsets increase, and
/// records change-to-delivery latency: receive time − the send time of the HTTP request
/// that made the change (one monotonic clock, one process).
public enum BoardBenchmark {
    static let topic = "realtime:board"

    /// Runs the benchmark (`count` subscribers); `progress` gets a status line once a second.
    /// Rates are per second of the measured phase (writing plus the drain); CPU seconds are
    /// for that phase too.
    public static func run(_ configuration: BenchConfiguration, progress: @escaping @Sendable (String) -> Void) async throws -> BenchReport {
        try await BenchHarness.withLoops(configuration.threads, extra: 1) { group, writerGroup in
            let book = BoardRoomBook(capacity: configuration.total)
            let recorder = BenchRecorder(group)

            // 1. The host's profile, through the data API; then the writer's connections.
            let (http, hostID) = try await openWriter(configuration, eventLoop: writerGroup.next(), tag: book.runTag)
            progress("host profile \(hostID) created; \(http.count) writer connections open")

            // 2. Subscribers: connect, join, wait for "subscribed"; in bounded batches.
            let (subscribers, connectSeconds) = await joinSubscribers(configuration, recorder: recorder, book: book, progress: progress)
            progress("\(subscribers.count)/\(configuration.count) subscribers joined \(topic) in \(fixed(connectSeconds, 1)) s")

            // 3. Write, then wait for the deliveries to drain.
            let writer = BoardWriter(configuration, connections: http, book: book, hostID: hostID, errors: recorder)
            let receivers = subscribers.count
            let phase = try await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { start in
                let (changes, delivered) = (writer.changes, recorder[.delivery])
                let errors = recorder[.connectFailure] + recorder[.unexpectedClose] + recorder[.malformed] + recorder[.orderViolation]
                    + recorder[.channelError] + writer.recorder[.writeFailure]
                return "t=\(Int(MonotonicClock.seconds(since: start)))s changes=\(changes) (\(BenchHarness.perSecond(changes, since: start))/s) "
                    + "http-in-flight=\(writer.inFlightNow) deliveries=\(delivered) (\(BenchHarness.perSecond(delivered, since: start))/s) "
                    + "pending=\(changes * receivers - delivered) errors=\(errors)"
            }) { start in
                try await writer.run(start: start).get()
                let expected = writer.changes * receivers
                let deadline = MonotonicClock.seconds(since: start) + configuration.drainTimeout
                try await BenchHarness.drain(since: start, deadline: deadline) { recorder[.delivery] >= expected }
            }
            let latency = try await recorder.histogram()
            let writeLatency = try await writer.recorder.histogram()
            let deliveries = recorder[.delivery]
            await recorder.closeAll(subscribers)
            for connection in http { await connection.close() }
            return report(
                configuration, recorder: recorder, writer: writer, phase: phase, receivers: receivers, connectSeconds: connectSeconds,
                deliveries: deliveries, latency: latency.summary, writeLatency: writeLatency.summary
            )
        }
    }

    private static func report(
        _ configuration: BenchConfiguration, recorder: BenchRecorder, writer: BoardWriter, phase: BenchHarness.Phase<Void>, receivers: Int,
        connectSeconds: Double, deliveries: Int, latency: LatencySummary, writeLatency: LatencySummary
    ) -> BenchReport {
        let (changes, requests, inserts, updates) = (writer.changes, writer.recorder[.request], writer.recorder[.insert], writer.recorder[.update])
        let role = configuration.anonKey == nil ? "service_role" : "anon"
        let counts = [
            recorder[.connectFailure], recorder[.unexpectedClose], recorder[.malformed], recorder[.orderViolation], recorder[.channelError],
            writer.recorder[.writeFailure], writer.unanswered,
        ]
        let errors = counts.reduce(0, +)
        var report = BenchReport()
        report.add([
            "benchmark": "board", "url": configuration.realtime.url, "subscribers": configuration.count, "subscribers_connected": receivers,
            "subscriber_role": role, "rate": configuration.rate, "duration": configuration.duration, "threads": configuration.threads,
            "writer_connections": configuration.writerConnections, "max_in_flight": configuration.maxInFlight, "connect_seconds": connectSeconds,
            "requests": requests, "changes": changes, "inserts": inserts, "updates": updates, "change_seconds": writer.seconds,
            "change_rate": BenchHarness.rate(changes, writer.seconds), "connect_failures": counts[0],
            "join_failures": recorder[.joinFailure], "unexpected_closes": counts[1], "malformed_messages": counts[2], "order_violations": counts[3],
            "channel_errors": counts[4], "write_failures": counts[5], "unanswered_requests": counts[6], "errors": errors,
            "foreign_changes": recorder[.foreign], "first_error": recorder.firstError,
        ])
        report.latency("write_latency", writeLatency, ["p50", "p99", "max"])
        report.summary.append(
            "board \(configuration.realtime.url): \(receivers)/\(configuration.count) subscribers (\(role)) joined in \(fixed(connectSeconds)) s, "
                + "\(configuration.threads) client threads"
        )
        report.line(
            "changes", "\(changes) (\(inserts) inserts, \(updates) updates) of \(requests) requests in \(fixed(writer.seconds)) s "
                + "(\(fixed(BenchHarness.rate(changes, writer.seconds), 0))/s, target \(configuration.rate)/s)"
        )
        report.line("data API ms", "p50 \(fixed(writeLatency.p50)), p99 \(fixed(writeLatency.p99)), max \(fixed(writeLatency.max))")
        report.deliveries(deliveries, expected: changes * receivers, seconds: phase.seconds, latency: latency, extra: true)
        report.errors(
            errors, "connect failures \(counts[0]) with \(recorder[.joinFailure]) joins, unexpected closes \(counts[1]), malformed \(counts[2]), "
                + "order violations \(counts[3]), channel errors \(counts[4]), write failures \(counts[5]), unanswered \(counts[6])",
            first: recorder.firstError
        )
        let foreign = recorder[.foreign] > 0 ? "foreign changes \(recorder[.foreign]) (rooms this run did not make)" : nil
        report.cpu(phase.cpu, serverPID: configuration.serverPID, deliveries: deliveries, note: foreign)
        return report
    }

    /// The writer's keep-alive connections to the data API, and the host profile its rooms belong to.
    static func openWriter(
        _ configuration: BenchConfiguration, eventLoop writerLoop: any EventLoop, tag: String
    ) async throws -> (http: [BenchHTTPConnection], hostID: String) {
        var http = [try await BenchSetup.connect(configuration, eventLoop: writerLoop, what: "the data API")]
        do {
            let hostID = try await createHost(http[0], serviceKey: configuration.serviceKey, tag: tag)
            while http.count < configuration.writerConnections {
                http.append(try await BenchHTTPConnection.connect(host: configuration.target.host, port: configuration.target.port, eventLoop: writerLoop))
            }
            return (http, hostID)
        } catch {
            for connection in http { await connection.close() }
            throw error
        }
    }

    /// Subscribers: connect, join, wait for "subscribed"; in bounded batches.
    static func joinSubscribers(
        _ configuration: BenchConfiguration, recorder: BenchRecorder, book: BoardRoomBook, progress: @escaping @Sendable (String) -> Void
    ) async -> (connections: [WebSocketClientConnection], seconds: Double) {
        let target = BenchTarget.realtime(host: configuration.target.host, port: configuration.target.port, key: configuration.clientKey)
        let payload = BoardSubscriber.joinPayload(accessToken: configuration.clientKey)
        return await BenchHarness.connect(
            count: configuration.count, concurrency: configuration.concurrency, recorder: recorder, progress: progress, verb: "joining",
            state: "subscribed"
        ) { index in
            let loop = recorder.loop(index)
            let subscriber = BoardSubscriber(recorder: recorder, loop: loop, book: book, topic: topic)
            let connection = try await target.connect(group: recorder.eventLoops[loop]) { subscriber.received($0) }
            do {
                try await subscriber.join(
                    connection, payload: payload, heartbeatInterval: configuration.heartbeatInterval, timeout: configuration.joinTimeout
                ).get()
            } catch {
                recorder.count(.joinFailure)
                await connection.close()
                throw error
            }
            return connection
        }
    }

    /// Signs up one user (the service key serves as apikey) and gives it a profile; returns its id.
    static func createHost(_ http: BenchHTTPConnection, serviceKey: String, tag: String) async throws -> String {
        let userID = try await BenchSetup.signUp(http, key: serviceKey, email: "bench-host-\(tag)@praxis.test", password: "bench-\(tag)-password").id
        try await BenchSetup.createProfiles(http, serviceKey: serviceKey, users: [userID], lastName: "Host", what: "the host's profile")
        return userID
    }
}
