import NIOPosix
import Testing

@testable import PraxisStore

/// The debug-build guard against store calls on an event loop sees the loop's threads
/// (and only them): `Store.pool` stops the process there.
@Suite("Store: the event-loop check")
struct EventLoopCheckTests {
    @Test func seesAnEventLoopThreadAndNoOther() async throws {
        #if DEBUG
        #expect(!EventLoopCheck.isOnEventLoop)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let onLoop = try await group.next().submit { EventLoopCheck.isOnEventLoop }.get()
        #expect(onLoop)
        let onBlockingPool = try await NIOThreadPool.singleton.runIfActive { EventLoopCheck.isOnEventLoop }
        #expect(!onBlockingPool)
        try await group.shutdownGracefully()
        #else
        #expect(!EventLoopCheck.isOnEventLoop)
        #endif
    }
}
