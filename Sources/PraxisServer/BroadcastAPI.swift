import Foundation
import NIOHTTP1
import PraxisDomain
import PraxisHTTP
import PraxisProtocol
import PraxisRealtime

/// Supabase Realtime's REST broadcast API, as realtime-py's `channel.http_send` and the batch
/// clients call it (protocol/realtime.md §8.1):
///
/// - `POST /realtime/v1/api/broadcast/<topic>/events/<event>[?private=true]` with a JSON body (the
///   payload) or `application/octet-stream` (a binary payload);
/// - `POST /realtime/v1/api/broadcast` with `{"messages": [{topic, event, payload, private?}]}`.
///
/// Authenticated like the data API (`apikey`, and `Authorization: Bearer` for the sender); 202
/// with an empty body when delivered, else a JSON error (401, 403, 413, 415, 422, 429).
struct BroadcastAPI: Sendable {
    static let path = "/realtime/v1/api/broadcast"

    let realtime: RealtimeApplication
    let authenticator: RequestAuthenticator

    func register(in router: inout Router) {
        router.add([.POST], Self.path) { request in await self.respond(to: request, single: false) }
        router.add([.POST], Self.path + "/") { request in await self.respond(to: request, single: true) }
    }

    private func respond(to request: HTTPRequest, single: Bool) async -> HTTPResponse {
        let identity: RequestAuthenticator.Identity
        do {
            identity = try await authenticator.authenticate(request)
        } catch {
            return APIError(.unauthorized, code: error.code, message: error.message, hint: error.hint).response
        }
        do throws(APIBroadcastRefusal) {
            let messages = try single ? Self.singleMessage(request) : Self.batchMessages(request)
            try await realtime.broadcast(messages, by: identity.caller)
            return HTTPResponse(status: .accepted)
        } catch {
            var response = APIError(
                HTTPResponseStatus(statusCode: error.status), code: "RT\(error.status)", message: error.message, details: error.details
            ).response
            if error.status == 429 { response.headers.add(name: "Retry-After", value: "1") }
            return response
        }
    }

    /// The single form: topic and event from the path (each percent-decoded on its own, so a
    /// topic may hold `/` as `%2F`), the payload from the body.
    static func singleMessage(_ request: HTTPRequest) throws(APIBroadcastRefusal) -> [APIBroadcast] {
        let rawPath = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard rawPath.hasPrefix(path + "/") else { throw invalid("the path is /realtime/v1/api/broadcast/<topic>/events/<event>") }
        let segments = rawPath.dropFirst(path.count + 1).split(separator: "/", omittingEmptySubsequences: false).map {
            QueryString.percentDecode(String($0), plusAsSpace: false)
        }
        guard segments.count == 3, segments[1] == "events", !segments[0].isEmpty, !segments[2].isEmpty else {
            throw invalid("the path is /realtime/v1/api/broadcast/<topic>/events/<event> (topic and event percent-encoded, not empty)")
        }
        let isPrivate = request.query("private")?.lowercased() == "true"
        let contentType = request.headers.first(name: "content-type")?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased() ?? "application/json"
        let body = request.bodyBytes
        let payload: BroadcastPayload
        switch contentType {
        case "application/octet-stream":
            payload = .binary(body)
        case "application/json":
            guard !body.isEmpty else { throw invalid("payload can't be blank") }
            guard let value = json(body) else { throw invalid("the body is not JSON") }
            // As Supabase's JSON parser does: a body that is not an object arrives as {"_json": value}
            // (clients parse a broadcast's payload as an object).
            let object: JSONValue = if case .object = value { value } else { .object(["_json": value]) }
            payload = .json(Array(object.jsonString.utf8))
        default:
            throw APIBroadcastRefusal(
                status: 415, message: "Unsupported media type",
                details: "send application/json or application/octet-stream, not \(contentType)"
            )
        }
        return [APIBroadcast(topic: segments[0], event: segments[2], payload: payload, isPrivate: isPrivate)]
    }

    /// The batch form: every message must have a string topic and event and an object payload
    /// (Supabase's `messages` schema); `private` is a boolean, false when left out.
    static func batchMessages(_ request: HTTPRequest) throws(APIBroadcastRefusal) -> [APIBroadcast] {
        guard case .object(let body)? = json(request.bodyBytes) else { throw invalid("the body is a JSON object {\"messages\": […]}") }
        guard case .array(let entries)? = body["messages"], !entries.isEmpty else { throw invalid("messages can't be blank") }
        var messages: [APIBroadcast] = []
        for (index, entry) in entries.enumerated() {
            guard case .object(let message) = entry else { throw invalid("messages[\(index)] is invalid: each message is an object") }
            guard case .string(let topic)? = message["topic"], !topic.isEmpty else { throw invalid("messages[\(index)].topic can't be blank") }
            guard case .string(let event)? = message["event"], !event.isEmpty else { throw invalid("messages[\(index)].event can't be blank") }
            guard let payload = message["payload"], payload != .null else { throw invalid("messages[\(index)].payload can't be blank") }
            guard case .object = payload else { throw invalid("messages[\(index)].payload is invalid: it is a JSON object") }
            var isPrivate = false
            switch message["private"] {
            case nil, .null?: break
            case .bool(let flag)?: isPrivate = flag
            default: throw invalid("messages[\(index)].private is invalid: it is a boolean")
            }
            messages.append(APIBroadcast(topic: topic, event: event, payload: .json(Array(payload.jsonString.utf8)), isPrivate: isPrivate))
        }
        return messages
    }

    private static func json(_ bytes: [UInt8]) -> JSONValue? {
        guard StrictJSON.isValid(bytes) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    private static func invalid(_ details: String) -> APIBroadcastRefusal {
        APIBroadcastRefusal(status: 422, message: "Unprocessable entity", details: details)
    }
}
