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
        public var realtimeURL: String {
            (host.contains(":") ? "ws://[\(host)]:\(port)" : "ws://\(host):\(port)") + "/realtime/v1/websocket"
        }

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

    /// Set-up through the data API failed.
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
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
        var http: [BenchHTTPConnection] = []
        do {
            let setup = try await BenchHTTPConnection.connect(host: configuration.host, port: configuration.port, eventLoop: writerLoop)
            http.append(setup)
        } catch {
            throw SetupError(description: "cannot reach the data API at \(configuration.host):\(configuration.port): \(error)")
        }
        let hostID: String
        do {
            hostID = try await createHost(http[0], serviceKey: configuration.serviceKey, tag: book.runTag)
            while http.count < configuration.writerConnections {
                http.append(try await BenchHTTPConnection.connect(host: configuration.host, port: configuration.port, eventLoop: writerLoop))
            }
        } catch {
            for connection in http { await connection.close() }
            throw error
        }
        progress("host profile \(hostID) created; \(http.count) writer connections open")

        // 2. Subscribers: connect, join, wait for "subscribed"; in bounded batches.
        let recorders = group.makeIterator().map { LoopRecorder(eventLoop: $0) }
        let counters = RunCounters()
        let joinFailures = Atomic<Int>(0)
        let target = BenchTarget(
            host: configuration.host, port: configuration.port, path: "/realtime/v1/websocket?apikey=\(configuration.subscriberKey)&vsn=1.0.0"
        )
        let joinText = BoardSubscriber.joinMessage(topic: Configuration.topic, accessToken: configuration.subscriberKey)
        let totalDeliveries: @Sendable () -> Int = { recorders.total(.delivery) }
        let connectStart = MonotonicClock.now()
        let subscribers = await withProgress(progress, line: {
            "joining: \(counters.opened.load(ordering: .relaxed))/\(configuration.subscribers) subscribed, "
                + "\(counters.failed.load(ordering: .relaxed)) failed"
        }) {
            await openConnections(count: configuration.subscribers, concurrency: configuration.connectConcurrency, counters: counters) { index in
                let recorder = recorders[index % recorders.count]
                let subscriber = BoardSubscriber(recorder: recorder, book: book, topic: Configuration.topic, errors: errors)
                let connection = try await target.connect(group: recorder.eventLoop) { subscriber.received($0) }
                do {
                    try await subscriber.join(
                        connection, text: joinText, heartbeatInterval: configuration.heartbeatInterval, timeout: configuration.joinTimeout
                    ).get()
                } catch {
                    joinFailures.wrappingAdd(1, ordering: .relaxed)
                    await connection.close()
                    throw error
                }
                recorder.count(.connection)
                counters.watch(connection)
                return connection
            }
        }
        let connectSeconds = MonotonicClock.seconds(since: connectStart)
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
            requests: writer.requests, changeSeconds: changeSeconds, changeRate: Double(changes) / max(changeSeconds, 0.001),
            writeLatency: writeLatency.summary, deliveries: deliveries, expectedDeliveries: expected,
            missing: max(expected - deliveries, 0), extra: max(deliveries - expected, 0), deliverySeconds: deliverySeconds,
            deliveriesPerSecond: Double(deliveries) / max(deliverySeconds, 0.001), latency: merged.summary,
            connectFailures: counters.failed.load(ordering: .relaxed), joinFailures: joinFailures.load(ordering: .relaxed),
            unexpectedCloses: counters.unexpectedCloses.load(ordering: .relaxed),
            malformedMessages: recorders.total(.malformed), orderViolations: recorders.total(.orderViolation),
            channelErrors: recorders.total(.channelError), writeFailures: writer.failures,
            unansweredRequests: writer.unanswered, foreignChanges: recorders.total(.foreign),
            firstError: counters.firstError ?? errors.text, clientCPUSeconds: phase.cpu.client, serverCPUSeconds: phase.cpu.server, machineCPUSeconds: phase.cpu.machine
        )
    }

    /// Signs up one user (the service key serves as apikey) and gives it a profile; returns its id.
    static func createHost(_ http: BenchHTTPConnection, serviceKey: String, tag: String) async throws -> String {
        let userID: String
        do {
            userID = try await BenchSetup.signUp(http, key: serviceKey, email: "bench-host-\(tag)@praxis.test", password: "bench-\(tag)-password").id
        } catch {
            throw SetupError(description: "\(error)")
        }
        let profile = try await http.request(
            method: .POST, uri: "/rest/v1/profiles",
            headers: [("apikey", serviceKey), ("Authorization", "Bearer \(serviceKey)"), ("Prefer", "return=minimal")],
            body: #"{"user_id":"\#(userID)","first_name":"Bench","last_name":"Host","training_level":"Benchmark"}"#
        )
        guard profile.status == 201 else { throw SetupError(description: "creating the host's profile failed: \(profile.summary)") }
        return userID
    }
}

