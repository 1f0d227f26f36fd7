import Foundation
import NIOCore
import PraxisAuth
import PraxisDomain
import PraxisProtocol
import PraxisStore
import PraxisWebSocket

/// Broadcast and presence pushes on a joined channel.
extension RealtimeSession {
    // MARK: Broadcast and presence

    func broadcast(_ message: PhoenixMessage) {
        guard let channel = channels[message.topic] else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        guard messageRate.take(), hub.takeServerMessage() else { return closeChannel(message.topic, reason: RealtimeError.tooManyMessages.reason) }
        let payloadJSON = Array(message.payload.jsonString.utf8)
        guard payloadJSON.count <= hub.configuration.maxPayloadBytes else {
            if message.ref != nil { reply(message, status: "error", response: .object(["reason": .string(RealtimeError.payloadTooLarge.reason)])) }
            return
        }
        hub.broadcast(from: channel.memberID, payloadJSON: payloadJSON)
        if channel.broadcastAck, message.ref != nil {
            reply(message, status: "ok", response: .object([:]))
        }
    }

    /// A vsn 2.0.0 `user_broadcast_push`: relayed like a `broadcast` push (same rules, rates and
    /// size limit); a binary payload reaches vsn 2.0.0 members only, a JSON one every member.
    func binaryBroadcast(_ push: BinaryBroadcast.Push) {
        let message = PhoenixMessage(joinRef: push.joinRef, ref: push.ref, topic: push.topic, event: "broadcast", payload: .object([:]))
        guard let channel = channels[push.topic] else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        guard channel.room == nil else {
            return reply(message, status: "error", response: .object(["reason": .string("room topics carry room commands only")]))
        }
        guard messageRate.take(), hub.takeServerMessage() else { return closeChannel(push.topic, reason: RealtimeError.tooManyMessages.reason) }
        guard push.payload.count <= hub.configuration.maxPayloadBytes else {
            if push.ref != nil { reply(message, status: "error", response: .object(["reason": .string(RealtimeError.payloadTooLarge.reason)])) }
            return
        }
        let payload: BroadcastPayload
        if push.isJSON {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(push.payload)) else {
                return reply(message, status: "error", response: .object(["reason": .string("malformed binary message: the JSON payload does not decode")]))
            }
            payload = .json(Array(value.jsonString.utf8))
        } else {
            payload = .binary(push.payload)
        }
        let echo = hub.member(channel.memberID)?.broadcastSelf == true
        hub.publish(topic: push.topic, isPrivate: channel.isPrivate, event: push.event, payload: payload, except: echo ? nil : channel.memberID)
        if channel.broadcastAck, push.ref != nil {
            reply(message, status: "ok", response: .object([:]))
        }
    }

    func presence(_ message: PhoenixMessage) {
        guard let channel = channels[message.topic] else {
            return reply(message, status: "error", response: .object(["reason": .string("unmatched topic")]))
        }
        guard presenceRate.take() else { return closeChannel(message.topic, reason: RealtimeError.tooManyPresence.reason) }
        let payload = message.payload.object ?? [:]
        switch payload["event"]?.string {
        case "track":
            hub.track(channel.memberID, meta: payload["payload"]?.object ?? [:])
            reply(message, status: "ok", response: .object([:]))
        case "untrack":
            hub.untrack(channel.memberID)
            reply(message, status: "ok", response: .object([:]))
        default:
            reply(message, status: "error", response: .object(["reason": .string("presence events are track and untrack")]))
        }
    }
}
