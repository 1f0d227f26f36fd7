/// The binary frames of Supabase Realtime's vsn 2.0.0 serializer for user broadcasts.
///
/// Client to server, kind 3 `user_broadcast_push` (a 7-byte header, then the fields):
///
///     3 | join_ref size | ref size | topic size | event size | metadata size | encoding
///       | join_ref | ref | topic | event | metadata (JSON, may be empty) | payload (the rest)
///
/// Server to client, kind 4 `user_broadcast` (a 5-byte header):
///
///     4 | topic size | event size | metadata size | encoding | topic | event | metadata | payload
///
/// Sizes are one byte each, so every field but the payload is at most 255 bytes; `encoding` is
/// 0 for a binary payload and 1 for a JSON one. Pure byte logic: no I/O.
public enum BinaryBroadcast {
    public static let userBroadcastPush: UInt8 = 3
    public static let userBroadcast: UInt8 = 4
    /// The most bytes of topic, event, join_ref, ref or metadata a frame can carry.
    public static let maxFieldBytes = 255

    /// A decoded `user_broadcast_push`.
    public struct Push: Sendable, Equatable {
        public var joinRef: String?
        public var ref: String?
        public var topic: String
        public var event: String
        /// The metadata's JSON text, empty when none was sent.
        public var metadata: [UInt8]
        /// Whether `payload` is JSON text (encoding 1) rather than opaque bytes (encoding 0).
        public var isJSON: Bool
        public var payload: [UInt8]
    }

    /// Why a binary frame is not a `user_broadcast_push`.
    public struct DecodingError: Error, Sendable, Equatable {
        public let reason: String
    }

    /// Parses a binary frame from a vsn 2.0.0 client.
    public static func decodePush(_ frame: [UInt8]) throws(DecodingError) -> Push {
        guard let kind = frame.first else { throw DecodingError(reason: "empty binary frame") }
        guard kind == userBroadcastPush else {
            throw DecodingError(reason: "binary frames of kind \(kind) are not supported (only 3, user_broadcast_push)")
        }
        let headerSize = 7
        guard frame.count >= headerSize else {
            throw DecodingError(reason: "user_broadcast_push header is 7 bytes, the frame has \(frame.count)")
        }
        let sizes = (1...5).map { Int(frame[$0]) }
        let encoding = frame[6]
        guard encoding <= 1 else { throw DecodingError(reason: "payload encoding must be 0 (binary) or 1 (JSON), not \(encoding)") }
        let needed = headerSize + sizes.reduce(0, +)
        guard needed <= frame.count else {
            throw DecodingError(reason: "user_broadcast_push field sizes (\(sizes.map(String.init).joined(separator: ", "))) run past the frame (\(frame.count) bytes)")
        }
        var cursor = headerSize
        func field(_ size: Int) -> [UInt8] {
            defer { cursor += size }
            return Array(frame[cursor..<cursor + size])
        }
        let joinRef = field(sizes[0])
        let ref = field(sizes[1])
        let topic = field(sizes[2])
        let event = field(sizes[3])
        let metadata = field(sizes[4])
        guard let topicText = String(validating: topic, as: UTF8.self), !topicText.isEmpty else {
            throw DecodingError(reason: "user_broadcast_push needs a UTF-8 topic")
        }
        guard let eventText = String(validating: event, as: UTF8.self) else {
            throw DecodingError(reason: "user_broadcast_push event is not UTF-8")
        }
        guard let joinRefText = String(validating: joinRef, as: UTF8.self), let refText = String(validating: ref, as: UTF8.self) else {
            throw DecodingError(reason: "user_broadcast_push refs are not UTF-8")
        }
        let payload = Array(frame[cursor...])
        if encoding == 1, !StrictJSON.isValid(payload) {
            throw DecodingError(reason: "user_broadcast_push says its payload is JSON but it is not")
        }
        if !metadata.isEmpty, !StrictJSON.isValid(metadata) {
            throw DecodingError(reason: "user_broadcast_push metadata is not JSON")
        }
        return Push(
            joinRef: joinRefText.isEmpty ? nil : joinRefText, ref: refText.isEmpty ? nil : refText, topic: topicText, event: eventText,
            metadata: metadata, isJSON: encoding == 1, payload: payload
        )
    }

    /// Encodes a `user_broadcast_push` (what a vsn 2.0.0 client sends); nil when a field is over 255 bytes.
    public static func encodePush(
        joinRef: String?, ref: String?, topic: String, event: String, metadata: [UInt8] = [], payload: [UInt8], json: Bool
    ) -> [UInt8]? {
        let fields = [Array((joinRef ?? "").utf8), Array((ref ?? "").utf8), Array(topic.utf8), Array(event.utf8), metadata]
        guard fields.allSatisfy({ $0.count <= maxFieldBytes }) else { return nil }
        var out: [UInt8] = [userBroadcastPush] + fields.map { UInt8($0.count) } + [json ? 1 : 0]
        for field in fields { out += field }
        return out + payload
    }

    /// Encodes a `user_broadcast` (what the server sends a vsn 2.0.0 client); nil when the topic,
    /// event or metadata is over 255 bytes.
    public static func encodeUserBroadcast(topic: String, event: String, metadata: [UInt8] = [], payload: [UInt8], json: Bool) -> [UInt8]? {
        let fields = [Array(topic.utf8), Array(event.utf8), metadata]
        guard fields.allSatisfy({ $0.count <= maxFieldBytes }) else { return nil }
        var out: [UInt8] = [userBroadcast] + fields.map { UInt8($0.count) } + [json ? 1 : 0]
        out.reserveCapacity(out.count + fields.reduce(0) { $0 + $1.count } + payload.count)
        for field in fields { out += field }
        return out + payload
    }
}