/// The first error text of a run, from any thread.
final class FirstError: Sendable {
    private let value = Mutex<String?>(nil)

    var text: String? { value.withLock { $0 } }

    func record(_ text: @autoclosure () -> String) {
        value.withLock { if $0 == nil { $0 = text() } }
    }
}

/// The rooms of one run: their ids and links, and the send time of each room's PATCH.
/// A room's id carries its index (`<run tag>-0000-4000-8000-<index, 12 hex digits>`, a
/// valid v4 UUID) and its link carries the INSERT's send time
/// (`https://praxis.test/bench/<run tag>/<index>/<send time, ns>`), so a subscriber finds
/// both without a lookup table; the PATCH send times are in an array of atomics indexed by
/// room (written by the writer before the request, read by the subscribers).
final class BoardRoomBook: @unchecked Sendable {
    let runTag: String
    let capacity: Int
    private let runTagBytes: [UInt8]
    private let updateSent: UnsafeMutablePointer<Atomic<UInt64>>

    init(capacity: Int) {
        var tag = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
        while tag.utf8.count < 8 { tag = "0" + tag }
        runTag = tag
        runTagBytes = Array(tag.utf8)
        self.capacity = capacity
        updateSent = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: capacity)
        for index in 0..<capacity { (updateSent + index).initialize(to: Atomic<UInt64>(0)) }
    }

    deinit {
        updateSent.deinitialize(count: capacity)
        updateSent.deallocate()
    }

    func id(_ index: Int) -> String {
        var hex = String(index, radix: 16)
        while hex.utf8.count < 12 { hex = "0" + hex }
        return "\(runTag)-0000-4000-8000-\(hex)"
    }

    func roomURL(_ index: Int, sent: UInt64) -> String {
        "https://praxis.test/bench/\(runTag)/\(index)/\(sent)"
    }

    func recordUpdate(_ index: Int, sent: UInt64) {
        updateSent[index].store(sent, ordering: .releasing)
    }

    /// The PATCH send time of the room whose id is at `range`, nil when it is not this run's
    /// room (`ours` false) or has no PATCH yet.
    func updateSendTime(id range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> (ours: Bool, sent: UInt64?) {
        guard range.count == 36, hasRunTag(bytes, at: range.lowerBound) else { return (false, nil) }
        var index = 0
        for position in (range.upperBound - 12)..<range.upperBound {
            guard let digit = Self.hexValue(bytes[position]) else { return (true, nil) }
            index = index << 4 | digit
        }
        guard index < capacity else { return (true, nil) }
        let sent = updateSent[index].load(ordering: .acquiring)
        return (true, sent == 0 ? nil : sent)
    }

    /// The INSERT send time carried by the link at `range`.
    func insertSendTime(url range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> (ours: Bool, sent: UInt64?) {
        let prefix = Self.urlPrefix
        guard range.count > prefix.count + 8, BoardMessage.equal(bytes, range.lowerBound..<(range.lowerBound + prefix.count), prefix),
            hasRunTag(bytes, at: range.lowerBound + prefix.count)
        else { return (false, nil) }
        var start = range.upperBound
        while start > range.lowerBound, bytes[start - 1] != UInt8(ascii: "/") { start -= 1 }
        var value: UInt64 = 0
        guard start < range.upperBound else { return (true, nil) }
        for position in start..<range.upperBound {
            let byte = bytes[position]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return (true, nil) }
            value = value &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
        }
        return (true, value)
    }

    private static let urlPrefix = Array("https://praxis.test/bench/".utf8)

    private func hasRunTag(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Bool {
        guard start + runTagBytes.count <= bytes.count else { return false }
        for (offset, byte) in runTagBytes.enumerated() where bytes[start + offset] != byte { return false }
        return true
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        default: nil
        }
    }
}

