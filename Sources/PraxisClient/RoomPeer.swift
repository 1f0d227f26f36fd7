import NIOCore

/// One peer of one room: a connection joined to the room topic. Lives on its recorder loop.
final class RoomPeer: BenchPeer, @unchecked Sendable {
    let name: String
    private let text: String
    private var lastSeq: Int64 = 0
    private var turnTask: RepeatedTask?
    private var turns = 0
    /// Set by `close`: the connection's end is expected from then on.
    private var closing = false

    init(recorder: BenchRecorder, loop: Int, roomID: String, name: String, text: String) {
        self.name = name
        self.text = text
        super.init(recorder: recorder, loop: loop, topic: "realtime:room:\(roomID)")
    }

    /// Joins the room on `connection` (an end of it before `close` counts as unexpected).
    func join(_ connection: WebSocketClientConnection, token: String) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            connection.closeFuture.whenComplete { _ in if !self.closing { self.count(.unexpectedClose) } }
            self.attach(connection, heartbeat: .seconds(20), after: .seconds(20))
            return self.send("phx_join", #"{"config":{},"access_token":"\#(token)"}"#, awaited: true)
        }
    }

    /// Sends a room command; with `measured`, its ok reply's latency is a round end.
    func command(_ event: String, _ payload: String, measured: Bool = false) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { self.send(event, payload, awaited: true, record: measured ? (.roundEnd, .secondary) : nil) }
    }

    /// Sends a turn every `interval` seconds (first one at a random point of the interval) until `stop`.
    func startTurns(interval: Double, until stop: UInt64) {
        eventLoop.execute {
            let every = TimeAmount.nanoseconds(Int64(interval * 1e9))
            self.turnTask = self.eventLoop.scheduleRepeatedTask(
                initialDelay: .nanoseconds(Int64.random(in: 0...max(1, every.nanoseconds))), delay: every
            ) { task in
                guard MonotonicClock.now() < stop else { return task.cancel() }
                self.turns += 1
                let body = #"{"client_turn_id":"\#(self.name)-\#(self.turns)","text":"\#(self.text)"}"#
                _ = self.send("turn", body, awaited: false, record: (.acked, .main))
                self.count(.sent)
            }
        }
    }

    /// Stops the turns and the heartbeats and starts the closing handshake, from any thread.
    override func close() {
        eventLoop.execute {
            self.closing = true
            self.turnTask?.cancel()
        }
        super.close()
    }

    override func refused(_ excerpt: String, awaited: Bool) {
        count(.errorReply)
        recorder.error("error reply: \(excerpt)")
    }

    /// A turn event: a delivery, whose seq must increase.
    override func message(_ bytes: UnsafeRawBufferPointer, event: Range<Int>?, now: UInt64) {
        guard let inner = PhoenixBytes.find(Self.turnEvent, in: bytes, from: 0) else { return }
        count(.delivery)
        if let seqStart = PhoenixBytes.find(Self.seqKey, in: bytes, from: inner), let seq = PhoenixBytes.integer(bytes, at: seqStart) {
            if seq <= lastSeq { count(.orderViolation) } else { lastSeq = seq }
        }
    }

    private static let turnEvent = Array(#""event":"turn""#.utf8)
    private static let seqKey = Array(#""seq":"#.utf8)
}
