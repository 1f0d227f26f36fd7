import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import PraxisDomain
import Synchronization
import Testing

@testable import PraxisAssessment

@Suite("ChatAssessor")
struct ChatAssessorTests {
    static let turns = [
        TranscriptTurn(seq: 1, role: .candidate, speakerID: "c", text: "Hello, my name is Dr Lee. Can you tell me what happened?"),
        TranscriptTurn(seq: 2, role: .interlocutor, speakerID: "p", text: "I fell off my bike."),
        TranscriptTurn(seq: 3, role: .candidate, speakerID: "c", text: "I understand. How long ago was that?"),
    ]
    static let input = AssessmentInput(
        turns: turns, caseName: "Wrist injury", candidateBrief: "Secret brief text", profession: "medicine")

    /// A valid model answer, with scores the heuristic would not give.
    static var modelAnswer: Assessment {
        Assessment(
            assessor: "ignored",
            criteria: Rubric.criteria.map { criterion in
                CriterionResult(
                    name: criterion.name, kind: criterion.kind, max: criterion.max,
                    score: criterion.kind == .clinical ? 1 : 4,
                    evidence: criterion.kind == .clinical ? ["Hello, my name is Dr Lee."] : [],
                    note: "model note for \(criterion.name)")
            },
            summary: "The model's summary.",
            strengths: ["Clear introduction."],
            areasForImprovement: ["Explore the patient's concerns."])
    }

    static func completion(content: String) -> String {
        JSONValue.object([
            "id": .string("chatcmpl-1"),
            "object": .string("chat.completion"),
            "choices": .array([
                .object([
                    "index": .number(0),
                    "message": .object(["role": .string("assistant"), "content": .string(content)]),
                    "finish_reason": .string("stop"),
                ])
            ]),
        ]).jsonString
    }

    static func assessor(port: Int, key: String? = "sk-test", timeout: Double = 5) -> ChatAssessor {
        ChatAssessor(configuration: ChatAssessorConfiguration(
            url: "http://127.0.0.1:\(port)/v1/chat/completions", model: "test-model", apiKey: key, timeout: timeout))
    }

    static var heuristic: Assessment { HeuristicAssessor.assess(turns, caseName: "Wrist injury") }

    @Test func aValidAnswerIsUsed() async throws {
        let server = try await FakeModelServer.start(.respond(status: 200, body: Self.completion(content: Self.modelAnswer.json.jsonString)))
        defer { server.stop() }
        let assessment = await Self.assessor(port: server.port).assess(Self.input)
        var expected = Self.modelAnswer
        expected.assessor = "chat:test-model"
        #expect(assessment == expected)
        #expect(assessment.fallbackReason == nil)
        #expect(assessment.scoreRaw == 5)
        #expect(assessment[criterion: "Fluency"]?.score == 4)
    }