/// Why a subscriber could not join.
struct BoardJoinError: Error, CustomStringConvertible {
    var description: String
}

/// One realtime connection of the board benchmark. Everything but `init` runs on the
/// connection's event loop (the recorder's).
final class BoardSubscriber: @unchecked Sendable {
    private let recorder: LoopRecorder
    private let book: BoardRoomBook
    private let topic: [UInt8]
    private let errors: FirstError
    private var connection: WebSocketClientConnection?
    private var joinPromise: EventLoopPromise<Void>?
    private var joinReplied = false
    private var lastOffset: Int64 = -1
    private var nextRef = 2
    private var heartbeat: RepeatedTask?

    init(recorder: LoopRecorder, book: BoardRoomBook, topic: String, errors: FirstError) {
        self.recorder = recorder
        self.book = book
        self.topic = Array(topic.utf8)
        self.errors = errors
    }

    /// The phx_join realtime-py sends for `channel(topic).on_postgres_changes("*", table="practice_rooms")`.
    static func joinMessage(topic: String, accessToken: String) -> String {
        #"{"topic":"\#(topic)","event":"phx_join","payload":{"config":{"broadcast":{"self":false,"ack":false},"#
            + #""presence":{"key":"","enabled":false},"postgres_changes":[{"event":"*","schema":"public","table":"practice_rooms"}],"#
            + #""private":false},"access_token":"\#(accessToken)"},"ref":"1","join_ref":"1"}"#
    }

    /// Sends the join; the future succeeds once the ok reply and the `system` subscribed
    /// message have come, and fails on an error reply, a close or after `timeout`. Also
    /// starts the heartbeats.
    func join(_ connection: WebSocketClientConnection, text: String, heartbeatInterval: Double, timeout: Double) -> EventLoopFuture<Void> {
        let loop = connection.eventLoop
        return loop.flatSubmit {
            let promise = loop.makePromise(of: Void.self)
            self.connection = connection
            self.joinPromise = promise
            connection.send(text: text)
            let deadline = loop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
                self.failJoin("no join reply and subscribed message within \(Int(timeout)) s")
            }
            promise.futureResult.whenComplete { _ in deadline.cancel() }
            let interval = TimeAmount.milliseconds(Int64(heartbeatInterval * 1000))
            self.heartbeat = loop.scheduleRepeatedTask(
                initialDelay: .milliseconds(Int64.random(in: 0...Int64(heartbeatInterval * 1000))), delay: interval
            ) { _ in
                let ref = self.nextRef
                self.nextRef += 1
                self.connection?.send(text: #"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"\#(ref)"}"#)
            }
            connection.closeFuture.whenComplete { _ in
                self.heartbeat?.cancel()
                self.heartbeat = nil
                self.failJoin("the connection closed during the join")
                self.connection = nil
            }
            return promise.futureResult
        }
    }

    private func failJoin(_ reason: String) {
        guard let promise = joinPromise else { return }
        joinPromise = nil
        promise.fail(BoardJoinError(description: reason))
    }

