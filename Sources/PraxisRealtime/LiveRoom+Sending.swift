import Foundation
import NIOCore
import PraxisDomain
import PraxisProtocol
import PraxisRooms
import PraxisStore
import PraxisWebSocket

/// Snapshots, briefs, and what is sent to members.
extension LiveRoom {
    // MARK: Snapshot and briefs

    /// The join reply for `userID`: state as of the last durable event, its brief only.
    func snapshot(for userID: String, transcript: [JSONValue]) -> [String: JSONValue] {
        let state = published
        let caseID = state.round.flatMap { state.caseIDs[$0 - 1] }
        let room: [String: JSONValue] = [
            "id": .string(id), "host_id": .string(state.hostID), "guest_id": state.guestID.map(JSONValue.string) ?? .null,
            "type": .string(type), "stage": .number(Double(state.stage)), "round": Self.number(state.round),
            "phase": .string(state.phase.name), "deadline": RoomEvent.time(state.phase.deadline), "server_time": .string(Timestamp.now()),
            "timing": .object([
                "preparation_seconds": .number(state.timing.preparationSeconds), "roleplay_seconds": .number(state.timing.roleplaySeconds),
            ]),
            "case": caseID.flatMap { engine.cases[$0] }.map(\.json) ?? (caseID.map { .object(["id": .string($0)]) } ?? .null),
            "ready": .array(state.ready.sorted().map(JSONValue.string)),
            "present": .array(Set(members.values.map(\.userID)).sorted().map(JSONValue.string)),
            "away": .array(engine.presence.awayList.map(\.json)),
            "round_ids": .object(["1": roundIDs[0].map(JSONValue.string) ?? .null, "2": roundIDs[1].map(JSONValue.string) ?? .null]),
        ]
        return [
            "postgres_changes": .array([]),
            "room": .object(room),
            "you": .string(userID),
            "role": state.role(of: userID).map { .string($0.rawValue) } ?? .null,
            "brief": engine.brief(for: userID, in: state)?.json ?? .null,
            "transcript": .array(transcript),
            "offset": .number(Double(log.publishedOffset)),
        ]
    }

    /// Once a round's start is durable: each brief goes to its own user's channels only.
    func sendBriefs(_ briefs: [RoomBrief]) {
        for brief in briefs {
            let payload = BroadcastPayload.envelope(event: "brief", payloadJSON: Array(brief.json.jsonString.utf8))
            for member in members.values where member.userID == brief.userID {
                let bytes = PhoenixMessage.encode(member.version, joinRef: nil, ref: nil, topic: member.topic, event: "broadcast", payloadJSON: payload)
                FanOut.broadcast(text: ByteBuffer(bytes: bytes), to: [member.connection])
            }
        }
    }

    // MARK: Sending

    /// Closes a member's channel as Supabase Realtime does when access ends: a `system`
    /// message with status error and the reason, then `phx_close`.
    /// The channel name of a topic (`realtime:room:<id>` → `room:<id>`).
    static func channel(of topic: String) -> String {
        topic.hasPrefix("realtime:") ? String(topic.dropFirst("realtime:".count)) : topic
    }

    static func close(_ member: Member, reason: String) {
        let channel = channel(of: member.topic)
        let system = PhoenixMessage(topic: member.topic, event: "system", payload: .object([
            "status": .string("error"), "extension": .string("system"), "channel": .string(channel), "message": .string(reason),
        ])).encode(member.version)
        let close = PhoenixMessage(joinRef: member.joinRef, topic: member.topic, event: "phx_close", payload: .object([:])).encode(member.version)
        FanOut.broadcast(text: ByteBuffer(bytes: system), to: [member.connection])
        FanOut.broadcast(text: ByteBuffer(bytes: close), to: [member.connection])
    }

    func send(reply: ReplyTarget, status: String, response: JSONValue) {
        let bytes = PhoenixMessage(
            joinRef: reply.joinRef, ref: reply.ref, topic: reply.topic, event: "phx_reply",
            payload: .object(["status": .string(status), "response": response])
        ).encode(reply.version)
        FanOut.broadcast(text: ByteBuffer(bytes: bytes), to: [reply.connection])
    }

    /// Each event encoded once per topic spelling and protocol version.
    static func sendEvents(_ events: [RoomLog.Entry], to members: [Member]) {
        guard !members.isEmpty else { return }
        struct Key: Hashable {
            var topic: String
            var version: PhoenixMessage.Version
        }
        var groups: [Key: [WebSocketConnection]] = [:]
        for member in members { groups[Key(topic: member.topic, version: member.version), default: []].append(member.connection) }
        for event in events {
            let payload = BroadcastPayload.envelope(event: event.name, payloadJSON: Array(event.payloadJSON.utf8))
            for (key, connections) in groups {
                let bytes = PhoenixMessage.encode(key.version, joinRef: nil, ref: nil, topic: key.topic, event: "broadcast", payloadJSON: payload)
                FanOut.broadcast(text: ByteBuffer(bytes: bytes), to: connections)
            }
        }
    }

    // MARK: Helpers

    static func now() -> Double { Timestamp.nowSeconds() }

    static func reason(_ text: String) -> JSONValue { .object(["reason": .string(text)]) }

    static func number(_ value: Int?) -> JSONValue { value.map { .number(Double($0)) } ?? .null }

    static func parse(_ json: String) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))) ?? .null
    }
}
