import NIOCore
import NIOPosix
import Testing

@testable import PraxisClient

@Suite("Bench recorder")
struct BenchRecorderTests {
    @Test("counts events from any thread and keeps latencies per loop and series")
    func countsAndSeries() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { group.shutdownGracefully { _ in } }
        let recorder = BenchRecorder(group)
        #expect(recorder.loop(0) == 0 && recorder.loop(1) == 1 && recorder.loop(2) == 0)
        recorder.count(.connection, loop: 0)
        recorder.count(.connection, loop: 1)
        recorder.count(.malformed, loop: 1)
        try await recorder.eventLoops[0].submit {
            recorder.record(.delivery, latency: 2_000_000, loop: 0)
            recorder.record(.roundEnd, latency: 9_000_000, in: .secondary, loop: 0)
        }.get()
        try await recorder.eventLoops[1].submit { recorder.record(.delivery, latency: 4_000_000, loop: 1) }.get()

        #expect(recorder[.connection] == 2)
        #expect(recorder[.delivery] == 2)
        #expect(recorder[.roundEnd] == 1)
        #expect(recorder[.malformed] == 1)
        #expect(recorder[.delivery, loop: 0] == 1)
        #expect(recorder[.malformed, loop: 0] == 0)
        let main = try await recorder.histogram()
        #expect(main.count == 2)
        #expect(abs(main.summary.max - 4) < 0.01)
        let first = try await recorder.histogram(loop: 0)
        #expect(first.count == 1)
        #expect(abs(first.summary.max - 2) < 0.01)
        let secondary = try await recorder.histogram(.secondary)
        #expect(secondary.count == 1)
        #expect(secondary.summary.p50 == 9)
    }

    @Test("an interval holds the main latencies since the last one")
    func intervals() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let recorder = BenchRecorder([group.next()])
        try await recorder.eventLoops[0].submit {
            recorder.record(.acked, latency: 1_000_000, loop: 0)
            recorder.record(.roundEnd, latency: 5_000_000, in: .secondary, loop: 0)
        }.get()
        #expect(await recorder.takeInterval().count == 1)
        #expect(await recorder.takeInterval().count == 0)
        try await recorder.eventLoops[0].submit { recorder.record(.acked, latency: 3_000_000, loop: 0) }.get()
        let next = await recorder.takeInterval()
        #expect(next.count == 1)
        #expect(next.summary.p50 == 3)
        #expect(try await recorder.histogram().count == 2)
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
