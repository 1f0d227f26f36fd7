package import PraxisDomain
import PraxisProtocol

/// One message of the REST broadcast API (`POST /realtime/v1/api/broadcast…`).
package struct APIBroadcast: Sendable, Equatable {
    /// The topic as the API names it: without `realtime:` (realtime-py strips it); the message
    /// goes to the socket channels joined as `realtime:<topic>`.
    package var topic: String
    package var event: String
    package var payload: BroadcastPayload
    /// `?private=true` / `"private": true`: the private channel of the topic, not the public one.
    package var isPrivate: Bool

    package init(topic: String, event: String, payload: BroadcastPayload, isPrivate: Bool) {
        self.topic = topic
        self.event = event
        self.payload = payload
        self.isPrivate = isPrivate
    }
}

/// Why the REST broadcast API refused a request: an HTTP status and the message of its JSON body
/// (Supabase's wording where Supabase has one), with Praxis' reason in `details`.
package struct APIBroadcastRefusal: Error, Sendable, Equatable {
    package var status: Int
    package var message: String
    package var details: String?

    package init(status: Int, message: String, details: String? = nil) {
        self.status = status
        self.message = message
        self.details = details
    }

    static func tooLarge(_ index: Int?, limit: Int) -> APIBroadcastRefusal {
        APIBroadcastRefusal(
            status: 413, message: "Payload size exceeds tenant limit",
            details: "\(index.map { "messages[\($0)]: " } ?? "")the payload is over \(limit) bytes (--realtime-max-payload-bytes)"
        )
    }
}

extension RealtimeApplication {
    /// Checks and delivers REST broadcasts, all or none: every payload within the size limit
    /// (413), every topic's rule admitting the sender for that channel (403, nothing delivered),
    /// the server-wide rate (429); then each message goes out through the channels' fan-out,
    /// encoded once.
    package func broadcast(_ messages: [APIBroadcast], by caller: Caller) async throws(APIBroadcastRefusal) {
        let limit = hub.configuration.maxPayloadBytes
        for (index, message) in messages.enumerated() where message.payload.byteCount > limit {
            throw .tooLarge(messages.count > 1 ? index : nil, limit: limit)
        }
        for (index, message) in messages.enumerated() {
            let topic = Self.socketTopic(message.topic)
            if case .binary = message.payload, topic.utf8.count > BinaryBroadcast.maxFieldBytes || message.event.utf8.count > BinaryBroadcast.maxFieldBytes {
                throw APIBroadcastRefusal(
                    status: 422, message: "Invalid binary broadcast",
                    details: "\(messages.count > 1 ? "messages[\(index)]: " : "")a binary broadcast's topic (with realtime:) and event are at most 255 bytes each"
                )
            }
        }
        var checked: Set<String> = []
        for message in messages where checked.insert((message.isPrivate ? "1" : "0") + message.topic).inserted {
            if let (status, denied) = await denial(topic: message.topic, isPrivate: message.isPrivate, caller: caller) {
                throw APIBroadcastRefusal(status: status, message: status == 403 ? "Unauthorized" : "Invalid topic", details: "\(message.topic): \(denied)")
            }
        }
        let admitted = apiRate.withLock { bucket -> Bool? in
            if bucket.available(now: .now) < 1 { return nil }
            return bucket.take(messages.count)
        }
        switch admitted {
        case nil:
            throw APIBroadcastRefusal(status: 429, message: "You have exceeded your rate limit", details: "at most \(hub.configuration.maxAPIBroadcastsPerSecond) broadcasts per second (--realtime-api-broadcasts-per-second)")
        case false?:
            throw APIBroadcastRefusal(status: 429, message: "Too many messages to broadcast, please reduce the batch size", details: "at most \(hub.configuration.maxAPIBroadcastsPerSecond) broadcasts per second (--realtime-api-broadcasts-per-second)")
        case true?:
            break
        }
        for message in messages {
            hub.publish(topic: Self.socketTopic(message.topic), isPrivate: message.isPrivate, event: message.event, payload: message.payload)
        }
    }

    /// The socket topic a REST topic reaches: `realtime:<topic>`, as Supabase's clients join it.
    static func socketTopic(_ topic: String) -> String { "realtime:" + topic }

    /// The topic rule's refusal for `caller` on a channel, or nil when it admits them (for
    /// `room:<id>`: with its seats as stored now; room channels then carry room commands only).
    private func denial(topic: String, isPrivate: Bool, caller: Caller) async -> (status: Int, reason: String)? {
        var seats: (host: String, guest: String?)?
        if case .room(let id) = AccessPolicy.Topic(topic), RealtimeSession.isUUID(id) {
            if let seat = try? await hub.store.roomSeat(id: id) { seats = (seat.hostID, seat.guestID) }
        }
        do throws(AccessDenied) {
            try AccessPolicy.checkTopic(topic, isPrivate: isPrivate, by: caller, room: seats)
        } catch {
            return (403, error.message)
        }
        if case .room = AccessPolicy.Topic(topic) {
            return (422, "room topics carry room commands only, not broadcasts")
        }
        return nil
    }
}
