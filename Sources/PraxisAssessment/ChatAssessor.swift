import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
public import Logging
public import PraxisDomain
import PraxisProtocol
import Synchronization

/// Asks an OpenAI-compatible chat-completions endpoint for the assessment JSON first, and falls
/// back to the heuristic (`heuristic-v1`, with `fallbackReason` set) on any failure: the
/// endpoint unreachable, a non-2xx status, no answer within `timeout`, an answer that is not
/// JSON or not valid against the assessment shape (`Assessment(validating:assessor:)`).
///
/// It never throws. Fallbacks are logged at warning level with the reason only, never the
/// transcript or the brief.
public struct ChatAssessor: Assessor {
    public let configuration: ChatAssessorConfiguration
    let logger: Logger

    /// The largest reply body read (1 MiB); larger replies are a fallback.
    static let maxReplyBytes = 1 << 20

    /// One session for every request of the process, never invalidated: on Linux, invalidating
    /// a session while its timed-out request is still being torn down crashed the process
    /// (swift-corelibs-foundation; seen once in CI, in the timeout test). Each request carries
    /// its own timeout, and `withDeadline` bounds the wait whatever the session does.
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        return URLSession(configuration: configuration)
    }()

    public init(configuration: ChatAssessorConfiguration, logger: Logger = Logger(label: "praxis.assessment")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The assessor name a valid model answer carries: `chat:<model>`.
    public var assessorName: String { "chat:\(configuration.model)" }

    public func assess(_ input: AssessmentInput) async -> Assessment {
        switch await askModel(input) {
        case .success(let assessment):
            return assessment
        case .failure(let failure):
            logger.warning(
                "model assessment discarded, using the heuristic",
                metadata: ["model": "\(configuration.model)", "reason": "\(failure.reason)"])
            var fallback = await HeuristicRoundAssessor.shared.run { HeuristicAssessor.assess(input.turns, caseName: input.caseName) }
            fallback.fallbackReason = failure.reason
            return fallback
        }
    }

    /// Why the model's answer was not used, in one line.
    struct Failure: Error, Sendable {
        let reason: String
    }

    func askModel(_ input: AssessmentInput) async -> Result<Assessment, Failure> {
        guard let url = URL(string: configuration.url), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", url.host != nil
        else {
            return .failure(Failure(reason: "the assessor URL is not an http(s) URL"))
        }
        let timeout = configuration.timeout > 0 ? configuration.timeout : ChatAssessorConfiguration.defaultTimeout
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let key = configuration.apiKey, !key.isEmpty {
            request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        }
        request.httpBody = Data(Self.requestBody(model: configuration.model, input: input).jsonString.utf8)

        let finalRequest = request
        let session = Self.session
        let timeoutReason = "the model endpoint did not answer within \(Self.seconds(timeout))"
        let exchange = await Self.withDeadline(seconds: timeout, onTimeout: .failure(Failure(reason: timeoutReason))) {
            () async -> Result<(Data, Int), Failure> in
            do {
                let (data, response) = try await session.data(for: finalRequest)
                guard let http = response as? HTTPURLResponse else {
                    return .failure(Failure(reason: "the model endpoint's reply is not HTTP"))
                }
                return .success((data, http.statusCode))
            } catch let error as URLError where error.code == .timedOut {
                return .failure(Failure(reason: timeoutReason))
            } catch let error as URLError {
                return .failure(Failure(reason: "the model endpoint could not be reached (\(Self.describe(error)))"))
            } catch {
                return .failure(Failure(reason: "the model endpoint could not be reached (\(type(of: error)))"))
            }
        }
        switch exchange {
        case .failure(let failure):
            return .failure(failure)
        case .success(let (data, status)):
            return parseReply(data, status: status)
        }
    }

    func parseReply(_ data: Data, status: Int) -> Result<Assessment, Failure> {
        guard (200..<300).contains(status) else {
            return .failure(Failure(reason: "the model endpoint answered \(status)"))
        }
        guard data.count <= Self.maxReplyBytes else {
            return .failure(Failure(reason: "the model endpoint's reply is larger than \(Self.maxReplyBytes) bytes"))
        }
        guard let reply = Self.parseJSON([UInt8](data)) else {
            return .failure(Failure(reason: "the model endpoint's reply is not JSON"))
        }
        guard case .object(let object) = reply, case .array(let choices)? = object["choices"],
            case .object(let choice)? = choices.first, case .object(let message)? = choice["message"],
            case .string(let content)? = message["content"]
        else {
            return .failure(Failure(reason: "the model endpoint's reply has no choices[0].message.content string"))
        }
        guard let answer = Self.parseJSON(Array(Self.unfenced(content).utf8)) else {
            return .failure(Failure(reason: "the model's answer is not JSON"))
        }
        do {
            return .success(try Assessment(validating: answer, assessor: assessorName))
        } catch {
            return .failure(Failure(reason: "the model's answer is not valid: \(error.reason)"))
        }
    }

    // MARK: - Request

    /// The system prompt: the rubric and the exact JSON shape wanted.
    static let systemPrompt: String = {
        let clinical = Rubric.criteria.filter { $0.kind == .clinical }.map { "- \($0.name) (clinical, 0–3)" }
        let linguistic = Rubric.criteria.filter { $0.kind == .linguistic }.map { "- \($0.name) (linguistic, 0–6)" }
        return """
            You are an experienced OET Speaking assessor. You assess the CANDIDATE (the health \
            professional) in a transcript of a practice role-play; the INTERLOCUTOR plays the patient \
            and is not assessed. Use the nine OET Speaking criteria:
            \((clinical + linguistic).joined(separator: "\n"))

            Answer with ONLY one JSON object, no prose and no code fences, of exactly this shape:
            {"criteria": [{"name": "<criterion name exactly as above>", "kind": "clinical" or "linguistic", \
            "max": 3 or 6, "score": <integer>, "evidence": ["<verbatim quote from the candidate's turns>"], \
            "note": "<one sentence explaining the score>"}],
             "summary": "<one or two sentences>", "strengths": ["<sentence>"], \
            "areas_for_improvement": ["<concrete advice>"]}

            Rules: "criteria" lists each of the nine criteria exactly once and no others. Clinical \
            scores are integers 0–3. Linguistic scores are integers 0–6, or null when a text transcript \
            cannot show them (intelligibility and fluency need audio). Evidence quotes come only from \
            the candidate's turns. "summary" is not empty.
            """
    }()

    /// The chat-completions request body.
    static func requestBody(model: String, input: AssessmentInput) -> JSONValue {
        var context: [String] = []
        if let caseName = input.caseName { context.append("Case: \(caseName)") }
        if let profession = input.profession { context.append("Candidate's profession: \(profession)") }
        if let brief = input.candidateBrief { context.append("Candidate brief:\n\(brief)") }
        let transcript = input.turns.sorted { $0.seq < $1.seq }.map { turn in
            "[\(turn.role == .candidate ? "CANDIDATE" : "INTERLOCUTOR")] \(turn.text)"
        }
        let user = (context + ["Transcript:\n" + (transcript.isEmpty ? "(no turns)" : transcript.joined(separator: "\n"))])
            .joined(separator: "\n\n")
        return .object([
            "model": .string(model),
            "messages": .array([
                .object(["role": .string("system"), "content": .string(systemPrompt)]),
                .object(["role": .string("user"), "content": .string(user)]),
            ]),
            "temperature": .number(0),
            "response_format": .object(["type": .string("json_object")]),
        ])
    }

    // MARK: - Helpers

    /// Strict JSON (RFC 8259, checked by `StrictJSON`) decoded to a `JSONValue`, or nil.
    static func parseJSON(_ bytes: [UInt8]) -> JSONValue? {
        guard StrictJSON.isValid(bytes) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The content without surrounding whitespace and without a Markdown code fence around it
    /// (some models add one even in JSON mode).
    static func unfenced(_ content: String) -> String {
        var text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("```"), text.hasSuffix("```"), text.count >= 6 else { return text }
        text = String(text.dropFirst(3).dropLast(3))
        if let newline = text.firstIndex(of: "\n") {
            let tag = text[..<newline].trimmingCharacters(in: .whitespaces)
            if tag.isEmpty || tag.allSatisfy({ $0.isLetter }) { text = String(text[text.index(after: newline)...]) }
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func seconds(_ value: Double) -> String {
        value.rounded() == value && value < 1e9 ? "\(Int(value)) s" : "\(value) s"
    }

    static func describe(_ error: URLError) -> String {
        switch error.code {
        case .cannotConnectToHost: "connection refused"
        case .cannotFindHost, .dnsLookupFailed: "host not found"
        case .networkConnectionLost: "connection lost"
        case .notConnectedToInternet: "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            "TLS failed"
        case .badServerResponse: "bad HTTP response"
        case .cancelled: "cancelled"
        default: "URL error \(error.code.rawValue)"
        }
    }

    /// Runs `operation` and returns its result, or `onTimeout` once `seconds` have passed,
    /// whichever comes first, without waiting for the loser: the operation is cancelled and
    /// left to finish on its own (a structured task group would wait for it).
    static func withDeadline<T: Sendable>(
        seconds: Double, onTimeout: T, _ operation: @escaping @Sendable () async -> T
    ) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let race = Race(continuation)
            race.start([
                Task { race.finish(await operation()) },
                Task {
                    try? await Task.sleep(for: .seconds(seconds))
                    if !Task.isCancelled { race.finish(onTimeout) }
                },
            ])
        }
    }
}

/// The first of several tasks to finish resumes the continuation; the others are cancelled.
private final class Race<T: Sendable>: Sendable {
    private let continuation: CheckedContinuation<T, Never>
    private let state = Mutex<(finished: Bool, tasks: [Task<Void, Never>])>((false, []))

    init(_ continuation: CheckedContinuation<T, Never>) {
        self.continuation = continuation
    }

    func start(_ tasks: [Task<Void, Never>]) {
        let finished = state.withLock { state in
            state.tasks = tasks
            return state.finished
        }
        if finished { for task in tasks { task.cancel() } }
    }

    func finish(_ value: T) {
        let tasks: [Task<Void, Never>]? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            return state.tasks
        }
        guard let tasks else { return }
        continuation.resume(returning: value)
        for task in tasks { task.cancel() }
    }
}
