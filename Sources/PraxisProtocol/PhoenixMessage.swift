public import PraxisDomain
import Foundation

/// A Phoenix Channels message, as Supabase Realtime clients send and receive them.
///
/// vsn 1.0.0 is a JSON object `{"topic","event","payload","ref","join_ref"}`;
/// vsn 2.0.0 is a JSON array `[join_ref, ref, topic, event, payload]`.
public struct PhoenixMessage: Sendable, Equatable {
    public enum Version: String, Sendable {
        case v1 = "1.0.0"
        case v2 = "2.0.0"
    }

    public var joinRef: String?
    public var ref: String?
    public var topic: String
    public var event: String
    public var payload: JSONValue

    public init(joinRef: String? = nil, ref: String? = nil, topic: String, event: String, payload: JSONValue) {
        self.joinRef = joinRef
        self.ref = ref
        self.topic = topic
        self.event = event
        self.payload = payload
    }

    /// Why a text frame is not a Phoenix message.
    public struct DecodingError: Error, Sendable, Equatable {
        public let reason: String
    }

    /// Parses one text message.
    public static func decode(_ bytes: [UInt8], version: Version) throws(DecodingError) -> PhoenixMessage {
        guard StrictJSON.isValid(bytes), let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else {
            throw DecodingError(reason: "not JSON")
        }
        switch (version, value) {
        case (.v1, .object(let object)):
            guard case .string(let topic) = object["topic"] ?? .null, case .string(let event) = object["event"] ?? .null else {
                throw DecodingError(reason: "a message needs a string topic and event")
            }
            return PhoenixMessage(
                joinRef: string(object["join_ref"]), ref: string(object["ref"]), topic: topic, event: event,
                payload: object["payload"] ?? .object([:])
            )
        case (.v2, .array(let items)):
            guard items.count == 5, case .string(let topic) = items[2], case .string(let event) = items[3] else {
                throw DecodingError(reason: "a vsn 2.0.0 message is [join_ref, ref, topic, event, payload]")
            }
            return PhoenixMessage(joinRef: string(items[0]), ref: string(items[1]), topic: topic, event: event, payload: items[4])
        default:
            throw DecodingError(reason: "vsn \(version.rawValue) messages are JSON \(version == .v1 ? "objects" : "arrays")")
        }
    }

    private static func string(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text): text
        case .number(let number): String(Int64(number))
        default: nil
        }
    }

    /// The message as JSON text in `version`'s form.
    public func encode(_ version: Version) -> [UInt8] {
        Self.encode(version, joinRef: joinRef, ref: ref, topic: topic, event: event, payloadJSON: Array(payload.jsonString.utf8))
    }

    /// Frames an already-encoded payload: the payload bytes are copied as they are, so one
    /// payload encoding serves every recipient.
    public static func encode(
        _ version: Version, joinRef: String?, ref: String?, topic: String, event: String, payloadJSON: [UInt8]
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payloadJSON.count + topic.utf8.count + event.utf8.count + 64)
        func optional(_ text: String?) {
            if let text { JSONText.appendString(text, to: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        switch version {
        case .v1:
            out.append(contentsOf: #"{"topic":"#.utf8)
            JSONText.appendString(topic, to: &out)
            out.append(contentsOf: #","event":"#.utf8)
            JSONText.appendString(event, to: &out)
            out.append(contentsOf: #","payload":"#.utf8)
            out.append(contentsOf: payloadJSON)
            out.append(contentsOf: #","ref":"#.utf8)
            optional(ref)
            out.append(contentsOf: #","join_ref":"#.utf8)
            optional(joinRef)
            out.append(UInt8(ascii: "}"))
        case .v2:
            out.append(UInt8(ascii: "["))
            optional(joinRef)
            out.append(UInt8(ascii: ","))
            optional(ref)
            out.append(UInt8(ascii: ","))
            JSONText.appendString(topic, to: &out)
            out.append(UInt8(ascii: ","))
            JSONText.appendString(event, to: &out)
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: payloadJSON)
            out.append(UInt8(ascii: "]"))
        }
        return out
    }
}
