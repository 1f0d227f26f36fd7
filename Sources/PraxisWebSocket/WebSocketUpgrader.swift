import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The HTTP/1.1 → WebSocket upgrade (RFC 6455 §4.2.2): computes `Sec-WebSocket-Accept`,
/// asks the endpoints whether to accept, and installs the WebSocket pipeline.
final class WebSocketUpgrader: HTTPServerProtocolUpgrader, Sendable {
    static let magicGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    let supportedProtocol = "websocket"
    // NIO would also require these to be named in `Connection`; the endpoints check them instead.
    let requiredUpgradeHeaders: [String] = []
    private let endpoints: WebSocketEndpoints

    init(endpoints: WebSocketEndpoints) {
        self.endpoints = endpoints
    }

    /// `base64(SHA-1(key + GUID))`, without Foundation's `Data` (its copies and base64 were a
    /// fifth of this value's cost in a connect-and-close profile).
    static func acceptValue(forKey key: String) -> String {
        var input = Array(key.utf8)
        input.append(contentsOf: magicGUID.utf8)
        return base64(Insecure.SHA1.hash(data: input))
    }

    private static let base64Alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// Standard base64 (RFC 4648 §4) with padding.
    static func base64(_ bytes: some ContiguousBytes) -> String {
        bytes.withUnsafeBytes { input in
            let alphabet = UnsafeRawBufferPointer(start: base64Alphabet.utf8Start, count: 64)
            return String(unsafeUninitializedCapacity: (input.count + 2) / 3 * 4) { output in
                var written = 0
                var index = 0
                while index < input.count {
                    let count = min(3, input.count - index)
                    var group = UInt32(input[index]) << 16
                    if count > 1 { group |= UInt32(input[index + 1]) << 8 }
                    if count > 2 { group |= UInt32(input[index + 2]) }
                    for position in 0..<4 {
                        let sextet = Int((group >> UInt32(18 - 6 * position)) & 0x3F)
                        output[written] = position <= count ? alphabet[sextet] : UInt8(ascii: "=")
                        written += 1
                    }
                    index += 3
                }
                return written
            }
        }
    }

    func buildUpgradeResponse(
        channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        guard let headers = Self.responseHeaders(endpoints: endpoints, channel: channel, head: upgradeRequest, initial: initialResponseHeaders)
        else {
            return channel.eventLoop.makeFailedFuture(NIOWebSocketUpgradeError.unsupportedWebSocketTarget)
        }
        return channel.eventLoop.makeSucceededFuture(headers)
    }

    /// The headers of the 101 after `initial` (NIO's `connection` and `upgrade`), or nil when
    /// the endpoints refuse; on acceptance the connection's place is reserved
    /// (`WebSocketEndpoints.shouldUpgrade`). Also the fast path's (`fastUpgradeResponse`).
    static func responseHeaders(
        endpoints: WebSocketEndpoints, channel: any Channel, head: HTTPRequestHead, initial: HTTPHeaders, remoteIP: String? = nil
    ) -> HTTPHeaders? {
        guard let extra = endpoints.shouldUpgrade(channel: channel, head: head, remoteIP: remoteIP),
            let key = head.headers.first(name: "sec-websocket-key").map({ String(HeaderText.trimmed($0)) })
        else { return nil }
        var headers = initial
        headers.add(contentsOf: extra)
        headers.replaceOrAdd(name: "Upgrade", value: "websocket")
        headers.replaceOrAdd(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Accept", value: acceptValue(forKey: key))
        return headers
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        let channel = context.channel
        return context.eventLoop.makeCompletedFuture {
            try self.endpoints.installHandler(channel: channel, head: upgradeRequest)
        }
    }
}
