import NIOCore
import NIOPosix
import Testing

@testable import PraxisClient

@Suite("Bench LoopRecorder")
struct LoopRecorderTests {
    @Test("counts events from any thread and keeps latencies per series")
    func countsAndSeries() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { group.shutdownGracefully { _ in } }
        let recorders = group.makeIterator().map { LoopRecorder(eventLoop: $0) }
        recorders[0].count(.connection)
        recorders[1].count(.connection)
        recorders[1].count(.malformed)
        try await recorders[0].eventLoop.submit {
            recorders[0].record(.delivery, latency: 2_000_000)
            recorders[0].record(.roundEnd, latency: 9_000_000, in: .secondary)
        }.get()
        try await recorders[1].eventLoop.submit { recorders[1].record(.delivery, latency: 4_000_000) }.get()

        #expect(recorders.total(.connection) == 2)
        #expect(recorders.total(.delivery) == 2)
        #expect(recorders.total(.roundEnd) == 1)
        #expect(recorders.total(.malformed) == 1)
        #expect(recorders[0][.delivery] == 1)
        let main = try await recorders.merged()
        #expect(main.count == 2)
        #expect(abs(main.summary.max - 4) < 0.01)
        let secondary = try await recorders.merged(.secondary)
        #expect(secondary.count == 1)
        #expect(secondary.summary.p50 == 9)
    }

    @Test("an interval holds the main latencies since the last one")
    func intervals() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let recorders = [LoopRecorder(eventLoop: group.next())]
        try await recorders[0].eventLoop.submit {
            recorders[0].record(.acked, latency: 1_000_000)
            recorders[0].record(.roundEnd, latency: 5_000_000, in: .secondary)
        }.get()
        #expect(await recorders.takeInterval().count == 1)
        #expect(await recorders.takeInterval().count == 0)
        try await recorders[0].eventLoop.submit { recorders[0].record(.acked, latency: 3_000_000) }.get()
        let next = await recorders.takeInterval()
        #expect(next.count == 1)
        #expect(next.summary.p50 == 3)
        #expect(try await recorders.merged().count == 2)
    }

    @Test("an empty histogram summarises as zeros")
    func emptySummary() {
        #expect(LatencyHistogram().summary == LatencySummary(p50: 0, p90: 0, p99: 0, max: 0, mean: 0))
    }

    @Test("the fan-out payload carries its send time at an exact size")
    func payload() {
        let buffer = BenchPayload.make(timestamp: 123_456_789, size: 64, allocator: ByteBufferAllocator())
        #expect(buffer.readableBytes == 64)
        #expect(BenchPayload.timestamp(of: buffer) == 123_456_789)
        #expect(BenchPayload.timestamp(of: ByteBuffer(string: #"{"x":1}"#)) == nil)
    }
}