    @Test func theRequestCarriesModelMessagesAndBearerKey() async throws {
        let server = try await FakeModelServer.start(.respond(status: 200, body: Self.completion(content: Self.modelAnswer.json.jsonString)))
        defer { server.stop() }
        _ = await Self.assessor(port: server.port).assess(Self.input)
        let request = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        #expect(request.method == .POST)
        #expect(request.uri == "/v1/chat/completions")
        #expect(request.headers["authorization"] == ["Bearer sk-test"])
        #expect(request.headers["content-type"].first?.hasPrefix("application/json") == true)

        let body = try JSONDecoder().decode(JSONValue.self, from: Data(request.body.utf8))
        guard case .object(let object) = body else { Issue.record("body is not an object"); return }
        #expect(object["model"] == .string("test-model"))
        #expect(object["temperature"] == .number(0))
        #expect(object["response_format"] == .object(["type": .string("json_object")]))
        guard case .array(let messages)? = object["messages"], messages.count == 2,
            case .object(let system) = messages[0], case .object(let user) = messages[1],
            case .string(let systemText)? = system["content"], case .string(let userText)? = user["content"]
        else { Issue.record("messages are not [system, user]"); return }
        #expect(system["role"] == .string("system"))
        #expect(user["role"] == .string("user"))
        for criterion in Rubric.criteria { #expect(systemText.contains(criterion.name)) }
        #expect(systemText.contains("ONLY one JSON object"))
        #expect(userText.contains("Case: Wrist injury"))
        #expect(userText.contains("[CANDIDATE] Hello, my name is Dr Lee. Can you tell me what happened?"))
        #expect(userText.contains("[INTERLOCUTOR] I fell off my bike."))
    }

    @Test func noKeyNoAuthorizationHeader() async throws {
        let server = try await FakeModelServer.start(.respond(status: 200, body: Self.completion(content: Self.modelAnswer.json.jsonString)))
        defer { server.stop() }
        let assessment = await Self.assessor(port: server.port, key: nil).assess(Self.input)
        #expect(assessment.assessor == "chat:test-model")
        #expect(server.requests.first?.headers["authorization"] == [])
    }

    @Test func aFencedAnswerIsAccepted() async throws {
        let fenced = "```json\n" + Self.modelAnswer.json.jsonString + "\n```"
        let server = try await FakeModelServer.start(.respond(status: 200, body: Self.completion(content: fenced)))
        defer { server.stop() }
        let assessment = await Self.assessor(port: server.port).assess(Self.input)
        #expect(assessment.assessor == "chat:test-model")
        #expect(assessment.fallbackReason == nil)
    }

    @Test func status500FallsBack() async throws {
        let server = try await FakeModelServer.start(.respond(status: 500, body: #"{"error":"boom"}"#))
        defer { server.stop() }
        let assessment = await Self.assessor(port: server.port).assess(Self.input)
        expectFallback(assessment, reason: "the model endpoint answered 500")
    }

    @Test func invalidJSONContentFallsBack() async throws {
        let server = try await FakeModelServer.start(.respond(status: 200, body: Self.completion(content: "Here is my assessment: {criteria: [],}")))
        defer { server.stop() }
        let assessment = await Self.assessor(port: server.port).assess(Self.input)
        expectFallback(assessment, reason: "the model's answer is not JSON")
    }

    @Test func aReplyThatIsNotJSONFallsBack() async throws {
        let server = try await FakeModelServer.start(.respond(status: 200, body: "<html>gateway</html>"))
        defer { server.stop() }
        let assessment = await Self.assessor(port: server.port).assess(Self.input)
        expectFallback(assessment, reason: "the model endpoint's reply is not JSON")
    }

    @Test func aReplyWithoutChoicesFallsBack() async throws {
        let server = try await FakeModelServer.start(.respond(status: 200, body: #"{"choices":[]}"#))
        defer { server.stop() }
        let assessment = await Self.assessor(port: server.port).assess(Self.input)
        expectFallback(assessment, reason: "the model endpoint's reply has no choices[0].message.content string")
    }

    @Test func anAnswerMissingACriterionFallsBack() async throws {
        var answer = Self.modelAnswer
        answer.criteria.removeAll { $0.name == "Fluency" }
        let server = try await FakeModelServer.start(.respond(status: 200, body: Self.completion(content: answer.json.jsonString)))
        defer { server.stop() }
        let assessment = await Self.assessor(port: server.port).assess(Self.input)
        expectFallback(assessment, reason: "the model's answer is not valid: criteria lacks Fluency")
    }

    @Test(.timeLimit(.minutes(1))) func aSlowEndpointFallsBackAfterTheTimeout() async throws {
        let server = try await FakeModelServer.start(.never)
        defer { server.stop() }
        let started = ContinuousClock.now
        let assessment = await Self.assessor(port: server.port, timeout: 1).assess(Self.input)
        expectFallback(assessment, reason: "the model endpoint did not answer within 1 s")
        #expect(ContinuousClock.now - started >= .milliseconds(900))
    }

    @Test func connectionRefusedFallsBack() async throws {
        let server = try await FakeModelServer.start(.never)
        let port = server.port
        server.stop()
        let assessment = await Self.assessor(port: port).assess(Self.input)
        #expect(assessment.assessor == "heuristic-v1")
        let reason = try #require(assessment.fallbackReason)
        #expect(reason.hasPrefix("the model endpoint could not be reached ("))
    }

    @Test func aBadURLFallsBack() async {
        let assessor = ChatAssessor(configuration: ChatAssessorConfiguration(url: "not a url", model: "m"))
        let assessment = await assessor.assess(Self.input)
        expectFallback(assessment, reason: "the assessor URL is not an http(s) URL")
    }

    @Test func heuristicRoundAssessorWrapsThePureOne() async {
        #expect(await HeuristicRoundAssessor().assess(Self.input) == Self.heuristic)
    }

    @Test func defaults() {
        let configuration = ChatAssessorConfiguration(url: "http://x/v1/chat/completions", model: "m")
        #expect(configuration.timeout == 20)
        #expect(configuration.apiKey == nil)
    }

    func expectFallback(_ assessment: Assessment, reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var expected = Self.heuristic
        expected.fallbackReason = reason
        #expect(assessment == expected, sourceLocation: sourceLocation)
        #expect(assessment.json.jsonString.contains("\"fallback_reason\""), sourceLocation: sourceLocation)
    }
}

/// A one-route HTTP server on 127.0.0.1 (port 0) that records requests and answers each with
/// a fixed reply, or never answers.
final class FakeModelServer: Sendable {
    enum Reply: Sendable {
        case respond(status: Int, body: String)
        case never
    }

    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: String
    }

    let reply: Reply
    let channel: any Channel
    private let received = Mutex<[Request]>([])

    var port: Int { channel.localAddress?.port ?? 0 }
    var requests: [Request] { received.withLock { $0 } }

    private init(reply: Reply, channel: any Channel) {
        self.reply = reply
        self.channel = channel
    }

    static func start(_ reply: Reply) async throws -> FakeModelServer {
        let box = Mutex<FakeModelServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(server: box.withLock { $0 }!))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = FakeModelServer(reply: reply, channel: channel)
        box.withLock { $0 = server }
        return server
    }

    func record(_ request: Request) {
        received.withLock { $0.append(request) }
    }

    func stop() {
        try? channel.close().wait()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let server: FakeModelServer
        var request: Request?

        init(server: FakeModelServer) {
            self.server = server
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                request = Request(method: head.method, uri: head.uri, headers: head.headers, body: "")
            case .body(let buffer):
                request?.body += String(buffer: buffer)
            case .end:
                guard let request else { return }
                server.record(request)
                self.request = nil
                guard case .respond(let status, let body) = server.reply else { return }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
