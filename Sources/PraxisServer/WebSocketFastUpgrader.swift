import NIOCore
import NIOHTTP1
import PraxisHTTP
import PraxisWebSocket

/// The WebSocket upgrade as the HTTP server's fast path: PraxisHTTP knows no WebSocket, so
/// this joins its hook to the endpoints (the same checks, 101 and handler as the NIO upgrader).
struct WebSocketFastUpgrader: HTTPFastUpgrader {
    let endpoints: WebSocketEndpoints

    func upgradeResponse(head: HTTPRequestHead, channel: any Channel, remoteIP: String) -> ByteBuffer? {
        endpoints.fastUpgradeResponse(head: head, channel: channel, remoteIP: remoteIP)
    }

    func install(head: HTTPRequestHead, channel: any Channel, remoteIP: String) throws {
        try endpoints.installHandler(channel: channel, head: head, remoteIP: remoteIP)
    }
}
