public import NIOCore

/// Delivers one prepared message to many connections: the message is framed (and
/// compressed) once; the same bytes are written to every connection; there is one hop
/// per event loop, not per connection, and each loop's flusher flushes every connection
/// once per loop pass (``LoopFlusher``), not one task per recipient.
public enum FanOut {
    /// Sends `message` to `connections`. Safe to call from any thread.
    public static func broadcast(_ message: PreparedMessage, to connections: [WebSocketConnection]) {
        var batch = FanOutBatch()
        batch.add(message, to: connections)
        batch.send()
    }

    /// Frames `payload` once (compressing it once only when some recipient negotiated
    /// permessage-deflate) and sends it to `connections`.
    public static func broadcast(text payload: ByteBuffer, binary: Bool = false, to connections: [WebSocketConnection]) {
        guard !connections.isEmpty else { return }
        let compress = connections.contains { $0.compressesByDefault }
        broadcast(PreparedMessage(text: payload, binary: binary, compress: compress), to: connections)
    }

    /// Sends `message` to every connection of `subscribers`: one hop per loop, no regrouping.
    public static func broadcast(_ message: PreparedMessage, to subscribers: SubscriberSet) {
        var batch = FanOutBatch()
        batch.add(message, to: subscribers)
        batch.send()
    }

    /// Frames `payload` once (compressed once when a subscriber negotiated deflate) and sends
    /// it to `subscribers`.
    public static func broadcast(text payload: ByteBuffer, binary: Bool = false, to subscribers: SubscriberSet) {
        guard !subscribers.isEmpty else { return }
        broadcast(PreparedMessage(text: payload, binary: binary, compress: subscribers.compressesAny), to: subscribers)
    }

    /// Writes without flushing: the loop's flusher flushes each connection once at the end
    /// of the pass, so broadcasts already queued on the loop leave in one write.
    static func deliver(_ items: [(PreparedMessage, [WebSocketConnection])]) {
        for (message, connections) in items {
            for connection in connections { connection.send(message) }
        }
    }
}
