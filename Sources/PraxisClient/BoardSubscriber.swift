import NIOCore

/// One realtime connection of the board benchmark. Everything but `init` runs on the
/// connection's event loop (its recorder loop's).
final class BoardSubscriber: BenchPeer, @unchecked Sendable {
    private let book: BoardRoomBook
    private let topic: [UInt8]
    private var joinPromise: EventLoopPromise<Void>?
    private var joinReplied = false
    private var lastOffset: Int64 = -1

    init(recorder: BenchRecorder, loop: Int, book: BoardRoomBook, topic: String) {
        self.book = book
        self.topic = Array(topic.utf8)
        super.init(recorder: recorder, loop: loop, firstRef: 2)
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
            self.joinPromise = promise
            connection.send(text: text)
            let deadline = loop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
                self.failJoin("no join reply and subscribed message within \(Int(timeout)) s")
            }
            promise.futureResult.whenComplete { _ in deadline.cancel() }
            let interval = Int64(heartbeatInterval * 1000)
            self.attach(connection, heartbeat: .milliseconds(interval), after: .milliseconds(Int64.random(in: 0...interval)))
            connection.closeFuture.whenComplete { _ in
                self.detach()
                self.failJoin("the connection closed during the join")
            }
            return promise.futureResult
        }
    }

    private func failJoin(_ reason: String) {
        guard let promise = joinPromise else { return }
        joinPromise = nil
        promise.fail(BenchError(description: reason))
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
            count(.malformed)
            recorder.error("malformed postgres_changes message: \(Self.excerpt(bytes))")
            return
        }
        if change.offset <= lastOffset {
            count(.orderViolation)
            recorder.error("offset \(change.offset) arrived after offset \(lastOffset) on one connection")
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
            count(.foreign)
            return
        }
        guard let sent = found.sent else {
            count(.malformed)
            recorder.error("a change of this run's room without a send time: \(Self.excerpt(bytes))")
            return
        }
        recorder.record(.delivery, latency: now &- sent, loop: loop)
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
            count(.malformed)
            recorder.error("a message without an event: \(Self.excerpt(bytes))")
        }
        // presence_state and presence_diff: nothing to do.
    }

    private func channelError(_ text: String) {
        count(.channelError)
        recorder.error(text)
    }
}
