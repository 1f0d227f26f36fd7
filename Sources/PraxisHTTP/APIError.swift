public import NIOHTTP1

/// An error answer in PostgREST's JSON shape, `{code, message, details, hint}`, which
/// Supabase clients parse for both the data and the auth API.
public struct APIError: Error, Sendable {
    public var status: HTTPResponseStatus
    public var code: String
    public var message: String
    public var details: String?
    public var hint: String?

    public init(_ status: HTTPResponseStatus, code: String, message: String, details: String? = nil, hint: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
    }

    private struct Body: Encodable {
        var code: String
        var message: String
        var details: String?
        var hint: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(code, forKey: .code)
            try container.encode(message, forKey: .message)
            try container.encode(details, forKey: .details)
            try container.encode(hint, forKey: .hint)
        }

        enum CodingKeys: String, CodingKey { case code, message, details, hint }
    }

    /// The error as an HTTP response.
    public var response: HTTPResponse {
        .json(status, Body(code: code, message: message, details: details, hint: hint))
    }

    public static func notFound(_ path: String) -> APIError {
        APIError(.notFound, code: "PGRST404", message: "no route for \(path)")
    }
}
