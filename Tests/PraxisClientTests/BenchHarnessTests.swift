import Synchronization
import Testing

@testable import PraxisClient

@Suite("Bench harness")
struct BenchHarnessTests {
    @Test("bounded runs every index once, never more than the bound at a time, and drops nil results")
    func bounded() async {
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        let results = await BenchHarness.bounded(count: 50, concurrency: 4) { index -> Int? in
            let now = running.wrappingAdd(1, ordering: .relaxed).newValue
            most.max(now, ordering: .relaxed)
            await Task.yield()
            running.wrappingSubtract(1, ordering: .relaxed)
            return index % 5 == 0 ? nil : index
        }
        #expect(results.sorted() == (0..<50).filter { $0 % 5 != 0 })
        #expect(most.load(ordering: .relaxed) <= 4)
        #expect(most.load(ordering: .relaxed) >= 1)
    }

    @Test("bounded with nothing to do returns nothing")
    func boundedEmpty() async {
        let results = await BenchHarness.bounded(count: 0, concurrency: 8) { index -> Int? in index }
        #expect(results.isEmpty)
    }

    @Test("drain returns as soon as the condition holds")
    func drainDone() async throws {
        let checks = Atomic<Int>(0)
        try await BenchHarness.drain(since: MonotonicClock.now(), deadline: 600) {
            checks.wrappingAdd(1, ordering: .relaxed).newValue >= 3
        }
        #expect(checks.load(ordering: .relaxed) == 3)
    }

    @Test("drain gives up at its deadline")
    func drainDeadline() async throws {
        // A deadline already passed: one check, then it returns although the condition never holds.
        let checks = Atomic<Int>(0)
        let start = MonotonicClock.now()
        try await Task.sleep(for: .milliseconds(2))
        try await BenchHarness.drain(since: start, deadline: 0.001) {
            checks.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        #expect(checks.load(ordering: .relaxed) == 1)
    }

    @Test("a timed phase hands its start to the body and measures this process's CPU")
    func timed() async {
        let phase = await BenchHarness.timed(serverPID: ProcessProbe.ownPID, progress: { _ in }, line: { _ in "" }) { start in
            var x = 0.0
            for i in 0..<200_000 { x += Double(i).squareRoot() }
            return (start, x > 0)
        }
        #expect(phase.result.0 == phase.start)
        #expect(phase.result.1)
        #expect(phase.seconds >= 0)
        #expect(phase.cpu.client >= 0)
        #if os(Linux)
        #expect(phase.cpu.server != nil)
        #expect(phase.cpu.machine != nil)
        #endif
    }
}