    /// Each message the server sends, on the loop.
    func received(_ message: WebSocketClientMessage) {
        let now = MonotonicClock.now()
        message.data.withUnsafeReadableBytes { bytes in
            let event = BoardMessage.event(bytes)
            if BoardMessage.isEvent(bytes, event, BoardMessage.Patterns.postgresChanges) {
                change(bytes, now: now)
            } else {
                control(bytes, event: event)
            }
        }
    }

    private func change(_ bytes: UnsafeRawBufferPointer, now: UInt64) {
        guard let change = BoardMessage.change(bytes), change.offset >= 0 else {
            recorder.count(.malformed)
            errors.record("malformed postgres_changes message: \(Self.excerpt(bytes))")
            return
        }
        if change.offset <= lastOffset {
            recorder.count(.orderViolation)
            errors.record("offset \(change.offset) arrived after offset \(lastOffset) on one connection")
        } else {
            lastOffset = change.offset
        }
        let found: (ours: Bool, sent: UInt64?)
        switch change.kind {
        case .insert:
            found = change.roomURL.map { book.insertSendTime(url: $0, in: bytes) } ?? (false, nil)
        case .update:
            found = change.id.map { book.updateSendTime(id: $0, in: bytes) } ?? (false, nil)
        case .delete, .other:
            found = (false, nil)
        }
        guard found.ours else {
            recorder.count(.foreign)
            return
        }
        guard let sent = found.sent else {
            recorder.count(.malformed)
            errors.record("a change of this run's room without a send time: \(Self.excerpt(bytes))")
            return
        }
        recorder.record(.delivery, latency: now &- sent)
    }

    private func control(_ bytes: UnsafeRawBufferPointer, event: Range<Int>?) {
        typealias P = BoardMessage.Patterns
        let status = BoardMessage.string(P.status, in: bytes)
        let ok = status.map { BoardMessage.equal(bytes, $0, P.ok) } ?? false
        if BoardMessage.isEvent(bytes, event, P.phxReply) {
            let topicRange = BoardMessage.string(P.topic, in: bytes)
            if let topicRange, BoardMessage.equal(bytes, topicRange, P.phoenix) {
                if !ok { channelError("heartbeat reply: \(Self.excerpt(bytes))") }
            } else if let topicRange, BoardMessage.equal(bytes, topicRange, topic), !joinReplied, joinPromise != nil {
                if ok {
                    joinReplied = true
                } else {
                    failJoin("join refused: \(Self.excerpt(bytes))")
                }
            } else if !ok {
                channelError("error reply: \(Self.excerpt(bytes))")
            }
        } else if BoardMessage.isEvent(bytes, event, P.system) {
            if ok, joinReplied, let promise = joinPromise {
                joinPromise = nil
                promise.succeed()
            } else if !ok {
                if joinPromise != nil {
                    failJoin("system error: \(Self.excerpt(bytes))")
                } else {
                    channelError("system error: \(Self.excerpt(bytes))")
                }
            }
        } else if BoardMessage.isEvent(bytes, event, P.phxError) || BoardMessage.isEvent(bytes, event, P.phxClose) {
            if joinPromise != nil {
                failJoin("channel error: \(Self.excerpt(bytes))")
            } else {
                channelError("channel error: \(Self.excerpt(bytes))")
            }
        } else if event == nil {
            recorder.count(.malformed)
            errors.record("a message without an event: \(Self.excerpt(bytes))")
        }
        // presence_state and presence_diff: nothing to do.
    }

    private func channelError(_ text: String) {
        recorder.count(.channelError)
        errors.record(text)
    }

    private static func excerpt(_ bytes: UnsafeRawBufferPointer) -> String {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, 300)]), as: UTF8.self)
        return bytes.count > 300 ? text + "…" : text
    }
}

