import NIOCore

/// What the realtime connections of the load benchmarks share (a board subscriber, a room
/// peer): the connection on its recorder loop, the Phoenix heartbeats, the refs of what it
/// sends, and the counts it keeps. The subclass reads the messages. Everything but `init`
/// and `close` runs on `eventLoop`.
class BenchPeer: @unchecked Sendable {
    let recorder: BenchRecorder
    /// The recorder loop the connection lives on.
    let loop: Int
    var connection: WebSocketClientConnection?
    private var nextRef: Int
    private var heartbeat: RepeatedTask?

    init(recorder: BenchRecorder, loop: Int, firstRef: Int = 1) {
        self.recorder = recorder
        self.loop = loop
        nextRef = firstRef
    }

    var eventLoop: any EventLoop { recorder.eventLoops[loop] }

    /// Counts `event` on the peer's loop.
    func count(_ event: BenchRecorder.Event) { recorder.count(event, loop: loop) }

    /// The next ref of a message the peer sends.
    func takeRef() -> Int {
        defer { nextRef += 1 }
        return nextRef
    }

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

    /// The first 300 bytes of a message, for error reports.
    static func excerpt(_ bytes: UnsafeRawBufferPointer) -> String {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, 300)]), as: UTF8.self)
        return bytes.count > 300 ? text + "…" : text
    }
}
