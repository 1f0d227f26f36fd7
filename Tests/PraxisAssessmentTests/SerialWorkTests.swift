import Foundation
import PraxisDomain
import Synchronization
import Testing

@testable import PraxisAssessment

@Suite("SerialWork")
struct SerialWorkTests {
    /// Jobs running now, and the most at once.
    final class Concurrency: Sendable {
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
    }

    @Test("jobs submitted at once run one at a time, every one of them, and each caller gets its own result")
    func oneAtATime() async {
        let work = SerialWork(label: "test.serial-work")
        let concurrency = Concurrency()
        let results = await withTaskGroup(of: (Int, Int).self) { group in
            for index in 0..<64 {
                group.addTask {
                    let value = await work.run {
                        concurrency.most.max(concurrency.running.wrappingAdd(1, ordering: .relaxed).newValue, ordering: .relaxed)
                        var sum = 0
                        for step in 0..<10_000 { sum &+= step ^ index }
                        withExtendedLifetime(sum) {}
                        concurrency.running.wrappingSubtract(1, ordering: .relaxed)
                        return index * 2
                    }
                    return (index, value)
                }
            }
            var results: [Int: Int] = [:]
            for await (index, value) in group { results[index] = value }
            return results
        }
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0.value == $0.key * 2 })
        #expect(concurrency.most.load(ordering: .relaxed) == 1)
    }

    final class Order: Sendable {
        let values = Mutex<[Int]>([])
    }

    @Test("jobs run in the order they were submitted")
    func inOrder() async {
        let work = SerialWork(label: "test.serial-work.order")
        let order = Order()
        for index in 0..<20 {
            _ = await work.run { order.values.withLock { $0.append(index) } }
        }
        #expect(order.values.withLock { $0 } == Array(0..<20))
    }

    @Test("the heuristic assessor gives through its queue what the heuristic gives directly")
    func heuristicThroughQueue() async {
        let turns = [
            TranscriptTurn(seq: 1, role: .candidate, speakerID: "c", text: "Hello, my name is Dr Lee. Can you tell me what happened?"),
            TranscriptTurn(seq: 2, role: .interlocutor, speakerID: "p", text: "I fell off my bike."),
        ]
        let assessor = HeuristicRoundAssessor(work: SerialWork(label: "test.serial-work.heuristic"))
        let queued = await assessor.assess(AssessmentInput(turns: turns, caseName: "Wrist injury"))
        #expect(queued == HeuristicAssessor.assess(turns, caseName: "Wrist injury"))
    }

    #if canImport(Glibc)
    @Test("jobs run nicer than the process, so the event loops and the writer get the cores first")
    func runsNicer() async {
        let base = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        let work = SerialWork(label: "test.serial-work.nice", niceness: 10)
        let niceness = await work.run { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        #expect(niceness == min(base + 10, 19))
        let same = await SerialWork(label: "test.serial-work.same", niceness: 0).run {
            getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        }
        #expect(same == base)
    }
    #endif

    @Test("a long queue is run whole, in order, and its storage is given back as it drains")
    func longQueue() async {
        let work = SerialWork(label: "test.serial-work.long")
        let order = Order()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<2_000 {
                group.addTask { _ = await work.run { order.values.withLock { $0.append(index) } } }
            }
        }
        #expect(order.values.withLock { $0.sorted() } == Array(0..<2_000))
    }
}
