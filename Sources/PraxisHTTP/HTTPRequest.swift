public import NIOCore
public import NIOHTTP1

/// A complete HTTP request: head and (bounded) body, as the responders see it.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request target as sent, e.g. `/rest/v1/profiles?select=*`.
    public var uri: String
    /// The decoded path, without the query.
    public var path: String
    /// The raw query string (after `?`), not decoded.
    public var rawQuery: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer?
    /// The peer's IP address (no port), when known.
    public var remoteIP: String?

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: ByteBuffer? = nil, remoteIP: String? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.remoteIP = remoteIP
        if let mark = uri.firstIndex(of: "?") {
            self.path = QueryString.percentDecode(String(uri[..<mark]), plusAsSpace: false)
            self.rawQuery = String(uri[uri.index(after: mark)...])
        } else {
            self.path = QueryString.percentDecode(uri, plusAsSpace: false)
            self.rawQuery = ""
        }
    }

    /// The query's parameters in order, decoded.
    public var queryItems: [(name: String, value: String)] { QueryString.parse(rawQuery) }

    /// The first query parameter called `name`.
    public func query(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The body's bytes (empty when there is none).
    public var bodyBytes: [UInt8] {
        guard var body else { return [] }
        return body.readBytes(length: body.readableBytes) ?? []
    }
}

/// Splitting and decoding of `application/x-www-form-urlencoded` query strings.
public enum QueryString {
    /// `a=1&b=x%20y` → `[("a", "1"), ("b", "x y")]`. `+` decodes to a space, as PostgREST does.
    public static func parse(_ query: String) -> [(name: String, value: String)] {
        guard !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return (percentDecode(String(pair[..<eq])), percentDecode(String(pair[pair.index(after: eq)...])))
            }
            return (percentDecode(String(pair)), "")
        }
    }

    /// Decodes `%XX` escapes (and `+` as space when asked); invalid escapes stay as written.
    public static func percentDecode(_ text: String, plusAsSpace: Bool = true) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let high = hexValue(iterator[iterator.startIndex]),
                let low = hexValue(iterator[iterator.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else if byte == UInt8(ascii: "+"), plusAsSpace {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
