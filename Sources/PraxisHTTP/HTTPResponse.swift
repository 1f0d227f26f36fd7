public import NIOCore
public import NIOHTTP1
import Foundation

/// A complete HTTP response.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response whose body is `bytes`, with a content type.
    public init(status: HTTPResponseStatus, contentType: String, bytes: some Sequence<UInt8>, headers: HTTPHeaders = [:]) {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: contentType)
        self.init(status: status, headers: headers, body: ByteBuffer(bytes: bytes))
    }

    /// A JSON response from already-encoded JSON bytes.
    public static func json(_ status: HTTPResponseStatus, bytes: some Sequence<UInt8>, headers: HTTPHeaders = [:]) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json; charset=utf-8", bytes: bytes, headers: headers)
    }

    /// A JSON response encoding `value` (keys sorted, so output is stable).
    public static func json(_ status: HTTPResponseStatus, _ value: some Encodable, headers: HTTPHeaders = [:]) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return .json(status, bytes: bytes, headers: headers)
    }

    /// A JSON response from a JSON-compatible value (dictionaries, arrays, strings, numbers, NSNull).
    public static func jsonObject(_ status: HTTPResponseStatus, _ object: Any, headers: HTTPHeaders = [:]) -> HTTPResponse {
        let bytes = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])) ?? Data("null".utf8)
        return .json(status, bytes: bytes, headers: headers)
    }

    /// An empty response.
    public static func empty(_ status: HTTPResponseStatus, headers: HTTPHeaders = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers)
    }
}