/// Makes the room changes through the data API from one event loop: a 1 ms tick sends
/// what is due (INSERT of a new public room, then a PATCH of a room whose INSERT was
/// answered, alternately), at most `maxInFlight` requests in flight over a few pipelined
/// keep-alive connections. Stops sending after `duration` seconds; the future completes
/// when every request was answered (or after `answerTimeout` more seconds).
final class BoardWriter: @unchecked Sendable {
    private let connections: [BenchHTTPConnection]
    private let book: BoardRoomBook
    private let hostID: String
    private let headers: [(String, String)]
    private let rate: Int
    private let duration: Double
    private let total: Int
    private let maxInFlight: Int
    private let answerTimeout: Double
    private let errors: FirstError
    private let loop: any EventLoop

    private let changeCount = Atomic<Int>(0)
    private let insertCount = Atomic<Int>(0)
    private let updateCount = Atomic<Int>(0)
    private let failureCount = Atomic<Int>(0)
    private let requestCount = Atomic<Int>(0)
    private let inFlightCount = Atomic<Int>(0)
    private let unansweredCount = Atomic<Int>(0)
    private let secondsBits = Atomic<UInt64>(0)

    // Only on `loop`.
    private var start: UInt64 = 0
    private var issued = 0
    private var inFlight = 0
    private var nextRoom = 0
    private var readyToPatch = CircularBuffer<Int>()
    private var patchNext = false
    private var stoppedAt: UInt64?
    private var finished = false
    private var lastAnswer: UInt64 = 0
    private var writeLatencies = LatencyHistogram()

    init(
        connections: [BenchHTTPConnection], book: BoardRoomBook, hostID: String, serviceKey: String, rate: Int, duration: Double,
        total: Int, maxInFlight: Int, answerTimeout: Double, errors: FirstError
    ) {
        self.connections = connections
        self.book = book
        self.hostID = hostID
        self.headers = [("apikey", serviceKey), ("Authorization", "Bearer \(serviceKey)"), ("Prefer", "return=minimal")]
        self.rate = rate
        self.duration = duration
        self.total = total
        self.maxInFlight = maxInFlight
        self.answerTimeout = answerTimeout
        self.errors = errors
        self.loop = connections[0].eventLoop
    }

    var changes: Int { changeCount.load(ordering: .relaxed) }
    var inserts: Int { insertCount.load(ordering: .relaxed) }
    var updates: Int { updateCount.load(ordering: .relaxed) }
    var failures: Int { failureCount.load(ordering: .relaxed) }
    var requests: Int { requestCount.load(ordering: .relaxed) }
    var inFlightNow: Int { inFlightCount.load(ordering: .relaxed) }
    var unanswered: Int { unansweredCount.load(ordering: .relaxed) }
    /// From the start to the last answer.
    var seconds: Double { Double(bitPattern: secondsBits.load(ordering: .relaxed)) }

    func histogram() async throws -> LatencyHistogram {
        try await loop.submit { self.writeLatencies }.get()
    }

