import NIOCore

/// One realtime connection of the board benchmark. Everything but `init` runs on the
/// connection's event loop (its recorder loop's).
final class BoardSubscriber: BenchPeer, @unchecked Sendable {
    private let book: BoardRoomBook
    /// While joining: completed by the `system` subscribed message after the ok reply.
    private var subscribed: EventLoopPromise<Void>?
    private var joinReplied = false
    private var lastOffset: Int64 = -1

    init(recorder: BenchRecorder, loop: Int, book: BoardRoomBook, topic: String) {
        self.book = book
        super.init(recorder: recorder, loop: loop, topic: topic)
    }

    /// The phx_join payload realtime-py sends for `channel(topic).on_postgres_changes("*", table="practice_rooms")`.
    static func joinPayload(accessToken: String) -> String {
        #"{"config":{"broadcast":{"self":false,"ack":false},"presence":{"key":"","enabled":false},"#
            + #""postgres_changes":[{"event":"*","schema":"public","table":"practice_rooms"}],"private":false},"#
            + #""access_token":"\#(accessToken)"}"#
    }

    /// Sends the join; the future succeeds once the ok reply and the `system` subscribed
    /// message have come, and fails on an error reply, a close or after `timeout`. Also
    /// starts the heartbeats.
    func join(_ connection: WebSocketClientConnection, payload: String, heartbeatInterval: Double, timeout: Double) -> EventLoopFuture<Void> {
        let loop = connection.eventLoop
        return loop.flatSubmit {
            let promise = loop.makePromise(of: Void.self)
            self.subscribed = promise
            let interval = Int64(heartbeatInterval * 1000)
            self.attach(connection, heartbeat: .milliseconds(interval), after: .milliseconds(Int64.random(in: 0...interval)))
            self.send("phx_join", payload, awaited: true).whenComplete { result in
                if case .failure(let error) = result { self.failJoin("join refused: \(error)") } else { self.joinReplied = true }
            }
            let deadline = loop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
                self.failJoin("no join reply and subscribed message within \(Int(timeout)) s")
            }
            promise.futureResult.whenComplete { _ in deadline.cancel() }
            connection.closeFuture.whenComplete { _ in
                self.detach()
                self.failJoin("the connection closed during the join")
            }
            return promise.futureResult
        }
    }

    private func failJoin(_ reason: String) {
        guard let promise = subscribed else { return }
        subscribed = nil
        promise.fail(BenchError(description: reason))
    }

    /// A refused join fails the join; any other error reply is a channel error.
    override func refused(_ excerpt: String, awaited: Bool) {
        if !awaited { channelError("error reply: \(excerpt)") }
    }

    override func message(_ bytes: UnsafeRawBufferPointer, event: Range<Int>?, now: UInt64) {
        typealias P = PhoenixBytes.Patterns
        if PhoenixBytes.isEvent(bytes, event, P.postgresChanges) { return change(bytes, now: now) }
        let ok = PhoenixBytes.string(P.status, in: bytes).map { PhoenixBytes.equal(bytes, $0, P.ok) } ?? false
        if PhoenixBytes.isEvent(bytes, event, P.system) {
            if ok, joinReplied, let promise = subscribed {
                subscribed = nil
                promise.succeed()
            } else if !ok {
                failure("system error: \(Self.excerpt(bytes))")
            }
        } else if PhoenixBytes.isEvent(bytes, event, P.phxError) || PhoenixBytes.isEvent(bytes, event, P.phxClose) {
            failure("channel error: \(Self.excerpt(bytes))")
        } else if event == nil {
            count(.malformed)
            recorder.error("a message without an event: \(Self.excerpt(bytes))")
        }
        // presence_state and presence_diff: nothing to do.
    }

    private func change(_ bytes: UnsafeRawBufferPointer, now: UInt64) {
        guard let change = PhoenixBytes.change(bytes), change.offset >= 0 else {
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

    /// A channel failure: it fails the join while joining, else counts as a channel error.
    private func failure(_ text: String) {
        if subscribed != nil { failJoin(text) } else { channelError(text) }
    }

    private func channelError(_ text: String) {
        count(.channelError)
        recorder.error(text)
    }
}
