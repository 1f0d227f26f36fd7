public import PraxisHTTP
public import NIOHTTP1
import Crypto
import Foundation

/// The browser client, embedded in the binary (SwiftPM resources under `Resources/web`).
///
/// `GET /` and the app's own routes (`/rooms/<id>`, `/join/<link>`, `/progress`, `/account`)
/// answer `index.html` (the page routes itself); `/assets/<file>` the modules and styles;
/// `/config.json` what the page needs to call the API (the anon key, which is public by design).
/// Every answer has an ETag (a `304` for a matching `If-None-Match`), `Cache-Control: no-cache`
/// (revalidate, so a new binary is picked up at once), `X-Content-Type-Options: nosniff` and a
/// Content-Security-Policy that allows this origin only.
public struct WebApp: Sendable {
    /// One embedded file.
    struct Asset: Sendable {
        var contentType: String
        var bytes: [UInt8]
        var etag: String
    }

    /// Paths answered with `index.html`: exact ones, and prefixes ending in `/`.
    public static let appRoutes = ["/", "/progress", "/account", "/rooms/", "/join/"]

    let index: Asset
    let assets: [String: Asset]

    /// Loads the embedded files from the module's resource bundle (blocking file reads: call it
    /// off the event loops).
    public static func embedded() throws -> WebApp {
        guard let root = Bundle.module.url(forResource: "web", withExtension: nil) else {
            throw WebAppError(message: "the web client's resources are missing from the bundle")
        }
        return try WebApp(root: root)
    }

    /// Loads `index.html` and `assets/*` from a folder.
    init(root: URL) throws {
        let indexBytes = try [UInt8](Data(contentsOf: root.appendingPathComponent("index.html")))
        index = Self.asset(named: "index.html", bytes: indexBytes)
        var assets: [String: Asset] = [:]
        let folder = root.appendingPathComponent("assets")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where !name.hasPrefix(".") {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            assets["/assets/\(name)"] = Self.asset(named: name, bytes: bytes)
        }
        self.assets = assets
    }

    static func asset(named name: String, bytes: [UInt8]) -> Asset {
        let digest = SHA256.hash(data: bytes).prefix(16).map { String(format: "%02x", $0) }.joined()
        return Asset(contentType: contentType(of: name), bytes: bytes, etag: "\"\(digest)\"")
    }

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last.map(String.init) ?? "" {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "json", "webmanifest": "application/json; charset=utf-8"
        default: "application/octet-stream"
        }
    }

    /// Adds the page, its assets and `/config.json` to `router`.
    public func register(in router: inout Router, anonKey: String) {
        let index = self.index
        for path in Self.appRoutes {
            router.add([.GET], path) { request in
                Self.answer(index, to: request)
            }
        }
        let assets = self.assets
        router.add([.GET], "/assets/") { request in
            guard let asset = assets[request.path] else {
                return APIError.notFound(request.path).response
            }
            return Self.answer(asset, to: request)
        }
        let config = Self.asset(named: "config.json", bytes: Array(Self.configJSON(anonKey: anonKey).utf8))
        router.add([.GET], "/config.json") { request in
            Self.answer(config, to: request)
        }
    }

    /// The page's configuration: the anon key and the API paths (relative to this origin).
    static func configJSON(anonKey: String) -> String {
        #"{"anon_key":"\#(anonKey)","auth_path":"/auth/v1","rest_path":"/rest/v1","realtime_path":"/realtime/v1/websocket"}"#
    }

    static func answer(_ asset: Asset, to request: HTTPRequest) -> HTTPResponse {
        var headers = securityHeaders(host: request.headers.first(name: "host"))
        headers.add(name: "ETag", value: asset.etag)
        headers.add(name: "Cache-Control", value: "no-cache")
        if let tags = request.headers.first(name: "if-none-match"),
            tags.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag || $0 == "*" })
        {
            return .empty(.notModified, headers: headers)
        }
        return HTTPResponse(status: .ok, contentType: asset.contentType, bytes: asset.bytes, headers: headers)
    }

    /// nosniff, no framing, no referrer (a private room's link stays private) and the CSP:
    /// everything from this origin only; WebSockets to this host (`ws:`/`wss:`, named
    /// explicitly for browsers whose `'self'` does not cover them).
    static func securityHeaders(host: String?) -> HTTPHeaders {
        var connect = "'self'"
        if let host, !host.isEmpty, host.utf8.allSatisfy({ isHostByte($0) }) {
            connect += " ws://\(host) wss://\(host)"
        }
        let policy = [
            "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
            "connect-src \(connect)", "font-src 'self'", "object-src 'none'", "base-uri 'none'",
            "form-action 'self'", "frame-ancestors 'none'",
        ].joined(separator: "; ")
        return [
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        ]
    }

    /// Letters, digits, `.`, `-`, `:`, `[`, `]` (a host, an IPv6 literal, a port).
    static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
            true
        default:
            false
        }
    }
}
