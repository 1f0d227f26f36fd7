public import NIOCore
public import NIOHTTP1

/// A protocol switch the server makes straight from a connection's first request head,
/// without NIO's HTTP/1.1 pipeline and upgrade handler (the WebSocket upgrade: `PraxisServer`
/// hands `HTTPServer` one built on `WebSocketEndpoints`).
///
/// It must answer exactly as the `HTTPServerProtocolUpgrader` the server is also given
/// would: `HTTPFastUpgradeHandler` only asks it about a plain HTTP/1.1 `GET` head, and when it
/// declines, the request goes to the HTTP pipeline, where that upgrader and the router answer
/// it as they always have.
public protocol HTTPFastUpgrader: Sendable {
    /// Called on the connection's event loop (`remoteIP`: the peer's address, as the server
    /// counts it). The bytes of the switching response (`101`), once every check passed and
    /// whatever the connection needs is reserved (released when the channel closes); nil,
    /// with nothing reserved, to leave the request to the HTTP pipeline.
    func upgradeResponse(head: HTTPRequestHead, channel: any Channel, remoteIP: String) -> ByteBuffer?

    /// Adds the new protocol's handlers at the end of `channel`'s pipeline; called on its
    /// event loop right after the response from `upgradeResponse` was written. The bytes
    /// that came after the head are passed to them next.
    func install(head: HTTPRequestHead, channel: any Channel, remoteIP: String) throws
}
