import NIOCore

/// One peer of one room: a connection joined to the room topic. Lives on its recorder loop.
final class RoomPeer: BenchPeer, @unchecked Sendable {
    private enum Kind {
        case join, command, turn, measuredCommand
    }

    let name: String
    private let topic: String
    private let text: String
    private var pending: [Int: (kind: Kind, sent: UInt64, promise: EventLoopPromise<Void>?)] = [:]
    private var lastSeq: Int64 = 0
    private var turnTask: RepeatedTask?
    private var turns = 0

    init(recorder: BenchRecorder, loop: Int, roomID: String, name: String, text: String) {
        self.name = name
        self.topic = "realtime:room:\(roomID)"
        self.text = text
        super.init(recorder: recorder, loop: loop)
    }

    func join(_ connection: WebSocketClientConnection, token: String) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            self.attach(connection, heartbeat: .seconds(20), after: .seconds(20))
            return self.send(kind: .join, event: "phx_join", payload: #"{"config":{},"access_token":"\#(token)"}"#)
        }
    }

    func command(_ event: String, _ payload: String, measured: Bool = false) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { self.send(kind: measured ? .measuredCommand : .command, event: event, payload: payload) }
    }

    private func send(kind: Kind, event: String, payload: String) -> EventLoopFuture<Void> {
        guard let connection else { return eventLoop.makeFailedFuture(BenchError(description: "not connected")) }
        let ref = takeRef()
        let promise: EventLoopPromise<Void>? = kind == .turn ? nil : eventLoop.makePromise()
        pending[ref] = (kind, MonotonicClock.now(), promise)
        connection.send(text: #"{"topic":"\#(topic)","event":"\#(event)","payload":\#(payload),"ref":"\#(ref)","join_ref":"1"}"#)
        return promise?.futureResult ?? eventLoop.makeSucceededVoidFuture()
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
                _ = self.send(kind: .turn, event: "turn", payload: body)
                self.count(.sent)
            }
        }
    }

    /// Requests sent and not yet answered (turns included).
    func pendingCount() -> EventLoopFuture<Int> {
        eventLoop.submit { self.pending.count }
    }

    /// Stops the turns and the heartbeats and starts the closing handshake, from any thread.
    override func close() {
        eventLoop.execute { self.turnTask?.cancel() }
        super.close()
    }

    func received(_ message: WebSocketClientMessage) {
        let now = MonotonicClock.now()
        message.data.withUnsafeReadableBytes { bytes in
            typealias P = BoardMessage.Patterns
            let event = BoardMessage.event(bytes)
            if BoardMessage.isEvent(bytes, event, P.phxReply) {
                guard let refRange = BoardMessage.string(P.ref, in: bytes), let ref = Int(BoardMessage.text(bytes, refRange)),
                    let entry = pending.removeValue(forKey: ref)
                else { return }
                let ok = BoardMessage.string(P.status, in: bytes).map { BoardMessage.equal(bytes, $0, P.ok) } ?? false
                if ok {
                    switch entry.kind {
                    case .turn: recorder.record(.acked, latency: now &- entry.sent, loop: loop)
                    case .measuredCommand: recorder.record(.roundEnd, latency: now &- entry.sent, in: .secondary, loop: loop)
                    default: break
                    }
                    entry.promise?.succeed()
                } else {
                    count(.errorReply)
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, 300)]), as: UTF8.self)
                    recorder.error("error reply: \(text)")
                    entry.promise?.fail(BenchError(description: text))
                }
            } else if let inner = BoardMessage.find(Self.turnEvent, in: bytes, from: 0) {
                count(.delivery)
                if let seqStart = BoardMessage.find(Self.seqKey, in: bytes, from: inner), let seq = BoardMessage.integer(bytes, at: seqStart) {
                    if seq <= lastSeq { count(.orderViolation) } else { lastSeq = seq }
                }
            }
        }
    }

    private static let turnEvent = Array(#""event":"turn""#.utf8)
    private static let seqKey = Array(#""seq":"#.utf8)
}
