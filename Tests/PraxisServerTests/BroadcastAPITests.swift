import NIOCore
import NIOHTTP1
import PraxisHTTP
import PraxisRealtime
import Testing

@testable import PraxisServer

/// The REST broadcast API's request parsing, without I/O: what realtime-py's `http_send` and
/// the batch clients send, and the 4xx answers to everything else.
@Suite("BroadcastAPI parsing")
struct BroadcastAPITests {
    private static func request(_ uri: String, contentType: String? = "application/json", body: String) -> HTTPRequest {
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        return HTTPRequest(method: .POST, uri: uri, headers: headers, body: ByteBuffer(string: body))
    }

    private static func refusal(_ body: () throws(APIBroadcastRefusal) -> [APIBroadcast]) -> APIBroadcastRefusal? {
        do throws(APIBroadcastRefusal) {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func theSingleFormTakesTopicAndEventFromThePath() throws {
        let request = Self.request("/realtime/v1/api/broadcast/user%3Aab%2Fc/events/new%20note?private=true", body: #"{"n": 1}"#)
        let messages = try BroadcastAPI.singleMessage(request)
        #expect(messages == [APIBroadcast(topic: "user:ab/c", event: "new note", payload: .json(Array(#"{"n":1}"#.utf8)), isPrivate: true)])
    }

    @Test func aBinaryBodyIsABinaryPayloadAndANonObjectIsWrapped() throws {
        let binary = try BroadcastAPI.singleMessage(Self.request("/realtime/v1/api/broadcast/t/events/e", contentType: "application/octet-stream", body: "\u{1}\u{2}"))
        #expect(binary.first?.payload == .binary([1, 2]) && binary.first?.isPrivate == false)
        let wrapped = try BroadcastAPI.singleMessage(Self.request("/realtime/v1/api/broadcast/t/events/e", body: "[1]"))
        #expect(wrapped.first?.payload == .json(Array(#"{"_json":[1]}"#.utf8)))
        let plain = try BroadcastAPI.singleMessage(Self.request("/realtime/v1/api/broadcast/t/events/e", contentType: nil, body: "{}"))
        #expect(plain.first?.payload == .json(Array("{}".utf8)))
    }

    @Test(arguments: [
        ("/realtime/v1/api/broadcast/t/e", "application/json", "{}", 422),
        ("/realtime/v1/api/broadcast/t/events/", "application/json", "{}", 422),
        ("/realtime/v1/api/broadcast//events/e", "application/json", "{}", 422),
        ("/realtime/v1/api/broadcast/a/b/events/e", "application/json", "{}", 422),
        ("/realtime/v1/api/broadcas%74/t/events/e", "application/json", "{}", 422),
        ("/realtime/v1/api/broadcast/t/events/e", "application/json", "", 422),
        ("/realtime/v1/api/broadcast/t/events/e", "application/json", "{nope", 422),
        ("/realtime/v1/api/broadcast/t/events/e", "text/plain", "x", 415),
    ])
    func badSingleRequestsAreRefused(uri: String, contentType: String, body: String, status: Int) {
        #expect(Self.refusal { () throws(APIBroadcastRefusal) in try BroadcastAPI.singleMessage(Self.request(uri, contentType: contentType, body: body)) }?.status == status)
    }

    @Test func theBatchFormReadsEveryMessage() throws {
        let body = #"{"messages":[{"topic":"a","event":"x","payload":{"k":1}},{"topic":"user:u","event":"y","payload":{},"private":true}]}"#
        let messages = try BroadcastAPI.batchMessages(Self.request("/realtime/v1/api/broadcast", body: body))
        #expect(messages == [
            APIBroadcast(topic: "a", event: "x", payload: .json(Array(#"{"k":1}"#.utf8)), isPrivate: false),
            APIBroadcast(topic: "user:u", event: "y", payload: .json(Array("{}".utf8)), isPrivate: true),
        ])
    }

    @Test(arguments: [
        ("[]", "the body is a JSON object {\"messages\": […]}"),
        (#"{"messages":[]}"#, "messages can't be blank"),
        (#"{"messages":[1]}"#, "messages[0] is invalid: each message is an object"),
        (#"{"messages":[{"event":"e","payload":{}}]}"#, "messages[0].topic can't be blank"),
        (#"{"messages":[{"topic":"t","payload":{}}]}"#, "messages[0].event can't be blank"),
        (#"{"messages":[{"topic":"t","event":"e"}]}"#, "messages[0].payload can't be blank"),
        (#"{"messages":[{"topic":"t","event":"e","payload":"s"}]}"#, "messages[0].payload is invalid: it is a JSON object"),
        (#"{"messages":[{"topic":"t","event":"e","payload":{},"private":"yes"}]}"#, "messages[0].private is invalid: it is a boolean"),
    ])
    func badBatchesAreRefusedWithTheReason(body: String, details: String) {
        let refusal = Self.refusal { () throws(APIBroadcastRefusal) in try BroadcastAPI.batchMessages(Self.request("/realtime/v1/api/broadcast", body: body)) }
        #expect(refusal == APIBroadcastRefusal(status: 422, message: "Unprocessable entity", details: details))
    }
}
