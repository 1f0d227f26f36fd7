/// Where and how `ChatAssessor` asks an OpenAI-compatible chat-completions endpoint
/// (`--assessor-url`, `--assessor-model`, `--assessor-key`, `--assessor-timeout`).
public struct ChatAssessorConfiguration: Sendable, Equatable {
    /// The default `timeout`: 20 seconds.
    public static let defaultTimeout: Double = 20

    /// The full chat-completions URL, e.g. `http://127.0.0.1:11434/v1/chat/completions`.
    public var url: String
    /// The model name sent in the request (`"model"`); the assessor is then `chat:<model>`.
    public var model: String
    /// Sent as `Authorization: Bearer <apiKey>` when set; no header when nil.
    public var apiKey: String?
    /// Seconds the whole exchange may take (connect, send, answer); later answers are
    /// discarded and the heuristic result is used. Default 20.
    public var timeout: Double

    public init(url: String, model: String, apiKey: String? = nil, timeout: Double = Self.defaultTimeout) {
        self.url = url
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
    }
}
