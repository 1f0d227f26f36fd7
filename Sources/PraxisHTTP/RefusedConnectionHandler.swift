import NIOCore
import NIOHTTP1

/// The whole pipeline of a connection refused by the `ConnectionGate`: answers 503 with
/// `Retry-After` and a JSON body, and closes at once (the descriptor is back within one
/// event-loop pass, whatever the client sends).
final class RefusedConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let admission: ConnectionCounts.Admission

    init(admission: ConnectionCounts.Admission) {
        self.admission = admission
    }

    func channelActive(context: ChannelHandlerContext) {
        let message = admission == .overPerIP
            ? "too many connections from your address; try again later"
            : "too many connections; try again later"
        var response = APIError(.serviceUnavailable, code: "PGRST503", message: message).response
        response.headers.replaceOrAdd(name: "Retry-After", value: "5")
        context.writeAndFlush(wrapOutboundOut(response.closingBytes(allocator: context.channel.allocator)), promise: nil)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
