import NIOCore

/// A realtime (Phoenix v1) connection of the load benchmarks (a board subscriber, a room
/// peer): the connection on its recorder loop, joined to one topic, its heartbeats, the
/// requests awaiting their replies (by ref), and the counts it keeps. The subclass reads the
/// messages that are not replies (`message`) and says what a refused request counts
/// (`refused`). Everything but `init`, `pendingCount` and `close` runs on `eventLoop`.
class BenchPeer: @unchecked Sendable {
    /// Where the latency of an ok reply is recorded: the event counted and the series.
    typealias Latency = (event: BenchRecorder.Event, series: BenchRecorder.Series)

    let recorder: BenchRecorder
    /// The recorder loop the connection lives on.
    let loop: Int
    let topic: String
    var connection: WebSocketClientConnection?
    private var nextRef = 1
    private var heartbeat: RepeatedTask?
    /// Requests awaiting their replies, by ref.
    private var pending: [Int: (sent: UInt64, promise: EventLoopPromise<Void>?, record: Latency?)] = [:]

    init(recorder: BenchRecorder, loop: Int, topic: String) {
        self.recorder = recorder
        self.loop = loop
        self.topic = topic
    }

    var eventLoop: any EventLoop { recorder.eventLoops[loop] }

    /// Counts `event` on the peer's loop.
    func count(_ event: BenchRecorder.Event) { recorder.count(event, loop: loop) }

    /// Requests sent and not yet answered, from any thread.
    func pendingCount() -> EventLoopFuture<Int> { eventLoop.submit { self.pending.count } }

    /// Keeps `connection` and sends a heartbeat every `interval`, the first after `delay`; on the loop.
    func attach(_ connection: WebSocketClientConnection, heartbeat interval: TimeAmount, after delay: TimeAmount) {
        self.connection = connection
        heartbeat = eventLoop.scheduleRepeatedTask(initialDelay: delay, delay: interval) { _ in
            self.connection?.send(text: #"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"\#(self.takeRef())"}"#)
        }
    }

    /// Stops the heartbeats and forgets the connection; on the loop.
    func detach() {
        heartbeat?.cancel()
        heartbeat = nil
        connection = nil
    }

    /// Starts the closing handshake, from any thread.
    func close() {
        eventLoop.execute {
            self.connection?.startClose()
            self.detach()
        }
    }

    private func takeRef() -> Int {
        defer { nextRef += 1 }
        return nextRef
    }

    /// Sends `event` with `payload` (JSON text) on the topic; on the loop. With `awaited`,
    /// the future completes with its reply (fails on an error reply), else at once.
    /// `record`: where the latency of an ok reply goes.
    func send(_ event: String, _ payload: String, awaited: Bool, record: Latency? = nil) -> EventLoopFuture<Void> {
        guard let connection else { return eventLoop.makeFailedFuture(BenchError(description: "not connected")) }
        let ref = takeRef()
        let promise: EventLoopPromise<Void>? = awaited ? eventLoop.makePromise() : nil
        pending[ref] = (MonotonicClock.now(), promise, record)
        connection.send(text: #"{"topic":"\#(topic)","event":"\#(event)","payload":\#(payload),"ref":"\#(ref)","join_ref":"1"}"#)
        return promise?.futureResult ?? eventLoop.makeSucceededVoidFuture()
    }

    /// Each message the server sends, on the loop: replies complete their requests, the rest
    /// goes to `message`.
    func received(_ message: WebSocketClientMessage) {
        let now = MonotonicClock.now()
        message.data.withUnsafeReadableBytes { bytes in
            typealias P = PhoenixBytes.Patterns
            let event = PhoenixBytes.event(bytes)
            guard PhoenixBytes.isEvent(bytes, event, P.phxReply) else { return self.message(bytes, event: event, now: now) }
            let ref = PhoenixBytes.string(P.ref, in: bytes).flatMap { Int(PhoenixBytes.text(bytes, $0)) }
            let entry = ref.flatMap { pending.removeValue(forKey: $0) }
            guard PhoenixBytes.string(P.status, in: bytes).map({ PhoenixBytes.equal(bytes, $0, P.ok) }) ?? false else {
                refused(Self.excerpt(bytes), awaited: entry?.promise != nil)
                entry?.promise?.fail(BenchError(description: Self.excerpt(bytes)))
                return
            }
            if let entry, let record = entry.record { recorder.record(record.event, latency: now &- entry.sent, in: record.series, loop: loop) }
            entry?.promise?.succeed()
        }
    }

    /// A message that is not a reply (`event`: the range of its event name), on the loop.
    func message(_ bytes: UnsafeRawBufferPointer, event: Range<Int>?, now: UInt64) {}

    /// An error reply (`excerpt`: its text), to a request someone awaits or not; on the loop.
    func refused(_ excerpt: String, awaited: Bool) {}

    /// The first 300 bytes of a message, for error reports.
    static func excerpt(_ bytes: UnsafeRawBufferPointer) -> String {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, 300)]), as: UTF8.self)
        return bytes.count > 300 ? text + "…" : text
    }
}