    func run(start: UInt64) -> EventLoopFuture<Void> {
        let done = loop.makePromise(of: Void.self)
        loop.execute {
            self.start = start
            self.lastAnswer = start
            self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
                self.tick(task: task, done: done)
            }
        }
        return done.futureResult
    }

    private func tick(task: RepeatedTask, done: EventLoopPromise<Void>) {
        let now = MonotonicClock.now()
        let elapsed = Double(now &- start) / 1e9
        if stoppedAt == nil, !finished {
            if elapsed >= duration || issued >= total {
                stoppedAt = now
            } else {
                let due = min(total, Int(elapsed * Double(rate)) + 1)
                var written = [Bool](repeating: false, count: connections.count)
                while issued < due, inFlight < maxInFlight {
                    guard let index = issue() else {
                        errors.record("every data-API connection of the writer has closed")
                        stoppedAt = now
                        break
                    }
                    written[index] = true
                }
                for (index, wrote) in written.enumerated() where wrote { connections[index].flush() }
                inFlightCount.store(inFlight, ordering: .relaxed)
                if issued >= total { stoppedAt = now }
            }
        }
        guard let stoppedAt, !finished else { return }
        if inFlight == 0 || Double(now &- stoppedAt) / 1e9 > answerTimeout {
            if inFlight > 0 {
                unansweredCount.store(inFlight, ordering: .relaxed)
                errors.record("\(inFlight) data-API requests unanswered \(Int(answerTimeout)) s after the writing ended")
            }
            finished = true
            secondsBits.store((Double(lastAnswer &- start) / 1e9).bitPattern, ordering: .relaxed)
            task.cancel()
            done.succeed()
        }
    }

    /// Writes the next change's request (not flushed) on the open connection with the
    /// fewest requests in flight; returns its index, nil when none is open.
    private func issue() -> Int? {
        var chosen: Int?
        for index in connections.indices where connections[index].isOpen {
            if let best = chosen, connections[best].inFlight <= connections[index].inFlight { continue }
            chosen = index
        }
        guard let chosen else { return nil }
        let connection = connections[chosen]
        let allocator = connection.channel.allocator
        let sent = MonotonicClock.now()
        let isUpdate: Bool
        let room: Int
        let future: EventLoopFuture<BenchHTTPResponse>
        if patchNext, let index = readyToPatch.popFirst() {
            isUpdate = true
            room = index
            patchNext = false
            book.recordUpdate(index, sent: sent)
            let body = index % 2 == 0 ? #"{"datetime_utc":"2031-02-01T10:30:00Z"}"# : #"{"type":"Communication"}"#
            future = connection.write(
                method: .PATCH, uri: "/rest/v1/practice_rooms?id=eq.\(book.id(index))", headers: headers,
                body: allocator.buffer(string: body), flush: false
            )
        } else {
            isUpdate = false
            room = nextRoom
            nextRoom += 1
            patchNext = true
            let body =
                #"{"id":"\#(book.id(room))","host_id":"\#(hostID)","datetime_utc":"2031-01-01T09:00:00Z","type":"Clinical","#
                + #""room_url":"\#(book.roomURL(room, sent: sent))","private":false}"#
            future = connection.write(method: .POST, uri: "/rest/v1/practice_rooms", headers: headers, body: allocator.buffer(string: body), flush: false)
        }
        issued += 1
        inFlight += 1
        requestCount.wrappingAdd(1, ordering: .relaxed)
        future.whenComplete { result in self.answered(result, isUpdate: isUpdate, room: room, sent: sent) }
        return chosen
    }

    private func answered(_ result: Result<BenchHTTPResponse, any Error>, isUpdate: Bool, room: Int, sent: UInt64) {
        inFlight -= 1
        inFlightCount.store(inFlight, ordering: .relaxed)
        guard !finished else { return }
        let now = MonotonicClock.now()
        writeLatencies.record(nanoseconds: now &- sent)
        switch result {
        case .success(let response):
            if isUpdate {
                // return=minimal: 204, with the rows affected in Content-Range (`*/1`).
                let range = response.headers.first(name: "Content-Range")
                guard response.status == 204 || response.status == 200, range == nil || range == "*/1" else {
                    return failed("PATCH of room \(book.id(room)): \(response.summary) (Content-Range \(range ?? "none"))")
                }
                updateCount.wrappingAdd(1, ordering: .relaxed)
            } else {
                guard response.status == 201 else { return failed("INSERT of room \(book.id(room)): \(response.summary)") }
                insertCount.wrappingAdd(1, ordering: .relaxed)
                readyToPatch.append(room)
            }
            lastAnswer = now
            changeCount.wrappingAdd(1, ordering: .relaxed)
        case .failure(let error):
            failed("\(isUpdate ? "PATCH" : "INSERT") of room \(book.id(room)): \(error)")
        }
    }

    private func failed(_ text: String) {
        failureCount.wrappingAdd(1, ordering: .relaxed)
        errors.record(text)
    }
}
