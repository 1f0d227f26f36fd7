import PraxisProtocol

/// What a broadcast carries: JSON (already encoded, so one encoding serves every recipient) or
/// opaque bytes (REST `application/octet-stream`, or a vsn 2.0.0 binary push).
package enum BroadcastPayload: Sendable, Equatable {
    case json([UInt8])
    case binary([UInt8])

    /// Its size as the payload limit counts it: the JSON text's bytes, or the binary bytes.
    package var byteCount: Int {
        switch self {
        case .json(let bytes), .binary(let bytes): bytes.count
        }
    }

    /// The payload of a `broadcast` message, `{"event": …, "payload": …, "type": "broadcast"}`, as
    /// socket broadcasts carry it.
    static func envelope(event: String, payloadJSON: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payloadJSON.count + event.utf8.count + 40)
        out.append(contentsOf: #"{"event":"#.utf8)
        JSONText.appendString(event, to: &out)
        out.append(contentsOf: #","payload":"#.utf8)
        out.append(contentsOf: payloadJSON)
        out.append(contentsOf: #","type":"broadcast"}"#.utf8)
        return out
    }
}
